"""Joining and leaving tasks, with eligibility, capacity and deadline checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.domain.enums import Eligibility, Membership, ParticipationStatus, TaskMenu, TaskStatus
from core.domain.errors import N_, T_, UserError
from core.services.context import Actor, ServiceContext
from core.services.lookup import load_task, require_member
from core.services.outbox import enqueue
from core.services.views import TaskView, task_view
from core.storage.models import Identity, Participation, Person, Task

__all__ = [
    "Joined",
    "Left",
    "channel_members",
    "check_eligible",
    "check_open",
    "join_in_session",
    "join_task",
    "leave_task",
]


@dataclass(frozen=True, slots=True)
class Joined:
    task: TaskView


@dataclass(frozen=True, slots=True)
class Left:
    task: TaskView


def check_open(ctx: ServiceContext, task: Task) -> None:
    """Raise unless the task is open and its deadline has not passed."""
    if task.status != TaskStatus.OPEN and task.menu == TaskMenu.BRAINSTORM:
        raise UserError(
            N_("Brainstorm T{task_id} is {status}, so it no longer accepts new ideas."),
            task_id=task.id,
            status=T_(task.status),
        )
    if task.status != TaskStatus.OPEN:
        raise UserError(
            N_("Task T{task_id} is {status}, so it no longer accepts new participants or submissions."),
            task_id=task.id,
            status=T_(task.status),
        )
    if task.deadline <= ctx.now():
        raise UserError(
            N_(
                "The deadline of task T{task_id} ({deadline}) has passed. If you need more time, please ask "
                "the partner; the partner can extend it with /smarter task deadline."
            ),
            task_id=task.id,
            deadline=task.deadline,
        )


def check_eligible(task: Task, member: Person) -> None:
    """Raise unless the member's membership and grade meet the task's eligibility."""
    if task.eligibility in (Eligibility.PAID, Eligibility.GRADE) and member.membership != Membership.PAID:
        raise UserError(
            N_(
                "Task T{task_id} is open to paid members only, and your membership is free. "
                "Please contact the secretariat if you would like to become a paid member."
            ),
            task_id=task.id,
        )
    if task.eligibility == Eligibility.GRADE and (member.grade or 0) < (task.min_grade or 0):
        raise UserError(
            N_(
                "Task T{task_id} needs grade {required} or higher; your grade is {grade}. "
                "The secretariat sets grades from its own assignments."
            ),
            task_id=task.id,
            required=task.min_grade or 0,
            grade=member.grade if member.grade is not None else T_("not set"),
        )


def _take_seat(session: Session, task: Task) -> None:
    # One conditional UPDATE takes the seat: the row lock serialises concurrent joins, and the WHERE
    # clause is checked again after the lock is granted, so the count never passes the capacity.
    statement = (
        update(Task)
        .where(Task.id == task.id)
        .where((Task.capacity.is_(None)) | (Task.participant_count < Task.capacity))
        .values(participant_count=Task.participant_count + 1)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    if result.rowcount != 1:
        raise UserError(
            N_("Task T{task_id} is full (capacity {capacity}). Please look for another task with /smarter task list."),
            task_id=task.id,
            capacity=task.capacity,
        )


def join_in_session(ctx: ServiceContext, session: Session, member: Person, task: Task) -> None:
    """Add ``member`` to ``task`` inside the caller's transaction, checking every rule of joining.

    The caller loads ``task`` with ``lock=True``, so that concurrent joins by the same member are serialised.
    """
    if task.menu == TaskMenu.BRAINSTORM:
        raise UserError(
            N_(
                "Brainstorm T{task_id} needs no joining: post your ideas with /smarter post T{task_id} "
                "or in its thread."
            ),
            task_id=task.id,
        )
    check_open(ctx, task)
    check_eligible(task, member)
    existing = session.scalars(
        select(Participation).where(Participation.task_id == task.id, Participation.member_id == member.id)
    ).one_or_none()
    if existing is not None and existing.status == ParticipationStatus.JOINED:
        raise UserError(N_("You have already joined task T{task_id}."), task_id=task.id)

    _take_seat(session, task)
    if existing is None:
        existing = Participation(
            task_id=task.id, member_id=member.id, status=ParticipationStatus.JOINED, joined_at=ctx.now(), changes=1
        )
        session.add(existing)
    else:
        existing.status = ParticipationStatus.JOINED
        existing.joined_at = ctx.now()
        existing.changes += 1
    session.flush()
    session.refresh(task, ["participant_count"])
    enqueue(
        session,
        at=ctx.now(),
        key=f"task:{task.id}:invite:{member.id}:{existing.changes}",
        kind="task_channel.invite",
        task_id=task.id,
        person_id=member.id,
    )


def join_task(ctx: ServiceContext, actor: Actor, task_id: int) -> Joined:
    """Join a practice task or contest; the member is invited to its task channel."""
    with ctx.transaction() as session:
        member = require_member(session, actor)
        # The task row lock makes a second join by the same member wait and then see the first one's
        # participation, instead of failing on the unique constraint.
        task = load_task(session, task_id, lock=True)

        join_in_session(ctx, session, member, task)
        return Joined(task=task_view(session, task, viewer_id=member.id, secretariat=False))


def leave_task(ctx: ServiceContext, actor: Actor, task_id: int) -> Left:
    """Leave a task; submissions already sent are kept, and the place is freed for someone else."""
    with ctx.transaction() as session:
        member = require_member(session, actor)
        # Locked for the same reason as in join_task: concurrent leaves must not free the place twice.
        task = load_task(session, task_id, lock=True)
        participation = session.scalars(
            select(Participation).where(Participation.task_id == task.id, Participation.member_id == member.id)
        ).one_or_none()
        if participation is None or participation.status != ParticipationStatus.JOINED:
            raise UserError(N_("You have not joined task T{task_id}, so there is nothing to leave."), task_id=task.id)
        if task.status != TaskStatus.OPEN:
            raise UserError(
                N_("Task T{task_id} is {status}; members can leave only while it is open."),
                task_id=task.id,
                status=T_(task.status),
            )

        participation.status = ParticipationStatus.LEFT
        participation.changes += 1
        session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(participant_count=Task.participant_count - 1)
            .execution_options(synchronize_session=False)
        )
        session.refresh(task, ["participant_count"])
        enqueue(
            session,
            at=ctx.now(),
            key=f"task:{task.id}:remove:{member.id}:{participation.changes}",
            kind="task_channel.remove",
            task_id=task.id,
            person_id=member.id,
        )
        return Left(task=task_view(session, task, viewer_id=member.id, secretariat=False))


def channel_members(ctx: ServiceContext, task_id: int) -> frozenset[tuple[str, str, str]] | None:
    """Return the chat accounts allowed in a task's channel (its partner and joined members), or None if no task."""
    with ctx.transaction() as session:
        task = session.get(Task, task_id)
        if task is None:
            return None
        joined = select(Participation.member_id).where(
            Participation.task_id == task.id, Participation.status == ParticipationStatus.JOINED
        )
        rows = session.execute(
            select(Identity.platform, Identity.workspace, Identity.user_id).where(
                (Identity.person_id == task.partner_id) | Identity.person_id.in_(joined)
            )
        )
        return frozenset((platform, workspace, user_id) for platform, workspace, user_id in rows)
