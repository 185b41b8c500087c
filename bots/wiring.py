"""Build the service context (database, rubrics, policy, schedules) and adapter settings from the settings."""

from __future__ import annotations

import logging

from pydantic import SecretStr
from sqlalchemy import Engine

from adapters.email.smtp import SmtpConfig
from adapters.slack.config import SlackConfig
from bots.settings import Settings
from core.domain.rubric import load_rubrics
from core.domain.schedule import ScheduleSpec
from core.domain.scoring import RankingPrior
from core.domain.text import parse_duration
from core.services.context import Clock, Policy, ServiceContext, SystemClock
from core.services.schedules import sync_schedules
from core.storage.db import create_db_engine, create_session_factory, is_sqlite
from core.storage.migrate import pending_revision, upgrade

__all__ = ["build_context", "policy_from", "schedule_specs", "slack_config", "smtp_config"]

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
        announcement_channels=tuple(settings.announcement_channels),
        reminder_offsets=tuple(sorted(parse_duration(offset) for offset in settings.reminder_offsets)),
        catch_up_window=parse_duration(settings.catch_up_window),
        schedules=tuple(schedule_specs(settings)),
    )


def schedule_specs(settings: Settings) -> list[ScheduleSpec]:
    return [
        ScheduleSpec(
            name=name,
            job=setting.job,
            cron=setting.cron,
            timezone=setting.timezone,
            table=setting.table,
            size=setting.size,
            channel=setting.channel,
            enabled=setting.enabled,
        )
        for name, setting in settings.schedules.items()
    ]


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """Return the SMTP settings, or None when no SMTP host is set and e-mail is off."""
    if not settings.smtp_host or not settings.mail_from:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout_seconds=settings.smtp_timeout_seconds,
        sender_address=settings.mail_from,
        sender_name=settings.mail_from_name,
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
    ctx = ServiceContext(
        session_factory=create_session_factory(engine),
        rubrics=rubrics,
        clock=clock or SystemClock(),
        policy=policy_from(settings),
    )
    sync_schedules(ctx, schedule_specs(settings))
    return ctx


def slack_config(settings: Settings) -> SlackConfig | None:
    """Return the Slack settings, or None when no Slack credentials are set and the adapter stays off."""
    if not settings.slack_enabled:
        return None

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    return SlackConfig(
        signing_secret=secret(settings.slack_signing_secret),
        bot_token=secret(settings.slack_bot_token),
        app_token=secret(settings.slack_app_token),
        client_id=settings.slack_client_id,
        client_secret=secret(settings.slack_client_secret),
        command=settings.slack_command,
        brainstorm_channel=settings.slack_brainstorm_channel,
        api_url=settings.slack_api_url,
        rate_limit_retries=settings.slack_rate_limit_retries,
        work_concurrency=settings.slack_work_concurrency,
        http_host=settings.slack_http_host,
        http_port=settings.slack_http_port,
    )
