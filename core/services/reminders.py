"""Reminders: deadlines to participants who have not submitted, and waiting submissions to partners."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.domain.enums import ParticipationStatus, TaskMenu, TaskStatus
from core.domain.text import TOKYO
from core.services.announcements import slot_key
from core.services.context import ServiceContext
from core.services.outbox import enqueue
from core.storage.models import Evaluation, Participation, ScheduledRun, Submission, Task

__all__ = ["remind_deadlines", "remind_evaluations", "waiting_submissions"]

logger = logging.getLogger(__name__)


def _due_offset(offsets: tuple[timedelta, ...], deadline: datetime, now: datetime) -> timedelta | None:
    """Return the smallest offset whose reminder time has come, or None before the first one.

    Only the smallest counts, so a member who joins an hour before the deadline gets the one-hour
    reminder and not also the 24-hour one.
    """
    due = [offset for offset in offsets if deadline - offset <= now]
    return min(due) if due else None


def remind_deadlines(ctx: ServiceContext, now: datetime) -> int:
    """Queue a reminder for each participant without a submission whose task deadline is near; return how many.

    The delivery key names the task, its deadline, the offset and the member, so running this again (every
    few minutes, after a restart, from a second process) queues nothing twice, and a moved deadline
    reminds again.
    """
    offsets = ctx.policy.reminder_offsets
    if not offsets:
        return 0
    horizon = now + max(offsets)
    queued = 0
    with ctx.transaction() as session:
        tasks = session.scalars(
            select(Task).where(
                Task.status == TaskStatus.OPEN,
                Task.menu != TaskMenu.BRAINSTORM,
                Task.deadline > now,
                Task.deadline <= horizon,
            )
        ).all()
        for task in tasks:
            offset = _due_offset(offsets, task.deadline, now)
            if offset is None:
                continue
            submitted = exists().where(Submission.task_id == task.id, Submission.member_id == Participation.member_id)
            members = session.scalars(
                select(Participation.member_id).where(
                    Participation.task_id == task.id,
                    Participation.status == ParticipationStatus.JOINED,
                    ~submitted,
                )
            ).all()
            minutes = int(offset.total_seconds() // 60)
            for member_id in members:
                queued += enqueue(
                    session,
                    at=now,
                    key=f"remind:deadline:T{task.id}:{slot_key(task.deadline)}:{minutes}m:M{member_id}",
                    kind="reminder.deadline",
                    task_id=task.id,
                    member_id=member_id,
                    deadline=task.deadline.isoformat(),
                )
    if queued:
        logger.info("queued %d deadline reminders", queued)
    return queued


def waiting_submissions(session: Session, now: datetime, partner_id: int | None = None) -> dict[int, dict[int, int]]:
    """Count, per partner and task, members whose latest submission has no evaluation of it yet.

    Only tasks past their deadline count, since partners evaluate once the submissions are in. Tasks
    already marked evaluated or archived are left out: the partner has finished with them.
    """
    latest = (
        select(Submission.task_id, Submission.member_id, func.max(Submission.id).label("submission_id"))
        .group_by(Submission.task_id, Submission.member_id)
        .subquery()
    )
    evaluated = exists().where(
        and_(Evaluation.task_id == latest.c.task_id, Evaluation.member_id == latest.c.member_id),
        Evaluation.submission_id == latest.c.submission_id,
    )
    statement = (
        select(Task.partner_id, Task.id, func.count())
        .join(latest, latest.c.task_id == Task.id)
        .where(Task.status.in_((TaskStatus.OPEN, TaskStatus.CLOSED)), Task.deadline <= now, ~evaluated)
        .group_by(Task.partner_id, Task.id)
    )
    if partner_id is not None:
        statement = statement.where(Task.partner_id == partner_id)
    waiting: dict[int, dict[int, int]] = {}
    for partner, task_id, count in session.execute(statement):
        waiting.setdefault(partner, {})[task_id] = count
    return waiting


def remind_evaluations(ctx: ServiceContext, schedule: str, slot: datetime, *, now: datetime) -> int | None:
    """Queue one reminder per partner with submissions waiting for evaluation; return how many, or None if
    this slot ran before.

    The run record and the reminders are written in one transaction, like an announcement.
    """
    day = slot.astimezone(TOKYO).date().isoformat()
    try:
        with ctx.transaction() as session:
            if session.get(ScheduledRun, (schedule, slot)) is not None:
                return None
            session.add(ScheduledRun(schedule=schedule, slot=slot, ran_at=now, period=None, entries=[]))
            session.flush()
            waiting = waiting_submissions(session, slot)
            for partner_id, counts in waiting.items():
                enqueue(
                    session,
                    at=now,
                    key=f"remind:evaluations:P{partner_id}:{day}",
                    kind="reminder.evaluations",
                    partner_id=partner_id,
                    tasks={str(task_id): count for task_id, count in sorted(counts.items())},
                )
    except IntegrityError:
        logger.info("evaluation reminders %s for %s were written by another process", schedule, slot)
        return None
    logger.info("queued evaluation reminders for %d partners", len(waiting))
    return len(waiting)
