"""The APScheduler wiring and the scheduler lock: one process runs the jobs, another takes over when it dies."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from adapters.console.session import SettableClock
from bots.cli import main
from bots.leader import FileLock, PostgresAdvisoryLock, scheduler_lock
from bots.scheduler import JOB_PREFIX, SchedulerService
from bots.wiring import build_context
from core.domain.text import TOKYO
from core.services.context import ServiceContext
from core.services.schedules import change_schedule
from core.storage.db import create_db_engine
from core.storage.models import OutboxMessage, ScheduledRun
from tests.conftest import make_settings
from tests.scenario import SECRETARIAT
from tests.test_schedules import rank_one


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def services() -> Iterator[list[SchedulerService]]:
    """Scheduler services a test starts; each is stopped at the end."""
    started: list[SchedulerService] = []
    yield started
    for service in started:
        service.stop()


def start(services: list[SchedulerService], ctx: ServiceContext, engine: Engine, **options: object) -> SchedulerService:
    service = SchedulerService(ctx, scheduler_lock(engine), poll_seconds=0.2, **options)  # type: ignore[arg-type]
    service.start()
    services.append(service)
    return service


def job_ids(service: SchedulerService) -> set[str]:
    return {job.id for job in service.scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}


# --- locks -----------------------------------------------------------------------------------------------


def test_file_lock_single_holder(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "db.scheduler-lock"), FileLock(tmp_path / "db.scheduler-lock")

    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


@pytest.mark.postgres
def test_advisory_lock_single_holder(postgres_engine: Engine) -> None:
    other_engine = create_db_engine(postgres_engine.url.render_as_string(hide_password=False))
    first, second = PostgresAdvisoryLock(postgres_engine, key=4242), PostgresAdvisoryLock(other_engine, key=4242)

    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    assert second.holds()
    second.release()
    other_engine.dispose()


@pytest.mark.postgres
def test_advisory_lock_freed_when_connection_dies(postgres_engine: Engine) -> None:
    first, second = PostgresAdvisoryLock(postgres_engine, key=4343), PostgresAdvisoryLock(postgres_engine, key=4343)
    assert first.acquire()
    assert first._connection is not None
    backend = first._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    first._connection.commit()

    with postgres_engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        admin.commit()

    assert not first.holds()
    assert second.acquire()
    second.release()


# --- the scheduler service -------------------------------------------------------------------------------


def test_service_adds_job_per_schedule(ctx: ServiceContext, sqlite_engine: Engine, services: list) -> None:
    service = start(services, ctx, sqlite_engine)

    assert wait_until(lambda: len(job_ids(service)) == 4)
    weekly = service.scheduler.get_job(JOB_PREFIX + "weekly")
    assert weekly.coalesce is True
    assert weekly.max_instances == 1
    assert weekly.misfire_grace_time == 600
    assert str(weekly.trigger.timezone) == "Asia/Tokyo"
    assert weekly.func_ref == "bots.scheduler:run_job"


def test_job_state_is_picklable(ctx: ServiceContext, sqlite_engine: Engine, services: list) -> None:
    """What a persistent job store would save: a textual function reference and plain strings."""
    service = start(services, ctx, sqlite_engine)
    assert wait_until(lambda: len(job_ids(service)) == 4)

    for job in service.scheduler.get_jobs():
        state = job.__getstate__()
        restored = pickle.loads(pickle.dumps(state))
        assert restored["func"] in ("bots.scheduler:run_job", "bots.scheduler:tick")
        assert all(isinstance(argument, str) for argument in restored["args"])


def check_standby_takes_over(services: list, contexts: list[ServiceContext], engines: list[Engine]) -> None:
    """Start a leader and a standby on two engines; the standby adds no job until the leader stops."""
    leader = start(services, contexts[0], engines[0])
    assert wait_until(lambda: len(job_ids(leader)) == 4)
    standby = start(services, contexts[1], engines[1])
    time.sleep(0.6)
    assert job_ids(standby) == set()

    services.remove(leader)
    leader.stop()

    assert wait_until(lambda: len(job_ids(standby)) == 4)


def test_second_service_waits_then_takes_over(tmp_path: Path, services: list, clock: SettableClock) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [create_db_engine(url), create_db_engine(url)]
    contexts = [build_context(make_settings(database_url=url), clock=clock, engine=engine) for engine in engines]
    check_standby_takes_over(services, contexts, engines)


def test_service_follows_chat_changes(ctx: ServiceContext, sqlite_engine: Engine, services: list) -> None:
    service = start(services, ctx, sqlite_engine)
    assert wait_until(lambda: len(job_ids(service)) == 4)

    change_schedule(ctx, SECRETARIAT, "weekly", cron="30 17 * * fri")
    change_schedule(ctx, SECRETARIAT, "monthly", enabled=False)

    def updated() -> bool:
        job = service.scheduler.get_job(JOB_PREFIX + "weekly")
        return job is not None and "fri" in str(job.trigger) and JOB_PREFIX + "monthly" not in job_ids(service)

    assert wait_until(updated)
    next_run = service.scheduler.get_job(JOB_PREFIX + "weekly").next_run_time
    assert next_run.astimezone(TOKYO).strftime("%a %H:%M") == "Fri 17:30"


def test_service_catches_up_on_start(tmp_path: Path, services: list, clock: SettableClock) -> None:
    url = f"sqlite:///{tmp_path / 'down.db'}"
    engine = create_db_engine(url)
    ctx = build_context(make_settings(database_url=url), clock=clock, engine=engine)
    clock.set(datetime(2026, 12, 7, 10, 30, tzinfo=TOKYO))
    delivered: list[int] = []

    start(services, ctx, engine, after_run=lambda: delivered.append(1))

    def announced() -> bool:
        with ctx.transaction() as session:
            return session.get(ScheduledRun, ("weekly", datetime(2026, 12, 7, 0, 0, tzinfo=UTC))) is not None

    assert wait_until(announced)
    assert delivered


def test_service_run_writes_latest_slot(ctx: ServiceContext, sqlite_engine: Engine, services: list) -> None:
    clock = ctx.clock
    assert isinstance(clock, SettableClock)
    rank_one(ctx)
    clock.set(datetime(2026, 12, 14, 9, 0, 5, tzinfo=TOKYO))
    service = start(services, ctx, sqlite_engine)
    assert wait_until(lambda: len(job_ids(service)) == 4)

    service.run("weekly")
    service.run("weekly")

    with ctx.transaction() as session:
        slots = list(session.scalars(select(ScheduledRun.slot).where(ScheduledRun.schedule == "weekly")))
        posts = list(
            session.scalars(select(OutboxMessage.delivery_key).where(OutboxMessage.kind == "ranking.announcement"))
        )
    assert slots == [datetime(2026, 12, 14, 0, 0, tzinfo=UTC)]
    assert len(posts) == 1


def test_service_without_lock_runs_nothing(ctx: ServiceContext, sqlite_engine: Engine, tmp_path: Path) -> None:
    holder = scheduler_lock(sqlite_engine)
    assert holder.acquire()
    service = SchedulerService(ctx, scheduler_lock(sqlite_engine), poll_seconds=0.2)

    service.run("weekly")

    with ctx.transaction() as session:
        assert session.scalars(select(ScheduledRun)).first() is None
    holder.release()


# --- operator commands -----------------------------------------------------------------------------------


def test_jobs_list_shows_tokyo_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["jobs", "list", "--database", f"sqlite:///{tmp_path / 'jobs.db'}"])

    output = capsys.readouterr().out
    assert status == 0
    weekly = next(line for line in output.splitlines() if line.startswith("weekly"))
    assert "0 9 * * mon" in weekly
    assert "09:00 JST" in weekly


def test_jobs_run_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'jobs.db'}"

    first = main(["jobs", "run", "weekly", "--database", database])
    second = main(["jobs", "run", "weekly", "--database", database])

    output = capsys.readouterr().out.splitlines()
    assert (first, second) == (0, 0)
    assert "ran for" in output[0]
    assert "already ran for" in output[1]


def test_jobs_run_unknown_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["jobs", "run", "daily", "--database", f"sqlite:///{tmp_path / 'jobs.db'}"])

    assert status == 2
    assert "no schedule named 'daily'; known schedules: deadline-reminders" in capsys.readouterr().err


def test_bad_cron_in_settings_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTER_SCHEDULES", '{"weekly": {"job": "ranking", "cron": "0 9 * * funday"}}')

    status = main(["jobs", "list", "--database", f"sqlite:///{tmp_path / 'jobs.db'}"])

    assert status == 2
    assert "0 9 * * funday" in capsys.readouterr().err


@pytest.mark.postgres
def test_postgres_standby_takes_over(postgres_engine: Engine, services: list, clock: SettableClock) -> None:
    """Two processes' worth of engines on one PostgreSQL database: the standby gets the jobs when the leader ends."""
    url = postgres_engine.url.render_as_string(hide_password=False)
    options = {"options": f"-csearch_path={_schema(postgres_engine)}"}
    engines = [create_db_engine(url, connect_args=options), create_db_engine(url, connect_args=options)]
    contexts = [build_context(make_settings(), clock=clock, engine=engine, migrate=False) for engine in engines]
    check_standby_takes_over(services, contexts, engines)
    for engine in engines:
        engine.dispose()


def _schema(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT current_schema()")).scalar_one())


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("SMARTER_ANNOUNCEMENT_CHANNELS", "", "at least one channel"),
        ("SMARTER_SCHEDULES", '{"weekly": {"job": "ranking", "cron": "0 9 * * mon", "colour": "red"}}', "colour"),
        ("SMARTER_SCHEDULES", '{"nudge": {"job": "deadline_reminders", "cron": "0 9 * * *", "table": "all"}}', "only"),
        ("SMARTER_SCHEDULES", "not json", "JSON"),
    ],
)
def test_bad_schedule_settings_rejected(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    fragment: str,
) -> None:
    monkeypatch.setenv(variable, value)

    status = main(["jobs", "list", "--database", f"sqlite:///{tmp_path / 'jobs.db'}"])

    assert status == 2
    assert fragment in capsys.readouterr().err


def test_settings_error_hides_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMARTER_SMTP_PASSWORD", "hunter2secret")

    status = main(["jobs", "list", "--database", f"sqlite:///{tmp_path / 'jobs.db'}"])

    error = capsys.readouterr().err
    assert status == 2
    assert "mail_from must be set" in error
    assert "hunter2secret" not in error
