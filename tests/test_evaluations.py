"""Evaluating submissions against the task's rubric: checks, revisions, ranking totals and the outbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.domain.enums import TaskStatus
from core.domain.errors import UserError
from core.services import evaluations, participation, submissions, tasks
from core.services.context import ServiceContext
from core.storage.models import Evaluation, MemberScore
from tests.conftest import actor
from tests.scenario import SECRETARIAT, count_rows, member, open_task, outbox_keys, partner

ALL_MAX = {"logic": "4", "evidence": "4", "originality": "4", "feasibility": "4", "clarity": "4"}
ALL_MIN = {"logic": "1", "evidence": "1", "originality": "1", "feasibility": "1", "clarity": "1"}


@pytest.fixture
def task_id(any_ctx: ServiceContext) -> int:
    """A practice task of acme (business-planning rubric) with one submission from taro."""
    partner(any_ctx)
    member(any_ctx, "taro")
    task_id = open_task(any_ctx)
    participation.join_task(any_ctx, actor("taro"), task_id)
    submissions.submit(any_ctx, actor("taro"), task_id, text="市場調査の報告")
    return task_id


def evaluate(
    ctx: ServiceContext, task_id: int, levels: dict[str, str], **options: object
) -> evaluations.EvaluationView:
    by = str(options.pop("by", "acme"))
    advice = str(options.pop("advice", "根拠をもう少し"))
    return evaluations.evaluate(ctx, actor(by), task_id, "taro", levels=levels, advice=advice, **options)  # type: ignore[arg-type]


def evaluate_error(ctx: ServiceContext, task_id: int, levels: dict[str, str], **options: object) -> UserError:
    with pytest.raises(UserError) as raised:
        evaluate(ctx, task_id, levels, **options)
    return raised.value


def scores(ctx: ServiceContext) -> dict[str, tuple[int, int]]:
    """Return each period's ranking total of the member as (evaluation count, points sum)."""
    with ctx.transaction() as session:
        rows = session.scalars(select(MemberScore).order_by(MemberScore.period))
        return {row.period: (row.evaluation_count, row.points_sum) for row in rows}


def assert_nothing_written(ctx: ServiceContext) -> None:
    assert count_rows(ctx, Evaluation) == 0
    assert count_rows(ctx, MemberScore) == 0
    assert outbox_keys(ctx, "evaluation.result") == []


def test_evaluate_scores_and_keeps_advice(any_ctx: ServiceContext, task_id: int) -> None:
    view = evaluate(any_ctx, task_id, ALL_MAX, advice="とても良い")

    assert view.score == 100.0
    assert view.advice == "とても良い"
    assert view.revision == 1
    assert view.submission_version == 1


def test_evaluate_japanese_criterion_names(any_ctx: ServiceContext, task_id: int) -> None:
    levels = {"論理性": "4", "根拠・データ": "２", "独自性": "3", "実現可能性": "1", "わかりやすさ": "4"}

    assert evaluate(any_ctx, task_id, levels).score == 61.11


def test_evaluate_keeps_remarks(any_ctx: ServiceContext, task_id: int) -> None:
    view = evaluate(any_ctx, task_id, ALL_MIN, remarks={"論理性": "結論が先に欲しい"})

    assert view.criteria[0].remark == "結論が先に欲しい"
    assert view.criteria[1].remark is None


def test_evaluate_adds_ranking_totals(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX)

    assert scores(any_ctx) == {"2026-12": (1, 10_000), "all": (1, 10_000)}


def test_evaluate_enqueues_result(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX)

    with any_ctx.transaction() as session:
        evaluation = session.scalars(select(Evaluation)).one()
    assert outbox_keys(any_ctx, "evaluation.result") == [f"evaluation:{evaluation.id}:{evaluation.revision}"]


def test_reevaluate_increments_revision(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX)

    view = evaluate(any_ctx, task_id, ALL_MIN, advice="見直しました")

    assert view.revision == 2
    assert view.score == 0.0
    assert view.advice == "見直しました"
    assert count_rows(any_ctx, Evaluation) == 1


def test_reevaluate_replaces_totals(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX)

    evaluate(any_ctx, task_id, {**ALL_MIN, "logic": "4"})

    # logic carries weight 3 of 12, so the new score is 25.00 points.
    assert scores(any_ctx) == {"2026-12": (1, 2_500), "all": (1, 2_500)}


def test_reevaluate_enqueues_each_revision(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX)
    evaluate(any_ctx, task_id, ALL_MIN)

    assert outbox_keys(any_ctx, "evaluation.result") == ["evaluation:1:1", "evaluation:1:2"]


def test_reevaluate_uses_latest_submission(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MIN)
    submissions.submit(any_ctx, actor("taro"), task_id, text="改訂版")

    assert evaluate(any_ctx, task_id, ALL_MAX).submission_version == 2


def test_evaluate_other_partner_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    partner(any_ctx, "globex")

    error = evaluate_error(any_ctx, task_id, ALL_MAX, by="globex")

    assert "another partner" in error.key
    assert_nothing_written(any_ctx)


def test_evaluate_unknown_criterion_lists_criteria(any_ctx: ServiceContext, task_id: int) -> None:
    error = evaluate_error(any_ctx, task_id, {**ALL_MAX, "humour": "3"})

    assert error.values["value"] == "humour"
    assert error.values["allowed"] == "logic, evidence, originality, feasibility, clarity"
    assert_nothing_written(any_ctx)


@pytest.mark.parametrize("level", ["0", "5", "-1", "three", "3.5", ""])
def test_evaluate_level_out_of_range(any_ctx: ServiceContext, task_id: int, level: str) -> None:
    error = evaluate_error(any_ctx, task_id, {**ALL_MAX, "clarity": level})

    assert error.values["value"] == level
    assert error.values["criterion"] == "clarity"
    assert error.values["allowed"] == "1, 2, 3, 4"
    assert_nothing_written(any_ctx)


def test_evaluate_missing_criteria_listed(any_ctx: ServiceContext, task_id: int) -> None:
    error = evaluate_error(any_ctx, task_id, {"logic": "3", "clarity": "2"})

    assert error.values["missing"] == "evidence, originality, feasibility"
    assert error.values["example"] == "evidence"
    assert_nothing_written(any_ctx)


def test_evaluate_remark_unknown_criterion(any_ctx: ServiceContext, task_id: int) -> None:
    error = evaluate_error(any_ctx, task_id, ALL_MAX, remarks={"humour": "面白い"})

    assert error.values["value"] == "humour"
    assert_nothing_written(any_ctx)


def test_evaluate_empty_advice_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    error = evaluate_error(any_ctx, task_id, ALL_MAX, advice="  ")

    assert error.values["field"] == "advice"
    assert_nothing_written(any_ctx)


def test_evaluate_before_submission_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    other = open_task(any_ctx)
    participation.join_task(any_ctx, actor("taro"), other)

    with pytest.raises(UserError) as raised:
        evaluations.evaluate(any_ctx, actor("acme"), other, "taro", levels=ALL_MAX, advice="x")

    assert raised.value.values["member"] == "taro"
    assert raised.value.values["task_id"] == other
    assert_nothing_written(any_ctx)


def test_evaluate_unknown_member_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    with pytest.raises(UserError) as raised:
        evaluations.evaluate(any_ctx, actor("acme"), task_id, "nobody", levels=ALL_MAX, advice="x")

    assert raised.value.values["value"] == "nobody"


def test_evaluate_archived_task_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    tasks.change_task_status(any_ctx, SECRETARIAT, task_id, TaskStatus.ARCHIVED)

    error = evaluate_error(any_ctx, task_id, ALL_MAX)

    assert "archived" in error.key
    assert_nothing_written(any_ctx)


def test_rejected_reevaluation_keeps_first(any_ctx: ServiceContext, task_id: int) -> None:
    evaluate(any_ctx, task_id, ALL_MAX, advice="最初の助言")

    evaluate_error(any_ctx, task_id, {**ALL_MIN, "logic": "9"})

    view = evaluations.show_evaluation(any_ctx, actor("taro"), task_id)
    assert (view.revision, view.score, view.advice) == (1, 100.0, "最初の助言")
    assert scores(any_ctx) == {"2026-12": (1, 10_000), "all": (1, 10_000)}
    assert outbox_keys(any_ctx, "evaluation.result") == ["evaluation:1:1"]


def test_show_evaluation_before_evaluation(any_ctx: ServiceContext, task_id: int) -> None:
    with pytest.raises(UserError) as raised:
        evaluations.show_evaluation(any_ctx, actor("taro"), task_id)

    assert "not been evaluated" in raised.value.key


def test_evaluate_criterion_twice_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    error = evaluate_error(any_ctx, task_id, {**ALL_MAX, "論理性": "2"})

    assert error.values["criterion"] == "logic"
    assert_nothing_written(any_ctx)
