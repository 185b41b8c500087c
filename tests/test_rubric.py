"""Rubrics: the configured tables, 0–100 scores, malformed files and the snapshot kept with evaluations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bots.settings import CONFIG_DIR
from core.domain.rubric import Criterion, Level, Rubric, RubricError, load_rubrics
from core.services import evaluations, participation, registration, submissions, tasks
from core.services.context import ServiceContext
from tests.conftest import actor

RUBRICS_DIR = CONFIG_DIR / "rubrics"

VALID_CRITERION = """
[[criteria]]
key = "accuracy"
name_ja = "正確さ"
name_en = "Accuracy"
weight = 1
levels = [{ value = 1, ja = "低い", en = "Low" }, { value = 2, ja = "高い", en = "High" }]
"""

HEADER = """
key = "tiny"
name_ja = "小さな評価"
name_en = "Tiny"
"""


@pytest.fixture
def rubrics() -> dict[str, Rubric]:
    return load_rubrics(RUBRICS_DIR)


def write_rubric(directory: Path, text: str, name: str = "tiny.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_rubrics_finds_both_files(rubrics: dict[str, Rubric]) -> None:
    assert sorted(rubrics) == ["business-planning", "quick-feedback"]


def test_business_planning_weights(rubrics: dict[str, Rubric]) -> None:
    weights = {c.key: c.weight for c in rubrics["business-planning"].criteria}

    assert weights == {"logic": 3, "evidence": 3, "originality": 2, "feasibility": 2, "clarity": 2}


def test_business_planning_levels_one_to_four(rubrics: dict[str, Rubric]) -> None:
    for criterion in rubrics["business-planning"].criteria:
        assert (criterion.min_level, criterion.max_level) == (1, 4), criterion.key


def test_quick_feedback_levels_one_to_three(rubrics: dict[str, Rubric]) -> None:
    rubric = rubrics["quick-feedback"]

    assert [c.key for c in rubric.criteria] == ["accuracy", "usefulness", "clarity"]
    for criterion in rubric.criteria:
        assert (criterion.min_level, criterion.max_level) == (1, 3), criterion.key
        assert criterion.weight == 1, criterion.key


def test_criterion_found_by_key_or_name(rubrics: dict[str, Rubric]) -> None:
    rubric = rubrics["business-planning"]

    assert rubric.criterion("LOGIC") is rubric.criteria[0]
    assert rubric.criterion("論理性") is rubric.criteria[0]
    assert rubric.criterion("Evidence") is rubric.criteria[1]
    assert rubric.criterion("根拠・データ") is rubric.criteria[1]
    assert rubric.criterion("humour") is None


def test_score_all_max_is_100(rubrics: dict[str, Rubric]) -> None:
    rubric = rubrics["business-planning"]

    assert rubric.score({c.key: c.max_level for c in rubric.criteria}) == 100.0


def test_score_all_min_is_0(rubrics: dict[str, Rubric]) -> None:
    rubric = rubrics["business-planning"]

    assert rubric.score({c.key: c.min_level for c in rubric.criteria}) == 0.0


def test_score_weighted_mix(rubrics: dict[str, Rubric]) -> None:
    levels = {"logic": 4, "evidence": 2, "originality": 3, "feasibility": 1, "clarity": 4}
    # Each criterion contributes weight * (level - 1) / 3, and the weights add up to 12.
    expected = 100 * (3 * 3 / 3 + 3 * 1 / 3 + 2 * 2 / 3 + 2 * 0 / 3 + 2 * 3 / 3) / 12

    assert rubrics["business-planning"].score(levels) == round(expected, 2)
    assert rubrics["business-planning"].score(levels) == 61.11


def test_score_three_level_rubric(rubrics: dict[str, Rubric]) -> None:
    assert rubrics["quick-feedback"].score({"accuracy": 3, "usefulness": 2, "clarity": 1}) == 50.0


def test_snapshot_round_trip(rubrics: dict[str, Rubric]) -> None:
    for rubric in rubrics.values():
        assert Rubric.from_data(rubric.to_snapshot()) == rubric


def test_load_rubrics_valid_temp_file(tmp_path: Path) -> None:
    write_rubric(tmp_path, HEADER + VALID_CRITERION)

    assert load_rubrics(tmp_path)["tiny"].criteria[0].key == "accuracy"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (VALID_CRITERION, "key"),
        (HEADER, "criteria"),
        (HEADER + "criteria = []", "has no criteria"),
        (HEADER + VALID_CRITERION.replace("weight = 1", "weight = 0"), "positive weight"),
        (HEADER + VALID_CRITERION.replace("weight = 1", 'weight = "heavy"'), "malformed"),
        (HEADER + VALID_CRITERION.replace('{ value = 2, ja = "高い", en = "High" }', ""), "at least two levels"),
        (HEADER + VALID_CRITERION.replace(', en = "High"', ""), "en"),
        (HEADER + VALID_CRITERION + VALID_CRITERION, "repeats a criterion key"),
        (HEADER + VALID_CRITERION.replace("value = 2", "value = 1"), "repeats a level value"),
        (HEADER + "[[criteria]\nkey = ", "TOML"),
    ],
    ids=[
        "no-header",
        "no-criteria",
        "empty-criteria",
        "zero-weight",
        "text-weight",
        "one-level",
        "level-without-en",
        "repeated-criterion",
        "repeated-level",
        "toml-syntax",
    ],
)
def test_load_rubrics_malformed_names_file(tmp_path: Path, text: str, problem: str) -> None:
    path = write_rubric(tmp_path, text)

    with pytest.raises(RubricError) as raised:
        load_rubrics(tmp_path)

    assert str(path) in str(raised.value)
    assert problem in str(raised.value)


def test_load_rubrics_duplicate_key_names_file(tmp_path: Path) -> None:
    write_rubric(tmp_path, HEADER + VALID_CRITERION, "a.toml")
    second = write_rubric(tmp_path, HEADER + VALID_CRITERION, "b.toml")

    with pytest.raises(RubricError) as raised:
        load_rubrics(tmp_path)

    assert str(second) in str(raised.value)
    assert "already defined" in str(raised.value)


def renamed(rubric: Rubric) -> Rubric:
    """Return ``rubric`` with new criterion names and level descriptors, as an edited config file would."""
    criteria = tuple(
        dataclasses.replace(
            criterion,
            name_ja=f"新{criterion.name_ja}",
            name_en=f"New {criterion.name_en}",
            levels=tuple(Level(lv.value, f"新{lv.name_ja}", f"New {lv.name_en}") for lv in criterion.levels),
        )
        for criterion in rubric.criteria
    )
    return dataclasses.replace(rubric, name_ja="新しい表", name_en="New table", criteria=criteria)


def evaluated_task(ctx: ServiceContext) -> int:
    """Open a practice task, have member taro submit, and evaluate it with quick-feedback."""
    registration.register_partner(ctx, actor("acme"), company="Acme")
    registration.register_member(ctx, actor("taro"), nickname="taro")
    task = tasks.create_task(
        ctx,
        actor("acme"),
        tasks.NewTask(
            menu="practice", title="調査", deadline="2026/12/31", work_types=("research",), rubric="quick-feedback"
        ),
    )
    participation.join_task(ctx, actor("taro"), task.id)
    submissions.submit(ctx, actor("taro"), task.id, text="報告書")
    evaluations.evaluate(
        ctx, actor("acme"), task.id, "taro", levels={"accuracy": "3", "usefulness": "2", "clarity": "1"}, advice="ok"
    )
    return task.id


def test_evaluation_keeps_its_rubric(ctx: ServiceContext) -> None:
    task_id = evaluated_task(ctx)
    ctx.rubrics["quick-feedback"] = renamed(ctx.rubrics["quick-feedback"])

    view = evaluations.show_evaluation(ctx, actor("taro"), task_id)

    assert view.rubric_name_en == "Quick feedback"
    assert [c.name_ja for c in view.criteria] == ["正確さ", "有用性", "わかりやすさ"]
    assert view.criteria[0].descriptor_en == "Accurate and complete"
    assert view.criteria[2].descriptor_ja == "要点がつかめない"


def test_evaluation_keeps_score_after_reweighting(ctx: ServiceContext) -> None:
    task_id = evaluated_task(ctx)
    rubric = ctx.rubrics["quick-feedback"]
    heavier = (dataclasses.replace(rubric.criteria[0], weight=10.0), *rubric.criteria[1:])
    ctx.rubrics["quick-feedback"] = dataclasses.replace(rubric, criteria=heavier)

    view = evaluations.show_evaluation(ctx, actor("taro"), task_id)

    assert view.score == 50.0


def test_criterion_name_by_locale() -> None:
    criterion = Criterion("logic", "論理性", "Logic", 1.0, (Level(1, "低", "Low"), Level(2, "高", "High")))

    assert criterion.name("ja") == "論理性"
    assert criterion.name("en") == "Logic"
