"""Tasks: creating one of the three menus, listing, showing and moving through the status lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain.enums import TASK_TRANSITIONS, Eligibility, RequestStatus, TaskMenu, TaskStatus, WorkType
from core.domain.errors import N_, T_, UserError
from core.domain.text import UserText, check_length, normalize, parse_deadline
from core.services.context import Actor, ServiceContext
from core.services.lookup import find_person, load_task, require_partner, require_task_owner
from core.services.outbox import enqueue
from core.services.standings import release_frozen
from core.services.views import TaskView, task_view
from core.storage.models import ParticipationRequest, Task

__all__ = [
    "DeadlineChanged",
    "NewTask",
    "StatusChanged",
    "change_deadline",
    "change_task_status",
    "create_task",
    "list_tasks",
    "parse_menu",
    "parse_work_types",
    "show_task",
]

TITLE_MAX = 100
DESCRIPTION_MAX = 4000
COPYRIGHT_MAX = 1000
CAPACITY_MAX = 1000
DEADLINE_HORIZON = timedelta(days=3 * 365)

MENU_ALIASES: dict[str, TaskMenu] = {
    "brainstorm": TaskMenu.BRAINSTORM, "ブレスト": TaskMenu.BRAINSTORM, "みんなでブレスト": TaskMenu.BRAINSTORM,
    "practice": TaskMenu.PRACTICE, "実践": TaskMenu.PRACTICE, "おシゴト実践": TaskMenu.PRACTICE,
    "おしごと実践": TaskMenu.PRACTICE,
    "contest": TaskMenu.CONTEST, "ビジコン": TaskMenu.CONTEST, "燃えろビジコン": TaskMenu.CONTEST,
}  # fmt: skip

WORK_TYPE_ALIASES: dict[str, WorkType] = {
    "research": WorkType.RESEARCH, "情報収集": WorkType.RESEARCH,
    "analysis": WorkType.ANALYSIS, "情報分析": WorkType.ANALYSIS,
    "ideas": WorkType.IDEAS, "考察・アイデア": WorkType.IDEAS, "考察": WorkType.IDEAS, "アイデア": WorkType.IDEAS,
    "organizing": WorkType.ORGANIZING, "資料整理": WorkType.ORGANIZING,
}  # fmt: skip

ELIGIBILITY_ALIASES: dict[str, Eligibility] = {
    "all": Eligibility.ALL, "全員": Eligibility.ALL,
    "paid": Eligibility.PAID, "有料会員": Eligibility.PAID, "有料": Eligibility.PAID,
    "grade": Eligibility.GRADE, "グレード": Eligibility.GRADE,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewTask:
    """Fields a partner typed to open a task, still raw text or plain numbers."""

    menu: str
    title: str
    deadline: str
    description: str = ""
    work_types: tuple[str, ...] = ()
    eligibility: str = "all"
    min_grade: int | None = None
    capacity: int | None = None
    copyright: str | None = None
    rubric: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    task: TaskView
    previous: TaskStatus


@dataclass(frozen=True, slots=True)
class DeadlineChanged:
    task: TaskView
    previous: datetime


@dataclass(frozen=True, slots=True)
class TaskList:
    tasks: list[TaskView] = field(default_factory=list)
    include_closed: bool = False


def parse_menu(text: str) -> TaskMenu:
    menu = MENU_ALIASES.get(normalize(text).lower())
    if menu is None:
        raise UserError(
            N_(
                "{value} is not a task menu. Choose brainstorm (みんなでブレスト), practice (おシゴト実践) "
                "or contest (燃えろビジコン)."
            ),
            value=UserText(text),
        )
    return menu


def parse_work_types(values: tuple[str, ...]) -> tuple[WorkType, ...]:
    parsed: list[WorkType] = []
    for value in values:
        work_type = WORK_TYPE_ALIASES.get(normalize(value).lower())
        if work_type is None:
            raise UserError(
                N_(
                    "{value} is not a work type. Choose one or more of research (情報収集), analysis (情報分析), "
                    "ideas (考察・アイデア) and organizing (資料整理), separated by commas."
                ),
                value=UserText(value),
            )
        if work_type not in parsed:
            parsed.append(work_type)
    return tuple(parsed)


def _parse_eligibility(ctx: ServiceContext, spec: NewTask) -> tuple[Eligibility, int | None]:
    eligibility = ELIGIBILITY_ALIASES.get(normalize(spec.eligibility).lower())
    if eligibility is None:
        raise UserError(
            N_("{value} is not an eligibility. Choose all, paid or grade (with min_grade=N)."),
            value=UserText(spec.eligibility),
        )
    if eligibility != Eligibility.GRADE:
        if spec.min_grade is not None:
            raise UserError(N_("min_grade= applies only with eligibility=grade. Add eligibility=grade or remove it."))
        return eligibility, None
    low, high = ctx.policy.min_grade, ctx.policy.max_grade
    if spec.min_grade is None or not low <= spec.min_grade <= high:
        raise UserError(
            N_("A task for graded members needs min_grade= with a grade from {low} to {high}."), low=low, high=high
        )
    return eligibility, spec.min_grade


def _check_menu_fields(spec: NewTask, menu: TaskMenu, work_types: tuple[WorkType, ...]) -> None:
    if menu == TaskMenu.PRACTICE and not work_types:
        raise UserError(N_("A practice task needs at least one work type: types=research,analysis,ideas,organizing."))
    if menu != TaskMenu.PRACTICE and work_types:
        raise UserError(N_("Work types apply to practice tasks only. Remove types= or use the practice menu."))
    if menu == TaskMenu.CONTEST and not (spec.copyright and normalize(spec.copyright)):
        raise UserError(N_('A contest must state who holds the copyright of entries: add copyright="...".'))
    if menu != TaskMenu.CONTEST and spec.copyright:
        raise UserError(
            N_(
                "Deliverables of brainstorms and practice tasks belong to the partner; copyright= "
                "can be set for contests only."
            )
        )
    if menu == TaskMenu.BRAINSTORM and spec.capacity is not None:
        raise UserError(N_("A brainstorm has no participants to count, so capacity= does not apply. Remove it."))
    if spec.capacity is not None and not 1 <= spec.capacity <= CAPACITY_MAX:
        raise UserError(
            N_("The capacity must be a whole number from 1 to {maximum}; you gave {value}."),
            maximum=CAPACITY_MAX,
            value=spec.capacity,
        )


def _check_deadline(deadline: datetime, now: datetime) -> None:
    if deadline <= now:
        raise UserError(N_("The deadline {deadline} has already passed. Please give a future date."), deadline=deadline)
    if deadline > now + DEADLINE_HORIZON:
        raise UserError(
            N_("The deadline {deadline} is too far ahead; it can be at most {years} years from now."),
            deadline=deadline,
            years=DEADLINE_HORIZON.days // 365,
        )


def _task_fields(ctx: ServiceContext, spec: NewTask) -> dict[str, Any]:
    """Check what the partner typed and return the new task's column values."""
    menu = parse_menu(spec.menu)
    work_types = parse_work_types(spec.work_types)
    eligibility, min_grade = _parse_eligibility(ctx, spec)
    _check_menu_fields(spec, menu, work_types)
    copyright_text = (
        check_length(T_("copyright"), normalize(spec.copyright), COPYRIGHT_MAX, multiline=True)
        if spec.copyright
        else None
    )
    rubric_key = normalize(spec.rubric) if spec.rubric else ctx.policy.default_rubric
    if rubric_key not in ctx.rubrics:
        raise UserError(
            N_("There is no rubric named {value}. Available: {allowed}."),
            value=UserText(rubric_key),
            allowed=", ".join(sorted(ctx.rubrics)),
        )
    deadline = parse_deadline(spec.deadline, now=ctx.now())
    _check_deadline(deadline, ctx.now())
    return {
        "menu": menu,
        "title": check_length(T_("title"), normalize(spec.title), TITLE_MAX),
        "description": check_length(T_("description"), spec.description, DESCRIPTION_MAX, minimum=0, multiline=True),
        "work_types": [str(value) for value in work_types],
        "deadline": deadline,
        "capacity": spec.capacity,
        "eligibility": eligibility,
        "min_grade": min_grade,
        "copyright": copyright_text,
        "rubric_key": rubric_key,
    }


def create_task(ctx: ServiceContext, actor: Actor, spec: NewTask) -> TaskView:
    """Open a task for the partner acting; practice tasks and contests get a task channel."""
    with ctx.transaction() as session:
        partner = require_partner(session, actor)
        fields = _task_fields(ctx, spec)

        task = Task(partner_id=partner.id, participant_count=0, status=TaskStatus.OPEN, created_at=ctx.now(), **fields)
        session.add(task)
        session.flush()

        kind = "brainstorm.open" if task.menu == TaskMenu.BRAINSTORM else "task_channel.open"
        enqueue(session, at=ctx.now(), key=f"task:{task.id}:open", kind=kind, task_id=task.id)
        enqueue(session, at=ctx.now(), key=f"task:{task.id}:announce", kind="task.announce", task_id=task.id)
        return task_view(session, task, viewer_id=partner.id, secretariat=False)


def list_tasks(ctx: ServiceContext, actor: Actor, *, include_closed: bool = False) -> TaskList:
    with ctx.transaction() as session:
        viewer = find_person(session, actor)
        statement = select(Task).order_by(Task.deadline, Task.id)
        if not include_closed:
            statement = statement.where(Task.status == TaskStatus.OPEN, Task.deadline > ctx.now())
        else:
            statement = statement.where(Task.status != TaskStatus.ARCHIVED)
        tasks = [
            task_view(session, task, viewer_id=viewer.id if viewer else None, secretariat=ctx.is_secretariat(actor))
            for task in session.scalars(statement.limit(50))
        ]
        return TaskList(tasks=tasks, include_closed=include_closed)


def show_task(ctx: ServiceContext, actor: Actor, task_id: int) -> TaskView:
    with ctx.transaction() as session:
        viewer = find_person(session, actor)
        task = load_task(session, task_id)
        return task_view(session, task, viewer_id=viewer.id if viewer else None, secretariat=ctx.is_secretariat(actor))


def change_task_status(ctx: ServiceContext, actor: Actor, task_id: int, target: TaskStatus) -> StatusChanged:
    """Move a task to ``target`` if the lifecycle allows it (open → closed → evaluated → archived)."""
    with ctx.transaction() as session:
        task = load_task(session, task_id, lock=True)
        owner = require_task_owner(ctx, session, actor, task)
        previous = TaskStatus(task.status)
        allowed = TASK_TRANSITIONS[previous]
        if target == previous:
            raise UserError(N_("Task T{task_id} is already {status}."), task_id=task.id, status=T_(previous))
        secretariat_archive = ctx.is_secretariat(actor) and target == TaskStatus.ARCHIVED
        if target not in allowed and not secretariat_archive:
            raise UserError(
                N_("Task T{task_id} is {status}, so it cannot become {target}. Allowed next: {allowed}."),
                task_id=task.id,
                status=T_(previous),
                target=T_(target),
                allowed=tuple(T_(status) for status in allowed) or T_("none"),
            )

        if target == TaskStatus.OPEN and task.deadline <= ctx.now():
            raise UserError(
                N_(
                    "The deadline of task T{task_id} ({deadline}) has passed, so reopening it would let nobody "
                    "join or submit. Set a new deadline with /smarter task deadline T{task_id} <date> first."
                ),
                task_id=task.id,
                deadline=task.deadline,
            )

        task.status = target
        # Publishing the results ends a contest's freeze, so the evaluations it held back count from now on.
        release_frozen(session, ctx.policy.ranking_prior, task, ctx.now())
        if target == TaskStatus.ARCHIVED and task.menu != TaskMenu.BRAINSTORM:
            enqueue(session, at=ctx.now(), key=f"task:{task.id}:archive", kind="task_channel.archive", task_id=task.id)
        if target == TaskStatus.CLOSED and task.menu == TaskMenu.BRAINSTORM:
            # Each close sends the partner the posts so far; a reopened brainstorm closed again gets a new digest.
            key = f"task:{task.id}:digest:{ctx.now().isoformat()}"
            enqueue(session, at=ctx.now(), key=key, kind="brainstorm.digest", task_id=task.id)
        view = task_view(session, task, viewer_id=owner.id if owner else None, secretariat=ctx.is_secretariat(actor))
        return StatusChanged(task=view, previous=previous)


def _follow_deadline(ctx: ServiceContext, session: Session, task: Task) -> None:
    """Move the answer-by time of the task's pending requests with its deadline, within the expiry days."""
    pending = session.scalars(
        select(ParticipationRequest).where(
            ParticipationRequest.task_id == task.id, ParticipationRequest.status == RequestStatus.PENDING
        )
    )
    for request in pending:
        request.expires_at = min(task.deadline, request.created_at + timedelta(days=ctx.policy.request_expiry_days))


def change_deadline(ctx: ServiceContext, actor: Actor, task_id: int, deadline: str) -> DeadlineChanged:
    """Move the deadline of an open or closed task to a future time and post the change in its channel."""
    now = ctx.now()
    new_deadline = parse_deadline(deadline, now=now)
    _check_deadline(new_deadline, now)
    with ctx.transaction() as session:
        task = load_task(session, task_id, lock=True)
        owner = require_task_owner(ctx, session, actor, task)
        if task.status not in (TaskStatus.OPEN, TaskStatus.CLOSED):
            raise UserError(
                N_("Task T{task_id} is {status}; its deadline can change only while it is open or closed."),
                task_id=task.id,
                status=T_(task.status),
            )

        previous = task.deadline
        task.deadline = new_deadline
        _follow_deadline(ctx, session, task)
        enqueue(
            session,
            at=ctx.now(),
            # Only the same new deadline set twice at the same instant shares a key, and that is a repeat.
            key=f"task:{task.id}:deadline:{now.isoformat()}:{new_deadline.isoformat()}",
            kind="task.deadline_changed",
            task_id=task.id,
            previous=previous.isoformat(),
        )
        view = task_view(session, task, viewer_id=owner.id if owner else None, secretariat=ctx.is_secretariat(actor))
        return DeadlineChanged(task=view, previous=previous)
