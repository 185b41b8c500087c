"""Outbox deliveries rendered for their audience: task channels, brainstorm threads and direct messages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from core.domain.enums import TaskMenu
from core.domain.errors import N_
from core.domain.text import UserText
from core.presentation.cards import task_card, task_title
from core.presentation.delivery import Delivery, Recipient, Renderer, recipient
from core.presentation.i18n import Localizer, localizer
from core.presentation.messages import Action, Line, Message, Visibility
from core.presentation.replies import evaluation_lines, present, request_message
from core.presentation.scheduled_deliveries import SCHEDULED_RENDERERS
from core.services.brainstorms import digest_of
from core.services.context import ServiceContext
from core.services.evaluations import evaluation_view
from core.services.outbox import OutboxItem
from core.services.requests import request_view
from core.services.views import task_view
from core.storage.models import Evaluation, ParticipationRequest, Post, Task

__all__ = ["Delivery", "Recipient", "render_delivery", "task_channel_name"]


def task_channel_name(task_id: int, title: str) -> str:
    """Return a channel name valid on Slack and Discord: ``t12-`` and the title's words, at most 80 characters.

    Both platforms accept lowercase letters of any script, digits, hyphens and underscores.
    """
    slug = re.sub(r"[^\w\-]+", "-", unicodedata.normalize("NFKC", title).lower()).strip("-_")
    return f"t{task_id}-{slug}"[:80].rstrip("-") if slug else f"t{task_id}-task"


def _channel_note(loc: Localizer, line: Line) -> Message:
    return Message(Visibility.CHANNEL, loc.locale, lines=(line,), kind="channel")


def _channel_open(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    loc = localizer(ctx.policy.default_locale)
    view = task_view(session, task, viewer_id=None, secretariat=False)
    brief = task_card(loc, view, Visibility.CHANNEL, with_actions=False)
    welcome = _channel_note(
        loc,
        loc.line(
            N_(
                "This is the task channel of T{task_id}. Participants can ask the partner questions here, and the "
                "partner posts extra instructions."
            ),
            task_id=task.id,
        ),
    )
    return Delivery(
        item.delivery_key,
        item.kind,
        task.id,
        task_channel_name(task.id, task.title),
        recipient(ctx, session, task.partner_id),
        (brief, welcome),
    )


def _brainstorm_open(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    loc = localizer(ctx.policy.default_locale)
    card = task_card(loc, task_view(session, task, viewer_id=None, secretariat=False), Visibility.CHANNEL)
    hint = _channel_note(
        loc, loc.line(N_("Post your ideas as replies in this thread; every reply is recorded for the partner."))
    )
    return Delivery(item.delivery_key, item.kind, task.id, None, None, (card, hint))


def _task_announce(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    loc = localizer(ctx.policy.default_locale)
    card = task_card(loc, task_view(session, task, viewer_id=None, secretariat=False), Visibility.CHANNEL)
    return Delivery(item.delivery_key, item.kind, task.id, None, None, (card,))


def _channel_member(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    member = recipient(ctx, session, item.payload["person_id"])
    loc = localizer(ctx.policy.default_locale)
    text = N_("{member} joined the task.") if item.kind == "task_channel.invite" else N_("{member} left the task.")
    note = _channel_note(loc, loc.line(text, member=UserText(member.name)))
    return Delivery(item.delivery_key, item.kind, task.id, task_channel_name(task.id, task.title), member, (note,))


def _channel_archive(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    loc = localizer(ctx.policy.default_locale)
    note = _channel_note(
        loc,
        loc.line(N_("Task T{task_id} is archived, so this channel is archived too. Thank you all."), task_id=task.id),
    )
    return Delivery(item.delivery_key, item.kind, task.id, task_channel_name(task.id, task.title), None, (note,))


def _deadline_changed(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    loc = localizer(ctx.policy.default_locale)
    note = _channel_note(
        loc,
        loc.line(
            N_("The deadline of task T{task_id} has moved from {previous} to {deadline}."),
            task_id=task.id,
            previous=datetime.fromisoformat(item.payload["previous"]),
            deadline=task.deadline,
        ),
    )
    channel = task_channel_name(task.id, task.title) if task.menu != TaskMenu.BRAINSTORM else None
    return Delivery(item.delivery_key, item.kind, task.id, channel, None, (note,))


def _evaluation_result(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    evaluation = session.get_one(Evaluation, item.payload["evaluation_id"])
    member = recipient(ctx, session, evaluation.member_id)
    loc = Localizer(member.locale)
    view = evaluation_view(session, evaluation, viewer_id=member.person_id, secretariat=False)
    title = loc.line(
        N_("Your work on task T{task_id} was evaluated: {score} points"),
        task_id=view.task.id,
        score=f"{view.score:.2f}",
    )
    lines = [
        task_title(loc, view.task),
        *evaluation_lines(loc, view),
        loc.line(N_("Thank you for your work. /smarter ranking shows where you stand.")),
    ]
    message = Message(Visibility.DIRECT, loc.locale, title=title, lines=tuple(lines), kind="evaluation")
    return Delivery(item.delivery_key, item.kind, view.task.id, None, member, (message,))


def _request_sent(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    request = session.get_one(ParticipationRequest, item.payload["request_id"])
    member = recipient(ctx, session, request.member_id)
    loc = Localizer(member.locale)
    view = request_view(session, request, viewer_id=member.person_id, secretariat=False)
    return Delivery(
        item.delivery_key, item.kind, view.task.id, None, member, (request_message(loc, view, Visibility.DIRECT),)
    )


def _request_answered(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    request = session.get_one(ParticipationRequest, item.payload["request_id"])
    partner = recipient(ctx, session, request.partner_id)
    loc = Localizer(partner.locale)
    view = request_view(session, request, viewer_id=partner.person_id, secretariat=False)
    text = (
        N_("{member} accepted your participation request R{request_id} and joined task T{task_id}.")
        if view.status == "accepted"
        else N_(
            "{member} declined your participation request R{request_id} for task T{task_id}. Requests are "
            "not binding; thank you for respecting the member's choice."
        )
    )
    message = Message(
        Visibility.DIRECT,
        loc.locale,
        lines=(loc.line(text, member=view.member, request_id=view.id, task_id=view.task.id),),
        actions=(Action(loc(N_("Show the task")), f"/smarter task show T{view.task.id}"),),
        kind="request",
    )
    return Delivery(item.delivery_key, item.kind, view.task.id, None, partner, (message,))


def _brainstorm_digest(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    partner = recipient(ctx, session, task.partner_id)
    loc = Localizer(partner.locale)
    digest = digest_of(session, task, viewer_id=partner.person_id, secretariat=False)
    intro = Message(
        Visibility.DIRECT,
        loc.locale,
        lines=(loc.line(N_("Brainstorm T{task_id} is closed. Here are all its posts."), task_id=task.id),),
        kind="digest",
    )
    messages = [intro, *(replace(message, visibility=Visibility.DIRECT) for message in present(digest, loc))]
    return Delivery(item.delivery_key, item.kind, task.id, None, partner, tuple(messages))


def _brainstorm_post(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    post = session.get_one(Post, item.payload["post_id"])
    author = recipient(ctx, session, post.author_id)
    loc = localizer(ctx.policy.default_locale)
    line = loc.line(N_("Idea from {author}: {text}"), author=UserText(author.name), text=UserText(post.text))
    return Delivery(item.delivery_key, item.kind, post.task_id, None, None, (_channel_note(loc, line),))


RENDERERS: dict[str, Renderer] = {
    "task_channel.open": _channel_open,
    "task_channel.invite": _channel_member,
    "task_channel.remove": _channel_member,
    "task_channel.archive": _channel_archive,
    "brainstorm.open": _brainstorm_open,
    "brainstorm.digest": _brainstorm_digest,
    "brainstorm.post": _brainstorm_post,
    "task.announce": _task_announce,
    "task.deadline_changed": _deadline_changed,
    "evaluation.result": _evaluation_result,
    "request.sent": _request_sent,
    "request.answered": _request_answered,
    **SCHEDULED_RENDERERS,
}


def render_delivery(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    """Render one outbox item for its audience; the partner's hidden name appears only in its own DMs."""
    renderer = RENDERERS.get(item.kind)
    if renderer is None:
        raise ValueError(f"outbox item {item.delivery_key} has unknown kind {item.kind!r}")
    return renderer(ctx, session, item)
