"""Replies about work and its reward: submissions, evaluations and rankings."""

from __future__ import annotations

from dataclasses import replace

from core.domain.enums import TaskMenu
from core.domain.errors import N_
from core.domain.scoring import ALL_TIME
from core.presentation.cards import task_title
from core.presentation.i18n import Localizer
from core.presentation.messages import Action, Line, Message
from core.presentation.replies.base import present, reply_message
from core.services.evaluations import EvaluationView
from core.services.rankings import RankingRow, RankingTable
from core.services.submissions import SubmissionList, Submitted

__all__ = ["evaluation_lines", "ranking_line"]

# Chat platforms show at most 25 buttons in a row of actions; more members are evaluated by command.
MAX_ACTIONS = 25


@present.register
def _(result: Submitted, loc: Localizer) -> list[Message]:
    lines = [
        loc.line(
            N_("Your submission to task T{task_id} was received as version {version}."),
            task_id=result.task.id,
            version=result.version,
        )
    ]
    if result.version > 1:
        lines.append(loc.line(N_("Earlier versions are kept; the partner evaluates the latest one.")))
    if result.task.menu == TaskMenu.CONTEST and result.task.copyright:
        lines.append(loc.line(N_("Copyright of entries: {text}"), text=result.task.copyright))
    return [reply_message(loc, task_title(loc, result.task), *lines)]


@present.register
def _(result: SubmissionList, loc: Localizer) -> list[Message]:
    if not result.rows:
        return [reply_message(loc, task_title(loc, result.task), loc.line(N_("No submissions yet.")))]
    lines: list[Line] = []
    for row in result.rows:
        status = (
            loc.line(N_("evaluated: {score} points"), score=f"{row.points / 100:.2f}")
            if row.points is not None
            else loc.line(N_("waiting for evaluation"))
        )
        lines.append(
            loc.line(
                N_("{member} (M{member_id}), version {version}, {submitted_at}: "),
                member=row.member,
                member_id=row.member_id,
                version=row.version,
                submitted_at=row.submitted_at,
            )
            + status
        )
        if row.text:
            lines.append(loc.of(row.text))
        lines.extend(loc.of(link) for link in row.links)
        lines.extend(loc.line(N_("File: {name}"), name=name) for name in row.files)
    lines.append(
        loc.line(
            N_(
                'Evaluate with /smarter evaluate T{task_id} <member> <criterion>=<level> ... advice="..."; '
                "/smarter rubric {rubric} shows the criteria and levels."
            ),
            task_id=result.task.id,
            rubric=result.task.rubric_key,
        )
    )
    message = reply_message(loc, task_title(loc, result.task), *lines)
    return [replace(message, actions=_evaluate_actions(loc, result))]


def _evaluate_actions(loc: Localizer, result: SubmissionList) -> tuple[Action, ...]:
    """Offer one Evaluate button per member, those still waiting first. The form then collects the levels."""
    rows = sorted(result.rows, key=lambda row: row.points is not None)
    return tuple(
        Action(
            loc(N_("Evaluate {member}"), member=row.member),
            f"/smarter evaluate T{result.task.id} M{row.member_id} ",
            "primary" if row.points is None else None,
        )
        for row in rows[:MAX_ACTIONS]
    )


def evaluation_lines(loc: Localizer, result: EvaluationView) -> list[Line]:
    lines: list[Line] = []
    for criterion in result.criteria:
        name = criterion.name_ja if loc.locale == "ja" else criterion.name_en
        descriptor = criterion.descriptor_ja if loc.locale == "ja" else criterion.descriptor_en
        lines.append(
            loc.line(
                N_("{criterion}: {level}/{max_level} — {descriptor}"),
                criterion=name,
                level=criterion.level,
                max_level=criterion.max_level,
                descriptor=descriptor,
            )
        )
        if criterion.remark:
            lines.append(loc.line(N_("  Remark: {remark}"), remark=criterion.remark))
    lines.append(loc.line(N_("Advice: {advice}"), advice=result.advice))
    return lines


@present.register
def _(result: EvaluationView, loc: Localizer) -> list[Message]:
    rubric = result.rubric_name_ja if loc.locale == "ja" else result.rubric_name_en
    title = loc.line(
        N_("Evaluation of {member} on task T{task_id}: {score} points"),
        member=result.member,
        task_id=result.task.id,
        score=f"{result.score:.2f}",
    )
    head = loc.line(
        N_("Rubric: {rubric}; submission version {version}; evaluated {evaluated_at}."),
        rubric=rubric,
        version=result.submission_version,
        evaluated_at=result.evaluated_at,
    )
    return [reply_message(loc, title, head, *evaluation_lines(loc, result), kind="evaluation")]


def ranking_line(loc: Localizer, row: RankingRow) -> Line:
    return loc.line(
        N_("{rank}. {nickname} (M{member_id}) — {score} points, evaluations: {count}"),
        rank=row.rank,
        nickname=row.nickname,
        member_id=row.member_id,
        score=f"{row.score:.2f}",
        count=row.evaluation_count,
    )


@present.register
def _(result: RankingTable, loc: Localizer) -> list[Message]:
    period = (
        loc.line(N_("All-time ranking"))
        if result.period == ALL_TIME
        else loc.line(N_("Ranking for {year}-{month:02d}"), year=int(result.period[:4]), month=int(result.period[5:]))
    )
    lines = [ranking_line(loc, row) for row in result.rows]
    if not lines and result.own is None:
        lines.append(loc.line(N_("No evaluations in this period yet.")))
    if result.own is not None and all(row.member_id != result.own.member_id for row in result.rows):
        lines.append(loc.line(N_("Your place: ")) + ranking_line(loc, result.own))
    if result.own_hidden:
        lines.append(
            loc.line(
                N_(
                    "You are not shown in public rankings (/smarter me ranking on shows you again). Your place "
                    "is where you would stand among the members shown."
                )
            )
        )
    lines.append(
        loc.line(
            N_(
                "Score: Bayesian average of evaluation scores (0–100), counting {weight} extra "
                "evaluations of {mean} points, so one lucky evaluation does not top the ranking. "
                "On equal scores, whoever reached the score first ranks higher."
            ),
            weight=f"{result.prior.weight:g}",
            mean=f"{result.prior.mean:g}",
        )
    )
    return [reply_message(loc, period, *lines, kind="ranking")]
