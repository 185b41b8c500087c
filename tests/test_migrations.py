"""Alembic migrations: they build the schema the models describe, and downgrade cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from core.storage.migrate import alembic_config, pending_revision
from core.storage.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_migrations_at_head(engine: Engine) -> None:
    assert pending_revision(engine) is None


def test_downgrade_removes_tables(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")

    assert pending_revision(engine) is not None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
