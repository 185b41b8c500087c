"""Run the Slack adapter with its delivery worker, the scheduler and the e-mail worker in one process."""

from __future__ import annotations

import asyncio
import logging
import signal

from adapters.email.smtp import SmtpConfig
from adapters.slack.app import SlackBot
from adapters.slack.config import SlackConfig
from adapters.slack.delivery import SlackDelivery, SlackDeliveryWorker
from adapters.slack.install import Installations
from adapters.slack.server import serving
from bots.background import background_services
from bots.settings import Settings
from core.services.context import ServiceContext

__all__ = ["build_slack", "run_slack"]

logger = logging.getLogger(__name__)


def build_slack(ctx: ServiceContext, config: SlackConfig) -> tuple[SlackBot, SlackDeliveryWorker]:
    """Build the Bolt app and the outbox worker that share one database and installation store."""
    installations = Installations(config, ctx.session_factory.kw["bind"])
    worker = SlackDeliveryWorker(ctx, SlackDelivery(ctx, config, installations))
    bot = SlackBot(ctx, config, installations, on_change=worker.wake)
    return bot, worker


def run_slack(ctx: ServiceContext, settings: Settings, config: SlackConfig, mail: SmtpConfig | None) -> None:
    """Serve Slack until SIGINT or SIGTERM; scheduled jobs and e-mail run beside it.

    Raises OSError when the HTTP port cannot be bound, before the scheduler or any worker has started.
    """
    bot, worker = build_slack(ctx, config)
    _warn_without_slack_announcements(ctx)
    asyncio.run(_serve_until_signal(ctx, settings, mail, bot, worker))


async def _serve_until_signal(
    ctx: ServiceContext, settings: Settings, mail: SmtpConfig | None, bot: SlackBot, worker: SlackDeliveryWorker
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = False
    try:
        async with serving(bot):
            worker.start()
            started = True
            with background_services(ctx, settings, after_run=worker.wake, mail=mail):
                await stop.wait()
    finally:
        # After serving() has let acknowledged requests finish, so the worker delivers what they queued.
        if started:
            worker.stop()


def _warn_without_slack_announcements(ctx: ServiceContext) -> None:
    if not any(channel.startswith("slack:") for channel in ctx.policy.announcement_channels):
        logger.warning(
            "no announcement channel is on Slack (announcement_channels = %s), so new tasks and rankings are not "
            "announced there; set announcement_channels to slack:TEAM_ID:CHANNEL_ID",
            ",".join(ctx.policy.announcement_channels),
        )
