"""Participation requests: sending, the daily limit in Japan time, expiry, accepting and declining."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from sqlalchemy import select

from adapters.console.session import SettableClock
from core.domain.enums import ParticipationStatus, RequestStatus, TaskStatus
from core.domain.errors import UserError
from core.domain.text import TOKYO
from core.services import participation, requests, secretariat, tasks
from core.services.context import ServiceContext
from core.storage.models import Participation
from tests.conftest import actor
from tests.scenario import member, open_task, outbox_keys, partner


@pytest.fixture
def task_id(any_ctx: ServiceContext) -> int:
    """A practice task of acme with a deadline of 2026/12/31 23:59, and a free member taro."""
    partner(any_ctx)
    member(any_ctx, "taro")
    return open_task(any_ctx)


def send(ctx: ServiceContext, task_id: int, to: str = "taro", message: str = "") -> requests.RequestView:
    return requests.send_request(ctx, actor("acme"), to, task_id, message=message)


def send_error(ctx: ServiceContext, task_id: int, to: str = "taro") -> UserError:
    with pytest.raises(UserError) as raised:
        send(ctx, task_id, to)
    return raised.value


def answer(ctx: ServiceContext, request_id: int, *, accept: bool, by: str = "taro") -> requests.RequestView:
    return requests.answer_request(ctx, actor(by), request_id, accept=accept)


def answer_error(ctx: ServiceContext, request_id: int, *, accept: bool, by: str = "taro") -> UserError:
    with pytest.raises(UserError) as raised:
        answer(ctx, request_id, accept=accept, by=by)
    return raised.value


def joined_members(ctx: ServiceContext, task_id: int) -> list[int]:
    with ctx.transaction() as session:
        statement = select(Participation.member_id).where(
            Participation.task_id == task_id, Participation.status == ParticipationStatus.JOINED
        )
        return list(session.scalars(statement))


def statuses(ctx: ServiceContext, user: str) -> list[RequestStatus]:
    return [request.status for request in requests.list_requests(ctx, actor(user)).requests]


def limit_requests(ctx: ServiceContext, per_day: int) -> None:
    ctx.policy = dataclasses.replace(ctx.policy, requests_per_partner_per_day=per_day)


def test_send_request_pending(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id, message="ぜひ")

    assert request.status == RequestStatus.PENDING
    assert request.member == "taro"
    assert request.message == "ぜひ"


def test_send_request_expires_after_14_days(any_ctx: ServiceContext, task_id: int) -> None:
    assert send(any_ctx, task_id).expires_at == datetime(2026, 12, 15, 10, 0, tzinfo=TOKYO)


def test_send_request_expires_by_deadline(any_ctx: ServiceContext, task_id: int) -> None:
    soon = open_task(any_ctx, deadline="2026/12/05 18:00")

    assert send(any_ctx, soon).expires_at == datetime(2026, 12, 5, 18, 0, tzinfo=TOKYO)


def test_send_request_enqueues_message(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)

    assert outbox_keys(any_ctx, "request.sent") == [f"request:{request.id}:sent"]


def test_duplicate_pending_request_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    first = send(any_ctx, task_id)

    error = send_error(any_ctx, task_id)

    assert error.values["request_id"] == first.id
    assert error.values["member"] == "taro"
    assert len(outbox_keys(any_ctx, "request.sent")) == 1


def test_request_again_after_decline(any_ctx: ServiceContext, task_id: int) -> None:
    first = send(any_ctx, task_id)
    answer(any_ctx, first.id, accept=False)

    assert send(any_ctx, task_id).status == RequestStatus.PENDING


def test_request_for_brainstorm_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    brainstorm = open_task(any_ctx, "brainstorm")

    assert send_error(any_ctx, brainstorm).values["task_id"] == brainstorm


def test_request_for_closed_task_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    tasks.change_task_status(any_ctx, actor("acme"), task_id, TaskStatus.CLOSED)

    assert "only while it is open" in send_error(any_ctx, task_id).key


def test_request_after_deadline_rejected(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    clock.set(datetime(2027, 1, 1, 9, 0, tzinfo=TOKYO))

    assert "/smarter task deadline" in send_error(any_ctx, task_id).key


def test_request_to_joined_member_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    participation.join_task(any_ctx, actor("taro"), task_id)

    assert "already joined" in send_error(any_ctx, task_id).key


def test_request_to_ineligible_member_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    paid_task = open_task(any_ctx, eligibility="paid")

    error = send_error(any_ctx, paid_task)

    assert "eligibility" in error.key
    assert error.values["member"] == "taro"


def test_request_unknown_member_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    assert send_error(any_ctx, task_id, to="nobody").values["value"] == "nobody"


def test_daily_limit_reached(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    limit_requests(any_ctx, 2)
    for user in ("hanako", "jiro"):
        member(any_ctx, user)
    clock.set(datetime(2026, 12, 1, 23, 40, tzinfo=TOKYO))
    send(any_ctx, task_id, "taro")
    send(any_ctx, task_id, "hanako")
    clock.set(datetime(2026, 12, 1, 23, 50, tzinfo=TOKYO))

    error = send_error(any_ctx, task_id, "jiro")

    assert error.values["limit"] == 2
    assert len(outbox_keys(any_ctx, "request.sent")) == 2


def test_daily_limit_resets_at_japan_midnight(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    limit_requests(any_ctx, 2)
    for user in ("hanako", "jiro"):
        member(any_ctx, user)
    clock.set(datetime(2026, 12, 1, 23, 40, tzinfo=TOKYO))
    send(any_ctx, task_id, "taro")
    send(any_ctx, task_id, "hanako")
    # 00:10 in Japan is still 2026-12-01 in UTC, so a UTC day would keep the limit.
    clock.set(datetime(2026, 12, 2, 0, 10, tzinfo=TOKYO))

    assert send(any_ctx, task_id, "jiro").status == RequestStatus.PENDING


def test_daily_limit_spans_utc_midnight(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    limit_requests(any_ctx, 2)
    for user in ("hanako", "jiro"):
        member(any_ctx, user)
    clock.set(datetime(2026, 12, 2, 8, 50, tzinfo=TOKYO))
    send(any_ctx, task_id, "taro")
    send(any_ctx, task_id, "hanako")
    # 09:10 in Japan is the next UTC day but the same Japan day.
    clock.set(datetime(2026, 12, 2, 9, 10, tzinfo=TOKYO))

    assert send_error(any_ctx, task_id, "jiro").values["limit"] == 2


def test_expired_request_cannot_be_accepted(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    request = send(any_ctx, task_id)
    clock.set(datetime(2026, 12, 15, 10, 1, tzinfo=TOKYO))

    error = answer_error(any_ctx, request.id, accept=True)

    assert error.values["status"] == "expired"
    assert joined_members(any_ctx, task_id) == []


def test_expired_request_listed_as_expired(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    send(any_ctx, task_id)
    clock.advance("15d")

    assert statuses(any_ctx, "taro") == [RequestStatus.EXPIRED]
    assert statuses(any_ctx, "acme") == [RequestStatus.EXPIRED]


def test_request_pending_before_expiry(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    send(any_ctx, task_id)
    clock.set(datetime(2026, 12, 15, 9, 59, tzinfo=TOKYO))

    assert statuses(any_ctx, "taro") == [RequestStatus.PENDING]


def test_accept_joins_task(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)

    accepted = answer(any_ctx, request.id, accept=True)

    assert accepted.status == RequestStatus.ACCEPTED
    assert accepted.task.participant_count == 1
    assert joined_members(any_ctx, task_id) == [2]


def test_accept_enqueues_answer_and_invite(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)

    answer(any_ctx, request.id, accept=True)

    assert outbox_keys(any_ctx, "request.answered") == [f"request:{request.id}:answered"]
    assert len(outbox_keys(any_ctx, "task_channel.invite")) == 1


def test_accept_not_eligible_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    paid_task = open_task(any_ctx, eligibility="paid")
    secretariat.set_membership(any_ctx, actor("secretariat"), "taro", "paid")
    request = send(any_ctx, paid_task)
    secretariat.set_membership(any_ctx, actor("secretariat"), "taro", "free")

    error = answer_error(any_ctx, request.id, accept=True)

    assert "paid members only" in error.key
    assert error.values["task_id"] == paid_task
    assert joined_members(any_ctx, paid_task) == []
    assert statuses(any_ctx, "taro") == [RequestStatus.PENDING]
    assert outbox_keys(any_ctx, "request.answered") == []


def test_accept_after_joining_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)
    accepted = answer(any_ctx, request.id, accept=True)

    error = answer_error(any_ctx, request.id, accept=True)

    assert error.values["status"] == "accepted"
    assert accepted.task.participant_count == 1


def test_decline_enqueues_answer(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)

    declined = answer(any_ctx, request.id, accept=False)

    assert declined.status == RequestStatus.DECLINED
    assert outbox_keys(any_ctx, "request.answered") == [f"request:{request.id}:answered"]
    assert joined_members(any_ctx, task_id) == []


def test_decline_twice_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)
    answer(any_ctx, request.id, accept=False)

    assert answer_error(any_ctx, request.id, accept=False).values["status"] == "declined"


def test_answer_other_members_request(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)
    member(any_ctx, "hanako")

    error = answer_error(any_ctx, request.id, accept=True, by="hanako")

    assert error.values["request_id"] == request.id
    assert statuses(any_ctx, "taro") == [RequestStatus.PENDING]


@pytest.mark.parametrize(("text", "expected"), [("R3", 3), ("r12", 12), ("７", 7)])
def test_parse_request_id(text: str, expected: int) -> None:
    assert requests.parse_request_id(text) == expected


def test_parse_request_id_invalid() -> None:
    with pytest.raises(UserError) as raised:
        requests.parse_request_id("T3")

    assert raised.value.values["value"] == "T3"


def test_accept_after_joining_directly(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)
    participation.join_task(any_ctx, actor("taro"), task_id)

    accepted = answer(any_ctx, request.id, accept=True)

    assert accepted.status == RequestStatus.ACCEPTED
    assert accepted.task.participant_count == 1


def test_request_expiry_follows_deadline(any_ctx: ServiceContext, task_id: int) -> None:
    request = send(any_ctx, task_id)

    tasks.change_deadline(any_ctx, actor("acme"), task_id, "2026/12/05 12:00")

    (listed,) = requests.list_requests(any_ctx, actor("taro")).requests
    assert request.expires_at == datetime(2026, 12, 15, 10, 0, tzinfo=TOKYO)
    assert listed.expires_at == datetime(2026, 12, 5, 12, 0, tzinfo=TOKYO)
