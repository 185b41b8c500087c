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
from adapters.slack.server import serve
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
    """Serve Slack until SIGINT or SIGTERM; scheduled jobs and e-mail run beside it."""
    bot, worker = build_slack(ctx, config)
    worker.start()
    try:
        with background_services(ctx, settings, after_run=worker.wake, mail=mail):
            asyncio.run(_serve_until_signal(bot))
    finally:
        worker.stop()


async def _serve_until_signal(bot: SlackBot) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(bot, stop)
