"""The outbox: effects written with the change that caused them, delivered after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from core.services.context import ServiceContext
from core.storage.models import OutboxMessage, UTCDateTime, utcnow

__all__ = [
    "FAILURE_REPORT",
    "MAX_ATTEMPTS",
    "OutboxItem",
    "PermanentDeliveryError",
    "claim",
    "complete",
    "deliver_pending",
    "enqueue",
    "record_failure",
    "release",
    "retry_delay",
]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
# The kind of the row that reports a delivery that failed for good to the secretariat (written by _fail).
FAILURE_REPORT = "delivery.failed"


class PermanentDeliveryError(Exception):
    """Raised by a delivery when the target rejected the item for good (a removed channel, a refused address).

    The item is marked failed at once and reported to the secretariat instead of being retried.
    """


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    delivery_key: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    # True when an earlier worker claimed the item and never recorded the outcome: it may have been delivered.
    uncertain: bool = False


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next attempt after ``attempts`` failures: 30 s doubling, at most an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LAST_RETRY)


# Text for the same reason as the ranking upsert: the dialect insert() with ON CONFLICT is not cacheable.
_ENQUEUE = text(
    """
    INSERT INTO outbox (delivery_key, kind, platform, payload, created_at, attempts)
    VALUES (:key, :kind, :platform, :payload, :created_at, 0)
    ON CONFLICT (delivery_key) DO NOTHING
    """
).bindparams(bindparam("payload", type_=JSON()), bindparam("created_at", type_=UTCDateTime()))


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    at: datetime | None = None,
    platform: str | None = None,
    **payload: Any,
) -> bool:
    """Add an effect to the outbox in the caller's transaction; a second row with ``key`` is ignored.

    ``at`` is the service clock's time of the change (the system time if omitted). ``platform`` reserves
    the row for that chat platform's adapter, as for a post in one of its channels. Returns False when a
    row with ``key`` already existed.
    """
    created_at = at or utcnow()
    values = {"key": key, "kind": kind, "platform": platform, "payload": payload, "created_at": created_at}
    result = session.execute(_ENQUEUE, values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _pending(now: datetime, kinds: Collection[str] | None, platform: str | None):  # type: ignore[no-untyped-def]
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
    )
    if kinds is not None:
        statement = statement.where(OutboxMessage.kind.in_(list(kinds)))
    if platform is not None:
        statement = statement.where(or_(OutboxMessage.platform.is_(None), OutboxMessage.platform == platform))
    return statement


def _item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(row.id, row.delivery_key, row.kind, dict(row.payload), row.attempts, row.claimed_by is not None)


def _fail(session: Session, row: OutboxMessage, error: BaseException, now: datetime, *, permanent: bool) -> None:
    """Count a failed attempt on ``row``: schedule the retry, or mark it failed for good and report it once."""
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:1000]
    row.claimed_by = row.claimed_until = None
    if not permanent and row.attempts < MAX_ATTEMPTS:
        row.not_before = now + retry_delay(row.attempts)
        logger.warning(
            "delivery %s (%s) failed, attempt %d of %d, next at %s: %s",
            row.delivery_key,
            row.kind,
            row.attempts,
            MAX_ATTEMPTS,
            row.not_before.isoformat(),
            row.last_error,
        )
        logger.debug("delivery %s failure details", row.delivery_key, exc_info=error)
        return

    row.failed_at = now
    logger.error(
        "delivery %s (%s) failed for good after %d attempts: %s",
        row.delivery_key,
        row.kind,
        row.attempts,
        row.last_error,
    )
    if row.kind != FAILURE_REPORT:
        enqueue(
            session,
            at=now,
            key=f"failed:{row.delivery_key}"[:200],
            kind="delivery.failed",
            delivery_key=row.delivery_key,
            delivery_kind=row.kind,
            error=row.last_error,
            details=dict(row.payload),
        )


def deliver_pending(
    ctx: ServiceContext,
    deliver: Callable[[Session, OutboxItem], None],
    *,
    limit: int = 100,
    kinds: Collection[str] | None = None,
    platform: str | None = None,
) -> int:
    """Deliver up to ``limit`` due effects in order, one transaction each; return how many were done.

    ``deliver`` gets the item and the open session (to read what the message needs) and must be
    idempotent per ``delivery_key``: a crash after it ran but before the commit repeats it. An item
    whose delivery raises is retried after ``retry_delay``, up to ``MAX_ATTEMPTS`` times. One that raises
    ``PermanentDeliveryError``, or runs out of attempts, is marked failed and reported to the secretariat.
    With ``platform``, rows reserved for other platforms are left for their adapters.
    """
    delivered = 0
    failed: list[int] = []
    for _ in range(limit):
        with ctx.transaction() as session:
            now = ctx.now()
            statement = _pending(now, kinds, platform).where(OutboxMessage.id.not_in(failed)).limit(1)
            row = session.scalars(statement.with_for_update(skip_locked=True)).one_or_none()
            if row is None:
                break
            try:
                with session.begin_nested():
                    deliver(session, _item(row))
            except Exception as error:
                _fail(session, row, error, now, permanent=isinstance(error, PermanentDeliveryError))
                failed.append(row.id)
                continue
            row.delivered_at = now
            row.attempts += 1
            row.claimed_by = row.claimed_until = None
            delivered += 1
    return delivered


def claim(
    ctx: ServiceContext,
    *,
    worker: str,
    kinds: Collection[str] | None = None,
    platform: str | None = None,
    limit: int = 100,
    lease: timedelta = timedelta(minutes=5),
) -> list[OutboxItem]:
    """Take up to ``limit`` due items for ``worker`` until the lease ends, for delivery outside a transaction.

    The worker reports each item with ``complete`` or ``record_failure``. If it dies first, the lease runs
    out and another worker gets the item with ``uncertain`` set, so it can check the target before resending.
    """
    with ctx.transaction() as session:
        now = ctx.now()
        rows = session.scalars(_pending(now, kinds, platform).limit(limit).with_for_update(skip_locked=True)).all()
        items = [_item(row) for row in rows]
        for row in rows:
            row.claimed_by = worker
            row.claimed_until = now + lease
    return items


def complete(ctx: ServiceContext, ids: Collection[int]) -> int:
    """Mark the items with ``ids`` delivered; return how many were still pending."""
    if not ids:
        return 0
    with ctx.transaction() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.delivered_at.is_(None))
            .values(
                delivered_at=ctx.now(),
                attempts=OutboxMessage.attempts + 1,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def release(ctx: ServiceContext, *, worker: str, ids: Collection[int], uncertain: bool = False) -> None:
    """End ``worker``'s claim on items it did not send, without counting an attempt.

    With ``uncertain`` (an item that may have arrived in part), the items keep ``claimed_by`` and lose only
    the lease, so the next ``claim`` marks them uncertain and the worker checks the target first.
    """
    if not ids:
        return
    with ctx.transaction() as session:
        statement = update(OutboxMessage).where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.claimed_by == worker,
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        values = {"claimed_until": None} if uncertain else {"claimed_by": None, "claimed_until": None}
        session.execute(statement.values(**values))


def record_failure(ctx: ServiceContext, item_id: int, error: BaseException) -> None:
    """Record a failed attempt of a claimed item: a retry after ``retry_delay``, or a final failure."""
    with ctx.transaction() as session:
        row = session.get(OutboxMessage, item_id, with_for_update=True)
        if row is None or row.delivered_at is not None or row.failed_at is not None:
            return
        _fail(session, row, error, ctx.now(), permanent=isinstance(error, PermanentDeliveryError))
