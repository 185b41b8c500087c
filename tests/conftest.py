"""Shared fixtures: a real SQLite file and the real PostgreSQL, a settable clock, actors and helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from adapters.console.session import SettableClock
from bots.settings import CONFIG_DIR, Settings
from bots.wiring import build_context
from core.domain.text import TOKYO
from core.services.context import Actor, ServiceContext
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade

POSTGRES_URL = os.environ.get("SMARTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# CI sets SMARTER_REQUIRE_POSTGRES=1 so that an unreachable server fails the run instead of skipping.
REQUIRE_POSTGRES = os.environ.get("SMARTER_REQUIRE_POSTGRES") == "1"


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as error:
        kind = type(error.orig).__name__
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({kind}); set SMARTER_TEST_POSTGRES_URL"
    return None


_POSTGRES_SKIP: list[str | None] = []


def postgres_unavailable() -> str | None:
    """Return why PostgreSQL tests cannot run here, or None; checked once per session."""
    if not _POSTGRES_SKIP:
        _POSTGRES_SKIP.append(_postgres_reason())
    return _POSTGRES_SKIP[0]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'smarter-bot.db'}"


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """An engine on a fresh schema of the PostgreSQL test database, upgraded to the latest migration."""
    reason = postgres_unavailable()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_db_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on a SQLite file and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> SettableClock:
    clock = SettableClock()
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO))
    return clock


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"secretariat": ["console:local:secretariat"], "rubrics_dir": CONFIG_DIR / "rubrics"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def ctx(sqlite_engine: Engine, clock: SettableClock) -> ServiceContext:
    """A service context on a migrated SQLite file; the clock starts at 2026-12-01 10:00 Japan time."""
    return build_context(make_settings(), clock=clock, engine=sqlite_engine, migrate=False)


@pytest.fixture
def any_ctx(engine: Engine, clock: SettableClock) -> ServiceContext:
    """A service context on SQLite and on PostgreSQL (parametrized through ``engine``)."""
    return build_context(make_settings(), clock=clock, engine=engine, migrate=False)


def actor(user: str, locale: str | None = None) -> Actor:
    """The console account ``user``; ``secretariat`` is the configured secretariat account."""
    return Actor("console", "local", user, locale)
