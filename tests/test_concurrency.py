"""Concurrent joins and participation requests on SQLite and PostgreSQL: capacity and limits hold under load."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func, select

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.domain.enums import ParticipationStatus, RequestStatus
from core.domain.errors import UserError
from core.services import evaluations, participation, registration, requests, submissions, tasks
from core.services.context import ServiceContext
from core.services.tasks import NewTask
from core.storage.models import MemberScore, Participation, ParticipationRequest, Task
from tests.conftest import actor, make_settings

T = TypeVar("T")

# Fragments of the message keys, because the full wording belongs to the catalogs and may change.
FULL = "full"
ALREADY_JOINED = "already joined"
DAILY_LIMIT = "limit"
BARRIER_TIMEOUT_SECONDS = 60


def run_together(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run each call in its own thread, all released at once by a barrier, and return each result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[T | BaseException | None] = [None] * len(calls)

    def work(index: int, call: Callable[[], T]) -> None:
        barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
        try:
            outcomes[index] = call()
        except BaseException as error:  # collected so that the test reports it, not the thread
            outcomes[index] = error

    threads = [threading.Thread(target=work, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_TIMEOUT_SECONDS * 2)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return outcomes  # type: ignore[return-value]


def open_practice_task(ctx: ServiceContext, partner: str, *, capacity: int | None = None) -> int:
    spec = NewTask(
        menu="practice", title="先着順の調査", deadline="2026/12/31 18:00", work_types=("research",), capacity=capacity
    )
    return tasks.create_task(ctx, actor(partner), spec).id


def register_members(ctx: ServiceContext, count: int) -> list[str]:
    users = [f"member{index:03d}" for index in range(count)]
    for user in users:
        registration.register_member(ctx, actor(user), nickname=user)
    return users


def joined_count(ctx: ServiceContext, task_id: int) -> int:
    with ctx.transaction() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.task_id == task_id, Participation.status == ParticipationStatus.JOINED)
        )
    return count or 0


def participant_count(ctx: ServiceContext, task_id: int) -> int:
    with ctx.transaction() as session:
        return session.get_one(Task, task_id).participant_count


def user_errors(outcomes: list[object]) -> list[UserError]:
    return [outcome for outcome in outcomes if isinstance(outcome, UserError)]


def keys_without(errors: list[UserError], fragment: str) -> list[str]:
    """Return the message keys of the errors whose key lacks ``fragment``: errors of an unexpected kind."""
    return [error.key for error in errors if fragment not in error.key]


def unexpected(outcomes: list[object]) -> list[object]:
    """Return the exceptions other than user errors: database errors that a person would see as a crash."""
    return [
        outcome for outcome in outcomes if isinstance(outcome, BaseException) and not isinstance(outcome, UserError)
    ]


def test_concurrent_joins_fill_capacity_exactly(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社先着")
    task_id = open_practice_task(any_ctx, "partner", capacity=5)
    users = register_members(any_ctx, 100)

    outcomes = run_together(
        [lambda user=user: participation.join_task(any_ctx, actor(user), task_id) for user in users]
    )

    assert unexpected(outcomes) == []
    assert sum(isinstance(outcome, participation.Joined) for outcome in outcomes) == 5
    assert len(user_errors(outcomes)) == 95
    assert keys_without(user_errors(outcomes), FULL) == []
    assert all(error.values["capacity"] == 5 for error in user_errors(outcomes))
    assert joined_count(any_ctx, task_id) == 5
    assert participant_count(any_ctx, task_id) == 5


def test_concurrent_duplicate_joins_give_one_participation(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社先着")
    task_id = open_practice_task(any_ctx, "partner")
    registration.register_member(any_ctx, actor("taro"), nickname="taro")

    outcomes = run_together([lambda: participation.join_task(any_ctx, actor("taro"), task_id) for _ in range(20)])

    assert unexpected(outcomes) == []
    assert sum(isinstance(outcome, participation.Joined) for outcome in outcomes) == 1
    assert len(user_errors(outcomes)) == 19
    assert keys_without(user_errors(outcomes), ALREADY_JOINED) == []
    assert joined_count(any_ctx, task_id) == 1
    assert participant_count(any_ctx, task_id) == 1


@pytest.fixture
def limited_ctx(engine: Engine, clock: SettableClock) -> ServiceContext:
    """A context on SQLite and PostgreSQL where a partner may send three participation requests a day."""
    return build_context(make_settings(requests_per_partner_per_day=3), clock=clock, engine=engine, migrate=False)


def request_rows(ctx: ServiceContext) -> int:
    with ctx.transaction() as session:
        return session.scalar(select(func.count()).select_from(ParticipationRequest)) or 0


def test_concurrent_requests_stop_at_daily_limit(limited_ctx: ServiceContext) -> None:
    registration.register_partner(limited_ctx, actor("partner"), company="株式会社要請")
    task_id = open_practice_task(limited_ctx, "partner")
    users = register_members(limited_ctx, 20)

    outcomes = run_together(
        [lambda user=user: requests.send_request(limited_ctx, actor("partner"), user, task_id) for user in users]
    )

    assert unexpected(outcomes) == []
    assert sum(isinstance(outcome, requests.RequestView) for outcome in outcomes) == 3
    assert len(user_errors(outcomes)) == 17
    assert keys_without(user_errors(outcomes), DAILY_LIMIT) == []
    assert all(error.values == {"limit": 3} for error in user_errors(outcomes))
    assert request_rows(limited_ctx) == 3


def test_concurrent_duplicate_leaves_free_one_place(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社先着")
    task_id = open_practice_task(any_ctx, "partner", capacity=5)
    registration.register_member(any_ctx, actor("taro"), nickname="taro")
    registration.register_member(any_ctx, actor("hanako"), nickname="hanako")
    participation.join_task(any_ctx, actor("taro"), task_id)
    participation.join_task(any_ctx, actor("hanako"), task_id)

    outcomes = run_together([lambda: participation.leave_task(any_ctx, actor("taro"), task_id) for _ in range(20)])

    assert unexpected(outcomes) == []
    assert sum(isinstance(outcome, participation.Left) for outcome in outcomes) == 1
    assert len(user_errors(outcomes)) == 19
    assert joined_count(any_ctx, task_id) == 1
    assert participant_count(any_ctx, task_id) == 1


def test_concurrent_accept_and_joins_give_one_participation(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社要請")
    task_id = open_practice_task(any_ctx, "partner")
    registration.register_member(any_ctx, actor("taro"), nickname="taro")
    request_id = requests.send_request(any_ctx, actor("partner"), "taro", task_id).id
    calls: list[Callable[[], object]] = [
        lambda: participation.join_task(any_ctx, actor("taro"), task_id) for _ in range(10)
    ]
    calls.append(lambda: requests.answer_request(any_ctx, actor("taro"), request_id, accept=True))

    outcomes = run_together(calls)

    assert unexpected(outcomes) == []
    # The accept succeeds whether it joins or finds the member already joined, so 9 or 10 joins fail.
    assert len(user_errors(outcomes)) in (9, 10)
    assert keys_without(user_errors(outcomes), ALREADY_JOINED) == []
    assert joined_count(any_ctx, task_id) == 1
    assert participant_count(any_ctx, task_id) == 1
    (answered,) = requests.list_requests(any_ctx, actor("taro")).requests
    assert answered.status == RequestStatus.ACCEPTED


def test_concurrent_submits_get_distinct_versions(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社版管理")
    task_id = open_practice_task(any_ctx, "partner")
    registration.register_member(any_ctx, actor("taro"), nickname="taro")
    participation.join_task(any_ctx, actor("taro"), task_id)
    calls: list[Callable[[], object]] = [
        lambda n=n: submissions.submit(any_ctx, actor("taro"), task_id, text=f"版 {n}") for n in range(8)
    ]

    outcomes = run_together(calls)

    assert unexpected(outcomes) == []
    assert sorted(outcome.version for outcome in outcomes if isinstance(outcome, submissions.Submitted)) == list(
        range(1, 9)
    )


def test_concurrent_first_evaluations_keep_one(any_ctx: ServiceContext) -> None:
    registration.register_partner(any_ctx, actor("partner"), company="株式会社評価")
    task_id = open_practice_task(any_ctx, "partner")
    registration.register_member(any_ctx, actor("taro"), nickname="taro")
    participation.join_task(any_ctx, actor("taro"), task_id)
    submissions.submit(any_ctx, actor("taro"), task_id, text="報告")
    levels = {"logic": "3", "evidence": "3", "originality": "3", "feasibility": "3", "clarity": "3"}
    calls: list[Callable[[], object]] = [
        lambda: evaluations.evaluate(any_ctx, actor("partner"), task_id, "taro", levels=levels, advice="良い")
        for _ in range(8)
    ]

    outcomes = run_together(calls)

    assert unexpected(outcomes) == []
    assert sorted(outcome.revision for outcome in outcomes if isinstance(outcome, evaluations.EvaluationView)) == list(
        range(1, 9)
    )
    with any_ctx.transaction() as session:
        (total,) = session.scalars(select(MemberScore).where(MemberScore.period == "all")).all()
    assert total.evaluation_count == 1
