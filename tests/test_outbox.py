"""The outbox: enqueueing once per key, ordered delivery, retries, crash recovery and rendering every kind."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from adapters.console.session import SettableClock
from core.domain.enums import TaskStatus
from core.domain.text import TOKYO
from core.presentation.deliveries import RENDERERS, Delivery, render_delivery
from core.presentation.emails import REQUEST_EMAIL
from core.services import brainstorms, evaluations, participation, preferences, requests, submissions, tasks
from core.services.context import ServiceContext
from core.services.outbox import (
    FAILURE_REPORT,
    MAX_ATTEMPTS,
    OutboxItem,
    PermanentDeliveryError,
    _fail,
    claim,
    complete,
    deliver_pending,
    enqueue,
    record_failure,
    retry_delay,
)
from core.services.reminders import remind_deadlines, remind_evaluations
from core.services.schedules import run_schedule
from core.storage.models import OutboxMessage
from tests.conftest import actor
from tests.scenario import member, open_task, partner

SERVICES_DIR = Path(__file__).resolve().parents[1] / "core" / "services"


class DeliveryFailed(RuntimeError):
    """Raised by a test delivery to make the outbox count a failed attempt."""


def add(ctx: ServiceContext, *keys: str, kind: str = "test.kind") -> None:
    with ctx.transaction() as session:
        for key in keys:
            enqueue(session, key=key, kind=kind, name=key)


def rows(ctx: ServiceContext) -> dict[str, OutboxMessage]:
    with ctx.transaction() as session:
        return {row.delivery_key: row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


class Recorder:
    """A delivery callback that records keys and fails for the keys in ``failing``."""

    def __init__(self, *failing: str, times: int = 10**6) -> None:
        self.calls: list[str] = []
        self.failing = set(failing)
        self.failures_left = times

    def __call__(self, session: Session, item: OutboxItem) -> None:
        self.calls.append(item.delivery_key)
        if item.delivery_key in self.failing and self.failures_left > 0:
            self.failures_left -= 1
            raise DeliveryFailed(f"boom for {item.delivery_key}")


def test_enqueue_ignores_duplicate_key(any_ctx: ServiceContext) -> None:
    with any_ctx.transaction() as session:
        enqueue(session, key="k", kind="first", n=1)
        enqueue(session, key="k", kind="second", n=2)
    with any_ctx.transaction() as session:
        enqueue(session, key="k", kind="third", n=3)

    stored = rows(any_ctx)

    assert list(stored) == ["k"]
    assert stored["k"].kind == "first"
    assert stored["k"].payload == {"n": 1}


def test_enqueue_rolled_back_with_change(any_ctx: ServiceContext) -> None:
    with pytest.raises(DeliveryFailed), any_ctx.transaction() as session:
        enqueue(session, key="k", kind="test.kind")
        raise DeliveryFailed("the change failed")

    assert rows(any_ctx) == {}


def test_deliver_pending_in_order(any_ctx: ServiceContext) -> None:
    add(any_ctx, "c", "a", "b")
    recorder = Recorder()

    delivered = deliver_pending(any_ctx, recorder)

    assert delivered == 3
    assert recorder.calls == ["c", "a", "b"]


def test_deliver_pending_marks_delivered(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a")

    deliver_pending(any_ctx, Recorder())

    row = rows(any_ctx)["a"]
    assert row.delivered_at == clock.now()
    assert row.attempts == 1
    assert row.last_error is None


def test_deliver_pending_skips_delivered(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a")
    deliver_pending(any_ctx, Recorder())
    recorder = Recorder()

    assert deliver_pending(any_ctx, recorder) == 0
    assert recorder.calls == []


def test_deliver_pending_passes_payload(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a", kind="test.payload")
    items: list[OutboxItem] = []

    deliver_pending(any_ctx, lambda session, item: items.append(item))

    assert (items[0].kind, items[0].payload, items[0].attempts) == ("test.payload", {"name": "a"}, 0)


def test_deliver_pending_limit(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a", "b", "c")
    recorder = Recorder()

    assert deliver_pending(any_ctx, recorder, limit=2) == 2
    assert recorder.calls == ["a", "b"]


def test_failed_delivery_counted(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a")

    assert deliver_pending(any_ctx, Recorder("a")) == 0

    row = rows(any_ctx)["a"]
    assert row.attempts == 1
    assert row.delivered_at is None
    assert row.last_error == "DeliveryFailed: boom for a"


def test_failed_delivery_does_not_block_others(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a", "b", "c")
    recorder = Recorder("b")

    delivered = deliver_pending(any_ctx, recorder)

    assert delivered == 2
    assert recorder.calls == ["a", "b", "c"]
    assert rows(any_ctx)["c"].delivered_at is not None


def test_failed_delivery_waits_for_backoff(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a")
    recorder = Recorder("a", times=1)
    deliver_pending(any_ctx, recorder)

    clock.advance("0m")
    early = deliver_pending(any_ctx, recorder)

    assert early == 0
    assert recorder.calls == ["a"]
    assert rows(any_ctx)["a"].not_before == clock.now() + retry_delay(1)


def test_retry_delay_doubles_up_to_an_hour() -> None:
    assert retry_delay(1) == timedelta(seconds=30)
    assert retry_delay(2) == timedelta(seconds=60)
    assert retry_delay(3) == timedelta(seconds=120)
    assert retry_delay(20) == timedelta(hours=1)


def test_failed_delivery_retried_later(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a", "b")
    recorder = Recorder("a", times=1)
    deliver_pending(any_ctx, recorder)

    clock.advance("1m")
    delivered = deliver_pending(any_ctx, recorder)

    assert delivered == 1
    assert recorder.calls == ["a", "b", "a"]
    assert rows(any_ctx)["a"].attempts == 2
    assert rows(any_ctx)["a"].delivered_at is not None


def test_failed_delivery_rolls_back_its_writes(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a")

    def deliver(session: Session, item: OutboxItem) -> None:
        enqueue(session, key="written-by-failed-delivery", kind="test.kind")
        raise DeliveryFailed("after writing")

    deliver_pending(any_ctx, deliver)

    assert list(rows(any_ctx)) == ["a"]


def test_delivery_stops_after_max_attempts(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a")
    recorder = Recorder("a")

    for _ in range(MAX_ATTEMPTS + 2):
        deliver_pending(any_ctx, recorder, kinds={"test.kind"})
        clock.advance("2h")

    stored = rows(any_ctx)
    assert len(recorder.calls) == MAX_ATTEMPTS
    assert stored["a"].attempts == MAX_ATTEMPTS
    assert stored["a"].delivered_at is None
    assert stored["a"].failed_at is not None
    assert stored["failed:a"].kind == FAILURE_REPORT
    assert stored["failed:a"].payload["delivery_key"] == "a"


def test_permanent_failure_reported_once(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a")
    calls: list[str] = []

    def reject(session: Session, item: OutboxItem) -> None:
        calls.append(item.delivery_key)
        raise PermanentDeliveryError("channel_not_found")

    for _ in range(3):
        deliver_pending(any_ctx, reject, kinds={"test.kind"})
        clock.advance("2h")

    stored = rows(any_ctx)
    assert calls == ["a"]
    assert stored["a"].failed_at is not None
    assert stored["a"].last_error == "PermanentDeliveryError: channel_not_found"
    assert list(stored) == ["a", "failed:a"]


def test_failed_report_not_reported_again(any_ctx: ServiceContext) -> None:
    add(any_ctx, "failed:x", kind=FAILURE_REPORT)

    def reject(session: Session, item: OutboxItem) -> None:
        raise PermanentDeliveryError("secretariat unreachable")

    deliver_pending(any_ctx, reject)

    assert list(rows(any_ctx)) == ["failed:x"]


def test_deliver_pending_only_given_kinds(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a", kind="chat")
    add(any_ctx, "b", kind="mail")
    recorder = Recorder()

    deliver_pending(any_ctx, recorder, kinds={"mail"})

    assert recorder.calls == ["b"]


def test_claimed_items_skipped_until_lease_ends(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a", "b")

    first = claim(any_ctx, worker="w1", lease=timedelta(minutes=5))
    second = claim(any_ctx, worker="w2")
    clock.advance("6m")
    after_lease = claim(any_ctx, worker="w2")

    assert [item.delivery_key for item in first] == ["a", "b"]
    assert not any(item.uncertain for item in first)
    assert second == []
    assert [item.delivery_key for item in after_lease] == ["a", "b"]
    assert all(item.uncertain for item in after_lease)


def test_complete_marks_claimed_delivered(any_ctx: ServiceContext) -> None:
    add(any_ctx, "a", "b")
    items = claim(any_ctx, worker="w1")

    done = complete(any_ctx, [items[0].id])
    again = complete(any_ctx, [items[0].id])

    stored = rows(any_ctx)
    assert done == 1
    assert again == 0
    assert stored["a"].delivered_at is not None
    assert stored["a"].claimed_by is None
    assert stored["b"].delivered_at is None


def test_record_failure_releases_claim(any_ctx: ServiceContext, clock: SettableClock) -> None:
    add(any_ctx, "a")
    [item] = claim(any_ctx, worker="w1")

    record_failure(any_ctx, item.id, DeliveryFailed("429"))
    clock.advance("1m")
    retried = claim(any_ctx, worker="w2")

    assert [again.delivery_key for again in retried] == ["a"]
    assert retried[0].attempts == 1
    assert not retried[0].uncertain


@pytest.fixture
def commit_crash(any_ctx: ServiceContext) -> Iterator[list[bool]]:
    """Once armed, make the next commit fail, as if the process died after a delivery but before recording it."""
    armed = [False]

    def crash(session: Session) -> None:
        # before_commit also fires when the delivery's savepoint is released, so only the outer commit crashes.
        if armed[0] and not session.in_nested_transaction():
            armed[0] = False
            raise DeliveryFailed("process died before the commit")

    event.listen(any_ctx.session_factory, "before_commit", crash)
    yield armed
    event.remove(any_ctx.session_factory, "before_commit", crash)


def test_crash_before_commit_redelivers_once(any_ctx: ServiceContext, commit_crash: list[bool]) -> None:
    add(any_ctx, "a")
    effects: dict[str, int] = {}
    calls: list[str] = []

    def deliver(session: Session, item: OutboxItem) -> None:
        calls.append(item.delivery_key)
        effects.setdefault(item.delivery_key, 1)  # an idempotent target, where a repeated key changes nothing

    commit_crash[0] = True
    with pytest.raises(DeliveryFailed):
        deliver_pending(any_ctx, deliver)
    undelivered = rows(any_ctx)["a"]
    redelivered = deliver_pending(any_ctx, deliver)

    assert undelivered.delivered_at is None
    assert redelivered == 1
    assert calls == ["a", "a"]
    assert effects == {"a": 1}
    assert rows(any_ctx)["a"].delivered_at is not None


def enqueued_kinds() -> set[str]:
    """Return every ``kind`` the services pass to ``enqueue``, read from their source."""
    kinds: set[str] = set()
    for path in sorted(SERVICES_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                kinds |= _function_kinds(function)
    return kinds


def _function_kinds(function: ast.FunctionDef) -> set[str]:
    # A kind is either a literal in the call or a local variable assigned string literals.
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            strings = {
                n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            assigned.setdefault(node.targets[0].id, set()).update(strings)
    kinds: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "enqueue":
            value = next(keyword.value for keyword in node.keywords if keyword.arg == "kind")
            if isinstance(value, ast.Constant):
                kinds.add(value.value)
            elif isinstance(value, ast.Name):
                kinds |= assigned[value.id]
            else:
                raise AssertionError(f"enqueue kind at line {node.lineno} is neither a literal nor a local name")
    return kinds


def test_enqueued_kinds_found_in_services() -> None:
    assert "evaluation.result" in enqueued_kinds()
    assert "brainstorm.open" in enqueued_kinds()


def test_every_enqueued_kind_has_renderer() -> None:
    # Request e-mails are rendered by core.presentation.emails for the e-mail worker, not for chat.
    assert enqueued_kinds() - set(RENDERERS) == {REQUEST_EMAIL}


def test_every_renderer_kind_is_enqueued() -> None:
    assert set(RENDERERS) - enqueued_kinds() == set()


def run_every_use_case(ctx: ServiceContext) -> None:
    """Drive the use cases that enqueue, so that each outbox kind is written at least once."""
    partner(ctx)
    member(ctx, "taro")
    member(ctx, "hanako")
    task_id = open_task(ctx)
    brainstorm_id = open_task(ctx, "brainstorm")
    brainstorms.post_idea(ctx, actor("taro"), brainstorm_id, "駅前で試食会")
    tasks.change_task_status(ctx, actor("acme"), brainstorm_id, TaskStatus.CLOSED)
    participation.join_task(ctx, actor("taro"), task_id)
    participation.leave_task(ctx, actor("taro"), task_id)
    participation.join_task(ctx, actor("taro"), task_id)
    tasks.change_deadline(ctx, actor("acme"), task_id, "2026/12/28 18:00")
    submissions.submit(ctx, actor("taro"), task_id, text="報告書")
    levels = {"logic": "3", "evidence": "3", "originality": "2", "feasibility": "2", "clarity": "4"}
    evaluations.evaluate(ctx, actor("acme"), task_id, "taro", levels=levels, advice="良い調査です")
    preferences.set_email(ctx, actor("hanako"), "hanako@example.com")
    request = requests.send_request(ctx, actor("acme"), "hanako", task_id, message="ぜひ")
    requests.answer_request(ctx, actor("hanako"), request.id, accept=False)
    for status in (TaskStatus.CLOSED, TaskStatus.EVALUATED, TaskStatus.ARCHIVED):
        tasks.change_task_status(ctx, actor("acme"), task_id, status)
    # A task that stays open with a participant who has not submitted, and one past its deadline with a
    # submission waiting for evaluation. The clock ends between the two deadlines, so both reminders render.
    open_task_id = open_task(ctx, title="still open")
    participation.join_task(ctx, actor("taro"), open_task_id)
    waiting_task = open_task(ctx, title="waiting", deadline="2026/12/10 18:00")
    participation.join_task(ctx, actor("hanako"), waiting_task)
    submissions.submit(ctx, actor("hanako"), waiting_task, text="途中経過")
    deadline = datetime(2026, 12, 31, 23, 59, tzinfo=TOKYO)
    remind_deadlines(ctx, deadline - timedelta(minutes=30))
    after_waiting = datetime(2026, 12, 11, 10, 0, tzinfo=TOKYO)
    remind_evaluations(ctx, "evaluation-reminders", after_waiting, now=after_waiting)
    assert isinstance(ctx.clock, SettableClock)
    ctx.clock.set(after_waiting)
    run_schedule(ctx, "weekly", datetime(2026, 12, 7, 0, 0, tzinfo=UTC))
    with ctx.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.delivery_key == f"task:{open_task_id}:announce")
        ).one()
        _fail(session, row, PermanentDeliveryError("channel_not_found"), ctx.now(), permanent=True)


@pytest.fixture
def deliveries(any_ctx: ServiceContext) -> dict[str, list[Delivery]]:
    """Every delivery rendered from the outbox after run_every_use_case, grouped by kind."""
    run_every_use_case(any_ctx)
    rendered: dict[str, list[Delivery]] = {}

    def deliver(session: Session, item: OutboxItem) -> None:
        if item.kind != REQUEST_EMAIL:
            rendered.setdefault(item.kind, []).append(render_delivery(any_ctx, session, item))

    deliver_pending(any_ctx, deliver)
    return rendered


def test_render_delivery_covers_every_kind(deliveries: dict[str, list[Delivery]]) -> None:
    assert set(deliveries) == set(RENDERERS)


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_render_delivery_has_messages(deliveries: dict[str, list[Delivery]], kind: str) -> None:
    for delivery in deliveries[kind]:
        assert delivery.messages, delivery.key
        for message in delivery.messages:
            assert message.text().strip(), delivery.key


@pytest.mark.parametrize(
    ("kind", "recipient"),
    [
        ("evaluation.result", "taro"),
        ("request.sent", "hanako"),
        ("request.answered", "P1"),
        ("task_channel.invite", "taro"),
        ("task_channel.remove", "taro"),
        ("task_channel.open", "P1"),
    ],
)
def test_render_delivery_recipient(deliveries: dict[str, list[Delivery]], kind: str, recipient: str) -> None:
    found = deliveries[kind][0].recipient

    assert found is not None
    assert found.name == recipient
    assert found.identities == ((("console", "local", "acme" if recipient == "P1" else recipient),))


def test_render_delivery_channel_names(deliveries: dict[str, list[Delivery]]) -> None:
    names = {deliveries[kind][0].channel_name for kind in ("task_channel.open", "task_channel.archive")}

    assert names == {"t1-practice-task"}


def test_render_evaluation_result_shows_score(deliveries: dict[str, list[Delivery]]) -> None:
    text = deliveries["evaluation.result"][0].messages[0].text()

    assert "61.11" in text
    assert "良い調査です" in text


def test_render_delivery_unknown_kind(any_ctx: ServiceContext) -> None:
    item = OutboxItem(1, "x:1", "nonsense.kind", {}, 0)

    with pytest.raises(ValueError, match="x:1") as raised, any_ctx.transaction() as session:
        render_delivery(any_ctx, session, item)

    assert "nonsense.kind" in str(raised.value)


def test_email_failure_report_names_member(ctx: ServiceContext) -> None:
    partner(ctx)
    member(ctx, "hanako")
    preferences.set_email(ctx, actor("hanako"), "hanako@example.com")
    request = requests.send_request(ctx, actor("acme"), "hanako", open_task(ctx))
    with ctx.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REQUEST_EMAIL)).one()
        _fail(session, row, PermanentDeliveryError("550 mailbox unavailable"), ctx.now(), permanent=True)
    reports: list[Delivery] = []

    def collect(session: Session, item: OutboxItem) -> None:
        if item.kind == "delivery.failed":
            reports.append(render_delivery(ctx, session, item))

    deliver_pending(ctx, collect)

    [report] = reports
    text = report.messages[0].text()
    assert f"R{request.id}" in text
    assert "hanako" in text
    assert "<hanako@example.com>" in text
    assert "550 mailbox unavailable" in text
    assert report.recipient is not None
    assert report.recipient.identities == (("console", "local", "secretariat"),)
