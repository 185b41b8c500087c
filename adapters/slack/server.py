"""Serve the Bolt app: over HTTP at /slack/events (with OAuth routes when configured), or over Socket Mode."""

from __future__ import annotations

import asyncio
import gc
import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_server import AsyncSlackAppServer

from adapters.slack.app import SlackBot

__all__ = ["EVENTS_PATH", "freeze_startup_heap", "http_application", "serve"]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def http_application(bot: SlackBot) -> web.Application:
    """Return the aiohttp application: Bolt's endpoint, its OAuth pages if any, and GET /healthz for load balancers."""
    server = AsyncSlackAppServer(port=bot.config.http_port, path=EVENTS_PATH, app=bot.app, host=bot.config.http_host)
    server.web_app.add_routes([web.get("/healthz", _health)])

    async def open_session(application: web.Application) -> None:
        await bot.open_session()

    async def close_session(application: web.Application) -> None:
        await bot.close_session()

    server.web_app.on_startup.append(open_session)
    server.web_app.on_cleanup.append(close_session)
    return server.web_app


def freeze_startup_heap() -> None:
    """Move the objects built at startup out of the garbage collector's reach.

    Libraries, settings and catalogs make a large heap that never becomes garbage, yet every full collection
    walks it while requests wait. After ``gc.freeze()`` full collections skip those objects (CPython 3.7+).
    """
    gc.collect()
    gc.freeze()


async def serve(bot: SlackBot, stop: asyncio.Event) -> None:
    """Run the Slack adapter until ``stop`` is set."""
    freeze_startup_heap()
    if bot.config.socket_mode:
        assert bot.config.app_token is not None
        await bot.open_session()
        handler = AsyncSocketModeHandler(bot.app, app_token=bot.config.app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info("Slack adapter connected over Socket Mode")
        try:
            await stop.wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await bot.close_session()
            logger.info("Slack adapter disconnected")
        return

    runner = web.AppRunner(http_application(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bot.config.http_host, bot.config.http_port)
    await site.start()
    logger.info("Slack adapter listening on http://%s:%d%s", bot.config.http_host, bot.config.http_port, EVENTS_PATH)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        logger.info("Slack adapter stopped")
