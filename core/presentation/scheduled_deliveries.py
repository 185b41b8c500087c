"""Deliveries written by scheduled jobs and by the outbox itself: announcements, reminders, failure reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain.enums import ParticipationStatus, TaskStatus
from core.domain.errors import N_
from core.domain.text import UserText
from core.presentation.announcements import announcement_chart, announcement_message
from core.presentation.cards import task_title
from core.presentation.delivery import Delivery, Recipient, Renderer, recipient
from core.presentation.i18n import Localizer, localizer
from core.presentation.messages import Action, Line, Message, Visibility
from core.services.announcements import announcement_view
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem
from core.services.reminders import waiting_submissions
from core.services.views import task_view
from core.storage.models import Participation, ParticipationRequest, Person, Submission, Task

__all__ = ["SCHEDULED_RENDERERS"]


def _ranking_announcement(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    announcement = announcement_view(session, item.payload["schedule"], datetime.fromisoformat(item.payload["slot"]))
    loc = localizer(ctx.policy.default_locale)
    return Delivery(
        item.delivery_key,
        item.kind,
        None,
        None,
        None,
        (announcement_message(loc, announcement),),
        target=item.payload["target"],
        attachments=(announcement_chart(loc, announcement),),
    )


def _deadline_reminder(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    task = session.get_one(Task, item.payload["task_id"])
    member = recipient(ctx, session, item.payload["member_id"])
    submitted = session.scalar(
        select(Submission.id).where(Submission.task_id == task.id, Submission.member_id == member.person_id).limit(1)
    )
    joined = session.scalar(
        select(Participation.id).where(
            Participation.task_id == task.id,
            Participation.member_id == member.person_id,
            Participation.status == ParticipationStatus.JOINED,
        )
    )
    moved = task.deadline != datetime.fromisoformat(item.payload["deadline"])
    passed = task.deadline <= ctx.now()
    if submitted is not None or joined is None or moved or passed or task.status != TaskStatus.OPEN:
        # Written before the member submitted, left, or the deadline moved or passed: there is nothing to remind of.
        return Delivery(item.delivery_key, item.kind, task.id, None, member, ())

    loc = Localizer(member.locale)
    view = task_view(session, task, viewer_id=member.person_id, secretariat=False)
    title = loc.line(N_("⏰ Reminder: task T{task_id} closes at {deadline}"), task_id=task.id, deadline=task.deadline)
    lines = (
        task_title(loc, view),
        loc.line(N_("You have not submitted anything yet. Please submit before the deadline.")),
    )
    actions = (
        Action(loc(N_("Submit")), f"/smarter submit T{task.id}", style="primary"),
        Action(loc(N_("Show the task")), f"/smarter task show T{task.id}"),
    )
    message = Message(Visibility.DIRECT, loc.locale, title=title, lines=lines, actions=actions, kind="reminder")
    return Delivery(item.delivery_key, item.kind, task.id, None, member, (message,))


def _evaluation_reminder(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    partner = recipient(ctx, session, item.payload["partner_id"])
    waiting = waiting_submissions(session, ctx.now(), partner.person_id).get(partner.person_id, {})
    if not waiting:
        return Delivery(item.delivery_key, item.kind, None, None, partner, ())

    loc = Localizer(partner.locale)
    query = select(Task.id, Task.title).where(Task.id.in_(list(waiting)))
    titles = {task_id: title for task_id, title in session.execute(query)}
    lines: list[Line] = [
        loc.line(
            N_("T{task_id} {title}: {count} waiting"), task_id=task_id, title=UserText(titles[task_id]), count=count
        )
        for task_id, count in sorted(waiting.items())
    ]
    lines.append(
        loc.line(N_("/smarter submissions lists a task's submissions, and /smarter evaluate records your evaluation."))
    )
    title = loc.line(N_("📝 Submissions are waiting for your evaluation"))
    actions = tuple(
        Action(loc(N_("Submissions of T{task_id}"), task_id=task_id), f"/smarter submissions T{task_id}")
        for task_id in sorted(waiting)[:5]
    )
    message = Message(Visibility.DIRECT, loc.locale, title=title, lines=tuple(lines), actions=actions, kind="reminder")
    return Delivery(item.delivery_key, item.kind, None, None, partner, (message,))


def secretariat_recipient(ctx: ServiceContext) -> Recipient:
    """Return the secretariat accounts from the settings as one recipient (they have no person row)."""
    accounts = tuple(tuple(account.split(":", 2)) for account in sorted(ctx.policy.secretariat))
    identities = tuple((platform, workspace, user) for platform, workspace, user in accounts)
    return Recipient(0, "secretariat", identities, ctx.policy.default_locale)


def _failure_lines(ctx: ServiceContext, session: Session, loc: Localizer, item: OutboxItem) -> tuple[Line, ...]:
    """Say what failed in the secretariat's words, and what to do about it."""
    kind, details = item.payload["delivery_kind"], item.payload.get("details", {})
    error = UserText(item.payload["error"])
    if kind == "request.email" and "request_id" in details:
        request = session.get(ParticipationRequest, details["request_id"])
        member = session.get(Person, request.member_id) if request is not None else None
        return (
            loc.line(
                N_("The e-mail copy of participation request R{request_id} to {member} <{address}> was not sent."),
                request_id=details["request_id"],
                member=UserText(member.display_name if member else "?"),
                address=UserText(member.email or "-" if member else "-"),
            ),
            loc.line(
                N_(
                    "The member still got the request in chat. Ask the member to check the address with "
                    "/smarter me email."
                )
            ),
            loc.line(N_("Details: {error}"), error=error),
        )
    if kind == "ranking.announcement" and "target" in details:
        schedule = details.get("schedule", "?")
        return (
            loc.line(
                N_("The ranking announcement {schedule} was not posted in {channel}."),
                schedule=schedule,
                channel=UserText(details["target"].split(":", 2)[-1]),
            ),
            loc.line(
                N_(
                    "Check that the channel exists and the bot is in it, or choose another channel with "
                    "/smarter admin schedule channel {schedule}."
                ),
                schedule=schedule,
            ),
            loc.line(N_("Details: {error}"), error=error),
        )
    return (
        loc.line(N_("{kind} ({key}) failed: {error}"), kind=kind, key=item.payload["delivery_key"], error=error),
        loc.line(
            N_(
                "Check that the channel still exists and the bot is in it (or that the address is right), "
                "then change the setting or repeat the action."
            )
        ),
    )


def _delivery_failed(ctx: ServiceContext, session: Session, item: OutboxItem) -> Delivery:
    loc = localizer(ctx.policy.default_locale)
    title = loc.line(N_("A delivery failed and will not be retried"))
    lines = _failure_lines(ctx, session, loc, item)
    message = Message(Visibility.DIRECT, loc.locale, title=title, lines=lines, kind="report", error=True)
    return Delivery(item.delivery_key, item.kind, None, None, secretariat_recipient(ctx), (message,))


SCHEDULED_RENDERERS: dict[str, Renderer] = {
    "ranking.announcement": _ranking_announcement,
    "reminder.deadline": _deadline_reminder,
    "reminder.evaluations": _evaluation_reminder,
    "delivery.failed": _delivery_failed,
}
