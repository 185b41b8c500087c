"""Joining and leaving tasks, and submitting versioned deliverables."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.console.session import SettableClock
from core.domain.enums import ParticipationStatus, TaskStatus
from core.domain.errors import UserError
from core.services import evaluations, participation, secretariat, submissions, tasks
from core.services.context import ServiceContext
from core.storage.models import Participation, Submission
from tests.conftest import actor
from tests.scenario import SECRETARIAT, count_rows, member, open_task, outbox_keys, partner


@pytest.fixture
def task_id(any_ctx: ServiceContext) -> int:
    """An open practice task of partner acme (deadline 2026/12/31 23:59) and a free member taro."""
    partner(any_ctx)
    member(any_ctx, "taro")
    return open_task(any_ctx)


def join(ctx: ServiceContext, user: str, task_id: int) -> participation.Joined:
    return participation.join_task(ctx, actor(user), task_id)


def join_error(ctx: ServiceContext, user: str, task_id: int) -> UserError:
    with pytest.raises(UserError) as raised:
        join(ctx, user, task_id)
    return raised.value


def submit_error(ctx: ServiceContext, task_id: int, **fields: object) -> UserError:
    with pytest.raises(UserError) as raised:
        submissions.submit(ctx, actor("taro"), task_id, **fields)  # type: ignore[arg-type]
    return raised.value


def participations(ctx: ServiceContext, task_id: int) -> list[Participation]:
    with ctx.transaction() as session:
        return list(session.scalars(select(Participation).where(Participation.task_id == task_id)))


def versions(ctx: ServiceContext, task_id: int) -> list[tuple[int, str]]:
    with ctx.transaction() as session:
        statement = select(Submission.version, Submission.text).where(Submission.task_id == task_id)
        return [tuple(row) for row in session.execute(statement.order_by(Submission.version))]  # type: ignore[misc]


def test_join_counts_participant(any_ctx: ServiceContext, task_id: int) -> None:
    joined = join(any_ctx, "taro", task_id)

    assert joined.task.participant_count == 1
    assert [p.status for p in participations(any_ctx, task_id)] == [ParticipationStatus.JOINED]


def test_join_enqueues_channel_invite(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)

    assert outbox_keys(any_ctx, "task_channel.invite") == [f"task:{task_id}:invite:2:1"]


def test_join_brainstorm_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    brainstorm = open_task(any_ctx, "brainstorm")

    error = join_error(any_ctx, "taro", brainstorm)

    assert "needs no joining" in error.key
    assert participations(any_ctx, brainstorm) == []


def test_join_after_deadline_rejected(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    clock.advance("31d")

    error = join_error(any_ctx, "taro", task_id)

    assert "has passed" in error.key
    assert error.values["task_id"] == task_id


def test_join_closed_task_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    tasks.change_task_status(any_ctx, actor("acme"), task_id, TaskStatus.CLOSED)

    error = join_error(any_ctx, "taro", task_id)

    assert error.values["status"] == "closed"


def test_join_paid_task_free_member(any_ctx: ServiceContext, task_id: int) -> None:
    paid_task = open_task(any_ctx, eligibility="paid")

    error = join_error(any_ctx, "taro", paid_task)

    assert "paid members only" in error.key
    assert participations(any_ctx, paid_task) == []


def test_join_paid_task_paid_member(any_ctx: ServiceContext, task_id: int) -> None:
    paid_task = open_task(any_ctx, eligibility="paid")
    member(any_ctx, "hanako", paid=True)

    assert join(any_ctx, "hanako", paid_task).task.participant_count == 1


def test_join_grade_task_low_grade(any_ctx: ServiceContext, task_id: int) -> None:
    graded = open_task(any_ctx, eligibility="grade", min_grade=3)
    member(any_ctx, "hanako", paid=True, grade=2)

    error = join_error(any_ctx, "hanako", graded)

    assert error.values["required"] == 3
    assert error.values["grade"] == 2


def test_join_grade_task_ungraded_member(any_ctx: ServiceContext, task_id: int) -> None:
    graded = open_task(any_ctx, eligibility="grade", min_grade=1)
    member(any_ctx, "hanako", paid=True)

    assert join_error(any_ctx, "hanako", graded).values["grade"] == "not set"


def test_join_grade_task_free_member_with_grade(any_ctx: ServiceContext, task_id: int) -> None:
    graded = open_task(any_ctx, eligibility="grade", min_grade=1)
    member(any_ctx, "hanako", paid=True, grade=2)
    secretariat.set_membership(any_ctx, actor("secretariat"), "hanako", "free")

    assert "paid members only" in join_error(any_ctx, "hanako", graded).key


def test_join_grade_task_enough_grade(any_ctx: ServiceContext, task_id: int) -> None:
    graded = open_task(any_ctx, eligibility="grade", min_grade=3)
    member(any_ctx, "hanako", paid=True, grade=3)

    assert join(any_ctx, "hanako", graded).task.participant_count == 1


def test_join_twice_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)

    error = join_error(any_ctx, "taro", task_id)

    assert "already joined" in error.key
    assert tasks.show_task(any_ctx, actor("taro"), task_id).participant_count == 1


def test_join_full_task_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    small = open_task(any_ctx, capacity=1)
    member(any_ctx, "hanako")
    join(any_ctx, "taro", small)

    error = join_error(any_ctx, "hanako", small)

    assert error.values["capacity"] == 1
    assert [p.member_id for p in participations(any_ctx, small)] == [2]


def test_leave_frees_place(any_ctx: ServiceContext, task_id: int) -> None:
    small = open_task(any_ctx, capacity=1)
    member(any_ctx, "hanako")
    join(any_ctx, "taro", small)

    left = participation.leave_task(any_ctx, actor("taro"), small)

    assert left.task.participant_count == 0
    assert join(any_ctx, "hanako", small).task.participant_count == 1


def test_leave_then_rejoin(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    participation.leave_task(any_ctx, actor("taro"), task_id)

    rejoined = join(any_ctx, "taro", task_id)

    assert rejoined.task.participant_count == 1
    assert [p.status for p in participations(any_ctx, task_id)] == [ParticipationStatus.JOINED]


def test_rejoin_gets_new_invite(any_ctx: ServiceContext, task_id: int) -> None:
    # The clock does not move between the three steps, as in a transcript.
    join(any_ctx, "taro", task_id)
    participation.leave_task(any_ctx, actor("taro"), task_id)
    join(any_ctx, "taro", task_id)

    assert len(outbox_keys(any_ctx, "task_channel.invite")) == 2
    assert len(outbox_keys(any_ctx, "task_channel.remove")) == 1


def test_leave_without_joining_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    with pytest.raises(UserError) as raised:
        participation.leave_task(any_ctx, actor("taro"), task_id)

    assert "nothing to leave" in raised.value.key


def test_leave_closed_task_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    tasks.change_task_status(any_ctx, actor("acme"), task_id, TaskStatus.CLOSED)

    with pytest.raises(UserError) as raised:
        participation.leave_task(any_ctx, actor("taro"), task_id)

    assert raised.value.values["status"] == "closed"


def test_submit_requires_join(any_ctx: ServiceContext, task_id: int) -> None:
    error = submit_error(any_ctx, task_id, text="報告書")

    assert "before submitting" in error.key
    assert versions(any_ctx, task_id) == []


def test_submit_after_leave_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    participation.leave_task(any_ctx, actor("taro"), task_id)

    assert "before submitting" in submit_error(any_ctx, task_id, text="報告書").key


def test_submit_versions_increase(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)

    first = submissions.submit(any_ctx, actor("taro"), task_id, text="初版")
    second = submissions.submit(any_ctx, actor("taro"), task_id, text="改訂版")

    assert (first.version, second.version) == (1, 2)
    assert versions(any_ctx, task_id) == [(1, "初版"), (2, "改訂版")]


def test_submission_list_shows_latest(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    submissions.submit(any_ctx, actor("taro"), task_id, text="初版")
    submissions.submit(any_ctx, actor("taro"), task_id, text="改訂版", links=("https://example.com/a",))

    rows = submissions.list_submissions(any_ctx, actor("acme"), task_id).rows

    assert [(row.version, row.text) for row in rows] == [(2, "改訂版")]
    assert rows[0].links == ("https://example.com/a",)
    assert rows[0].points is None


def test_submit_links_and_files_only(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)

    result = submissions.submit(any_ctx, actor("taro"), task_id, links=("http://example.com",), files=("報告.pdf",))

    assert result.text == ""
    assert result.files == ("報告.pdf",)


@pytest.mark.parametrize("text", ["", "  \u3000 "])
def test_submit_empty_rejected(any_ctx: ServiceContext, task_id: int, text: str) -> None:
    join(any_ctx, "taro", task_id)

    assert "empty" in submit_error(any_ctx, task_id, text=text).key


@pytest.mark.parametrize("link", ["ftp://example.com/a", "example.com", "javascript:alert(1)", "https://a b"])
def test_submit_link_not_http_rejected(any_ctx: ServiceContext, task_id: int, link: str) -> None:
    join(any_ctx, "taro", task_id)

    error = submit_error(any_ctx, task_id, links=(link,))

    assert error.values["value"] == link
    assert versions(any_ctx, task_id) == []


def test_submit_too_many_links(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    links = tuple(f"https://example.com/{index}" for index in range(11))

    assert submit_error(any_ctx, task_id, links=links).values["maximum"] == 10


def test_submit_ten_links_accepted(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    links = tuple(f"https://example.com/{index}" for index in range(10))

    assert len(submissions.submit(any_ctx, actor("taro"), task_id, links=links).links) == 10


def test_submit_text_too_long(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)

    error = submit_error(any_ctx, task_id, text="あ" * 10_001)

    assert error.values["maximum"] == 10_000


def test_submit_after_deadline_rejected(any_ctx: ServiceContext, clock: SettableClock, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    clock.advance("31d")

    error = submit_error(any_ctx, task_id, text="遅れました")

    assert "has passed" in error.key
    assert versions(any_ctx, task_id) == []


def test_submit_brainstorm_rejected(any_ctx: ServiceContext, task_id: int) -> None:
    brainstorm = open_task(any_ctx, "brainstorm")

    error = submit_error(any_ctx, brainstorm, text="アイデア")

    assert "takes posts" in error.key
    assert count_rows(any_ctx, Submission) == 0


def test_submit_checks_eligibility_again(any_ctx: ServiceContext, task_id: int) -> None:
    paid_task = open_task(any_ctx, eligibility="paid")
    member(any_ctx, "hanako", paid=True)
    join(any_ctx, "hanako", paid_task)
    secretariat.set_membership(any_ctx, SECRETARIAT, "hanako", "free")

    with pytest.raises(UserError) as raised:
        submissions.submit(any_ctx, actor("hanako"), paid_task, text="報告書")

    assert "paid members only" in raised.value.key
    assert count_rows(any_ctx, Submission) == 0


def test_submission_list_new_version_awaits_evaluation(any_ctx: ServiceContext, task_id: int) -> None:
    join(any_ctx, "taro", task_id)
    submissions.submit(any_ctx, actor("taro"), task_id, text="初版")
    levels = {"logic": "1", "evidence": "1", "originality": "1", "feasibility": "1", "clarity": "1"}
    evaluations.evaluate(any_ctx, actor("acme"), task_id, "taro", levels=levels, advice="次に期待")
    submissions.submit(any_ctx, actor("taro"), task_id, text="改訂版")

    (row,) = submissions.list_submissions(any_ctx, actor("acme"), task_id).rows

    assert row.version == 2
    assert row.points is None
