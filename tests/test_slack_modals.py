"""Slack modals: each form within Slack's limits, and a submission read back and run as the typed command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from adapters.slack.modals import (
    CALLBACK_PREFIX,
    FORM_COMMANDS,
    FormSubmission,
    field_errors,
    form_values,
    form_view,
    loading_view,
)
from core.commands.dispatch import CommandRunner, Outcome
from core.commands.parser import build
from core.domain.errors import UserError
from core.domain.rubric import Criterion, Level, Rubric
from core.domain.text import TOKYO
from core.presentation.i18n import LOCALES, Localizer
from core.services import participation, submissions
from core.services.context import ServiceContext
from core.storage.models import Evaluation, Task
from tests.conftest import actor
from tests.scenario import member, open_task, partner

ACTION = "value"
APP_METADATA = "https://hooks.slack.com/actions/T1/2/abc"

# Slack's limits for a modal (Block Kit reference: view object, input block, option object, plain-text input).
TITLE_MAX = 24
BUTTON_MAX = 24
BLOCKS_MAX = 100
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
TEXT_INPUT_MAX = 3000

# A descriptor of exactly 60 Japanese characters, and one of 100 that cannot fit an option's 75.
DESCRIPTOR_60 = "根拠となる事実と数値を複数の出典で確認し" * 3
DESCRIPTOR_100 = ("市場の規模と成長率、主要な競合の動き、顧客の声を整理し、" * 4)[:100]


@pytest.fixture
def world(ctx: ServiceContext) -> Iterator[dict[str, int]]:
    """Partner acme with a practice task (business-planning) that taro joined and submitted to, and a brainstorm."""
    partner(ctx)
    member(ctx, "taro")
    practice = open_task(ctx)
    participation.join_task(ctx, actor("taro"), practice)
    submissions.submit(ctx, actor("taro"), practice, text="市場調査の報告")
    brainstorm = open_task(ctx, "brainstorm")
    yield {"practice": practice, "brainstorm": brainstorm}


def arguments_for(name: str, world: dict[str, int]) -> dict[str, str]:
    """Return the arguments the app has when it opens the form ``name``."""
    practice, brainstorm = f"T{world['practice']}", f"T{world['brainstorm']}"
    return {
        "register member": {},
        "register partner": {},
        "task new": {},
        "submit": {"task": practice},
        "post": {"task": brainstorm},
        "evaluate": {"task": practice, "member": "taro"},
    }[name]


def open_form(ctx: ServiceContext, name: str, arguments: dict[str, str], locale: str = "en") -> dict[str, Any]:
    return form_view(ctx, Localizer(locale), name, arguments=arguments, metadata=APP_METADATA)


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the view's input blocks by block_id."""
    return {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}


def offered(element: dict[str, Any], value: str) -> dict[str, Any]:
    """Return the option of ``element`` with ``value``, failing the test when the form does not offer it."""
    matches = [option for option in element["options"] if option["value"] == value]
    assert len(matches) == 1, f"{value!r} is not one of {[option['value'] for option in element['options']]}"
    return matches[0]


def slack_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """Return one input's entry in view.state.values as Slack sends it. ``None`` leaves the input as loaded."""
    kind = element["type"]
    if kind in ("static_select", "radio_buttons"):
        chosen = element.get("initial_option") if value is None else offered(element, value)
        return {"type": kind, "selected_option": chosen}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": [offered(element, item) for item in value or ()]}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value or element.get("initial_date")}
    if kind == "timepicker":
        return {"type": kind, "selected_time": value or element.get("initial_time"), "timezone": element["timezone"]}
    return {"type": kind, "value": value}


def submitted(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Return ``view`` as a view_submission payload carries it, with the inputs filled from ``values``."""
    blocks = inputs(view)
    unknown = set(values) - set(blocks)
    assert not unknown, f"the form has no inputs {sorted(unknown)}"
    state = {
        block_id: {ACTION: slack_state(block["element"], values.get(block_id))} for block_id, block in blocks.items()
    }
    payload = {**view, "id": "V123", "state": {"values": state}}
    View(**payload).to_dict()  # slack_sdk rejects state entries with attributes Slack does not send
    return payload


def succeeded(outcome: Outcome) -> None:
    assert outcome.error is None, outcome.error
    assert outcome.messages
    assert not any(message.error for message in outcome.messages)


def texts_of(block: dict[str, Any]) -> list[str]:
    return [element["text"] for element in block["elements"]]


def long_rubric(ctx: ServiceContext) -> str:
    """Add a rubric whose levels have a 60- and a 100-character Japanese descriptor and return its key."""
    levels = (Level(1, DESCRIPTOR_60, "Sixty"), Level(2, DESCRIPTOR_100, "A hundred"))
    ctx.rubrics["long"] = Rubric(
        "long", "長い記述", "Long descriptors", (Criterion("depth", "深さ", "Depth", 1.0, levels),)
    )
    return "long"


# --- Slack's limits


def check_slack_limits(view: dict[str, Any]) -> None:
    assert 1 <= len(view["title"]["text"]) <= TITLE_MAX
    assert len(view.get("submit", {}).get("text", "")) <= BUTTON_MAX
    assert len(view["close"]["text"]) <= BUTTON_MAX
    assert 1 <= len(view["blocks"]) <= BLOCKS_MAX
    assert len(view.get("private_metadata", "")) <= PRIVATE_METADATA_MAX
    assert len(view.get("callback_id", "")) <= CALLBACK_ID_MAX
    block_ids = [block["block_id"] for block in view["blocks"] if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    for block in inputs(view).values():
        check_input_limits(block)


def check_input_limits(block: dict[str, Any]) -> None:
    element = block["element"]
    assert 1 <= len(block["label"]["text"]) <= LABEL_MAX
    assert len(block.get("hint", {}).get("text", "")) <= HINT_MAX
    assert len(element.get("placeholder", {}).get("text", "")) <= PLACEHOLDER_MAX
    assert element["action_id"] == ACTION
    assert 1 <= element.get("max_length", 1) <= TEXT_INPUT_MAX
    for option in element.get("options", ()):
        assert 1 <= len(option["text"]["text"]) <= OPTION_TEXT_MAX
        assert 1 <= len(option["value"]) <= OPTION_VALUE_MAX


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(FORM_COMMANDS))
def test_form_within_slack_limits(ctx: ServiceContext, world: dict[str, int], name: str, locale: str) -> None:
    view = open_form(ctx, name, arguments_for(name, world), locale)

    check_slack_limits(view)
    assert View(**view).to_dict() == view
    assert view["callback_id"] == CALLBACK_PREFIX + name.replace(" ", "_")
    assert view["type"] == "modal"


@pytest.mark.parametrize("locale", LOCALES)
def test_loading_view_has_no_submit(locale: str) -> None:
    view = loading_view(Localizer(locale))

    check_slack_limits(view)
    assert "submit" not in view
    assert [block["type"] for block in view["blocks"]] == ["section"]
    assert View(**view).to_dict() == view


def test_form_carries_long_metadata(ctx: ServiceContext, world: dict[str, int]) -> None:
    metadata = "応" * 2000
    view = form_view(ctx, Localizer("ja"), "evaluate", arguments=arguments_for("evaluate", world), metadata=metadata)

    assert len(view["private_metadata"]) <= PRIVATE_METADATA_MAX
    assert form_values(submitted(view, {})).metadata == metadata


def test_form_rejects_longer_metadata(ctx: ServiceContext) -> None:
    with pytest.raises(ValueError, match="2000"):
        form_view(ctx, Localizer("en"), "register member", arguments={}, metadata="x" * 2001)


def test_form_rejects_other_commands(ctx: ServiceContext) -> None:
    with pytest.raises(ValueError, match="ranking"):
        open_form(ctx, "ranking", {})


def test_form_rejects_unknown_argument(ctx: ServiceContext) -> None:
    with pytest.raises(ValueError, match="task"):
        open_form(ctx, "register member", {"task": "T1"})


# --- round trips: form -> state -> command


def test_task_new_values(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "task new", {})
    values = {
        "menu": "practice",
        "title": "競合調査",
        "description": "主要3社の比較\n表にまとめてください",
        "types": ["research", "analysis"],
        "deadline_date": "2026-12-20",
        "eligibility": "grade",
        "min_grade": "3",
        "capacity": "5",
        "rubric": "quick-feedback",
    }

    submission = form_values(submitted(view, values))

    assert submission == FormSubmission(
        command="task new",
        arguments={"menu": "practice"},
        options={
            "title": "競合調査",
            "description": "主要3社の比較\n表にまとめてください",
            "types": "research,analysis",
            "deadline": "2026/12/20 18:00",
            "eligibility": "grade",
            "min_grade": "3",
            "capacity": "5",
            "rubric": "quick-feedback",
        },
        metadata=APP_METADATA,
    )
    parsed = build(submission.command, submission.arguments, submission.options)
    assert parsed.options["types"] == ("research", "analysis")
    assert parsed.options["min_grade"] == 3
    assert parsed.options["capacity"] == 5


def test_task_new_creates_task(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "task new", {"menu": "contest"})
    values = {
        "title": "新商品の企画",
        "deadline_date": "2026-12-24",
        "deadline_time": "09:30",
        "eligibility": "paid",
        "capacity": "20",
        "copyright": "応募作品の著作権は応募者に帰属します",
    }
    submission = form_values(submitted(view, values))

    outcome = CommandRunner(ctx).run_form(
        actor("acme"), submission.command, arguments=submission.arguments, options=submission.options
    )

    succeeded(outcome)
    with ctx.transaction() as session:
        task = session.scalars(select(Task).where(Task.title == "新商品の企画")).one()
        assert task.menu == "contest"
        assert task.deadline.astimezone(TOKYO) == datetime(2026, 12, 24, 9, 30, tzinfo=TOKYO)
        assert task.eligibility == "paid"
        assert task.capacity == 20
        assert task.copyright == "応募作品の著作権は応募者に帰属します"
        assert task.rubric_key == ctx.policy.default_rubric


def test_task_new_menu_preselected(ctx: ServiceContext) -> None:
    menu = inputs(open_form(ctx, "task new", {"menu": "ビジコン"}))["menu"]["element"]

    assert menu["initial_option"]["value"] == "contest"


def test_task_new_unknown_menu(ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "task new", {"menu": "hackathon"})

    assert raised.value.values["value"] == "hackathon"


def test_task_new_initial_values(ctx: ServiceContext) -> None:
    blocks = inputs(open_form(ctx, "task new", {}))

    assert blocks["deadline_time"]["element"]["initial_time"] == "18:00"
    assert blocks["eligibility"]["element"]["initial_option"]["value"] == "all"
    assert blocks["rubric"]["element"]["initial_option"]["value"] == ctx.policy.default_rubric
    assert blocks["min_grade"]["element"]["min_value"] == str(ctx.policy.min_grade)
    assert blocks["min_grade"]["element"]["max_value"] == str(ctx.policy.max_grade)
    assert blocks["capacity"]["element"]["min_value"] == "1"
    assert "initial_option" not in blocks["menu"]["element"]


def test_task_new_offers_menus_and_types(ctx: ServiceContext) -> None:
    blocks = inputs(open_form(ctx, "task new", {}, "ja"))

    assert [option["value"] for option in blocks["menu"]["element"]["options"]] == ["brainstorm", "practice", "contest"]
    assert [option["text"]["text"] for option in blocks["types"]["element"]["options"]] == [
        "情報収集",
        "情報分析",
        "考察・アイデア",
        "資料整理",
    ]


def test_empty_inputs_omitted(ctx: ServiceContext) -> None:
    view = open_form(ctx, "task new", {})
    submission = form_values(submitted(view, {"menu": "brainstorm", "title": "  ", "deadline_date": "2026-12-20"}))

    assert submission.options == {"deadline": "2026/12/20 18:00", "eligibility": "all", "rubric": "business-planning"}


def test_register_member_values(ctx: ServiceContext) -> None:
    view = open_form(ctx, "register member", {})
    submission = form_values(submitted(view, {"nickname": "hanako", "email": "hanako@example.com"}))

    assert submission.options == {"nickname": "hanako", "email": "hanako@example.com"}
    assert inputs(view)["email"]["element"]["type"] == "email_text_input"
    assert build(submission.command, submission.arguments, submission.options).options["nickname"] == "hanako"


def test_register_partner_values(ctx: ServiceContext) -> None:
    view = open_form(ctx, "register partner", {})
    values = {"company": "山田製作所", "display": "anonymous", "industry": "製造業", "prefecture": "大阪府"}
    submission = form_values(submitted(view, values))

    assert submission.options == values
    outcome = CommandRunner(ctx).run_form(actor("yamada"), submission.command, options=submission.options)
    succeeded(outcome)


def test_register_partner_lists_prefectures(ctx: ServiceContext) -> None:
    blocks = inputs(open_form(ctx, "register partner", {}))

    prefectures = [option["value"] for option in blocks["prefecture"]["element"]["options"]]
    assert len(prefectures) == 47
    assert prefectures[0] == "北海道"
    assert prefectures[-1] == "沖縄県"
    assert blocks["display"]["element"]["initial_option"]["value"] == "company"


def test_submit_values(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "submit", arguments_for("submit", world))
    links = "https://example.com/report\nhttps://example.com/data, https://example.com/slides\n"
    submission = form_values(submitted(view, {"text": "報告書です", "links": links, "files": "report.pdf"}))

    assert submission.arguments == {"task": f"T{world['practice']}"}
    assert submission.options == {
        "text": "報告書です",
        "links": "https://example.com/report,https://example.com/data,https://example.com/slides",
        "files": "report.pdf",
    }
    parsed = build(submission.command, submission.arguments, submission.options)
    assert parsed.options["links"] == (
        "https://example.com/report",
        "https://example.com/data",
        "https://example.com/slides",
    )


def test_submit_shows_task(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "submit", arguments_for("submit", world))

    context = texts_of(view["blocks"][0])
    assert context[0] == f"Task: T{world['practice']} practice task"
    assert "Deliverables you submit belong to the partner." in context


def test_submit_without_task(ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "submit", {})

    assert raised.value.values["missing"] == "<task>"


def test_post_values(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "post", arguments_for("post", world))
    submission = form_values(submitted(view, {"text": "地域の店と組む"}))

    assert submission.arguments == {"task": f"T{world['brainstorm']}", "text": "地域の店と組む"}
    assert submission.options == {}
    outcome = CommandRunner(ctx).run_form(actor("taro"), submission.command, arguments=submission.arguments)
    succeeded(outcome)


# --- evaluate


def test_evaluate_values(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "evaluate", arguments_for("evaluate", world))
    values = {
        "level.logic": "4",
        "level.evidence": "3",
        "level.originality": "2",
        "level.feasibility": "3",
        "level.clarity": "4",
        "remark.evidence": "出典をもう一つ",
        "advice": "よくまとまっています",
    }
    submission = form_values(submitted(view, values))

    assert submission.arguments == {"task": f"T{world['practice']}", "member": "taro"}
    assert submission.options == {
        "logic": "4",
        "evidence": "3",
        "originality": "2",
        "feasibility": "3",
        "clarity": "4",
        "remark.evidence": "出典をもう一つ",
        "advice": "よくまとまっています",
    }
    parsed = build(submission.command, submission.arguments, submission.options)
    assert parsed.extra["remark.evidence"] == "出典をもう一つ"
    assert parsed.options["advice"] == "よくまとまっています"


def test_evaluate_stores_evaluation(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "evaluate", arguments_for("evaluate", world), "ja")
    levels = {"logic": "4", "evidence": "3", "originality": "2", "feasibility": "1", "clarity": "4"}
    values = {f"level.{key}": level for key, level in levels.items()}
    values.update({"remark.logic": "構成が明快", "advice": "次は数字の出典も"})
    submission = form_values(submitted(view, values))

    outcome = CommandRunner(ctx).run_form(
        actor("acme"), submission.command, arguments=submission.arguments, options=submission.options
    )

    succeeded(outcome)
    with ctx.transaction() as session:
        evaluation = session.scalars(select(Evaluation).where(Evaluation.task_id == world["practice"])).one()
        assert evaluation.levels == {key: int(level) for key, level in levels.items()}
        assert evaluation.remarks == {"logic": "構成が明快"}
        assert evaluation.advice == "次は数字の出典も"


def test_evaluate_criterion_blocks(ctx: ServiceContext, world: dict[str, int]) -> None:
    view = open_form(ctx, "evaluate", arguments_for("evaluate", world), "ja")
    blocks = inputs(view)

    assert blocks["level.logic"]["label"]["text"] == "論理性（logic）、重み 3"
    assert [option["value"] for option in blocks["level.logic"]["element"]["options"]] == ["1", "2", "3", "4"]
    assert blocks["level.logic"]["element"]["options"][2]["text"]["text"] == "3: 筋道が通っており大きな飛躍がない"
    assert blocks["remark.logic"]["optional"] is True
    assert blocks["advice"].get("optional", False) is False
    criteria = [block_id for block_id in blocks if block_id.startswith("level.")]
    assert criteria == ["level.logic", "level.evidence", "level.originality", "level.feasibility", "level.clarity"]


def test_long_descriptor_truncated(ctx: ServiceContext, world: dict[str, int]) -> None:
    assert len(DESCRIPTOR_60) == 60
    assert len(DESCRIPTOR_100) == 100
    rubric = long_rubric(ctx)
    task_id = open_task(ctx, rubric=rubric)
    view = open_form(ctx, "evaluate", {"task": f"T{task_id}", "member": "taro"}, "ja")

    options = inputs(view)["level.depth"]["element"]["options"]
    assert options[0]["text"]["text"] == f"1: {DESCRIPTOR_60}"
    assert len(options[1]["text"]["text"]) <= OPTION_TEXT_MAX
    assert options[1]["text"]["text"].endswith("…")
    assert options[1]["text"]["text"].startswith(f"2: {DESCRIPTOR_100[:60]}")
    select_index = next(i for i, block in enumerate(view["blocks"]) if block.get("block_id") == "level.depth")
    full = texts_of(view["blocks"][select_index + 1])[0]
    assert f"1: {DESCRIPTOR_60}" in full
    assert f"2: {DESCRIPTOR_100}" in full


def test_evaluate_unknown_task(ctx: ServiceContext, world: dict[str, int]) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "evaluate", {"task": "T999", "member": "taro"})

    assert raised.value.key.startswith("Task T{task_id} was not found")
    assert raised.value.values["task_id"] == 999


def test_evaluate_unknown_member(ctx: ServiceContext, world: dict[str, int]) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "evaluate", {"task": f"T{world['practice']}", "member": "nobody"})

    assert raised.value.values["value"] == "nobody"


def test_evaluate_brainstorm_rejected(ctx: ServiceContext, world: dict[str, int]) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "evaluate", {"task": f"T{world['brainstorm']}", "member": "taro"})

    assert raised.value.values["task_id"] == world["brainstorm"]


def test_evaluate_without_member(ctx: ServiceContext, world: dict[str, int]) -> None:
    with pytest.raises(UserError) as raised:
        open_form(ctx, "evaluate", {"task": f"T{world['practice']}"})

    assert raised.value.values["missing"] == "<member>"


def test_evaluate_rubric_too_large(ctx: ServiceContext, world: dict[str, int]) -> None:
    levels = (Level(1, "低い", "Low"), Level(2, "高い", "High"))
    criteria = tuple(Criterion(f"c{index}", f"項目{index}", f"Item {index}", 1.0, levels) for index in range(33))
    ctx.rubrics["wide"] = Rubric("wide", "多項目", "Many criteria", criteria)
    task_id = open_task(ctx, rubric="wide")

    with pytest.raises(UserError) as raised:
        open_form(ctx, "evaluate", {"task": f"T{task_id}", "member": "taro"})

    assert raised.value.values["rubric"] == "wide"


def test_evaluate_largest_rubric_fits(ctx: ServiceContext, world: dict[str, int]) -> None:
    levels = (Level(1, "低い", "Low"), Level(2, "高い", "High"))
    criteria = tuple(Criterion(f"c{index}", f"項目{index}", f"Item {index}", 1.0, levels) for index in range(32))
    ctx.rubrics["wide"] = Rubric("wide", "多項目", "Many criteria", criteria)
    task_id = open_task(ctx, rubric="wide")

    view = open_form(ctx, "evaluate", {"task": f"T{task_id}", "member": "taro"})

    assert len(view["blocks"]) == BLOCKS_MAX - 2
    check_slack_limits(view)


# --- reading submissions


def test_form_values_rejects_foreign_view() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        form_values({"private_metadata": "not json", "state": {"values": {}}})
    with pytest.raises(ValueError, match="form command"):
        form_values({"private_metadata": json.dumps({"command": "ranking"}), "state": {"values": {}}})


# --- field errors


def test_field_errors_on_option_block(ctx: ServiceContext, world: dict[str, int]) -> None:
    task_form = open_form(ctx, "task new", {})
    evaluate_form = open_form(ctx, "evaluate", arguments_for("evaluate", world))

    assert field_errors(task_form, "too long", "title") == {"title": "too long"}
    assert field_errors(task_form, "passed", "deadline") == {"deadline_date": "passed"}
    assert field_errors(task_form, "no types", "types") == {"types": "no types"}
    assert field_errors(evaluate_form, "not a level", "clarity") == {"level.clarity": "not a level"}
    assert field_errors(evaluate_form, "too long", "remark.logic") == {"remark.logic": "too long"}


def test_field_errors_fallback_block(ctx: ServiceContext) -> None:
    view = open_form(ctx, "task new", {})

    assert field_errors(view, "failed", None) == {"menu": "failed"}
    assert field_errors(view, "failed", "nickname") == {"menu": "failed"}
    assert field_errors(loading_view(Localizer("en")), "failed", None) == {}


def test_field_errors_cuts_long_message(ctx: ServiceContext) -> None:
    view = open_form(ctx, "register member", {})

    message = field_errors(view, "あ" * 2500, "nickname")["nickname"]

    assert len(message) == 2000
    assert message.endswith("…")
