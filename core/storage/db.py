"""Engine and session factories: SQLite (WAL, busy timeout, immediate transactions) or PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["create_db_engine", "create_session_factory", "is_sqlite"]

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
URL_HINT = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/database"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_db_engine(url: str, **options: Any) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    Raises ValueError naming the URL (password hidden) when it is malformed or names another database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"invalid database URL {url!r}: {error}; {URL_HINT}") from error
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        safe_url = parsed.render_as_string(hide_password=True)
        raise ValueError(f"unsupported database {safe_url!r}; {URL_HINT}")
    if not is_sqlite(url):
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        return create_engine(url, **options)

    database = url.split("///", 1)[1] if "///" in url else ""
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # NOTE: pysqlite starts transactions lazily and as DEFERRED, so two writers that both read first
    # fail with "database is locked" instead of waiting. Taking the write lock at BEGIN lets the busy
    # timeout queue them; the SQLAlchemy docs ("Serializable isolation / Savepoints / Transactional
    # DDL") describe this recipe.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: replies are built inside the session, but a result object read after
    # commit must keep its loaded values instead of lazily reloading from a closed session.
    return sessionmaker(engine, expire_on_commit=False)
