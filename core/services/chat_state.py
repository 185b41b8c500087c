"""State kept by chat adapters between requests: handled request ids, task places, post messages, delivery steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from core.services.context import ServiceContext
from core.storage.models import ChatPlace, ChatPost, DeliveryStep, Identity, InboundRequest, Post

__all__ = [
    "BRAINSTORM_THREAD",
    "TASK_CHANNEL",
    "Place",
    "adjust_reactions",
    "begin_request",
    "complete_request",
    "find_place",
    "find_thread_task",
    "finished_steps",
    "forget_requests",
    "mark_archived",
    "post_author_account",
    "post_for_message",
    "record_post_message",
    "record_step",
    "save_place",
    "set_reactions",
]

logger = logging.getLogger(__name__)

TASK_CHANNEL = "task_channel"
BRAINSTORM_THREAD = "brainstorm_thread"


@dataclass(frozen=True, slots=True)
class Place:
    task_id: int
    channel_id: str
    thread_id: str | None
    archived: bool


# --- inbound requests ------------------------------------------------------------------------------


def begin_request(ctx: ServiceContext, platform: str, request_id: str, *, lease: timedelta) -> bool:
    """Record that ``request_id`` is being handled; return False if it was handled or is being handled now.

    A request whose earlier attempt never completed and whose lease has run out is taken again, because
    that attempt died before finishing its work.
    """
    now = ctx.now()
    try:
        with ctx.transaction() as session:
            session.add(
                InboundRequest(platform=platform, request_id=request_id, received_at=now, lease_until=now + lease)
            )
        return True
    except IntegrityError:
        pass
    with ctx.transaction() as session:
        result = session.execute(
            update(InboundRequest)
            .where(
                InboundRequest.platform == platform,
                InboundRequest.request_id == request_id,
                InboundRequest.completed_at.is_(None),
                InboundRequest.lease_until < now,
            )
            .values(lease_until=now + lease)
        )
        retaken = bool(result.rowcount)  # type: ignore[attr-defined]
    if retaken:
        logger.info("request %s:%s did not complete earlier; handling it again", platform, request_id)
    return retaken


def complete_request(ctx: ServiceContext, platform: str, request_id: str) -> None:
    with ctx.transaction() as session:
        session.execute(
            update(InboundRequest)
            .where(InboundRequest.platform == platform, InboundRequest.request_id == request_id)
            .values(completed_at=ctx.now())
        )


def forget_requests(ctx: ServiceContext, older_than: datetime) -> int:
    """Delete request records received before ``older_than``; return how many were deleted."""
    with ctx.transaction() as session:
        result = session.execute(delete(InboundRequest).where(InboundRequest.received_at < older_than))
        return int(result.rowcount)  # type: ignore[attr-defined]


# --- places ----------------------------------------------------------------------------------------


def save_place(
    ctx: ServiceContext,
    platform: str,
    workspace: str,
    task_id: int,
    purpose: str,
    channel_id: str,
    thread_id: str | None = None,
) -> None:
    """Store where ``task_id`` lives; a second save for the same task and purpose replaces the first."""
    with ctx.transaction() as session:
        row = session.get(ChatPlace, (platform, workspace, task_id, purpose))
        if row is None:
            session.add(
                ChatPlace(
                    platform=platform,
                    workspace=workspace,
                    task_id=task_id,
                    purpose=purpose,
                    channel_id=channel_id,
                    thread_id=thread_id,
                    created_at=ctx.now(),
                )
            )
        else:
            row.channel_id, row.thread_id, row.archived_at = channel_id, thread_id, None


def find_place(ctx: ServiceContext, platform: str, workspace: str, task_id: int, purpose: str) -> Place | None:
    with ctx.transaction() as session:
        row = session.get(ChatPlace, (platform, workspace, task_id, purpose))
        if row is None:
            return None
        return Place(row.task_id, row.channel_id, row.thread_id, row.archived_at is not None)


def mark_archived(ctx: ServiceContext, platform: str, workspace: str, task_id: int, purpose: str) -> None:
    with ctx.transaction() as session:
        row = session.get(ChatPlace, (platform, workspace, task_id, purpose))
        if row is not None and row.archived_at is None:
            row.archived_at = ctx.now()


def find_thread_task(ctx: ServiceContext, platform: str, workspace: str, channel_id: str, thread_id: str) -> int | None:
    """Return the brainstorm task whose thread starts at ``thread_id`` in ``channel_id``, if there is one."""
    with ctx.transaction() as session:
        return session.scalar(
            select(ChatPlace.task_id).where(
                ChatPlace.platform == platform,
                ChatPlace.workspace == workspace,
                ChatPlace.channel_id == channel_id,
                ChatPlace.thread_id == thread_id,
                ChatPlace.purpose == BRAINSTORM_THREAD,
            )
        )


# --- brainstorm post messages ----------------------------------------------------------------------


def record_post_message(
    ctx: ServiceContext, platform: str, workspace: str, channel_id: str, message_id: str, post_id: int
) -> None:
    with ctx.transaction() as session:
        if session.get(ChatPost, (platform, workspace, channel_id, message_id)) is None:
            session.add(
                ChatPost(
                    platform=platform,
                    workspace=workspace,
                    channel_id=channel_id,
                    message_id=message_id,
                    post_id=post_id,
                )
            )


def post_for_message(
    ctx: ServiceContext, platform: str, workspace: str, channel_id: str, message_id: str
) -> int | None:
    with ctx.transaction() as session:
        row = session.get(ChatPost, (platform, workspace, channel_id, message_id))
        return row.post_id if row is not None else None


def adjust_reactions(ctx: ServiceContext, post_id: int, delta: int) -> int:
    """Add ``delta`` (+1 or -1) to a brainstorm post's reaction count, never below zero; return the new count."""
    with ctx.transaction() as session:
        post = session.get_one(Post, post_id, with_for_update=True)
        post.reactions = max(0, post.reactions + delta)
        return post.reactions


def post_author_account(ctx: ServiceContext, post_id: int, platform: str, workspace: str) -> str | None:
    """Return the chat account in ``workspace`` of the person who wrote brainstorm post ``post_id``, if any."""
    with ctx.transaction() as session:
        return session.scalar(
            select(Identity.user_id)
            .join(Post, Post.author_id == Identity.person_id)
            .where(Post.id == post_id, Identity.platform == platform, Identity.workspace == workspace)
            .limit(1)
        )


def set_reactions(ctx: ServiceContext, post_id: int, count: int) -> None:
    """Store a brainstorm post's reaction count as the chat platform reports it."""
    with ctx.transaction() as session:
        post = session.get_one(Post, post_id, with_for_update=True)
        post.reactions = max(0, count)


# --- delivery steps --------------------------------------------------------------------------------


def finished_steps(ctx: ServiceContext, delivery_key: str) -> dict[str, str | None]:
    """Return the steps of a delivery that already succeeded, with what each produced (a channel id, a ts)."""
    with ctx.transaction() as session:
        rows = session.execute(
            select(DeliveryStep.step, DeliveryStep.result).where(DeliveryStep.delivery_key == delivery_key)
        ).all()
        return {step: result for step, result in rows}


def record_step(ctx: ServiceContext, delivery_key: str, step: str, result: str | None = None) -> None:
    """Record one finished step right after it succeeded; recording it twice keeps the first result."""
    try:
        with ctx.transaction() as session:
            session.add(DeliveryStep(delivery_key=delivery_key, step=step, result=result, done_at=ctx.now()))
    except IntegrityError:
        logger.debug("delivery %s step %s was already recorded", delivery_key, step)
