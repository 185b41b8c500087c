"""The outbox: effects written with the change that caused them, delivered after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.orm import Session

from core.services.context import ServiceContext
from core.storage.models import OutboxMessage, UTCDateTime, utcnow

__all__ = ["OutboxItem", "deliver_pending", "enqueue"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    delivery_key: str
    kind: str
    payload: dict[str, Any]
    attempts: int


# Text for the same reason as the ranking upsert: the dialect insert() with ON CONFLICT is not cacheable.
_ENQUEUE = text(
    """
    INSERT INTO outbox (delivery_key, kind, payload, created_at, attempts)
    VALUES (:key, :kind, :payload, :created_at, 0)
    ON CONFLICT (delivery_key) DO NOTHING
    """
).bindparams(bindparam("payload", type_=JSON()), bindparam("created_at", type_=UTCDateTime()))


def enqueue(session: Session, *, key: str, kind: str, at: datetime | None = None, **payload: Any) -> None:
    """Add an effect to the outbox in the caller's transaction; a second row with ``key`` is ignored.

    ``at`` is the service clock's time of the change (the system time if omitted).
    """
    created_at = at or utcnow()
    session.execute(_ENQUEUE, {"key": key, "kind": kind, "payload": payload, "created_at": created_at})


def deliver_pending(ctx: ServiceContext, deliver: Callable[[Session, OutboxItem], None], *, limit: int = 100) -> int:
    """Deliver up to ``limit`` pending effects in order, one transaction each; return how many were done.

    ``deliver`` gets the item and the open session (to read what the message needs) and must be
    idempotent per ``delivery_key``: a crash after it ran but before the commit repeats it. An item
    whose delivery raises is retried on a later call, up to ``MAX_ATTEMPTS`` times.
    """
    delivered = 0
    failed: list[int] = []
    for _ in range(limit):
        with ctx.transaction() as session:
            statement = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.attempts < MAX_ATTEMPTS,
                    OutboxMessage.id.not_in(failed),
                )
                .order_by(OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = session.scalars(statement).one_or_none()
            if row is None:
                break
            item = OutboxItem(row.id, row.delivery_key, row.kind, dict(row.payload), row.attempts)
            try:
                with session.begin_nested():
                    deliver(session, item)
            except Exception as error:
                row.attempts += 1
                row.last_error = f"{type(error).__name__}: {error}"[:1000]
                logger.warning(
                    "delivery %s (%s) failed, attempt %d of %d",
                    item.delivery_key,
                    item.kind,
                    row.attempts,
                    MAX_ATTEMPTS,
                    exc_info=True,
                )
                failed.append(row.id)
                continue
            row.delivered_at = ctx.now()
            row.attempts += 1
            delivered += 1
    return delivered
