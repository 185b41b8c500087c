"""Reminders: deadlines to members who have not submitted, waiting submissions to partners, and their rendering."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.console.session import SettableClock
from core.domain.enums import ParticipationStatus, TaskStatus
from core.domain.text import TOKYO
from core.presentation.deliveries import Delivery, render_delivery
from core.services import brainstorms, evaluations, participation, registration, submissions, tasks
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem, deliver_pending
from core.services.reminders import remind_deadlines, remind_evaluations
from core.storage.models import Identity, OutboxMessage, Participation
from tests.conftest import actor
from tests.scenario import SECRETARIAT, member, open_task, outbox_keys, partner
from tests.test_concurrency import run_together

DEADLINE = datetime(2026, 12, 3, 12, 0, tzinfo=TOKYO)
DEADLINE_TEXT = "2026/12/03 12:00"
DAY_BEFORE = DEADLINE - timedelta(hours=24)
HOUR_BEFORE = DEADLINE - timedelta(hours=1)
SCHEDULE = "evaluation-reminders"
EVALUATION_DEADLINE = "2026/12/01 18:00"
# The first evaluation reminder slot after EVALUATION_DEADLINE.
SLOT = datetime(2026, 12, 2, 9, 0, tzinfo=TOKYO)
ALL_MAX = {"logic": "4", "evidence": "4", "originality": "4", "feasibility": "4", "clarity": "4"}


def person_id(ctx: ServiceContext, user: str) -> int:
    with ctx.transaction() as session:
        return session.scalars(select(Identity.person_id).where(Identity.user_id == user)).one()


def deadline_offsets(ctx: ServiceContext, user: str) -> list[str]:
    """Return the offsets (``1440m``, ``60m``) of the deadline reminders queued for ``user``, oldest first.

    Keys have the form ``remind:deadline:T<task>:<deadline>:<offset>:M<member>``.
    """
    suffix = f":M{person_id(ctx, user)}"
    return [key.split(":")[4] for key in outbox_keys(ctx, "reminder.deadline") if key.endswith(suffix)]


def payloads(ctx: ServiceContext, kind: str) -> list[dict[str, Any]]:
    with ctx.transaction() as session:
        statement = select(OutboxMessage.payload).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return [dict(payload) for payload in session.scalars(statement)]


def render_queued(ctx: ServiceContext, kind: str) -> list[Delivery]:
    """Render each pending outbox row of ``kind`` as the adapters would, oldest first."""
    rendered: list[Delivery] = []

    def deliver(session: Session, item: OutboxItem) -> None:
        rendered.append(render_delivery(ctx, session, item))

    deliver_pending(ctx, deliver, kinds=[kind])
    return rendered


def join(ctx: ServiceContext, clock: SettableClock, task_id: int, user: str, at: datetime) -> None:
    clock.set(at)
    participation.join_task(ctx, actor(user), task_id)


@pytest.fixture
def task_id(any_ctx: ServiceContext) -> int:
    """A practice task of acme closing 2026/12/03 12:00 Japan time, joined by taro and hanako on 2026/12/01."""
    partner(any_ctx)
    member(any_ctx, "taro")
    member(any_ctx, "hanako")
    task_id = open_task(any_ctx, deadline=DEADLINE_TEXT)
    participation.join_task(any_ctx, actor("taro"), task_id)
    participation.join_task(any_ctx, actor("hanako"), task_id)
    return task_id


def test_deadline_reminder_none_before_24h(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE - timedelta(minutes=1))

    assert outbox_keys(any_ctx, "reminder.deadline") == []


def test_deadline_reminder_at_24h(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)

    assert deadline_offsets(any_ctx, "taro") == ["1440m"]
    assert deadline_offsets(any_ctx, "hanako") == ["1440m"]


def test_deadline_reminder_payload(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)

    first = payloads(any_ctx, "reminder.deadline")[0]
    assert first["task_id"] == task_id
    assert first["member_id"] == person_id(any_ctx, "taro")
    assert datetime.fromisoformat(first["deadline"]) == DEADLINE


def test_deadline_reminder_at_1h(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)

    remind_deadlines(any_ctx, HOUR_BEFORE)

    assert deadline_offsets(any_ctx, "taro") == ["1440m", "60m"]


def test_deadline_reminder_offsets_from_policy(any_ctx: ServiceContext, task_id: int) -> None:
    any_ctx.policy = dataclasses.replace(any_ctx.policy, reminder_offsets=(timedelta(hours=3),))

    remind_deadlines(any_ctx, DAY_BEFORE)
    remind_deadlines(any_ctx, DEADLINE - timedelta(hours=3))

    assert deadline_offsets(any_ctx, "taro") == ["180m"]


def test_deadline_reminder_rerun_no_duplicate(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)
    remind_deadlines(any_ctx, DAY_BEFORE)
    remind_deadlines(any_ctx, DAY_BEFORE + timedelta(hours=6))

    assert deadline_offsets(any_ctx, "taro") == ["1440m"]

    remind_deadlines(any_ctx, HOUR_BEFORE)
    remind_deadlines(any_ctx, HOUR_BEFORE)
    remind_deadlines(any_ctx, HOUR_BEFORE + timedelta(minutes=50))

    assert deadline_offsets(any_ctx, "taro") == ["1440m", "60m"]
    assert len(outbox_keys(any_ctx, "reminder.deadline")) == 4


def test_deadline_reminder_skips_submitted(any_ctx: ServiceContext, task_id: int) -> None:
    submissions.submit(any_ctx, actor("taro"), task_id, text="市場調査の報告")

    remind_deadlines(any_ctx, DAY_BEFORE)
    remind_deadlines(any_ctx, HOUR_BEFORE)

    assert deadline_offsets(any_ctx, "taro") == []
    assert deadline_offsets(any_ctx, "hanako") == ["1440m", "60m"]


def test_deadline_reminder_skips_left_member(any_ctx: ServiceContext, task_id: int) -> None:
    participation.leave_task(any_ctx, actor("taro"), task_id)

    remind_deadlines(any_ctx, DAY_BEFORE)
    remind_deadlines(any_ctx, HOUR_BEFORE)

    assert deadline_offsets(any_ctx, "taro") == []
    assert deadline_offsets(any_ctx, "hanako") == ["1440m", "60m"]


def test_deadline_reminder_late_joiner_1h_only(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    member(any_ctx, "jiro")
    remind_deadlines(any_ctx, DAY_BEFORE)
    join(any_ctx, clock, task_id, "jiro", DEADLINE - timedelta(minutes=30))

    remind_deadlines(any_ctx, DEADLINE - timedelta(minutes=30))
    remind_deadlines(any_ctx, DEADLINE - timedelta(minutes=10))

    assert deadline_offsets(any_ctx, "jiro") == ["60m"]


def test_deadline_reminder_skips_brainstorm(any_ctx: ServiceContext, task_id: int) -> None:
    brainstorm = open_task(any_ctx, "brainstorm", deadline=DEADLINE_TEXT)
    brainstorms.post_idea(any_ctx, actor("taro"), brainstorm, "駅前で試食会")
    # No use case joins a brainstorm, so the test writes this row directly. The menu filter alone must keep it out.
    with any_ctx.transaction() as session:
        session.add(
            Participation(task_id=brainstorm, member_id=person_id(any_ctx, "taro"), status=ParticipationStatus.JOINED)
        )

    remind_deadlines(any_ctx, DAY_BEFORE)

    reminded_tasks = {payload["task_id"] for payload in payloads(any_ctx, "reminder.deadline")}
    assert reminded_tasks == {task_id}


@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=1), timedelta(days=2)])
def test_deadline_reminder_none_after_deadline(any_ctx: ServiceContext, task_id: int, late: timedelta) -> None:
    assert remind_deadlines(any_ctx, DEADLINE + late) == 0
    assert outbox_keys(any_ctx, "reminder.deadline") == []


def test_deadline_reminder_skips_closed_task(any_ctx: ServiceContext, task_id: int) -> None:
    tasks.change_task_status(any_ctx, actor("acme"), task_id, TaskStatus.CLOSED)

    remind_deadlines(any_ctx, HOUR_BEFORE)

    assert outbox_keys(any_ctx, "reminder.deadline") == []


def test_deadline_reminder_after_deadline_moved(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)
    clock.set(DAY_BEFORE + timedelta(minutes=30))
    tasks.change_deadline(any_ctx, actor("acme"), task_id, "2026/12/04 12:00")

    remind_deadlines(any_ctx, DEADLINE)

    keys = [key for key in outbox_keys(any_ctx, "reminder.deadline") if key.endswith(f":M{person_id(any_ctx, 'taro')}")]
    assert deadline_offsets(any_ctx, "taro") == ["1440m", "1440m"]
    assert keys[0] != keys[1]
    assert datetime.fromisoformat(payloads(any_ctx, "reminder.deadline")[-1]["deadline"]) == DEADLINE + timedelta(
        days=1
    )


def test_deadline_reminder_renders_english_dm(any_ctx: ServiceContext, task_id: int) -> None:
    registration.set_locale(any_ctx, actor("taro"), "en")
    remind_deadlines(any_ctx, DAY_BEFORE)

    delivery = render_queued(any_ctx, "reminder.deadline")[0]

    assert delivery.recipient is not None
    assert delivery.recipient.name == "taro"
    assert delivery.recipient.identities == (("console", "local", "taro"),)
    (message,) = delivery.messages
    assert message.visibility == "direct"
    assert message.locale == "en"
    assert f"T{task_id}" in message.text()
    assert "Reminder" in message.text()
    assert f"/smarter submit T{task_id}" in [action.command for action in message.actions]


def test_deadline_reminder_renders_japanese_dm(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)

    delivery = render_queued(any_ctx, "reminder.deadline")[0]

    (message,) = delivery.messages
    submit = next(action for action in message.actions if action.command == f"/smarter submit T{task_id}")
    assert message.locale == "ja"
    assert f"T{task_id}" in message.text()
    assert "締め切り" in message.text()
    assert "提出" in submit.label


def test_deadline_reminder_after_submit_renders_nothing(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)
    submissions.submit(any_ctx, actor("taro"), task_id, text="市場調査の報告")

    rendered = {delivery.recipient.name: delivery for delivery in render_queued(any_ctx, "reminder.deadline")}

    assert rendered["taro"].messages == ()
    assert len(rendered["hanako"].messages) == 1


def test_deadline_reminder_after_leave_renders_nothing(any_ctx: ServiceContext, task_id: int) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)
    participation.leave_task(any_ctx, actor("taro"), task_id)

    rendered = {delivery.recipient.name: delivery for delivery in render_queued(any_ctx, "reminder.deadline")}

    assert rendered["taro"].messages == ()
    assert len(rendered["hanako"].messages) == 1


def test_deadline_reminder_after_move_renders_nothing(
    any_ctx: ServiceContext, clock: SettableClock, task_id: int
) -> None:
    remind_deadlines(any_ctx, DAY_BEFORE)
    clock.set(DAY_BEFORE + timedelta(minutes=30))
    tasks.change_deadline(any_ctx, actor("acme"), task_id, "2026/12/04 12:00")

    rendered = render_queued(any_ctx, "reminder.deadline")

    assert [delivery.messages for delivery in rendered] == [(), ()]


def test_deadline_reminder_late_delivery_renders_nothing(
    any_ctx: ServiceContext, clock: SettableClock, task_id: int
) -> None:
    remind_deadlines(any_ctx, HOUR_BEFORE)
    # A failed delivery waits up to an hour before each retry, so a 1-hour reminder can be rendered after the
    # deadline, when the member can no longer submit.
    clock.set(DEADLINE + timedelta(minutes=5))

    rendered = render_queued(any_ctx, "reminder.deadline")

    assert [delivery.messages for delivery in rendered] == [(), ()]


@pytest.fixture
def waiting(any_ctx: ServiceContext) -> tuple[int, int]:
    """Return two practice tasks of acme with the deadline 2026/12/01 18:00 and no evaluations.

    The first has submissions of taro and hanako, the second one of taro. Partner globex has a task without
    submissions. The clock stays at 2026/12/01 10:00, before the deadline.
    """
    partner(any_ctx)
    partner(any_ctx, "globex")
    member(any_ctx, "taro")
    member(any_ctx, "hanako")
    first, second = open_task(any_ctx, deadline=EVALUATION_DEADLINE), open_task(any_ctx, deadline=EVALUATION_DEADLINE)
    open_task(any_ctx, by="globex", deadline=EVALUATION_DEADLINE)
    for user, task_id in (("taro", first), ("hanako", first), ("taro", second)):
        participation.join_task(any_ctx, actor(user), task_id)
        submissions.submit(any_ctx, actor(user), task_id, text=f"{user} の報告")
    return first, second


def evaluate(ctx: ServiceContext, task_id: int, user: str) -> None:
    evaluations.evaluate(ctx, actor("acme"), task_id, user, levels=ALL_MAX, advice="よくできています")


def remind_at(ctx: ServiceContext, slot: datetime) -> bool:
    """Run the evaluation reminders for ``slot`` given in UTC, as the scheduler does; False if the slot ran before."""
    utc_slot = slot.astimezone(UTC)
    return remind_evaluations(ctx, SCHEDULE, utc_slot, now=utc_slot) is not None


def test_evaluation_reminder_counts_per_task(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting

    assert remind_at(any_ctx, SLOT) is True

    (payload,) = payloads(any_ctx, "reminder.evaluations")
    assert payload["partner_id"] == person_id(any_ctx, "acme")
    assert payload["tasks"] == {str(first): 2, str(second): 1}


def test_evaluation_reminder_key_names_tokyo_day(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    remind_at(any_ctx, SLOT)

    assert outbox_keys(any_ctx, "reminder.evaluations") == [
        f"remind:evaluations:P{person_id(any_ctx, 'acme')}:2026-12-02"
    ]


def test_evaluation_reminder_same_slot_again(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    remind_at(any_ctx, SLOT)

    assert remind_at(any_ctx, SLOT) is False
    assert len(outbox_keys(any_ctx, "reminder.evaluations")) == 1


def test_evaluation_reminder_once_per_tokyo_day(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    assert remind_at(any_ctx, SLOT) is True
    assert remind_at(any_ctx, datetime(2026, 12, 2, 18, 0, tzinfo=TOKYO)) is True

    assert len(outbox_keys(any_ctx, "reminder.evaluations")) == 1

    # 00:30 on 12/03 in Japan is still 12/02 in UTC, so a UTC day would not give a new reminder.
    remind_at(any_ctx, datetime(2026, 12, 3, 0, 30, tzinfo=TOKYO))

    assert len(outbox_keys(any_ctx, "reminder.evaluations")) == 2


def test_evaluation_reminder_none_when_all_evaluated(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting
    for user, task_id in (("taro", first), ("hanako", first), ("taro", second)):
        evaluate(any_ctx, task_id, user)

    assert remind_at(any_ctx, SLOT) is True
    assert outbox_keys(any_ctx, "reminder.evaluations") == []


def test_evaluation_reminder_counts_resubmission(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting
    evaluate(any_ctx, second, "taro")
    submissions.submit(any_ctx, actor("taro"), second, text="改訂版")

    remind_at(any_ctx, SLOT)

    (payload,) = payloads(any_ctx, "reminder.evaluations")
    assert payload["tasks"] == {str(first): 2, str(second): 1}


def test_evaluation_reminder_skips_task_before_deadline(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting
    still_open = open_task(any_ctx)
    participation.join_task(any_ctx, actor("hanako"), still_open)
    submissions.submit(any_ctx, actor("hanako"), still_open, text="hanako の報告")

    remind_at(any_ctx, SLOT)

    (payload,) = payloads(any_ctx, "reminder.evaluations")
    assert payload["tasks"] == {str(first): 2, str(second): 1}


def test_evaluation_reminder_skips_evaluated_task(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting
    tasks.change_task_status(any_ctx, actor("acme"), first, TaskStatus.CLOSED)
    tasks.change_task_status(any_ctx, actor("acme"), first, TaskStatus.EVALUATED)

    remind_at(any_ctx, SLOT)

    (payload,) = payloads(any_ctx, "reminder.evaluations")
    assert payload["tasks"] == {str(second): 1}


def test_evaluation_reminder_skips_archived_task(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    first, second = waiting
    tasks.change_task_status(any_ctx, SECRETARIAT, second, TaskStatus.ARCHIVED)

    remind_at(any_ctx, SLOT)

    (payload,) = payloads(any_ctx, "reminder.evaluations")
    assert payload["tasks"] == {str(first): 2}


def test_evaluation_reminder_renders_counts(
    any_ctx: ServiceContext, clock: SettableClock, waiting: tuple[int, int]
) -> None:
    first, second = waiting
    registration.set_locale(any_ctx, actor("acme"), "en")
    remind_at(any_ctx, SLOT)
    clock.set(SLOT)

    (delivery,) = render_queued(any_ctx, "reminder.evaluations")

    assert delivery.recipient is not None
    assert delivery.recipient.identities == (("console", "local", "acme"),)
    (message,) = delivery.messages
    assert message.visibility == "direct"
    assert f"T{first} practice task: 2 waiting" in message.text()
    assert f"T{second} practice task: 1 waiting" in message.text()
    assert f"/smarter submissions T{first}" in [action.command for action in message.actions]


def test_evaluation_reminder_renders_japanese(
    any_ctx: ServiceContext, clock: SettableClock, waiting: tuple[int, int]
) -> None:
    first, _ = waiting
    remind_at(any_ctx, SLOT)
    clock.set(SLOT)

    (delivery,) = render_queued(any_ctx, "reminder.evaluations")

    (message,) = delivery.messages
    assert message.locale == "ja"
    assert f"T{first} practice task: 評価待ち 2件" in message.text()


def test_evaluation_reminder_after_evaluation_renders_nothing(
    any_ctx: ServiceContext, clock: SettableClock, waiting: tuple[int, int]
) -> None:
    first, second = waiting
    remind_at(any_ctx, SLOT)
    clock.set(SLOT)
    for user, task_id in (("taro", first), ("hanako", first), ("taro", second)):
        evaluate(any_ctx, task_id, user)

    (delivery,) = render_queued(any_ctx, "reminder.evaluations")

    assert delivery.messages == ()


def test_evaluation_reminder_concurrent_runs_once(any_ctx: ServiceContext, waiting: tuple[int, int]) -> None:
    outcomes = run_together([lambda: remind_at(any_ctx, SLOT) for _ in range(4)])

    assert sorted(outcomes, key=str) == [False, False, False, True]
    assert len(outbox_keys(any_ctx, "reminder.evaluations")) == 1
