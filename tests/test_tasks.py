"""Opening tasks of the three menus and moving them through their status lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from adapters.console.session import SettableClock
from core.domain.enums import Eligibility, TaskMenu, TaskStatus, WorkType
from core.domain.errors import UserError
from core.domain.text import TOKYO
from core.presentation.i18n import Localizer
from core.presentation.replies import present
from core.services import participation, tasks
from core.services.context import ServiceContext
from core.storage.models import Task
from tests.conftest import actor
from tests.scenario import SECRETARIAT, count_rows, member, open_task, outbox_keys, partner


@pytest.fixture
def acme(any_ctx: ServiceContext) -> ServiceContext:
    """The context with partner acme registered."""
    partner(any_ctx)
    return any_ctx


def create(ctx: ServiceContext, menu: str, **fields: Any) -> tasks.TaskView:
    values: dict[str, Any] = {"title": "市場調査", "deadline": "2026/12/31", **fields}
    return tasks.create_task(ctx, actor("acme"), tasks.NewTask(menu=menu, **values))


def rejected(ctx: ServiceContext, menu: str, **fields: Any) -> UserError:
    with pytest.raises(UserError) as raised:
        create(ctx, menu, **fields)
    return raised.value


@pytest.mark.parametrize(
    ("alias", "menu"),
    [
        ("brainstorm", TaskMenu.BRAINSTORM),
        ("ブレスト", TaskMenu.BRAINSTORM),
        ("みんなでブレスト", TaskMenu.BRAINSTORM),
        ("おシゴト実践", TaskMenu.PRACTICE),
        ("実践", TaskMenu.PRACTICE),
        ("PRACTICE", TaskMenu.PRACTICE),
        ("ビジコン", TaskMenu.CONTEST),
        ("燃えろビジコン", TaskMenu.CONTEST),
    ],
)
def test_create_task_menu_aliases(acme: ServiceContext, alias: str, menu: TaskMenu) -> None:
    fields: dict[str, Any] = {
        TaskMenu.BRAINSTORM: {},
        TaskMenu.PRACTICE: {"work_types": ("research",)},
        TaskMenu.CONTEST: {"copyright": "主催者に帰属"},
    }[menu]

    assert create(acme, alias, **fields).menu == menu


def test_create_task_unknown_menu(acme: ServiceContext) -> None:
    error = rejected(acme, "hackathon")

    assert error.values["value"] == "hackathon"


def test_create_task_starts_open(acme: ServiceContext) -> None:
    task = create(acme, "practice", work_types=("research",), capacity=5)

    assert task.status == TaskStatus.OPEN
    assert task.capacity == 5
    assert task.participant_count == 0
    assert task.rubric_key == "business-planning"


def test_create_practice_japanese_work_types(acme: ServiceContext) -> None:
    task = create(acme, "practice", work_types=("情報収集", "考察・アイデア", "research"))

    assert task.work_types == (WorkType.RESEARCH, WorkType.IDEAS)


def test_create_practice_needs_work_types(acme: ServiceContext) -> None:
    error = rejected(acme, "practice")

    assert "at least one work type" in error.key


def test_create_practice_unknown_work_type(acme: ServiceContext) -> None:
    error = rejected(acme, "practice", work_types=("research", "coding"))

    assert error.values["value"] == "coding"


@pytest.mark.parametrize(("menu", "extra"), [("brainstorm", {}), ("contest", {"copyright": "主催者に帰属"})])
def test_create_work_types_outside_practice(acme: ServiceContext, menu: str, extra: dict[str, str]) -> None:
    error = rejected(acme, menu, work_types=("research",), **extra)

    assert "practice tasks only" in error.key


@pytest.mark.parametrize("copyright_text", [None, "", "\u3000 "])
def test_create_contest_needs_copyright(acme: ServiceContext, copyright_text: str | None) -> None:
    error = rejected(acme, "contest", copyright=copyright_text)

    assert "copyright" in error.key


def test_create_contest_keeps_copyright(acme: ServiceContext) -> None:
    task = create(acme, "contest", copyright="入賞作品の著作権は主催者に帰属")

    assert task.copyright == "入賞作品の著作権は主催者に帰属"


@pytest.mark.parametrize(("menu", "extra"), [("brainstorm", {}), ("practice", {"work_types": ("research",)})])
def test_create_copyright_outside_contest(acme: ServiceContext, menu: str, extra: dict[str, Any]) -> None:
    error = rejected(acme, menu, copyright="誰かに帰属", **extra)

    assert "contests only" in error.key


@pytest.mark.parametrize("capacity", [0, -1, 1001])
def test_create_capacity_out_of_range(acme: ServiceContext, capacity: int) -> None:
    error = rejected(acme, "practice", work_types=("research",), capacity=capacity)

    assert error.values["value"] == capacity
    assert error.values["maximum"] == 1000


@pytest.mark.parametrize("capacity", [1, 1000])
def test_create_capacity_bounds_accepted(acme: ServiceContext, capacity: int) -> None:
    assert create(acme, "practice", work_types=("research",), capacity=capacity).capacity == capacity


@pytest.mark.parametrize("deadline", ["2026/11/30", "2026/12/01 10:00", "2026/12/01 09:59"])
def test_create_past_deadline_rejected(acme: ServiceContext, deadline: str) -> None:
    error = rejected(acme, "brainstorm", deadline=deadline)

    assert "already passed" in error.key


def test_create_unreadable_deadline_rejected(acme: ServiceContext) -> None:
    error = rejected(acme, "brainstorm", deadline="来週")

    assert error.values["value"] == "来週"


def test_create_unknown_rubric_lists_rubrics(acme: ServiceContext) -> None:
    error = rejected(acme, "brainstorm", rubric="strict")

    assert error.values["value"] == "strict"
    assert error.values["allowed"] == "business-planning, quick-feedback"


def test_create_chosen_rubric(acme: ServiceContext) -> None:
    assert create(acme, "brainstorm", rubric="quick-feedback").rubric_key == "quick-feedback"


def test_create_paid_eligibility_alias(acme: ServiceContext) -> None:
    assert create(acme, "brainstorm", eligibility="有料会員").eligibility == Eligibility.PAID


@pytest.mark.parametrize("min_grade", [None, 0, 11])
def test_create_grade_needs_valid_min_grade(acme: ServiceContext, min_grade: int | None) -> None:
    error = rejected(acme, "brainstorm", eligibility="grade", min_grade=min_grade)

    assert (error.values["low"], error.values["high"]) == (1, 10)


def test_create_unknown_eligibility(acme: ServiceContext) -> None:
    error = rejected(acme, "brainstorm", eligibility="vip")

    assert error.values["value"] == "vip"


def test_create_title_too_long(acme: ServiceContext) -> None:
    error = rejected(acme, "brainstorm", title="あ" * 101)

    assert error.values["maximum"] == 100


def test_create_rejected_stores_nothing(acme: ServiceContext) -> None:
    rejected(acme, "practice")

    assert count_rows(acme, Task) == 0
    assert outbox_keys(acme, "task_channel.open") == []


def test_create_practice_enqueues_channel_and_announcement(acme: ServiceContext) -> None:
    task_id = open_task(acme, "practice")

    assert outbox_keys(acme, "task_channel.open") == [f"task:{task_id}:open"]
    assert outbox_keys(acme, "task.announce") == [f"task:{task_id}:announce"]


def test_create_brainstorm_enqueues_thread_and_announcement(acme: ServiceContext) -> None:
    task_id = open_task(acme, "brainstorm")

    assert outbox_keys(acme, "brainstorm.open") == [f"task:{task_id}:open"]
    assert outbox_keys(acme, "task_channel.open") == []
    assert outbox_keys(acme, "task.announce") == [f"task:{task_id}:announce"]


def move(ctx: ServiceContext, task_id: int, *targets: TaskStatus) -> tasks.StatusChanged:
    result = None
    for target in targets:
        result = tasks.change_task_status(ctx, actor("acme"), task_id, target)
    assert result is not None
    return result


def test_status_full_lifecycle(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    result = move(acme, task_id, TaskStatus.CLOSED, TaskStatus.EVALUATED, TaskStatus.ARCHIVED)

    assert result.task.status == TaskStatus.ARCHIVED
    assert result.previous == TaskStatus.EVALUATED


def test_status_reopen_closed_task(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    result = move(acme, task_id, TaskStatus.CLOSED, TaskStatus.OPEN)

    assert result.task.status == TaskStatus.OPEN
    assert result.previous == TaskStatus.CLOSED


@pytest.mark.parametrize(
    ("path", "target", "current", "allowed"),
    [
        ((), TaskStatus.EVALUATED, "open", ("closed",)),
        ((), TaskStatus.ARCHIVED, "open", ("closed",)),
        ((TaskStatus.CLOSED,), TaskStatus.ARCHIVED, "closed", ("evaluated", "open")),
        ((TaskStatus.CLOSED, TaskStatus.EVALUATED), TaskStatus.OPEN, "evaluated", ("archived",)),
        ((TaskStatus.CLOSED, TaskStatus.EVALUATED, TaskStatus.ARCHIVED), TaskStatus.OPEN, "archived", "none"),
    ],
)
def test_status_rejected_names_current(
    acme: ServiceContext, path: tuple[TaskStatus, ...], target: TaskStatus, current: str, allowed: tuple[str, ...] | str
) -> None:
    task_id = open_task(acme)
    for step in path:
        move(acme, task_id, step)

    with pytest.raises(UserError) as raised:
        move(acme, task_id, target)

    assert raised.value.values["status"] == current
    assert raised.value.values["target"] == target
    assert raised.value.values["allowed"] == allowed


def test_status_rejected_keeps_status(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    with pytest.raises(UserError):
        move(acme, task_id, TaskStatus.EVALUATED)

    assert tasks.show_task(acme, actor("acme"), task_id).status == TaskStatus.OPEN


def test_secretariat_archives_open_task(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    result = tasks.change_task_status(acme, SECRETARIAT, task_id, TaskStatus.ARCHIVED)

    assert result.task.status == TaskStatus.ARCHIVED
    assert result.previous == TaskStatus.OPEN


def test_secretariat_archive_twice_rejected(acme: ServiceContext) -> None:
    task_id = open_task(acme)
    tasks.change_task_status(acme, SECRETARIAT, task_id, TaskStatus.ARCHIVED)

    with pytest.raises(UserError) as raised:
        tasks.change_task_status(acme, SECRETARIAT, task_id, TaskStatus.ARCHIVED)

    assert raised.value.values["status"] == "archived"


def test_archive_enqueues_channel_archive(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    move(acme, task_id, TaskStatus.CLOSED, TaskStatus.EVALUATED, TaskStatus.ARCHIVED)

    assert outbox_keys(acme, "task_channel.archive") == [f"task:{task_id}:archive"]


def test_archive_brainstorm_has_no_channel(acme: ServiceContext) -> None:
    task_id = open_task(acme, "brainstorm")

    tasks.change_task_status(acme, SECRETARIAT, task_id, TaskStatus.ARCHIVED)

    assert outbox_keys(acme, "task_channel.archive") == []


def test_list_tasks_open_only(acme: ServiceContext) -> None:
    first = open_task(acme, title="first")
    second = open_task(acme, title="second")
    move(acme, second, TaskStatus.CLOSED)

    listed = tasks.list_tasks(acme, actor("acme"))

    assert [task.id for task in listed.tasks] == [first]


def test_list_tasks_closed_without_archived(acme: ServiceContext) -> None:
    first = open_task(acme, title="first")
    second = open_task(acme, title="second")
    third = open_task(acme, title="third")
    move(acme, second, TaskStatus.CLOSED)
    tasks.change_task_status(acme, SECRETARIAT, third, TaskStatus.ARCHIVED)

    listed = tasks.list_tasks(acme, actor("acme"), include_closed=True)

    assert [task.id for task in listed.tasks] == [first, second]


def test_show_unknown_task(acme: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        tasks.show_task(acme, actor("acme"), 99)

    assert raised.value.values["task_id"] == 99


def test_deadline_change_moves_deadline(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    changed = tasks.change_deadline(acme, actor("acme"), task_id, "2027/01/15 18:00")

    assert changed.task.deadline == datetime(2027, 1, 15, 18, 0, tzinfo=TOKYO)
    assert changed.previous == datetime(2026, 12, 31, 23, 59, tzinfo=TOKYO)
    assert len(outbox_keys(acme, "task.deadline_changed")) == 1


def test_deadline_change_past_rejected(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    with pytest.raises(UserError) as raised:
        tasks.change_deadline(acme, actor("acme"), task_id, "2026/11/30")

    assert "already passed" in raised.value.key
    assert outbox_keys(acme, "task.deadline_changed") == []


def test_deadline_change_evaluated_rejected(acme: ServiceContext) -> None:
    task_id = open_task(acme)
    move(acme, task_id, TaskStatus.CLOSED, TaskStatus.EVALUATED)

    with pytest.raises(UserError) as raised:
        tasks.change_deadline(acme, actor("acme"), task_id, "2027/01/15")

    assert raised.value.values["status"] == "evaluated"


def test_deadline_change_other_partner_rejected(acme: ServiceContext) -> None:
    task_id = open_task(acme)
    partner(acme, "other")

    with pytest.raises(UserError) as raised:
        tasks.change_deadline(acme, actor("other"), task_id, "2027/01/15")

    assert "another partner" in raised.value.key


def test_deadline_change_reopens_joining(acme: ServiceContext, clock: SettableClock) -> None:
    task_id = open_task(acme)
    member(acme, "taro")
    clock.advance("31d")
    tasks.change_deadline(acme, actor("acme"), task_id, "2027/01/31")

    joined = participation.join_task(acme, actor("taro"), task_id)

    assert joined.task.participant_count == 1


def test_status_same_target_says_already(acme: ServiceContext) -> None:
    task_id = open_task(acme)
    move(acme, task_id, TaskStatus.CLOSED)

    with pytest.raises(UserError) as raised:
        move(acme, task_id, TaskStatus.CLOSED)

    assert "already" in raised.value.key
    assert raised.value.values["status"] == "closed"


def test_create_min_grade_needs_grade_eligibility(acme: ServiceContext) -> None:
    error = rejected(acme, "practice", work_types=("research",), min_grade=3)

    assert "min_grade=" in error.key


def test_create_deadline_too_far_rejected(acme: ServiceContext) -> None:
    error = rejected(acme, "practice", work_types=("research",), deadline="9999/12/31")

    assert error.values["years"] == 3


def test_create_by_member_rejected_before_options(acme: ServiceContext) -> None:
    member(acme, "taro")

    with pytest.raises(UserError) as raised:
        tasks.create_task(acme, actor("taro"), tasks.NewTask(menu="practice", title="x", deadline="garbage"))

    assert "Only partners" in raised.value.key


def test_deadline_changes_same_instant_each_delivered(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    tasks.change_deadline(acme, actor("acme"), task_id, "2027/01/15")
    tasks.change_deadline(acme, actor("acme"), task_id, "2027/01/20")

    assert len(outbox_keys(acme, "task.deadline_changed")) == 2


def test_create_brainstorm_capacity_rejected(acme: ServiceContext) -> None:
    error = rejected(acme, "brainstorm", capacity=5)

    assert "capacity=" in error.key


def test_reopen_after_deadline_rejected(acme: ServiceContext, clock: SettableClock) -> None:
    task_id = open_task(acme)
    move(acme, task_id, TaskStatus.CLOSED)
    clock.advance("31d")

    with pytest.raises(UserError) as raised:
        move(acme, task_id, TaskStatus.OPEN)

    assert "/smarter task deadline" in raised.value.key


def test_partner_card_offers_submissions(acme: ServiceContext) -> None:
    task_id = open_task(acme)

    card = present(tasks.show_task(acme, actor("acme"), task_id), Localizer("en"))[0]

    assert [action.command for action in card.actions] == [f"/smarter submissions T{task_id}"]


def test_member_card_offers_join(acme: ServiceContext) -> None:
    task_id = open_task(acme)
    member(acme, "taro")

    card = present(tasks.show_task(acme, actor("taro"), task_id), Localizer("en"))[0]

    assert card.actions[0].command == f"/smarter join T{task_id}"
