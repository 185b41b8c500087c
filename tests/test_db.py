"""Engine set-up: SQLite runs in WAL mode with a busy timeout, and bad URLs are named."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Engine, text

from core.storage.db import SQLITE_BUSY_TIMEOUT_MS, create_db_engine


def test_sqlite_uses_wal(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_sqlite_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_sqlite_foreign_keys_on(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_transaction_takes_write_lock(sqlite_engine: Engine) -> None:
    # With BEGIN IMMEDIATE even a transaction that has only read holds the write lock. A second writer
    # therefore waits at BEGIN (this one gives up at once) instead of failing later on the upgrade.
    with sqlite_engine.connect() as first, first.begin():
        first.execute(text("SELECT 1"))
        other = sqlite3.connect(sqlite_engine.url.database or "", timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


@pytest.mark.parametrize(
    ("url", "message"), [("garbage", "invalid database URL"), ("mysql://u@h/db", "unsupported database")]
)
def test_bad_url_named(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_db_engine(url)
