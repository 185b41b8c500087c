"""Contest standings and their freeze, a member's ranking and e-mail preferences, and the commands for both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.commands.dispatch import CommandRunner
from core.domain.enums import TaskStatus
from core.domain.errors import UserError
from core.domain.text import TOKYO
from core.services import (
    evaluations,
    participation,
    preferences,
    rankings,
    registration,
    requests,
    submissions,
    tasks,
)
from core.services.context import Actor, ServiceContext
from core.services.standings import Standings, contest_standings, set_freeze
from core.storage.models import FrozenStandings, Person
from tests.conftest import actor, make_settings
from tests.scenario import SECRETARIAT, count_rows, member, open_task, outbox_keys, partner
from tests.test_concurrency import run_together, unexpected

ALL_MAX = {"logic": "4", "evidence": "4", "originality": "4", "feasibility": "4", "clarity": "4"}
ALL_MIN = {"logic": "1", "evidence": "1", "originality": "1", "feasibility": "1", "clarity": "1"}
# logic carries weight 3 of 12, so this scores 25.00.
QUARTER = {**ALL_MIN, "logic": "4"}
FREEZE_TEXT = "2026/12/20 18:00"
FREEZE = datetime(2026, 12, 20, 18, 0, tzinfo=TOKYO)
AFTER_FREEZE = datetime(2026, 12, 21, 9, 0, tzinfo=TOKYO)
PARTNER = actor("acme")


def join_and_submit(ctx: ServiceContext, task_id: int, *users: str) -> None:
    """Join ``task_id`` and submit as each of ``users``."""
    for user in users:
        participation.join_task(ctx, actor(user), task_id)
        submissions.submit(ctx, actor(user), task_id, text=f"{user} の事業計画")


def evaluate(ctx: ServiceContext, task_id: int, user: str, levels: dict[str, str]) -> None:
    evaluations.evaluate(ctx, PARTNER, task_id, user, levels=levels, advice="根拠をもう少し")


def standing_rows(standings: Standings) -> list[tuple[int, str, float]]:
    return [(row.rank, str(row.nickname), row.score) for row in standings.rows]


def freeze_error(ctx: ServiceContext, by: Actor, task_id: int, when: str = FREEZE_TEXT) -> UserError:
    with pytest.raises(UserError) as raised:
        set_freeze(ctx, by, task_id, when)
    return raised.value


@pytest.fixture
def contest(any_ctx: ServiceContext) -> int:
    """Return a contest of acme closing 2026/12/31 23:59 with submissions of taro and hanako but not jiro."""
    partner(any_ctx)
    partner(any_ctx, "globex")
    for user in ("taro", "hanako", "jiro"):
        member(any_ctx, user)
    task_id = open_task(any_ctx, "contest")
    join_and_submit(any_ctx, task_id, "taro", "hanako")
    return task_id


@pytest.fixture
def frozen(any_ctx: ServiceContext, clock: SettableClock, contest: int) -> int:
    """Return the contest with taro scored 25 before the freeze at 2026/12/20 18:00, and hanako scored 100 after it."""
    evaluate(any_ctx, contest, "taro", QUARTER)
    set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT)
    clock.set(AFTER_FREEZE)
    evaluate(any_ctx, contest, "hanako", ALL_MAX)
    return contest


def test_set_freeze_by_partner(any_ctx: ServiceContext, contest: int) -> None:
    result = set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT)

    assert result.freeze_at == FREEZE
    assert contest_standings(any_ctx, PARTNER, contest).freeze_at == FREEZE


def test_set_freeze_by_member_rejected(any_ctx: ServiceContext, contest: int) -> None:
    freeze_error(any_ctx, actor("taro"), contest)

    assert contest_standings(any_ctx, PARTNER, contest).freeze_at is None


def test_set_freeze_by_other_partner_rejected(any_ctx: ServiceContext, contest: int) -> None:
    error = freeze_error(any_ctx, actor("globex"), contest)

    assert "another partner" in error.key
    assert contest_standings(any_ctx, PARTNER, contest).freeze_at is None


def test_set_freeze_practice_task_rejected(any_ctx: ServiceContext, contest: int) -> None:
    practice = open_task(any_ctx)

    error = freeze_error(any_ctx, PARTNER, practice)

    assert "not a contest" in error.key
    assert error.values["task_id"] == practice


@pytest.mark.parametrize("when", ["2026/11/30 18:00", "2026/12/01 10:00"])
def test_set_freeze_past_time_rejected(any_ctx: ServiceContext, contest: int, when: str) -> None:
    error = freeze_error(any_ctx, PARTNER, contest, when)

    assert "already passed" in error.key
    assert contest_standings(any_ctx, PARTNER, contest).freeze_at is None


def test_set_freeze_after_results_rejected(any_ctx: ServiceContext, contest: int) -> None:
    tasks.change_task_status(any_ctx, PARTNER, contest, TaskStatus.CLOSED)
    tasks.change_task_status(any_ctx, PARTNER, contest, TaskStatus.EVALUATED)

    error = freeze_error(any_ctx, PARTNER, contest)

    assert error.values["task_id"] == contest
    assert "before the results are published" in error.key


def test_set_freeze_closed_contest(any_ctx: ServiceContext, contest: int) -> None:
    tasks.change_task_status(any_ctx, PARTNER, contest, TaskStatus.CLOSED)

    assert set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT).freeze_at == FREEZE


@pytest.mark.parametrize("word", ["off", "OFF", "解除"])
def test_set_freeze_off_clears(any_ctx: ServiceContext, contest: int, word: str) -> None:
    set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT)

    result = set_freeze(any_ctx, PARTNER, contest, word)

    assert result.freeze_at is None
    assert contest_standings(any_ctx, PARTNER, contest).freeze_at is None


def test_standings_before_freeze_live(any_ctx: ServiceContext, contest: int) -> None:
    evaluate(any_ctx, contest, "taro", QUARTER)
    evaluate(any_ctx, contest, "hanako", ALL_MAX)
    set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT)

    seen = contest_standings(any_ctx, actor("jiro"), contest)

    assert standing_rows(seen) == [(1, "hanako", 100.0), (2, "taro", 25.0)]
    assert seen.freeze_at == FREEZE
    assert seen.frozen_at is None
    assert seen.live_during_freeze is False


def test_standings_practice_task_rejected(any_ctx: ServiceContext, contest: int) -> None:
    practice = open_task(any_ctx)

    with pytest.raises(UserError) as raised:
        contest_standings(any_ctx, actor("jiro"), practice)

    assert raised.value.values["task_id"] == practice


@pytest.mark.parametrize("viewer", ["taro", "hanako", "jiro"])
def test_standings_frozen_for_members(any_ctx: ServiceContext, frozen: int, viewer: str) -> None:
    seen = contest_standings(any_ctx, actor(viewer), frozen)

    assert standing_rows(seen) == [(1, "taro", 25.0)]
    assert seen.frozen_at == FREEZE
    assert seen.live_during_freeze is False


@pytest.mark.parametrize("viewer", [PARTNER, SECRETARIAT], ids=["partner", "secretariat"])
def test_standings_live_for_privileged(any_ctx: ServiceContext, frozen: int, viewer: Actor) -> None:
    seen = contest_standings(any_ctx, viewer, frozen)

    assert standing_rows(seen) == [(1, "hanako", 100.0), (2, "taro", 25.0)]
    assert seen.frozen_at is None
    assert seen.live_during_freeze is True


def test_standings_frozen_without_new_evaluation(any_ctx: ServiceContext, clock: SettableClock, contest: int) -> None:
    evaluate(any_ctx, contest, "taro", QUARTER)
    set_freeze(any_ctx, PARTNER, contest, FREEZE_TEXT)
    clock.set(AFTER_FREEZE)

    seen = contest_standings(any_ctx, actor("jiro"), contest)

    assert standing_rows(seen) == [(1, "taro", 25.0)]
    assert seen.frozen_at == FREEZE


def test_standings_keeps_old_score_on_reevaluation(any_ctx: ServiceContext, clock: SettableClock, frozen: int) -> None:
    clock.advance("2h")
    evaluate(any_ctx, frozen, "taro", ALL_MAX)

    assert standing_rows(contest_standings(any_ctx, actor("jiro"), frozen)) == [(1, "taro", 25.0)]
    assert standing_rows(contest_standings(any_ctx, PARTNER, frozen)) == [(1, "hanako", 100.0), (2, "taro", 100.0)]


def test_standings_after_results_live(any_ctx: ServiceContext, frozen: int) -> None:
    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.CLOSED)

    assert standing_rows(contest_standings(any_ctx, actor("jiro"), frozen)) == [(1, "taro", 25.0)]

    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.EVALUATED)
    seen = contest_standings(any_ctx, actor("jiro"), frozen)

    assert standing_rows(seen) == [(1, "hanako", 100.0), (2, "taro", 25.0)]
    assert seen.frozen_at is None
    assert seen.live_during_freeze is False


def test_standings_kept_once(any_ctx: ServiceContext, clock: SettableClock, frozen: int) -> None:
    clock.advance("2h")
    evaluate(any_ctx, frozen, "taro", ALL_MAX)

    assert count_rows(any_ctx, FrozenStandings) == 1


def test_set_freeze_later_drops_kept(any_ctx: ServiceContext, clock: SettableClock, frozen: int) -> None:
    set_freeze(any_ctx, PARTNER, frozen, "2026/12/25 18:00")

    assert count_rows(any_ctx, FrozenStandings) == 0
    assert standing_rows(contest_standings(any_ctx, actor("jiro"), frozen)) == [(1, "hanako", 100.0), (2, "taro", 25.0)]

    clock.set(datetime(2026, 12, 26, 9, 0, tzinfo=TOKYO))
    evaluate(any_ctx, frozen, "taro", ALL_MAX)
    seen = contest_standings(any_ctx, actor("jiro"), frozen)

    assert standing_rows(seen) == [(1, "hanako", 100.0), (2, "taro", 25.0)]
    assert seen.frozen_at == datetime(2026, 12, 25, 18, 0, tzinfo=TOKYO)


def test_set_freeze_off_shows_live(any_ctx: ServiceContext, frozen: int) -> None:
    set_freeze(any_ctx, PARTNER, frozen, "off")

    seen = contest_standings(any_ctx, actor("jiro"), frozen)

    assert standing_rows(seen) == [(1, "hanako", 100.0), (2, "taro", 25.0)]
    assert seen.frozen_at is None


@pytest.fixture
def postgres_ctx(postgres_engine: Engine, clock: SettableClock) -> ServiceContext:
    """A context on PostgreSQL only, where evaluations in threads really run at the same time."""
    return build_context(make_settings(), clock=clock, engine=postgres_engine, migrate=False)


@pytest.mark.postgres
def test_concurrent_evaluations_after_freeze(postgres_ctx: ServiceContext, clock: SettableClock) -> None:
    ctx = postgres_ctx
    partner(ctx)
    for user in ("taro", "hanako", "jiro"):
        member(ctx, user)
    contests = [open_task(ctx, "contest") for _ in range(5)]
    for task_id in contests:
        join_and_submit(ctx, task_id, "taro", "hanako", "jiro")
        evaluate(ctx, task_id, "taro", QUARTER)
        set_freeze(ctx, PARTNER, task_id, FREEZE_TEXT)
    clock.set(AFTER_FREEZE)

    for task_id in contests:
        calls: list[Callable[[], object]] = [
            lambda task_id=task_id, user=user: evaluations.evaluate(
                ctx, PARTNER, task_id, user, levels=ALL_MAX, advice="良い計画です"
            )
            for user in ("hanako", "jiro")
        ]
        outcomes = run_together(calls)

        assert unexpected(outcomes) == []
        assert all(isinstance(outcome, evaluations.EvaluationView) for outcome in outcomes)
        assert standing_rows(contest_standings(ctx, actor("taro"), task_id)) == [(1, "taro", 25.0)]
    assert count_rows(ctx, FrozenStandings) == len(contests)


def ranking_names(table: rankings.RankingTable) -> list[tuple[int, str]]:
    return [(row.rank, str(row.nickname)) for row in table.rows]


@pytest.fixture
def ranked(any_ctx: ServiceContext) -> ServiceContext:
    """Rank taro (70.00), hanako (51.25) and jiro (45.00) in the all-time ranking, then opt hanako out of it."""
    partner(any_ctx)
    for user in ("taro", "hanako", "jiro"):
        member(any_ctx, user)
    task_id = open_task(any_ctx)
    join_and_submit(any_ctx, task_id, "taro", "hanako", "jiro")
    for user, levels in (("taro", ALL_MAX), ("hanako", QUARTER), ("jiro", ALL_MIN)):
        evaluate(any_ctx, task_id, user, levels)
    preferences.set_ranking_visibility(any_ctx, actor("hanako"), "off")
    return any_ctx


@pytest.mark.parametrize("viewer", ["taro", "jiro", "acme"])
def test_ranking_off_hidden_from_others(ranked: ServiceContext, viewer: str) -> None:
    table = rankings.show_ranking(ranked, actor(viewer))

    assert ranking_names(table) == [(1, "taro"), (2, "jiro")]


def test_ranking_off_keeps_own_row(ranked: ServiceContext) -> None:
    table = rankings.show_ranking(ranked, actor("hanako"))

    assert ranking_names(table) == [(1, "taro"), (2, "jiro")]
    assert table.own is not None
    assert str(table.own.nickname) == "hanako"
    assert table.own.rank == 2
    assert table.own.score == 51.25


def test_ranking_off_own_rank_among_public(ranked: ServiceContext) -> None:
    preferences.set_ranking_visibility(ranked, actor("taro"), "off")

    table = rankings.show_ranking(ranked, actor("hanako"))

    assert ranking_names(table) == [(1, "jiro")]
    assert table.own is not None
    assert table.own.rank == 1


def test_ranking_off_others_own_rank(ranked: ServiceContext) -> None:
    own = rankings.show_ranking(ranked, actor("jiro")).own

    assert own is not None
    assert own.rank == 2


def test_ranking_off_secretariat_sees_all(ranked: ServiceContext) -> None:
    table = rankings.show_ranking(ranked, SECRETARIAT)

    assert ranking_names(table) == [(1, "taro"), (2, "hanako"), (3, "jiro")]


def test_ranking_on_again(ranked: ServiceContext) -> None:
    result = preferences.set_ranking_visibility(ranked, actor("hanako"), "on")

    assert result.enabled is True
    assert ranking_names(rankings.show_ranking(ranked, actor("jiro"))) == [(1, "taro"), (2, "hanako"), (3, "jiro")]


def test_ranking_visibility_invalid_rejected(ranked: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        preferences.set_ranking_visibility(ranked, actor("jiro"), "maybe")

    assert raised.value.values["value"] == "maybe"


def test_ranking_off_hidden_in_contest_standings(any_ctx: ServiceContext, contest: int) -> None:
    evaluate(any_ctx, contest, "taro", QUARTER)
    evaluate(any_ctx, contest, "hanako", ALL_MAX)
    preferences.set_ranking_visibility(any_ctx, actor("hanako"), "off")

    assert standing_rows(contest_standings(any_ctx, actor("jiro"), contest)) == [(1, "taro", 25.0)]
    assert standing_rows(contest_standings(any_ctx, actor("hanako"), contest)) == [
        (1, "hanako", 100.0),
        (2, "taro", 25.0),
    ]
    assert standing_rows(contest_standings(any_ctx, PARTNER, contest)) == [(1, "hanako", 100.0), (2, "taro", 25.0)]


def stored_email(ctx: ServiceContext, user: str) -> tuple[str | None, bool]:
    with ctx.transaction() as session:
        person = session.scalars(select(Person).where(Person.display_name == user)).one()
        return person.email, person.email_enabled


def email_error(ctx: ServiceContext, user: str, value: str) -> UserError:
    with pytest.raises(UserError) as raised:
        preferences.set_email(ctx, actor(user), value)
    return raised.value


@pytest.fixture
def email_members(any_ctx: ServiceContext) -> ServiceContext:
    """Register partner acme, member taro with the address taro@example.com and member hanako without one."""
    partner(any_ctx)
    registration.register_member(any_ctx, actor("taro"), nickname="taro", email="taro@example.com")
    member(any_ctx, "hanako")
    return any_ctx


def test_set_email_off(email_members: ServiceContext) -> None:
    result = preferences.set_email(email_members, actor("taro"), "off")

    assert result.enabled is False
    assert stored_email(email_members, "taro") == ("taro@example.com", False)


def test_set_email_on_again(email_members: ServiceContext) -> None:
    preferences.set_email(email_members, actor("taro"), "off")

    result = preferences.set_email(email_members, actor("taro"), "on")

    assert result.enabled is True
    assert result.email == "taro@example.com"
    assert stored_email(email_members, "taro") == ("taro@example.com", True)


def test_set_email_new_address(email_members: ServiceContext) -> None:
    preferences.set_email(email_members, actor("taro"), "off")

    result = preferences.set_email(email_members, actor("taro"), "taro.yamada@example.jp")

    assert result.enabled is True
    assert result.email == "taro.yamada@example.jp"
    assert stored_email(email_members, "taro") == ("taro.yamada@example.jp", True)


def test_set_email_on_without_address(email_members: ServiceContext) -> None:
    error = email_error(email_members, "hanako", "on")

    assert "no e-mail address" in error.key
    assert stored_email(email_members, "hanako") == (None, True)


@pytest.mark.parametrize("value", ["taro@", "taro.example.com", "taro@example", "a b@example.com"])
def test_set_email_invalid_address(email_members: ServiceContext, value: str) -> None:
    error = email_error(email_members, "taro", value)

    assert value in str(error)
    assert stored_email(email_members, "taro") == ("taro@example.com", True)


def test_set_email_too_long_rejected(email_members: ServiceContext) -> None:
    value = "a" * 250 + "@example.com"

    assert value in str(email_error(email_members, "taro", value))


def test_set_email_by_partner_rejected(email_members: ServiceContext) -> None:
    error = email_error(email_members, "acme", "off")

    assert "Only members" in error.key


def test_request_email_off_no_row(email_members: ServiceContext) -> None:
    task_id = open_task(email_members)
    preferences.set_email(email_members, actor("taro"), "off")

    requests.send_request(email_members, PARTNER, "taro", task_id)

    assert len(outbox_keys(email_members, "request.sent")) == 1
    assert outbox_keys(email_members, "request.email") == []


def test_request_email_on_writes_row(email_members: ServiceContext) -> None:
    task_id = open_task(email_members)
    preferences.set_email(email_members, actor("hanako"), "hanako@example.com")

    request = requests.send_request(email_members, PARTNER, "hanako", task_id)

    assert outbox_keys(email_members, "request.email") == [f"request:{request.id}:email"]


def test_request_email_off_by_command(email_members: ServiceContext) -> None:
    task_id = open_task(email_members)
    CommandRunner(email_members).run(actor("taro"), "/smarter me email off")

    requests.send_request(email_members, PARTNER, "taro", task_id)

    assert outbox_keys(email_members, "request.email") == []


@pytest.fixture
def scored_contest(any_ctx: ServiceContext, contest: int) -> int:
    """Return the contest with taro evaluated, so that its standings have a row."""
    evaluate(any_ctx, contest, "taro", QUARTER)
    return contest


COMMAND_CASES = [
    # (user, command, locale, fragments the reply must contain)
    ("jiro", "/smarter ranking T{task}", None, ["T{task}", "順位", "taro"]),
    ("jiro", "/smarter ranking T{task}", "en", ["Standings of contest T{task}", "taro", "25.00"]),
    ("acme", "/smarter task freeze T{task} 2026/12/20 18:00", None, ["順位表", "2026年12月20日"]),
    ("acme", "/smarter task freeze T{task} 2026/12/20 18:00", "en", ["2026-12-20", "standings of T{task}"]),
    ("acme", "/smarter task freeze T{task} off", None, ["凍結", "T{task}"]),
    ("acme", "/smarter task freeze T{task} off", "en", ["will not freeze", "T{task}"]),
    ("hanako", "/smarter me ranking off", None, ["公開ランキング"]),
    ("hanako", "/smarter me ranking off", "en", ["no longer appear in public rankings"]),
    ("hanako", "/smarter me email off", None, ["メール"]),
    ("hanako", "/smarter me email off", "en", ["no longer be e-mailed"]),
]


@pytest.mark.parametrize(
    ("user", "command", "locale", "fragments"),
    COMMAND_CASES,
    ids=[
        "ranking-ja",
        "ranking-en",
        "freeze-ja",
        "freeze-en",
        "freeze-off-ja",
        "freeze-off-en",
        "me-ranking-ja",
        "me-ranking-en",
        "me-email-ja",
        "me-email-en",
    ],
)
def test_command_reply(
    any_ctx: ServiceContext, scored_contest: int, user: str, command: str, locale: str | None, fragments: list[str]
) -> None:
    messages = CommandRunner(any_ctx).run(actor(user, locale), command.format(task=scored_contest))

    (message,) = messages
    assert message.error is False, message.text()
    assert message.locale == (locale or "ja")
    for fragment in fragments:
        assert fragment.format(task=scored_contest) in message.text()


def test_command_freeze_sets_time(any_ctx: ServiceContext, scored_contest: int) -> None:
    CommandRunner(any_ctx).run(PARTNER, f"/smarter task freeze T{scored_contest} 2026/12/20 18:00")

    assert contest_standings(any_ctx, PARTNER, scored_contest).freeze_at == FREEZE


def test_command_ranking_off_hides_member(any_ctx: ServiceContext, scored_contest: int) -> None:
    CommandRunner(any_ctx).run(actor("taro"), "/smarter me ranking off")

    assert standing_rows(contest_standings(any_ctx, actor("jiro"), scored_contest)) == []


def test_command_freeze_by_member_rejected(any_ctx: ServiceContext, scored_contest: int) -> None:
    (message,) = CommandRunner(any_ctx).run(
        actor("taro", "en"), f"/smarter task freeze T{scored_contest} 2026/12/20 18:00"
    )

    assert message.error is True
    assert contest_standings(any_ctx, PARTNER, scored_contest).freeze_at is None


def test_standings_top_limits_rows(any_ctx: ServiceContext, contest: int) -> None:
    evaluate(any_ctx, contest, "taro", ALL_MAX)
    evaluate(any_ctx, contest, "hanako", QUARTER)

    messages = CommandRunner(any_ctx).run(actor("jiro"), f"/smarter ranking T{contest} top=1")

    text = messages[0].text()
    assert not messages[0].error
    assert "taro" in text
    assert "hanako" not in text


def test_hidden_member_sees_note(any_ctx: ServiceContext, contest: int) -> None:
    evaluate(any_ctx, contest, "taro", ALL_MAX)
    preferences.set_ranking_visibility(any_ctx, actor("taro"), "off")

    messages = CommandRunner(any_ctx).run(actor("taro", "en"), "/smarter ranking")

    text = messages[0].text()
    assert "You are not shown in public rankings" in text
    assert "Your place: 1. taro" in text
    assert "No evaluations in this period yet." not in text


def member_ranking(ctx: ServiceContext, viewer: Actor) -> list[str]:
    return [str(row.nickname) for row in rankings.show_ranking(ctx, viewer).rows]


def rebuilt_equals_running(ctx: ServiceContext) -> bool:
    """Rebuild the totals in a rolled-back transaction and compare them with the running totals."""
    from core.storage.models import MemberScore

    def snapshot(session: object) -> set[tuple[str, int, int, int]]:
        rows = session.scalars(select(MemberScore))  # type: ignore[attr-defined]
        return {(row.period, row.member_id, row.evaluation_count, row.points_sum) for row in rows}

    with ctx.session_factory() as session, session.begin():
        running = snapshot(session)
        rankings.rebuild_rankings(session, ctx.policy.ranking_prior)
        rebuilt = snapshot(session)
        session.rollback()
    return running == rebuilt


def test_freeze_holds_back_member_ranking(any_ctx: ServiceContext, frozen: int) -> None:
    assert member_ranking(any_ctx, actor("jiro")) == ["taro"]
    assert rebuilt_equals_running(any_ctx)


def test_results_release_held_evaluations(any_ctx: ServiceContext, frozen: int) -> None:
    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.CLOSED)
    during_freeze = member_ranking(any_ctx, actor("jiro"))

    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.EVALUATED)

    assert during_freeze == ["taro"]
    assert member_ranking(any_ctx, actor("jiro")) == ["hanako", "taro"]
    assert rebuilt_equals_running(any_ctx)


def test_freeze_off_releases_evaluations(any_ctx: ServiceContext, frozen: int) -> None:
    set_freeze(any_ctx, PARTNER, frozen, "off")

    assert member_ranking(any_ctx, actor("jiro")) == ["hanako", "taro"]


def test_reevaluation_during_freeze_held(any_ctx: ServiceContext, frozen: int) -> None:
    evaluate(any_ctx, frozen, "taro", ALL_MAX)
    during = rankings.show_ranking(any_ctx, actor("jiro")).rows[0]

    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.CLOSED)
    tasks.change_task_status(any_ctx, PARTNER, frozen, TaskStatus.EVALUATED)
    after = {str(row.nickname): row for row in rankings.show_ranking(any_ctx, actor("jiro")).rows}

    assert (str(during.nickname), during.evaluation_count) == ("taro", 1)
    assert during.score == pytest.approx((3 * 60 + 25) / 4, abs=0.01)
    assert after["taro"].evaluation_count == 1
    assert after["taro"].score == pytest.approx((3 * 60 + 100) / 4, abs=0.01)
    assert rebuilt_equals_running(any_ctx)
