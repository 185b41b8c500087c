"""Serve the Bolt app: over HTTP at /slack/events (with OAuth routes when configured), or over Socket Mode."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_sdk.signature import SignatureVerifier

from adapters.slack.app import SlackBot

__all__ = ["EVENTS_PATH", "freeze_startup_heap", "http_application", "serve", "serving"]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# On shutdown, work that was already acknowledged gets this long to finish.
DRAIN_SECONDS = 10.0


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def http_application(bot: SlackBot) -> web.Application:
    """Return the aiohttp application: Bolt's endpoint, its OAuth pages if any, and GET /healthz for load balancers."""
    server = AsyncSlackAppServer(port=bot.config.http_port, path=EVENTS_PATH, app=bot.app, host=bot.config.http_host)
    server.web_app.add_routes([web.get("/healthz", _health)])
    server.web_app.middlewares.append(_ack_tracking(bot))
    if bot.config.signing_secret:
        server.web_app.middlewares.append(_signature_check(SignatureVerifier(bot.config.signing_secret)))

    async def open_session(application: web.Application) -> None:
        await bot.open_session()

    async def close_session(application: web.Application) -> None:
        await bot.close_session()

    server.web_app.on_startup.append(open_session)
    server.web_app.on_cleanup.append(close_session)
    return server.web_app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ack_tracking(bot: SlackBot) -> Any:
    """Return an aiohttp middleware that reports to the bot how many requests still wait for their ack."""

    @web.middleware
    async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != EVENTS_PATH:
            return await handler(request)
        bot.request_started()
        try:
            return await handler(request)
        finally:
            bot.request_finished()

    return track


def _signature_check(verifier: SignatureVerifier) -> Any:
    """Return an aiohttp middleware that rejects unsigned or stale requests to /slack/events with 401.

    Bolt checks signatures too, but only after parsing the body, so a malformed unsigned request would reach
    its parser and log a traceback. Checking first keeps anyone who can reach the URL out of the logs.
    """

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != EVENTS_PATH:
            return await handler(request)
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        # A timestamp that is not a number would make the verifier raise instead of rejecting.
        if not timestamp.isdigit() or not verifier.is_valid(body, timestamp, signature):
            remote = request.remote or "-"
            suppressed = _rejections.allow()
            if suppressed is not None:
                logger.warning(
                    "rejected a request to %s from %s: invalid or stale signature (%d more since the last report)",
                    EVENTS_PATH,
                    remote,
                    suppressed,
                )
            return web.Response(status=401, text="invalid signature")
        return await handler(request)

    return check


class _RateLimitedLog:
    """Allow one log line per ``interval`` seconds, so a flood of forged requests cannot flood the log."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -interval
        self.suppressed = 0

    def allow(self) -> int | None:
        """Return how many lines were held back since the last one, or None to hold this one back too."""
        now = time.monotonic()
        if now - self._last < self.interval:
            self.suppressed += 1
            return None
        self._last = now
        count, self.suppressed = self.suppressed, 0
        return count


_rejections = _RateLimitedLog(60.0)


def freeze_startup_heap() -> None:
    """Move the objects built at startup out of the garbage collector's reach.

    Libraries, settings and catalogs make a large heap that never becomes garbage, yet every full collection
    walks it while requests wait. After ``gc.freeze()`` full collections skip those objects (CPython 3.7+).
    """
    gc.collect()
    gc.freeze()


async def serve(bot: SlackBot, stop: asyncio.Event) -> None:
    """Run the Slack adapter until ``stop`` is set."""
    async with serving(bot):
        await stop.wait()


@asynccontextmanager
async def serving(bot: SlackBot) -> AsyncIterator[None]:
    """Connect to Slack (or listen on the HTTP port) for the duration of the block.

    Entering raises OSError when the port is taken, before anything else has started. Leaving stops taking
    new requests first, then lets requests already acknowledged finish their work for up to
    ``DRAIN_SECONDS``, because Slack will not send them again.
    """
    freeze_startup_heap()
    if bot.config.socket_mode:
        assert bot.config.app_token is not None
        await bot.open_session()
        handler = AsyncSocketModeHandler(bot.app, app_token=bot.config.app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        logger.info("Slack adapter connected over Socket Mode")
        try:
            yield
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await bot.drain(DRAIN_SECONDS)
            await bot.close_session()
            logger.info("Slack adapter disconnected")
        return

    runner = web.AppRunner(http_application(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bot.config.http_host, bot.config.http_port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    logger.info("Slack adapter listening on http://%s:%d%s", bot.config.http_host, bot.config.http_port, EVENTS_PATH)
    try:
        yield
    finally:
        await site.stop()
        await bot.drain(DRAIN_SECONDS)
        await runner.cleanup()
        logger.info("Slack adapter stopped")
