"""Scheduled jobs: fire times in Japan time, one announcement per slot, catch-up, movement and chat changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.domain.errors import UserError
from core.domain.schedule import (
    Job,
    RankingTable,
    ScheduleError,
    fire_times,
    latest_slot,
    parse_cron,
    period_for,
)
from core.domain.text import TOKYO
from core.presentation.announcements import movement_mark
from core.presentation.i18n import Localizer
from core.services import evaluations, participation, preferences, submissions
from core.services.announcements import announcement_view
from core.services.context import ServiceContext
from core.services.schedules import (
    catch_up,
    change_schedule,
    load_schedules,
    reset_schedule,
    run_due,
    run_latest,
    run_schedule,
    schedule_infos,
)
from core.storage.models import OutboxMessage, Schedule, ScheduledRun
from tests.conftest import actor, make_settings
from tests.scenario import SECRETARIAT, count_rows, member, open_task, partner

CRITERIA = ("logic", "evidence", "originality", "feasibility", "clarity")
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)


def announcements(ctx: ServiceContext) -> list[OutboxMessage]:
    with ctx.transaction() as session:
        statement = select(OutboxMessage).where(OutboxMessage.kind == "ranking.announcement").order_by(OutboxMessage.id)
        return list(session.scalars(statement))


def runs(ctx: ServiceContext, schedule: str = "weekly") -> list[ScheduledRun]:
    with ctx.transaction() as session:
        statement = select(ScheduledRun).where(ScheduledRun.schedule == schedule).order_by(ScheduledRun.slot)
        return list(session.scalars(statement))


def score(ctx: ServiceContext, task_id: int, nickname: str, level: str) -> None:
    """Have ``nickname`` join, submit and be evaluated on ``task_id`` with every criterion at ``level``."""
    participation.join_task(ctx, actor(nickname), task_id)
    submissions.submit(ctx, actor(nickname), task_id, text="成果物です")
    evaluations.evaluate(
        ctx, actor("acme"), task_id, nickname, levels=dict.fromkeys(CRITERIA, level), advice="よくできました"
    )


def rank_one(ctx: ServiceContext) -> None:
    """Give the ranking one evaluated member, since a period with no ranked member is not announced."""
    partner(ctx)
    member(ctx, "hanako")
    score(ctx, open_task(ctx), "hanako", "3")


# --- fire times ------------------------------------------------------------------------------------------


def test_weekly_rule_fires_monday_nine_tokyo() -> None:
    trigger = parse_cron("0 9 * * mon")

    times = list(fire_times(trigger, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC)))

    assert times == [datetime(2026, 12, 7, 0, 0, tzinfo=UTC), datetime(2026, 12, 14, 0, 0, tzinfo=UTC)]
    assert all(moment.astimezone(TOKYO).hour == 9 for moment in times)


def test_monthly_rule_fires_first_nine_tokyo() -> None:
    trigger = parse_cron("0 9 1 * *")

    times = list(fire_times(trigger, datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 2, 28, tzinfo=UTC)))

    assert [moment.astimezone(TOKYO).date().isoformat() for moment in times] == [
        "2027-01-01",
        "2027-02-01",
    ]
    assert times[0] == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


FIRE_TIME_SCRIPT = """
import json, time
from datetime import datetime, UTC
from core.domain.schedule import fire_times, parse_cron
from apscheduler.schedulers.background import BackgroundScheduler
start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)
weekly = [t.isoformat() for t in fire_times(parse_cron("0 9 * * mon"), start, end)]
monthly = [t.isoformat() for t in fire_times(parse_cron("0 9 1 * *"), start, end)]
scheduler = BackgroundScheduler()
job = scheduler.add_job(print, parse_cron("0 9 * * mon"))
scheduler.start(paused=True)
next_run = job.next_run_time.isoformat()
scheduler.shutdown(wait=False)
print(json.dumps({"tz": time.tzname[0], "weekly": weekly, "monthly": monthly, "next_run": next_run}))
"""


@pytest.mark.parametrize("host_zone", ["UTC", "America/New_York"])
def test_fire_times_ignore_host_zone(host_zone: str) -> None:
    environment = {**os.environ, "TZ": host_zone}
    output = subprocess.run(
        [sys.executable, "-c", FIRE_TIME_SCRIPT], env=environment, capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(output)

    assert result["tz"] in ("UTC", "EST")
    assert result["weekly"][:2] == ["2026-12-07T00:00:00+00:00", "2026-12-14T00:00:00+00:00"]
    assert result["monthly"] == ["2027-01-01T00:00:00+00:00"]
    # APScheduler's own next run time of the job is Monday 09:00 Japan time, whatever the host's zone.
    assert datetime.fromisoformat(result["next_run"]).astimezone(TOKYO).strftime("%a %H:%M") == "Mon 09:00"


def test_latest_slot_finds_previous_fire() -> None:
    trigger = parse_cron("0 9 * * mon")

    assert latest_slot(trigger, MONDAY_9 + timedelta(hours=3)) == MONDAY_9.astimezone(UTC)
    assert latest_slot(trigger, MONDAY_9) == MONDAY_9.astimezone(UTC)
    assert latest_slot(trigger, MONDAY_9 - timedelta(minutes=1)) == (MONDAY_9 - timedelta(days=7)).astimezone(UTC)


def test_latest_slot_of_yearly_rule() -> None:
    assert latest_slot(parse_cron("0 9 1 1 *"), MONDAY_9) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("rule", ["0 25 * * *", "0 9 * *", "every monday", "0 9 * * funday", ""])
def test_parse_cron_rejects_bad_rule(rule: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_cron(rule)

    assert raised.value.value == rule


def test_parse_cron_rejects_bad_zone() -> None:
    with pytest.raises(ScheduleError, match="Mars/Olympus"):
        parse_cron("0 9 * * mon", "Mars/Olympus")


def test_period_for_tables() -> None:
    first = datetime(2027, 1, 1, 9, 0, tzinfo=TOKYO)

    assert period_for(RankingTable.ALL, first) == "all"
    assert period_for(RankingTable.SEASON, first) == "2027-01"
    assert period_for(RankingTable.PREVIOUS_SEASON, first) == "2026-12"


# --- exactly once ---------------------------------------------------------------------------------------


def test_default_schedules_stored(ctx: ServiceContext) -> None:
    names = {schedule.name: schedule.job for schedule in load_schedules(ctx)}

    assert names == {
        "weekly": Job.RANKING,
        "monthly": Job.RANKING,
        "deadline-reminders": Job.DEADLINE_REMINDERS,
        "evaluation-reminders": Job.EVALUATION_REMINDERS,
    }


def test_run_schedule_once_per_slot(any_ctx: ServiceContext) -> None:
    rank_one(any_ctx)
    first = run_schedule(any_ctx, "weekly", MONDAY_9.astimezone(UTC))
    second = run_schedule(any_ctx, "weekly", MONDAY_9.astimezone(UTC))

    assert first.ran
    assert not second.ran
    assert len(runs(any_ctx)) == 1
    assert [row.delivery_key for row in announcements(any_ctx)] == [
        "announce:weekly:20261207T0000:console:local:#announcements"
    ]


def test_job_run_twice_by_hand(any_ctx: ServiceContext, clock: SettableClock) -> None:
    rank_one(any_ctx)
    clock.set(MONDAY_9 + timedelta(hours=5))

    first = run_latest(any_ctx, "weekly")
    second = run_latest(any_ctx, "weekly")

    assert first.ran
    assert not second.ran
    assert first.slot == MONDAY_9.astimezone(UTC)
    assert len(announcements(any_ctx)) == 1


def test_restart_inside_period_posts_once(any_ctx: ServiceContext, clock: SettableClock) -> None:
    rank_one(any_ctx)
    clock.set(MONDAY_9 + timedelta(minutes=1))
    run_latest(any_ctx, "weekly")

    clock.set(MONDAY_9 + timedelta(hours=1))
    restarted = catch_up(any_ctx)

    assert not any(result.ran for result in restarted if result.schedule == "weekly")
    assert len(announcements(any_ctx)) == 1


def test_parallel_runs_post_once(any_ctx: ServiceContext) -> None:
    rank_one(any_ctx)
    slot = MONDAY_9.astimezone(UTC)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(run_schedule(any_ctx, "weekly", slot).ran)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert len(announcements(any_ctx)) == 1


@pytest.mark.postgres
def test_two_processes_post_once(postgres_engine: Engine, clock: SettableClock) -> None:
    """Two `smarter-bot jobs run weekly` processes at once on PostgreSQL: one announces, the other finds it done."""
    rank_one(build_context(make_settings(), clock=clock, engine=postgres_engine, migrate=False))
    assert isinstance(postgres_engine, Engine)
    with postgres_engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    url = postgres_engine.url.set(query={"options": f"-csearch_path={schema}"})
    environment = {
        **os.environ,
        "TZ": "UTC",
        "SMARTER_DATABASE_URL": url.render_as_string(hide_password=False),
        # The processes read the system clock, so the all-time table makes the ranked member show whatever the date.
        "SMARTER_SCHEDULES": '{"weekly": {"job": "ranking", "cron": "0 9 * * mon", "table": "all"}}',
    }
    command = [sys.executable, "-m", "bots.cli", "jobs", "run", "weekly"]

    processes = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert all(process.returncode == 0 for process in processes)
    assert sorted("already ran" in output for output in outputs) == [False, True]
    with postgres_engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "ranking.announcement")
        ).scalar_one()
    assert count == 1


# --- catch-up --------------------------------------------------------------------------------------------


def test_catch_up_after_downtime(any_ctx: ServiceContext, clock: SettableClock) -> None:
    rank_one(any_ctx)
    clock.set(MONDAY_9 + timedelta(hours=2))

    results = catch_up(any_ctx)
    again = catch_up(any_ctx)

    weekly = [result for result in results if result.schedule == "weekly"]
    assert [result.ran for result in weekly] == [True]
    assert weekly[0].slot == MONDAY_9.astimezone(UTC)
    assert not any(result.ran for result in again if result.schedule == "weekly")
    assert len(announcements(any_ctx)) == 1


def test_no_catch_up_outside_window(any_ctx: ServiceContext, clock: SettableClock) -> None:
    clock.set(MONDAY_9 + any_ctx.policy.catch_up_window + timedelta(minutes=1))

    results = catch_up(any_ctx)

    assert not any(result.schedule == "weekly" for result in results)
    assert announcements(any_ctx) == []


def test_catch_up_announces_latest_only(ctx: ServiceContext, clock: SettableClock) -> None:
    """Down for three weeks: only the latest missed Monday is announced, once."""
    clock.set(MONDAY_9 + timedelta(weeks=2, hours=1))

    catch_up(ctx)

    assert [run.slot for run in runs(ctx)] == [(MONDAY_9 + timedelta(weeks=2)).astimezone(UTC)]


def test_run_due_runs_each_slot_in_order(ctx: ServiceContext) -> None:
    results = list(run_due(ctx, MONDAY_9 - timedelta(minutes=1), MONDAY_9 + timedelta(weeks=1)))

    weekly = [result.slot for result in results if result.schedule == "weekly"]
    assert weekly == [MONDAY_9.astimezone(UTC), (MONDAY_9 + timedelta(weeks=1)).astimezone(UTC)]
    assert [result.slot for result in results] == sorted(result.slot for result in results)


def test_paused_schedule_not_run(ctx: ServiceContext) -> None:
    change_schedule(ctx, SECRETARIAT, "weekly", enabled=False)

    results = list(run_due(ctx, MONDAY_9 - timedelta(minutes=1), MONDAY_9 + timedelta(minutes=1)))

    assert not any(result.schedule == "weekly" for result in results)


# --- announcement content --------------------------------------------------------------------------------


def test_announcement_movement_arrows(ctx: ServiceContext, clock: SettableClock) -> None:
    partner(ctx)
    for name in ("hanako", "taro", "jiro"):
        member(ctx, name)
    first_task = open_task(ctx)
    score(ctx, first_task, "hanako", "3")
    score(ctx, first_task, "taro", "2")
    run_schedule(ctx, "weekly", MONDAY_9.astimezone(UTC))
    second_task = open_task(ctx, title="second task")
    score(ctx, second_task, "taro", "4")
    # jiro ties hanako, and hanako keeps the higher place because she reached the score first.
    score(ctx, second_task, "jiro", "3")
    later = (MONDAY_9 + timedelta(weeks=1)).astimezone(UTC)
    run_schedule(ctx, "weekly", later)

    with ctx.transaction() as session:
        first = announcement_view(session, "weekly", MONDAY_9.astimezone(UTC))
        second = announcement_view(session, "weekly", later)
    loc = Localizer("ja")
    marks = {str(row.nickname): movement_mark(loc, row, second.compared) for row in second.rows}

    assert not first.compared
    assert all(movement_mark(loc, row, first.compared) == "" for row in first.rows)
    assert [str(row.nickname) for row in second.rows] == ["taro", "hanako", "jiro"]
    assert marks == {"taro": "▲1", "hanako": "▼1", "jiro": "NEW"}


def test_empty_period_not_announced(ctx: ServiceContext) -> None:
    result = run_schedule(ctx, "weekly", MONDAY_9.astimezone(UTC))

    assert result.ran
    assert [run.period for run in runs(ctx)] == ["2026-12"]
    assert announcements(ctx) == []


def test_announcement_leaves_out_opted_out(ctx: ServiceContext) -> None:
    partner(ctx)
    member(ctx, "hanako")
    member(ctx, "taro")
    task_id = open_task(ctx)
    score(ctx, task_id, "hanako", "4")
    score(ctx, task_id, "taro", "3")
    preferences.set_ranking_visibility(ctx, actor("hanako"), "off")

    run_schedule(ctx, "weekly", MONDAY_9.astimezone(UTC))

    with ctx.transaction() as session:
        view = announcement_view(session, "weekly", MONDAY_9.astimezone(UTC))
    assert [(row.rank, str(row.nickname)) for row in view.rows] == [(1, "taro")]


def test_announcement_shows_season(ctx: ServiceContext, clock: SettableClock) -> None:
    partner(ctx)
    member(ctx, "hanako")
    task_id = open_task(ctx)
    score(ctx, task_id, "hanako", "4")

    run_schedule(ctx, "weekly", MONDAY_9.astimezone(UTC))
    run_schedule(ctx, "monthly", datetime(2027, 1, 1, 9, 0, tzinfo=TOKYO).astimezone(UTC))
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO))
    run_schedule(ctx, "weekly", datetime(2027, 1, 4, 9, 0, tzinfo=TOKYO).astimezone(UTC))

    periods = {(run.schedule, run.period, len(run.entries)) for run in runs(ctx) + runs(ctx, "monthly")}
    assert periods == {("weekly", "2026-12", 1), ("monthly", "2026-12", 1), ("weekly", "2027-01", 0)}


def test_announcement_to_schedule_channel(ctx: ServiceContext) -> None:
    rank_one(ctx)
    change_schedule(ctx, SECRETARIAT, "weekly", channel="#ranking")

    run_schedule(ctx, "weekly", MONDAY_9.astimezone(UTC))

    [row] = announcements(ctx)
    assert row.payload["target"] == "console:local:#ranking"
    assert row.platform == "console"


# --- changes from chat -----------------------------------------------------------------------------------


def test_change_cron_from_chat(ctx: ServiceContext) -> None:
    info = change_schedule(ctx, SECRETARIAT, "weekly", cron="30 17 * * fri")

    assert info.cron == "30 17 * * fri"
    assert info.changed_by == SECRETARIAT.ref
    assert info.next_fire is not None
    assert info.next_fire.astimezone(TOKYO).strftime("%a %H:%M") == "Fri 17:30"


def test_chat_change_survives_settings_sync(ctx: ServiceContext) -> None:
    from bots.wiring import schedule_specs
    from core.services.schedules import sync_schedules
    from tests.conftest import make_settings

    change_schedule(ctx, SECRETARIAT, "weekly", cron="30 17 * * fri")
    sync_schedules(ctx, schedule_specs(make_settings()))

    stored = {schedule.name: schedule.cron for schedule in load_schedules(ctx)}
    assert stored["weekly"] == "30 17 * * fri"
    assert stored["monthly"] == "0 9 1 * *"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"cron": "0 25 * * *"}, "0 25 * * *"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"table": "weekly"}, "weekly"),
        ({"channel": "#two words"}, "#two words"),
    ],
)
def test_bad_schedule_change_rejected(ctx: ServiceContext, change: dict[str, str], fragment: str) -> None:
    with pytest.raises(UserError) as raised:
        change_schedule(ctx, SECRETARIAT, "weekly", **change)

    assert str(raised.value.values["value"]) == fragment
    with ctx.transaction() as session:
        stored = session.get_one(Schedule, "weekly")
        assert (stored.cron, stored.timezone, stored.changed_by) == ("0 9 * * mon", "Asia/Tokyo", None)


def test_schedule_change_needs_secretariat(ctx: ServiceContext) -> None:
    member(ctx, "hanako")

    with pytest.raises(UserError) as raised:
        change_schedule(ctx, actor("hanako"), "weekly", cron="0 10 * * mon")

    assert raised.value.key == "Only the secretariat can do this."


def test_unknown_schedule_lists_names(ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        change_schedule(ctx, SECRETARIAT, "daily", cron="0 10 * * *")

    assert "weekly" in raised.value.values["names"]


def test_table_only_for_rankings(ctx: ServiceContext) -> None:
    with pytest.raises(UserError):
        change_schedule(ctx, SECRETARIAT, "deadline-reminders", table="all")


def test_schedule_infos_next_fire(ctx: ServiceContext) -> None:
    infos = {info.name: info for info in schedule_infos(ctx)}

    assert infos["weekly"].next_fire == MONDAY_9.astimezone(UTC)
    assert infos["monthly"].next_fire == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert infos["weekly"].last_run is None


def test_schedule_counts_unchanged_on_rejected(ctx: ServiceContext) -> None:
    before = count_rows(ctx, Schedule)

    with pytest.raises(UserError):
        change_schedule(ctx, SECRETARIAT, "weekly", cron="bad")

    assert count_rows(ctx, Schedule) == before


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [("0", "Sun"), ("7", "Sun"), ("1", "Mon"), ("6", "Sat"), ("sun", "Sun"), ("月", "Mon"), ("金曜日", "Fri")],
)
def test_weekday_counts_from_sunday(weekday: str, expected: str) -> None:
    trigger = parse_cron(f"0 9 * * {weekday}")

    moments = list(fire_times(trigger, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)))

    assert {moment.astimezone(TOKYO).strftime("%a") for moment in moments} == {expected}


def test_weekday_range_and_step() -> None:
    sunday_start = datetime(2026, 12, 6, 0, 0, tzinfo=TOKYO)
    saturday_end = datetime(2026, 12, 12, 23, 0, tzinfo=TOKYO)

    weekdays = list(fire_times(parse_cron("0 9 * * 1-5"), sunday_start, saturday_end))
    every_other = list(fire_times(parse_cron("0 9 * * */2"), sunday_start, saturday_end))

    assert [moment.astimezone(TOKYO).strftime("%a") for moment in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert [moment.astimezone(TOKYO).strftime("%a") for moment in every_other] == ["Sun", "Tue", "Thu", "Sat"]


def test_reset_schedule_follows_settings(ctx: ServiceContext) -> None:
    change_schedule(ctx, SECRETARIAT, "weekly", cron="30 17 * * fri", channel="#ranking")

    info = reset_schedule(ctx, SECRETARIAT, "weekly")

    assert (info.cron, info.channel, info.changed_by) == ("0 9 * * mon", None, None)


def test_movement_skips_empty_announcement(ctx: ServiceContext, clock: SettableClock) -> None:
    partner(ctx)
    member(ctx, "hanako")
    member(ctx, "taro")
    task_id = open_task(ctx)
    score(ctx, task_id, "hanako", "3")
    first = MONDAY_9.astimezone(UTC)
    run_schedule(ctx, "weekly", first)
    with ctx.transaction() as session:
        session.add(ScheduledRun(schedule="monthly", slot=first + timedelta(days=1), ran_at=first, period="2026-12"))
    score(ctx, task_id, "taro", "4")
    later = first + timedelta(weeks=1)
    run_schedule(ctx, "weekly", later)

    with ctx.transaction() as session:
        view = announcement_view(session, "weekly", later)
    marks = {str(row.nickname): movement_mark(Localizer("en"), row, view.compared) for row in view.rows}

    assert marks == {"taro": "NEW", "hanako": "▼1"}


def test_caught_up_announcement_as_of_run(ctx: ServiceContext, clock: SettableClock) -> None:
    rank_one(ctx)
    clock.set(MONDAY_9 + timedelta(hours=2))

    catch_up(ctx)

    with ctx.transaction() as session:
        view = announcement_view(session, "weekly", MONDAY_9.astimezone(UTC))
    assert view.as_of == (MONDAY_9 + timedelta(hours=2)).astimezone(UTC)


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ("0 9 31 2 *", "The cron rule {value} never runs (there is no such day). Check the day and the month."),
        (
            "0 9 1-7 * mon",
            "The cron rule {value} gives both a day of the month and a weekday. Give only one of them and * for "
            "the other, like 0 9 1 * * or 0 9 * * mon.",
        ),
    ],
)
def test_cron_rule_problem_named(ctx: ServiceContext, rule: str, key: str) -> None:
    with pytest.raises(UserError) as raised:
        change_schedule(ctx, SECRETARIAT, "weekly", cron=rule)

    assert raised.value.key == key
    assert str(raised.value.values["value"]) == rule


def test_timezone_any_letter_case(ctx: ServiceContext) -> None:
    info = change_schedule(ctx, SECRETARIAT, "weekly", timezone="europe/paris")

    assert info.timezone == "Europe/Paris"
