"""Services that run beside a chat adapter: the scheduler and the e-mail worker, started and stopped together."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.email.smtp import SmtpConfig, SmtpMailer
from adapters.email.worker import EmailWorker
from bots.leader import scheduler_lock
from bots.scheduler import SchedulerService
from bots.settings import Settings
from core.services.context import ServiceContext

__all__ = ["EmailThread", "background_services"]

logger = logging.getLogger(__name__)


class EmailThread:
    """A daemon thread that runs the e-mail worker's asyncio loop, so that chat commands do not wait for SMTP."""

    def __init__(self, ctx: ServiceContext, config: SmtpConfig, *, interval: float = 5.0) -> None:
        self.worker = EmailWorker(ctx, SmtpMailer(config), worker_id=f"{socket.gethostname()}:{os.getpid()}")
        self.interval = interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="email-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=5)

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("e-mail worker did not stop within %g s; its claimed e-mails wait for the lease", timeout)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        await self.worker.run(self._stop, self.interval)


@contextmanager
def background_services(
    ctx: ServiceContext,
    settings: Settings,
    *,
    after_run: Callable[[], object] | None = None,
    mail: SmtpConfig | None = None,
) -> Iterator[SchedulerService]:
    """Start the scheduler and, with ``mail``, the e-mail worker; stop both when the block ends.

    The scheduler runs jobs only while this process holds the scheduler lock.
    """
    engine = ctx.session_factory.kw["bind"]
    scheduler = SchedulerService(
        ctx,
        scheduler_lock(engine),
        misfire_grace_seconds=settings.misfire_grace_seconds,
        poll_seconds=settings.leader_poll_seconds,
        after_run=after_run,
    )
    email = EmailThread(ctx, mail) if mail is not None else None
    scheduler.start()
    if email is not None:
        email.start()
    try:
        yield scheduler
    finally:
        if email is not None:
            email.stop()
        scheduler.stop()
