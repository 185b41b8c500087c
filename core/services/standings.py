"""Contest standings, and the freeze that hides late evaluations from members until the results are published."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.domain.enums import TaskMenu, TaskStatus
from core.domain.errors import N_, T_, UserError
from core.domain.scoring import ALL_TIME, RankingPrior
from core.domain.text import UserText, normalize, parse_deadline
from core.services.context import Actor, ServiceContext
from core.services.lookup import find_person, load_task, require_task_owner
from core.services.rankings import add_contribution
from core.services.views import TaskView, task_view
from core.storage.models import Evaluation, FrozenStandings, Person, Task

__all__ = [
    "FreezeSet",
    "StandingRow",
    "Standings",
    "contest_standings",
    "count_in_rankings",
    "freeze_if_due",
    "is_frozen",
    "release_frozen",
    "set_freeze",
]

logger = logging.getLogger(__name__)

UNFREEZE_WORDS = ("off", "none", "なし", "解除")


@dataclass(frozen=True, slots=True)
class StandingRow:
    rank: int
    member_id: int
    nickname: UserText
    score: float


@dataclass(frozen=True, slots=True)
class Standings:
    task: TaskView
    rows: list[StandingRow]
    freeze_at: datetime | None
    # Set when the viewer sees the standings as they were at this time (a member during the freeze).
    frozen_at: datetime | None
    # True when the viewer sees live standings although members see frozen ones (partner, secretariat).
    live_during_freeze: bool


@dataclass(frozen=True, slots=True)
class FreezeSet:
    task: TaskView
    freeze_at: datetime | None


def is_frozen(task: Task, now: datetime) -> bool:
    """Return True while a contest's freeze has begun and its results are not published yet."""
    return (
        task.menu == TaskMenu.CONTEST
        and task.freeze_at is not None
        and now >= task.freeze_at
        and task.status in (TaskStatus.OPEN, TaskStatus.CLOSED)
    )


def _live_entries(session: Session, task_id: int) -> list[dict[str, int]]:
    rows = session.execute(
        select(Evaluation.member_id, Evaluation.points)
        .where(Evaluation.task_id == task_id)
        .order_by(Evaluation.points.desc(), Evaluation.evaluated_at, Evaluation.member_id)
    )
    return [{"member_id": member_id, "points": points} for member_id, points in rows]


def freeze_if_due(session: Session, task: Task, now: datetime) -> None:
    """Keep the standings as they are now if the contest's freeze has begun and none are kept yet.

    Every evaluation calls this before it changes anything, so the kept standings are exactly those at
    the freeze time: no evaluation after the freeze can be in them.
    """
    if not is_frozen(task, now) or session.get(FrozenStandings, task.id) is not None:
        return
    assert task.freeze_at is not None
    try:
        with session.begin_nested():
            entries = _live_entries(session, task.id)
            session.add(FrozenStandings(task_id=task.id, frozen_at=task.freeze_at, entries=entries))
    except IntegrityError:
        logger.debug("standings of task %d were frozen by a concurrent evaluation", task.id)


def count_in_rankings(session: Session, prior: RankingPrior, evaluation: Evaluation, now: datetime) -> None:
    """Bring the ranking totals up to the evaluation's current points, in the caller's transaction.

    A re-evaluation adds the difference and no extra evaluation to the count. It also runs for an unchanged
    score, because the totals record when the member's score was last set (the first tie-breaker).
    """
    add_contribution(
        session,
        prior,
        member_id=evaluation.member_id,
        periods=(ALL_TIME, evaluation.period),
        points=evaluation.points - (evaluation.counted_points or 0),
        count=1 if evaluation.counted_points is None else 0,
        at=now,
    )
    evaluation.counted_points = evaluation.points


def release_frozen(session: Session, prior: RankingPrior, task: Task, now: datetime) -> int:
    """Count in the rankings the evaluations a freeze held back, once the task is no longer frozen.

    Called when the results are published or the freeze is removed or moved; returns how many changed.
    """
    if is_frozen(task, now):
        return 0
    pending = session.scalars(
        select(Evaluation)
        .where(
            Evaluation.task_id == task.id,
            or_(Evaluation.counted_points.is_(None), Evaluation.counted_points != Evaluation.points),
        )
        .order_by(Evaluation.id)
        .with_for_update()
    ).all()
    for evaluation in pending:
        count_in_rankings(session, prior, evaluation, now)
    if pending:
        logger.info("task %d: %d evaluations held back by the freeze now count", task.id, len(pending))
    return len(pending)


def set_freeze(ctx: ServiceContext, actor: Actor, task_id: int, when: str) -> FreezeSet:
    """Set (or clear with ``off``) the time a contest's public standings freeze until its results."""
    now = ctx.now()
    clear = normalize(when).lower() in UNFREEZE_WORDS
    try:
        moment = None if clear else parse_deadline(when, now=now)
    except UserError as error:
        raise UserError(
            N_("{value} is not a freeze time. Write it in Japan time like 2026/12/20 18:00, or off to remove it."),
            value=UserText(when),
        ) from error
    with ctx.transaction() as session:
        task = load_task(session, task_id, lock=True)
        owner = require_task_owner(ctx, session, actor, task)
        if task.menu != TaskMenu.CONTEST:
            raise UserError(
                N_("Only contests have frozen standings, and task T{task_id} is not a contest."), task_id=task.id
            )
        if task.status not in (TaskStatus.OPEN, TaskStatus.CLOSED):
            raise UserError(
                N_("Task T{task_id} is {status}; its freeze can change only before the results are published."),
                task_id=task.id,
                status=T_(task.status),
            )
        if moment is not None and moment <= now:
            raise UserError(
                N_("The freeze time {value} has already passed. Give a future time in Japan time."), value=moment
            )

        task.freeze_at = moment
        snapshot = session.get(FrozenStandings, task.id)
        if snapshot is not None:
            session.delete(snapshot)  # a new freeze time takes its own snapshot when it comes
        release_frozen(session, ctx.policy.ranking_prior, task, now)
        viewer = owner.id if owner is not None else None
        return FreezeSet(task_view(session, task, viewer_id=viewer, secretariat=ctx.is_secretariat(actor)), moment)


def contest_standings(ctx: ServiceContext, actor: Actor, task_id: int, *, top: int | None = None) -> Standings:
    """Return a contest's standings: frozen for members during a freeze, live for its partner and the secretariat.

    Members who opted out of public rankings are shown only to the partner and the secretariat.
    """
    now = ctx.now()
    with ctx.transaction() as session:
        task = load_task(session, task_id)
        if task.menu != TaskMenu.CONTEST:
            raise UserError(
                N_(
                    "Task T{task_id} is not a contest, so it has no standings. /smarter ranking shows the member "
                    "ranking."
                ),
                task_id=task.id,
            )
        viewer = find_person(session, actor)
        privileged = ctx.is_secretariat(actor) or (viewer is not None and viewer.id == task.partner_id)
        frozen = is_frozen(task, now)

        entries = _live_entries(session, task.id)
        if frozen and not privileged:
            snapshot = session.get(FrozenStandings, task.id)
            entries = snapshot.entries if snapshot is not None else entries
        people = {
            person.id: person
            for person in session.scalars(select(Person).where(Person.id.in_([e["member_id"] for e in entries])))
        }
        rows: list[StandingRow] = []
        for entry in entries:
            person = people[entry["member_id"]]
            if not privileged and not person.ranking_public and (viewer is None or viewer.id != person.id):
                continue
            rows.append(StandingRow(len(rows) + 1, person.id, UserText(person.display_name), entry["points"] / 100))
        view = task_view(session, task, viewer_id=viewer.id if viewer else None, secretariat=ctx.is_secretariat(actor))
        return Standings(
            task=view,
            rows=rows[:top] if top is not None else rows,
            freeze_at=task.freeze_at if task.menu == TaskMenu.CONTEST else None,
            frozen_at=task.freeze_at if frozen and not privileged else None,
            live_during_freeze=frozen and privileged,
        )
