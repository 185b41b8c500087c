"""The e-mail worker: sends participation request e-mails from the outbox, apart from the chat commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from email.message import EmailMessage
from typing import Protocol

from adapters.email.smtp import SmtpConfig, TemporaryEmailError, compose
from core.presentation.emails import REQUEST_EMAIL, EmailContent, render_request_email
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem, PermanentDeliveryError, claim, complete, record_failure

__all__ = ["EmailWorker", "Mailer"]

logger = logging.getLogger(__name__)


class Mailer(Protocol):
    """The mailer interface of the worker: the settings that ``compose`` reads, and sending."""

    @property
    def config(self) -> SmtpConfig: ...

    async def send(self, message: EmailMessage, *, delivery_key: str | None = None) -> None: ...


class EmailWorker:
    """Claims ``request.email`` items from the outbox, renders and sends each, and records the outcome.

    Chat commands only write the outbox row and this worker sends later, so no command waits for the
    SMTP server. The database calls are synchronous and run in threads. A failure is recorded on its
    item, so the outbox retries it after a backoff or, for a rejection or after the last attempt, marks
    it failed and reports it to the secretariat.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        mailer: Mailer,
        *,
        worker_id: str,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        if batch < 1:
            raise ValueError(f"invalid e-mail batch size {batch}: expected 1 or more")
        if lease <= timedelta(0):
            raise ValueError(f"invalid e-mail lease {lease}: expected a positive duration")
        self._ctx = ctx
        self._mailer = mailer
        self._worker_id = worker_id
        self._batch = batch
        self._lease = lease

    async def run_once(self) -> int:
        """Claim up to ``batch`` due e-mails, send or skip each, and return how many were claimed."""
        claimed_at = self._ctx.now()
        items = await asyncio.to_thread(
            claim, self._ctx, worker=self._worker_id, kinds=(REQUEST_EMAIL,), limit=self._batch, lease=self._lease
        )
        # Stop starting new sends before the lease runs out, because then another worker may take the same
        # items. The items left over stay claimed until the lease ends and are sent in a later round.
        send_until = claimed_at + self._lease * 4 / 5
        for index, item in enumerate(items):
            if self._ctx.now() >= send_until:
                logger.warning(
                    "e-mail worker %s: lease nearly over, leaving %d e-mails for a later round",
                    self._worker_id,
                    len(items) - index,
                )
                break
            await self._deliver(item)
        return len(items)

    async def run(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Run rounds every ``interval`` seconds until ``stop`` is set, without a pause after a full batch."""
        logger.info("e-mail worker %s started: batch %d, interval %.1f s", self._worker_id, self._batch, interval)
        try:
            while not stop.is_set():
                try:
                    claimed = await self.run_once()
                except Exception:
                    logger.exception("e-mail worker %s: round failed, next try in %.1f s", self._worker_id, interval)
                    claimed = 0
                if claimed >= self._batch:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            logger.info("e-mail worker %s stopped", self._worker_id)

    async def _deliver(self, item: OutboxItem) -> None:
        key = item.delivery_key
        if item.uncertain:
            logger.info("e-mail %s: an earlier attempt did not finish, sending again with the same Message-ID", key)
        try:
            content = await asyncio.to_thread(self._render, item)
            if content is not None:
                message = compose(content, self._mailer.config, date=self._ctx.now())
                await self._mailer.send(message, delivery_key=key)
        except Exception as error:
            # A rendering bug or an unexpected library error is retried and reported like a send failure,
            # so one bad item cannot stop the worker.
            if not isinstance(error, PermanentDeliveryError | TemporaryEmailError):
                logger.exception("e-mail %s failed unexpectedly", key)
            await asyncio.to_thread(record_failure, self._ctx, item.id, error)
            return

        await asyncio.to_thread(complete, self._ctx, [item.id])
        if content is None:
            logger.info("e-mail %s not sent: the request is no longer pending or the member turned e-mail off", key)
        else:
            logger.info("e-mail %s sent", key)

    def _render(self, item: OutboxItem) -> EmailContent | None:
        with self._ctx.transaction() as session:
            return render_request_email(self._ctx, session, item)
