"""Evaluations: the partner scores a member's latest submission against the task's rubric."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.domain.enums import TaskMenu, TaskStatus
from core.domain.errors import N_, T_, UserError
from core.domain.rubric import Criterion, Rubric
from core.domain.scoring import month_period, to_points
from core.domain.text import TOKYO, UserText, check_length, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import check_own_task, load_member, load_task, require_member, require_partner
from core.services.outbox import enqueue
from core.services.standings import count_in_rankings, freeze_if_due, is_frozen
from core.services.views import TaskView, task_view
from core.storage.models import Evaluation, Person, Submission, Task

__all__ = ["CriterionResult", "EvaluationView", "evaluate", "evaluation_view", "show_evaluation"]

ADVICE_MAX = 1000
REMARK_MAX = 300


@dataclass(frozen=True, slots=True)
class CriterionResult:
    key: str
    name_ja: str
    name_en: str
    level: int
    max_level: int
    descriptor_ja: str
    descriptor_en: str
    remark: UserText | None


@dataclass(frozen=True, slots=True)
class EvaluationView:
    task: TaskView
    member_id: int
    member: UserText
    submission_version: int
    rubric_name_ja: str
    rubric_name_en: str
    criteria: list[CriterionResult]
    advice: UserText
    score: float
    revision: int
    evaluated_at: datetime


def _criterion(rubric: Rubric, name: str) -> Criterion:
    criterion = rubric.criterion(normalize(name))
    if criterion is None:
        raise UserError(
            N_("{value} is not a criterion of rubric {rubric}. Criteria: {allowed}."),
            value=UserText(name),
            rubric=rubric.key,
            allowed=", ".join(c.key for c in rubric.criteria),
        )
    return criterion


def _parse_levels(rubric: Rubric, levels: dict[str, str]) -> dict[str, int]:
    parsed: dict[str, int] = {}
    for name, raw in levels.items():
        criterion = _criterion(rubric, name)
        if criterion.key in parsed:
            raise UserError(
                N_("{criterion} is given twice (by key and by name). Give each criterion once."),
                criterion=criterion.key,
            )
        text = normalize(raw)
        allowed = sorted(level.value for level in criterion.levels)
        if not text.isdigit() or int(text) not in allowed:
            raise UserError(
                N_("{value} is not a level of {criterion}. Choose one of {allowed}."),
                value=UserText(raw),
                criterion=criterion.key,
                allowed=", ".join(map(str, allowed)),
            )
        parsed[criterion.key] = int(text)
    missing = [c.key for c in rubric.criteria if c.key not in parsed]
    if missing:
        raise UserError(
            N_("Every criterion needs a level. Missing: {missing} (for example {example}=3)."),
            missing=", ".join(missing),
            example=missing[0],
        )
    return parsed


def _parse_remarks(rubric: Rubric, remarks: dict[str, str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for name, text in remarks.items():
        criterion = _criterion(rubric, name)
        parsed[criterion.key] = check_length(T_("remark"), text, REMARK_MAX, multiline=True)
    return parsed


def _check_evaluable(session: Session, partner: Person, task: Task) -> None:
    check_own_task(partner, task)
    if task.menu == TaskMenu.BRAINSTORM:
        raise UserError(
            N_("Brainstorm T{task_id} has no submissions to evaluate; /smarter digest T{task_id} shows its posts."),
            task_id=task.id,
        )
    if task.status == TaskStatus.ARCHIVED:
        raise UserError(N_("Task T{task_id} is archived, so its evaluations can no longer change."), task_id=task.id)


def evaluation_view(session: Session, evaluation: Evaluation, *, viewer_id: int, secretariat: bool) -> EvaluationView:
    """Describe an evaluation with the rubric it was scored with, not today's version of that rubric."""
    rubric = Rubric.from_data(evaluation.rubric, source=f"evaluation {evaluation.id}")
    task = session.get_one(Task, evaluation.task_id)
    member = session.get_one(Person, evaluation.member_id)
    version = session.get_one(Submission, evaluation.submission_id).version
    criteria = []
    for criterion in rubric.criteria:
        level = evaluation.levels[criterion.key]
        descriptor = next(lv for lv in criterion.levels if lv.value == level)
        remark = evaluation.remarks.get(criterion.key)
        criteria.append(
            CriterionResult(
                criterion.key,
                criterion.name_ja,
                criterion.name_en,
                level,
                criterion.max_level,
                descriptor.name_ja,
                descriptor.name_en,
                UserText(remark) if remark else None,
            )
        )
    return EvaluationView(
        task=task_view(session, task, viewer_id=viewer_id, secretariat=secretariat),
        member_id=member.id,
        member=UserText(member.display_name),
        submission_version=version,
        rubric_name_ja=rubric.name_ja,
        rubric_name_en=rubric.name_en,
        criteria=criteria,
        advice=UserText(evaluation.advice),
        score=evaluation.points / 100,
        revision=evaluation.revision,
        evaluated_at=evaluation.evaluated_at,
    )


def evaluate(
    ctx: ServiceContext,
    actor: Actor,
    task_id: int,
    member_ref: str,
    *,
    levels: dict[str, str],
    advice: str,
    remarks: dict[str, str] | None = None,
) -> EvaluationView:
    """Score a member's latest submission; a second evaluation of the same work replaces the first."""
    advice_text = check_length(T_("advice"), advice, ADVICE_MAX, multiline=True)
    now = ctx.now()
    with ctx.transaction() as session:
        partner = require_partner(session, actor)
        task = load_task(session, task_id, share=True)
        _check_evaluable(session, partner, task)
        freeze_if_due(session, task, now)
        member = load_member(session, member_ref)
        rubric = ctx.rubrics.get(task.rubric_key)
        if rubric is None:
            raise UserError(
                N_("The rubric {value} of task T{task_id} is no longer configured. Please contact the secretariat."),
                value=task.rubric_key,
                task_id=task.id,
            )
        parsed_levels = _parse_levels(rubric, levels)
        parsed_remarks = _parse_remarks(rubric, remarks or {})
        version = session.scalar(
            select(func.max(Submission.version)).where(Submission.task_id == task.id, Submission.member_id == member.id)
        )
        if version is None:
            raise UserError(
                N_("{member} has not submitted anything for task T{task_id} yet."),
                member=UserText(member.display_name),
                task_id=task.id,
            )
        # Locking the submission makes a second evaluation of the same work wait for the first one's row,
        # because a FOR UPDATE on the evaluation itself locks nothing while no evaluation exists.
        submission = session.scalars(
            select(Submission)
            .where(Submission.task_id == task.id, Submission.member_id == member.id, Submission.version == version)
            .with_for_update()
        ).one()
        points = to_points(rubric.score(parsed_levels))

        evaluation = session.scalars(
            select(Evaluation).where(Evaluation.task_id == task.id, Evaluation.member_id == member.id).with_for_update()
        ).one_or_none()
        if evaluation is None:
            period = month_period(now.astimezone(TOKYO))
            evaluation = Evaluation(
                task_id=task.id,
                member_id=member.id,
                partner_id=partner.id,
                period=period,
                revision=1,
                points=points,
                submission_id=submission.id,
                rubric=rubric.to_snapshot(),
                levels=parsed_levels,
                remarks=parsed_remarks,
                advice=advice_text,
                evaluated_at=now,
            )
            session.add(evaluation)
        else:
            evaluation.revision += 1
            evaluation.points = points
            evaluation.submission_id = submission.id
            evaluation.rubric = rubric.to_snapshot()
            evaluation.levels = parsed_levels
            evaluation.remarks = parsed_remarks
            evaluation.advice = advice_text
            evaluation.evaluated_at = now
        # A frozen contest keeps the new points out of the member rankings until its results are published.
        # Without autoflush, counted_points is part of the row's one INSERT or UPDATE instead of a second write.
        if not is_frozen(task, now):
            with session.no_autoflush:
                count_in_rankings(session, ctx.policy.ranking_prior, evaluation, now)
        session.flush()
        enqueue(
            session,
            at=ctx.now(),
            key=f"evaluation:{evaluation.id}:{evaluation.revision}",
            kind="evaluation.result",
            evaluation_id=evaluation.id,
        )
        return evaluation_view(session, evaluation, viewer_id=partner.id, secretariat=False)


def show_evaluation(ctx: ServiceContext, actor: Actor, task_id: int) -> EvaluationView:
    """Return the actor's own evaluation for a task."""
    with ctx.transaction() as session:
        member = require_member(session, actor)
        evaluation = session.scalars(
            select(Evaluation).where(Evaluation.task_id == task_id, Evaluation.member_id == member.id)
        ).one_or_none()
        if evaluation is None:
            load_task(session, task_id)
            raise UserError(N_("Your work on task T{task_id} has not been evaluated yet."), task_id=task_id)
        return evaluation_view(session, evaluation, viewer_id=member.id, secretariat=False)
