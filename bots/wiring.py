"""Build the service context (database, rubrics, policy) from settings."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from bots.settings import Settings
from core.domain.rubric import load_rubrics
from core.domain.scoring import RankingPrior
from core.services.context import Clock, Policy, ServiceContext, SystemClock
from core.storage.db import create_db_engine, create_session_factory, is_sqlite
from core.storage.migrate import pending_revision, upgrade

__all__ = ["build_context", "policy_from"]

logger = logging.getLogger(__name__)


def policy_from(settings: Settings) -> Policy:
    return Policy(
        secretariat=frozenset(settings.secretariat),
        default_locale=settings.default_locale,
        default_rubric=settings.default_rubric,
        requests_per_partner_per_day=settings.requests_per_partner_per_day,
        request_expiry_days=settings.request_expiry_days,
        ranking_prior=RankingPrior(
            settings.ranking_prior_mean, settings.ranking_prior_weight, settings.ranking_min_evaluations
        ),
        ranking_size=settings.ranking_size,
        min_grade=settings.min_grade,
        max_grade=settings.max_grade,
    )


def build_context(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None, migrate: bool | None = None
) -> ServiceContext:
    """Create the engine and context; SQLite databases are upgraded to the latest schema on start."""
    engine = engine or create_db_engine(settings.database_url)
    if migrate if migrate is not None else is_sqlite(settings.database_url):
        upgrade(engine)
    elif (head := pending_revision(engine)) is not None:
        raise ValueError(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not at schema revision {head}; "
            "run `smarter-bot db upgrade` first"
        )
    rubrics = load_rubrics(settings.rubrics_dir)
    if settings.default_rubric not in rubrics:
        raise ValueError(
            f"default_rubric {settings.default_rubric!r} is not in {settings.rubrics_dir}: found {sorted(rubrics)}"
        )
    return ServiceContext(
        session_factory=create_session_factory(engine),
        rubrics=rubrics,
        clock=clock or SystemClock(),
        policy=policy_from(settings),
    )
