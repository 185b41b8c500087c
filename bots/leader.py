"""The scheduler lock: only the process holding it runs scheduled jobs; another takes over when it dies."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from core.storage.db import is_sqlite

__all__ = ["FileLock", "PostgresAdvisoryLock", "SchedulerLock", "scheduler_lock"]

logger = logging.getLogger(__name__)

# pg_advisory_lock takes a signed 64-bit key; this one is derived from a fixed name so every process agrees.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"smarter-bot scheduler").digest()[:8], "big", signed=True)


class SchedulerLock(Protocol):
    def acquire(self) -> bool:
        """Try to take the lock without waiting; return True if this process holds it now."""

    def holds(self) -> bool:
        """Return True if this process still holds the lock (its database connection is alive)."""

    def release(self) -> None: ...


class PostgresAdvisoryLock:
    """A session-level advisory lock on a dedicated connection.

    PostgreSQL releases the lock when that connection ends, so a process that dies or loses its
    connection gives the scheduler up, and a standby process gets the lock on its next try.
    """

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._connection: Connection | None = None
        # The leader check and the jobs run in different threads, and a Connection is not thread-safe.
        self._guard = threading.RLock()

    def acquire(self) -> bool:
        with self._guard:
            return self._acquire()

    def holds(self) -> bool:
        with self._guard:
            return self._holds()

    def release(self) -> None:
        with self._guard:
            self._release()

    def _acquire(self) -> bool:
        if self._holds():
            return True
        try:
            connection = self.engine.connect()
            acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one()
            connection.commit()
        except DBAPIError as error:
            logger.warning("cannot try the scheduler lock: %s", error.orig)
            return False
        if not acquired:
            connection.close()
            return False
        self._connection = connection
        logger.info("scheduler lock taken (pid %d)", os.getpid())
        return True

    def _holds(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1")).scalar_one()
            self._connection.commit()
        except DBAPIError as error:
            logger.error("scheduler lock lost with its database connection: %s", error.orig)
            self._drop()
            return False
        return True

    def _release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._connection.commit()
        except DBAPIError as error:
            logger.warning("scheduler lock release failed (the server drops it with the connection): %s", error.orig)
        self._drop()
        logger.info("scheduler lock released")

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except DBAPIError:
                logger.debug("closing a broken scheduler lock connection failed", exc_info=True)
            self._connection = None


class FileLock:
    """An exclusive ``flock`` on a file beside the SQLite database; the kernel releases it when the process ends.

    NOTE: this guards one host only, which is all SQLite supports anyway.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        logger.info("scheduler lock %s taken (pid %d)", self.path, os.getpid())
        return True

    def holds(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
            logger.info("scheduler lock %s released", self.path)


def scheduler_lock(engine: Engine) -> SchedulerLock:
    """Return the lock for the engine's database: an advisory lock on PostgreSQL, a lock file for SQLite."""
    url = engine.url
    if is_sqlite(url.render_as_string(hide_password=False)):
        database = url.database or ""
        path = Path(f"{database}.scheduler-lock") if database and database != ":memory:" else None
        if path is None:
            raise ValueError("the scheduler needs a database file; an in-memory SQLite database cannot be shared")
        return FileLock(path)
    return PostgresAdvisoryLock(engine)
