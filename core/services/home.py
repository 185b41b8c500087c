"""A person's home view: what a member, partner or the secretariat can see and do next, read in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, and_, case, exists, func, select
from sqlalchemy.orm import Session

from core.domain.enums import ParticipationStatus, Role, TaskMenu, TaskStatus
from core.domain.errors import UserError
from core.domain.scoring import ALL_TIME, month_period
from core.domain.text import TOKYO, UserText
from core.services.context import Actor, ServiceContext
from core.services.evaluations import evaluation_view
from core.services.lookup import find_person
from core.services.participation import check_eligible, check_open
from core.services.rankings import RankingRow, own_ranking_row
from core.services.registration import Profile, person_profile
from core.services.views import TaskView, task_view
from core.storage.models import Evaluation, Participation, Person, Post, Submission, Task

__all__ = [
    "EvaluationSummary",
    "HomeRole",
    "HomeView",
    "MemberHome",
    "OwnRanking",
    "PartnerHome",
    "PartnerTask",
    "WaitingSubmission",
    "home_view",
]

OPEN_TASKS_MAX = 10
JOINED_TASKS_MAX = 10
EVALUATIONS_MAX = 5
ADVICE_PREVIEW_MAX = 200
PARTNER_TASKS_MAX = 20
WAITING_MAX = 20


class HomeRole(StrEnum):
    MEMBER = "member"
    PARTNER = "partner"
    # A secretariat account named in the configuration without a registration of its own.
    SECRETARIAT = "secretariat"


@dataclass(frozen=True, slots=True)
class OwnRanking:
    """The member's own row in one ranking period, as /smarter ranking shows it to them."""

    period: str
    row: RankingRow | None
    # True when the member opted out of public rankings, so the row is not in the public list.
    hidden: bool


@dataclass(frozen=True, slots=True)
class EvaluationSummary:
    task: TaskView
    score: float
    # The advice on one line, cut to ADVICE_PREVIEW_MAX characters. /smarter evaluation shows all of it.
    advice: UserText
    evaluated_at: datetime


@dataclass(frozen=True, slots=True)
class MemberHome:
    season: OwnRanking
    all_time: OwnRanking
    # Open tasks the member could join (or post to, for brainstorms) right now, nearest deadline first.
    open_tasks: tuple[TaskView, ...]
    # Open tasks the member joined and has not submitted anything to yet, nearest deadline first.
    joined_tasks: tuple[TaskView, ...]
    evaluations: tuple[EvaluationSummary, ...]


@dataclass(frozen=True, slots=True)
class PartnerTask:
    task: TaskView
    # Members with at least one submission (brainstorms: 0), and those whose work has an evaluation.
    submitters: int
    evaluated: int
    # Brainstorm posts (other menus: 0).
    posts: int


@dataclass(frozen=True, slots=True)
class WaitingSubmission:
    task_id: int
    task_title: UserText
    member_id: int
    member: UserText
    version: int
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class PartnerHome:
    tasks: tuple[PartnerTask, ...]
    task_total: int
    # At most WAITING_MAX, oldest first. ``waiting_total`` counts every waiting submission.
    waiting: tuple[WaitingSubmission, ...]
    waiting_total: int


@dataclass(frozen=True, slots=True)
class HomeView:
    """The home of one chat account. ``role`` is None for an unregistered account."""

    role: HomeRole | None
    as_of: datetime
    secretariat: bool = False
    profile: Profile | None = None
    member: MemberHome | None = None
    partner: PartnerHome | None = None


def _can_take_part(ctx: ServiceContext, task: Task, member: Person) -> bool:
    """Apply the checks of joining (posting, for a brainstorm) without changing anything."""
    try:
        check_open(ctx, task)
        check_eligible(task, member)
    except UserError:
        return False
    # The same seat rule as the conditional UPDATE of joining.
    return task.capacity is None or task.participant_count < task.capacity


def _own_ranking(
    ctx: ServiceContext, session: Session, member: Person, period: str, *, public_only: bool
) -> OwnRanking:
    row = own_ranking_row(session, ctx.policy.ranking_prior, period, member.id, public_only=public_only)
    hidden = row is not None and public_only and not member.ranking_public
    return OwnRanking(period=period, row=row, hidden=hidden)


def _open_tasks(ctx: ServiceContext, session: Session, member: Person, *, secretariat: bool) -> tuple[TaskView, ...]:
    joined = select(Participation.task_id).where(
        Participation.member_id == member.id, Participation.status == ParticipationStatus.JOINED
    )
    statement = (
        select(Task)
        .where(Task.status == TaskStatus.OPEN, Task.deadline > ctx.now(), Task.id.not_in(joined))
        .order_by(Task.deadline, Task.id)
    )
    # Eligibility is checked here in Python with the functions joining uses, so the query cannot be limited.
    offered: list[TaskView] = []
    for task in session.scalars(statement):
        if _can_take_part(ctx, task, member):
            offered.append(task_view(session, task, viewer_id=member.id, secretariat=secretariat))
        if len(offered) == OPEN_TASKS_MAX:
            break
    return tuple(offered)


def _joined_tasks(ctx: ServiceContext, session: Session, member: Person, *, secretariat: bool) -> tuple[TaskView, ...]:
    submitted = exists().where(Submission.task_id == Task.id, Submission.member_id == member.id)
    statement = (
        select(Task)
        .join(Participation, Participation.task_id == Task.id)
        .where(
            Participation.member_id == member.id,
            Participation.status == ParticipationStatus.JOINED,
            Task.status == TaskStatus.OPEN,
            Task.deadline > ctx.now(),
            ~submitted,
        )
        .order_by(Task.deadline, Task.id)
        .limit(JOINED_TASKS_MAX)
    )
    return tuple(
        task_view(session, task, viewer_id=member.id, secretariat=secretariat) for task in session.scalars(statement)
    )


def _preview(text: str) -> UserText:
    """Return the text on one line, cut to ADVICE_PREVIEW_MAX characters and ending in "…" if it was cut."""
    flat = " ".join(text.split())
    if len(flat) <= ADVICE_PREVIEW_MAX:
        return UserText(flat)
    return UserText(flat[: ADVICE_PREVIEW_MAX - 1].rstrip() + "…")


def _evaluations(session: Session, member: Person, *, secretariat: bool) -> tuple[EvaluationSummary, ...]:
    statement = (
        select(Evaluation)
        .where(Evaluation.member_id == member.id)
        .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())
        .limit(EVALUATIONS_MAX)
    )
    summaries: list[EvaluationSummary] = []
    for evaluation in session.scalars(statement):
        view = evaluation_view(session, evaluation, viewer_id=member.id, secretariat=secretariat)
        summaries.append(EvaluationSummary(view.task, view.score, _preview(view.advice), view.evaluated_at))
    return tuple(summaries)


def _member_home(ctx: ServiceContext, session: Session, actor: Actor, member: Person) -> MemberHome:
    secretariat = ctx.is_secretariat(actor)
    # As in /smarter ranking: members are ranked among the public members, the secretariat among everyone.
    public_only = not secretariat
    season = month_period(ctx.now().astimezone(TOKYO))
    return MemberHome(
        season=_own_ranking(ctx, session, member, season, public_only=public_only),
        all_time=_own_ranking(ctx, session, member, ALL_TIME, public_only=public_only),
        open_tasks=_open_tasks(ctx, session, member, secretariat=secretariat),
        joined_tasks=_joined_tasks(ctx, session, member, secretariat=secretariat),
        evaluations=_evaluations(session, member, secretariat=secretariat),
    )


def _counts(session: Session, statement: Select[int, int]) -> dict[int, int]:
    return {task_id: count for task_id, count in session.execute(statement)}


def _partner_tasks(session: Session, partner: Person) -> tuple[tuple[PartnerTask, ...], int]:
    live = (Task.partner_id == partner.id, Task.status != TaskStatus.ARCHIVED)
    total = session.scalar(select(func.count()).select_from(Task).where(*live)) or 0
    status_order = case((Task.status == TaskStatus.OPEN, 0), (Task.status == TaskStatus.CLOSED, 1), else_=2)
    tasks = session.scalars(
        select(Task).where(*live).order_by(status_order, Task.deadline, Task.id).limit(PARTNER_TASKS_MAX)
    ).all()

    ids = [task.id for task in tasks]
    submitters = _counts(
        session,
        select(Submission.task_id, func.count(func.distinct(Submission.member_id)))
        .where(Submission.task_id.in_(ids))
        .group_by(Submission.task_id),
    )
    evaluated = _counts(
        session,
        select(Evaluation.task_id, func.count()).where(Evaluation.task_id.in_(ids)).group_by(Evaluation.task_id),
    )
    posts = _counts(session, select(Post.task_id, func.count()).where(Post.task_id.in_(ids)).group_by(Post.task_id))
    rows = tuple(
        PartnerTask(
            task=task_view(session, task, viewer_id=partner.id, secretariat=False),
            submitters=submitters.get(task.id, 0),
            evaluated=evaluated.get(task.id, 0),
            posts=posts.get(task.id, 0) if task.menu == TaskMenu.BRAINSTORM else 0,
        )
        for task in tasks
    )
    return rows, total


def _waiting(session: Session, partner: Person) -> tuple[tuple[WaitingSubmission, ...], int]:
    """Return each member's latest submission that has no evaluation of it yet, oldest first, and their number.

    Like the evaluation reminder, only open and closed tasks count, because a partner who marked a task
    evaluated has finished with it. Unlike the reminder, submissions count before the deadline too.
    """
    latest = (
        select(Submission.task_id, Submission.member_id, func.max(Submission.version).label("version"))
        .join(Task, Task.id == Submission.task_id)
        .where(Task.partner_id == partner.id, Task.status.in_((TaskStatus.OPEN, TaskStatus.CLOSED)))
        .group_by(Submission.task_id, Submission.member_id)
        .subquery()
    )
    evaluated = exists().where(Evaluation.submission_id == Submission.id)
    statement = (
        select(Submission, Task.title, Person.display_name)
        .join(
            latest,
            and_(
                latest.c.task_id == Submission.task_id,
                latest.c.member_id == Submission.member_id,
                latest.c.version == Submission.version,
            ),
        )
        .join(Task, Task.id == Submission.task_id)
        .join(Person, Person.id == Submission.member_id)
        .where(~evaluated)
    )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(statement.order_by(Submission.created_at, Submission.id).limit(WAITING_MAX))
    waiting = tuple(
        WaitingSubmission(
            task_id=submission.task_id,
            task_title=UserText(title),
            member_id=submission.member_id,
            member=UserText(name),
            version=submission.version,
            submitted_at=submission.created_at,
        )
        for submission, title, name in rows
    )
    return waiting, total


def _partner_home(session: Session, partner: Person) -> PartnerHome:
    tasks, task_total = _partner_tasks(session, partner)
    waiting, waiting_total = _waiting(session, partner)
    return PartnerHome(tasks=tasks, task_total=task_total, waiting=waiting, waiting_total=waiting_total)


def home_view(ctx: ServiceContext, actor: Actor) -> HomeView:
    """Read the actor's home: a member's own ranking, tasks and evaluations, or a partner's tasks and waiting work.

    A secretariat account without a registration gets the role ``secretariat``. A registered one gets the
    home of its role with ``secretariat`` set.
    """
    secretariat = ctx.is_secretariat(actor)
    with ctx.transaction() as session:
        person = find_person(session, actor)
        if person is None:
            role = HomeRole.SECRETARIAT if secretariat else None
            return HomeView(role=role, as_of=ctx.now(), secretariat=secretariat)

        profile = person_profile(person)
        if person.role == Role.MEMBER:
            member = _member_home(ctx, session, actor, person)
            return HomeView(HomeRole.MEMBER, ctx.now(), secretariat, profile, member=member)
        return HomeView(HomeRole.PARTNER, ctx.now(), secretariat, profile, partner=_partner_home(session, person))
