"""The home view: welcome, a member's ranking, tasks and evaluations, a partner's tasks and waiting work."""

from __future__ import annotations

import re

import pytest

from adapters.console.session import SettableClock
from core.domain.enums import NameDisplay, TaskStatus
from core.presentation.i18n import Localizer
from core.presentation.messages import Message, Visibility, plain
from core.presentation.replies import present, ranking_line
from core.services import evaluations, participation, preferences, rankings, registration, submissions, tasks
from core.services.context import ServiceContext
from core.services.home import HomeRole, HomeView, MemberHome, PartnerHome, home_view
from tests.conftest import actor
from tests.scenario import SECRETARIAT, member, open_task, partner

ALL_MAX = {"logic": "4", "evidence": "4", "originality": "4", "feasibility": "4", "clarity": "4"}
ALL_MIN = {"logic": "1", "evidence": "1", "originality": "1", "feasibility": "1", "clarity": "1"}
HIDDEN_COMPANY = "株式会社ヒミツ技研"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def join_and_submit(ctx: ServiceContext, task_id: int, *users: str) -> None:
    for user in users:
        participation.join_task(ctx, actor(user), task_id)
        submissions.submit(ctx, actor(user), task_id, text=f"{user} の調査結果")


def evaluate(
    ctx: ServiceContext, task_id: int, user: str, levels: dict[str, str], *, advice: str = "根拠をもう少し"
) -> None:
    evaluations.evaluate(ctx, actor("acme"), task_id, user, levels=levels, advice=advice)


def member_home(ctx: ServiceContext, user: str) -> MemberHome:
    view = home_view(ctx, actor(user))
    assert view.role == HomeRole.MEMBER
    assert view.member is not None
    return view.member


def partner_home(ctx: ServiceContext, user: str = "acme") -> PartnerHome:
    view = home_view(ctx, actor(user))
    assert view.role == HomeRole.PARTNER
    assert view.partner is not None
    return view.partner


def offered_ids(ctx: ServiceContext, user: str) -> list[int]:
    return [task.id for task in member_home(ctx, user).open_tasks]


def rendered(view: HomeView, locale: str = "en") -> str:
    return "\n".join(message.text() for message in present(view, Localizer(locale)))


def commands(messages: list[Message]) -> list[str]:
    return [action.command for message in messages for action in message.actions]


@pytest.fixture
def evaluated(any_ctx: ServiceContext) -> int:
    """Return the id of a practice task of acme where taro (all 4s) and hanako (all 1s) are evaluated."""
    partner(any_ctx)
    member(any_ctx, "taro")
    member(any_ctx, "hanako")
    task_id = open_task(any_ctx, title="市場調査")
    join_and_submit(any_ctx, task_id, "taro", "hanako")
    evaluate(any_ctx, task_id, "taro", ALL_MAX, advice="結論が明快です")
    evaluate(any_ctx, task_id, "hanako", ALL_MIN)
    return task_id


def test_home_unregistered_welcome(any_ctx: ServiceContext) -> None:
    view = home_view(any_ctx, actor("stranger"))
    messages = present(view, Localizer("en"))
    text = rendered(view)

    assert view.role is None
    assert view.profile is None
    assert len(messages) == 1
    assert "SMARTER×SMARTER is a community" in text
    assert "/smarter register member nickname=" in text
    assert "/smarter register partner company=" in text
    assert commands(messages) == ["/smarter register member nickname=", "/smarter register partner company="]


def test_home_secretariat_unregistered(any_ctx: ServiceContext) -> None:
    view = home_view(any_ctx, SECRETARIAT)
    text = rendered(view)

    assert view.role == HomeRole.SECRETARIAT
    assert view.secretariat is True
    assert "/smarter admin membership <member> <membership>" in text
    assert "/smarter admin grade <member> <grade>" in text
    assert "/smarter admin schedules" in text
    assert "register member" not in text


def test_home_member_profile(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, actor("taro"), nickname="taro", email="taro@example.com")
    member(any_ctx, "hanako", paid=True, grade=3)

    taro = home_view(any_ctx, actor("taro"))
    hanako = home_view(any_ctx, actor("hanako"))

    assert taro.profile is not None
    assert taro.profile.display_name == "taro"
    assert "E-mail: taro@example.com" in rendered(taro)
    assert "Membership: free" in rendered(taro)
    assert "Grade: none" in rendered(taro)
    assert "E-mail: not set" in rendered(hanako)
    assert "Membership: paid" in rendered(hanako)
    assert "Grade: 3" in rendered(hanako)


def test_home_member_not_ranked(any_ctx: ServiceContext) -> None:
    member(any_ctx, "taro")

    home = member_home(any_ctx, "taro")

    assert home.season.row is None
    assert home.all_time.row is None
    assert home.season.period == "2026-12"
    assert rendered(home_view(any_ctx, actor("taro"))).count("Not ranked yet") == 2


def test_home_rank_matches_show_ranking(any_ctx: ServiceContext, evaluated: int) -> None:
    for user, rank in (("taro", 1), ("hanako", 2)):
        home = member_home(any_ctx, user)
        all_time = rankings.show_ranking(any_ctx, actor(user)).own
        season = rankings.show_ranking(any_ctx, actor(user), period="month").own

        assert home.all_time.row == all_time
        assert home.season.row == season
        assert home.all_time.row is not None
        assert home.all_time.row.rank == rank


def test_home_rank_shown_in_text(any_ctx: ServiceContext, evaluated: int) -> None:
    own = rankings.show_ranking(any_ctx, actor("taro")).own
    assert own is not None

    text = rendered(home_view(any_ctx, actor("taro")))

    assert f"Ranking for 2026-12: 1. taro (M{own.member_id}) — {own.score:.2f} points, evaluations: 1" in text
    assert f"All-time ranking: 1. taro (M{own.member_id}) — {own.score:.2f} points" in text
    assert "Not ranked yet" not in text


def test_home_hidden_ranking_keeps_own_row(any_ctx: ServiceContext, evaluated: int) -> None:
    preferences.set_ranking_visibility(any_ctx, actor("taro"), "off")

    home = member_home(any_ctx, "hanako")
    own = member_home(any_ctx, "taro")

    assert home.all_time.row is not None
    assert home.all_time.row.rank == 1
    assert own.all_time.hidden is True
    assert own.all_time.row == rankings.show_ranking(any_ctx, actor("taro")).own
    assert "You are not shown in public rankings" in rendered(home_view(any_ctx, actor("taro")))
    assert "You are not shown in public rankings" not in rendered(home_view(any_ctx, actor("hanako")))


def test_home_latest_evaluation(any_ctx: ServiceContext, evaluated: int) -> None:
    home = member_home(any_ctx, "taro")
    text = rendered(home_view(any_ctx, actor("taro")))

    assert [summary.task.id for summary in home.evaluations] == [evaluated]
    assert home.evaluations[0].score == 100.0
    assert home.evaluations[0].advice == "結論が明快です"
    assert f"T{evaluated} 市場調査: 100.00 points" in text
    assert "Advice: 結論が明快です" in text
    assert f"/smarter evaluation T{evaluated}" in commands(present(home_view(any_ctx, actor("taro")), Localizer("en")))


def test_home_evaluations_latest_five(any_ctx: ServiceContext, clock: SettableClock) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    task_ids = [open_task(any_ctx, title=f"課題{index}") for index in range(6)]
    for task_id in task_ids:
        join_and_submit(any_ctx, task_id, "taro")
        evaluate(any_ctx, task_id, "taro", ALL_MAX)
        clock.advance("1h")

    home = member_home(any_ctx, "taro")

    assert [summary.task.id for summary in home.evaluations] == list(reversed(task_ids))[:5]


def test_home_long_advice_shortened(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    task_id = open_task(any_ctx)
    join_and_submit(any_ctx, task_id, "taro")
    evaluate(any_ctx, task_id, "taro", ALL_MAX, advice="とても良い。\n" + "あ" * 500)

    advice = member_home(any_ctx, "taro").evaluations[0].advice

    assert len(advice) == 200
    assert advice.startswith("とても良い。 あ")
    assert advice.endswith("…")


def test_home_free_member_no_paid_task(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    member(any_ctx, "hanako", paid=True)
    open_to_all = open_task(any_ctx)
    paid_only = open_task(any_ctx, eligibility="paid")

    assert offered_ids(any_ctx, "taro") == [open_to_all]
    assert offered_ids(any_ctx, "hanako") == [open_to_all, paid_only]


def test_home_grade_below_minimum(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro", paid=True, grade=2)
    member(any_ctx, "hanako", paid=True, grade=3)
    graded = open_task(any_ctx, eligibility="grade", min_grade=3)

    assert offered_ids(any_ctx, "taro") == []
    assert offered_ids(any_ctx, "hanako") == [graded]


def test_home_full_task_not_offered(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    member(any_ctx, "hanako")
    full = open_task(any_ctx, capacity=1)
    participation.join_task(any_ctx, actor("hanako"), full)

    assert offered_ids(any_ctx, "taro") == []
    assert "No open task is available to you right now" in rendered(home_view(any_ctx, actor("taro")))


def test_home_closed_task_not_offered(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    closed = open_task(any_ctx)
    tasks.change_task_status(any_ctx, actor("acme"), closed, TaskStatus.CLOSED)

    assert offered_ids(any_ctx, "taro") == []


def test_home_offers_nearest_deadline_first(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    by_deadline = {day: open_task(any_ctx, deadline=f"2026/12/{day}") for day in range(25, 13, -1)}

    offered = offered_ids(any_ctx, "taro")

    assert len(offered) == 10
    assert offered == [by_deadline[day] for day in range(14, 24)]


def test_home_offers_brainstorm_post(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    brainstorm = open_task(any_ctx, "brainstorm")

    messages = present(home_view(any_ctx, actor("taro")), Localizer("en"))

    assert offered_ids(any_ctx, "taro") == [brainstorm]
    assert f"/smarter post T{brainstorm} " in commands(messages)
    assert f"/smarter join T{brainstorm}" not in commands(messages)


def test_home_joined_until_submitted(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    task_id = open_task(any_ctx)
    participation.join_task(any_ctx, actor("taro"), task_id)

    joined = member_home(any_ctx, "taro")
    messages = present(home_view(any_ctx, actor("taro")), Localizer("en"))
    submissions.submit(any_ctx, actor("taro"), task_id, text="調査結果")
    submitted = member_home(any_ctx, "taro")

    assert [task.id for task in joined.joined_tasks] == [task_id]
    assert joined.open_tasks == ()
    assert f"/smarter submit T{task_id} " in commands(messages)
    assert submitted.joined_tasks == ()
    assert submitted.open_tasks == ()


def test_home_partner_waiting_not_evaluated(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    member(any_ctx, "hanako")
    task_id = open_task(any_ctx, title="市場調査")
    join_and_submit(any_ctx, task_id, "taro", "hanako")
    evaluate(any_ctx, task_id, "hanako", ALL_MAX)

    home = partner_home(any_ctx)
    messages = present(home_view(any_ctx, actor("acme")), Localizer("en"))
    text = "\n".join(message.text() for message in messages)

    assert [(row.task_id, str(row.member)) for row in home.waiting] == [(task_id, "taro")]
    assert home.waiting_total == 1
    assert f"T{task_id} 市場調査: taro (M" in text
    assert "hanako" not in text
    taro_id = home.waiting[0].member_id
    assert f"/smarter evaluate T{task_id} M{taro_id} " in commands(messages)


def test_home_partner_resubmission_waits(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    member(any_ctx, "taro")
    task_id = open_task(any_ctx)
    join_and_submit(any_ctx, task_id, "taro")
    evaluate(any_ctx, task_id, "taro", ALL_MAX)
    assert partner_home(any_ctx).waiting == ()

    submissions.submit(any_ctx, actor("taro"), task_id, text="改訂版")

    waiting = partner_home(any_ctx).waiting
    assert [(str(row.member), row.version) for row in waiting] == [("taro", 2)]


def test_home_partner_waiting_oldest_first(any_ctx: ServiceContext, clock: SettableClock) -> None:
    partner(any_ctx)
    users = [f"member{index}" for index in range(22)]
    for user in users:
        member(any_ctx, user)
    task_id = open_task(any_ctx)
    for user in reversed(users):
        join_and_submit(any_ctx, task_id, user)
        clock.advance("1m")

    home = partner_home(any_ctx)

    assert home.waiting_total == 22
    assert [str(row.member) for row in home.waiting] == list(reversed(users))[:20]
    assert "Showing the oldest 20 of 22 waiting submissions." in rendered(home_view(any_ctx, actor("acme")))


def test_home_partner_task_counts(any_ctx: ServiceContext, evaluated: int) -> None:
    member(any_ctx, "jiro")
    participation.join_task(any_ctx, actor("jiro"), evaluated)

    rows = partner_home(any_ctx).tasks

    assert [row.task.id for row in rows] == [evaluated]
    assert rows[0].task.participant_count == 3
    assert rows[0].submitters == 2
    assert rows[0].evaluated == 2
    text = rendered(home_view(any_ctx, actor("acme")))
    assert "open, deadline 2026-12-31 (Thu) 23:59 JST, participants: 3 (no limit), submitted: 2, evaluated: 2" in text


def test_home_partner_no_archived_tasks(any_ctx: ServiceContext) -> None:
    partner(any_ctx)
    active = open_task(any_ctx)
    archived = open_task(any_ctx)
    tasks.change_task_status(any_ctx, SECRETARIAT, archived, TaskStatus.ARCHIVED)

    home = partner_home(any_ctx)

    assert [row.task.id for row in home.tasks] == [active]
    assert home.task_total == 1


def test_home_partner_sees_own_hidden_name(any_ctx: ServiceContext) -> None:
    registration.register_partner(
        any_ctx,
        actor("acme"),
        company=HIDDEN_COMPANY,
        display=NameDisplay.INDUSTRY_PREFECTURE,
        industry="製造業",
        prefecture="大阪",
    )

    text = rendered(home_view(any_ctx, actor("acme")))

    assert f"Home: {HIDDEN_COMPANY}" in text
    assert "Shown to members as: Industry + prefecture: 製造業, 大阪府" in text


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_home_hides_company_from_member(any_ctx: ServiceContext, locale: str) -> None:
    registration.register_partner(
        any_ctx,
        actor("acme"),
        company=HIDDEN_COMPANY,
        display=NameDisplay.INDUSTRY_PREFECTURE,
        industry="製造業",
        prefecture="大阪",
    )
    member(any_ctx, "taro")
    evaluated_task = open_task(any_ctx)
    joined_task = open_task(any_ctx)
    offered_task = open_task(any_ctx)
    join_and_submit(any_ctx, evaluated_task, "taro")
    evaluate(any_ctx, evaluated_task, "taro", ALL_MAX)
    participation.join_task(any_ctx, actor("taro"), joined_task)

    view = home_view(any_ctx, actor("taro"))
    text = rendered(view, locale)

    assert view.member is not None
    assert [task.id for task in view.member.open_tasks] == [offered_task]
    assert [task.id for task in view.member.joined_tasks] == [joined_task]
    assert "ヒミツ" not in text
    assert "大阪府" in text


def test_home_messages_are_direct(any_ctx: ServiceContext, evaluated: int) -> None:
    for user in ("stranger", "taro", "acme", "secretariat"):
        messages = present(home_view(any_ctx, actor(user)), Localizer("en"))

        assert messages
        assert all(message.visibility == Visibility.DIRECT for message in messages)
        assert all(len(message.actions) <= 5 for message in messages)


def test_home_member_messages_in_order(any_ctx: ServiceContext, evaluated: int) -> None:
    messages = present(home_view(any_ctx, actor("taro")), Localizer("en"))

    titles = [message.text().splitlines()[0] for message in messages]
    assert titles == ["Home: taro", "Your ranking", "Tasks you can take part in now", "Your latest evaluations"]


def test_home_ja_rendering(any_ctx: ServiceContext, evaluated: int) -> None:
    own = rankings.show_ranking(any_ctx, actor("taro")).own
    assert own is not None
    ja = rendered(home_view(any_ctx, actor("taro")), "ja")
    en = rendered(home_view(any_ctx, actor("taro")), "en")
    loc = Localizer("ja")

    assert JAPANESE.search(loc("All-time ranking"))
    assert f"{loc('All-time ranking')}: {plain(ranking_line(loc, own))}" in ja
    assert f"{loc('Membership')}: {loc.gettext('free')}" in ja
    assert "2026年12月1日(火) 10:00" in ja
    assert "All-time ranking: 1. taro" in en
    assert "2026-12-01 (Tue) 10:00 JST" in en


def test_home_registered_secretariat(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, SECRETARIAT, nickname="office")

    view = home_view(any_ctx, SECRETARIAT)
    text = rendered(view)

    assert view.role == HomeRole.MEMBER
    assert view.secretariat is True
    assert "Home: office" in text
    assert "/smarter admin schedules" in text
