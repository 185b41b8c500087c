"""Configuration from config/settings.toml, overridden by SMARTER_* environment variables and .env."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.domain.schedule import DEFAULT_TIMEZONE, Job, RankingTable, ScheduleError, parse_cron, parse_timezone
from core.domain.text import parse_duration

__all__ = ["CONFIG_DIR", "ScheduleSetting", "Settings"]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
SCHEDULE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
CHANNEL_REF = re.compile(r"[^:\s]+:[^:\s]+:\S+")


class ScheduleSetting(BaseModel):
    """One scheduled job as configured: what it does and its cron rule (minute hour day month weekday)."""

    model_config = ConfigDict(extra="forbid")

    job: Job
    cron: str
    timezone: str = DEFAULT_TIMEZONE
    # Ranking announcements: which table and how many members (ranking_size if omitted).
    table: RankingTable | None = None
    size: int | None = Field(default=None, ge=1, le=200)
    # platform:workspace:channel; the announcement_channels if omitted.
    channel: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _check_rule(self) -> ScheduleSetting:
        try:
            parse_timezone(self.timezone)
            parse_cron(self.cron, self.timezone)
        except ScheduleError as error:
            raise ValueError(str(error)) from error
        if self.job != Job.RANKING and (self.table, self.size, self.channel) != (None, None, None):
            raise ValueError(f"table, size and channel apply to ranking schedules only, not to {self.job}")
        if self.job == Job.RANKING and self.table is None:
            self.table = RankingTable.SEASON
        if self.channel is not None and not CHANNEL_REF.fullmatch(self.channel):
            raise ValueError(f"schedule channel {self.channel!r} must be platform:workspace:channel")
        return self


def _default_schedules() -> dict[str, ScheduleSetting]:
    return {
        "weekly": ScheduleSetting(job=Job.RANKING, cron="0 9 * * mon", table=RankingTable.SEASON),
        "monthly": ScheduleSetting(job=Job.RANKING, cron="0 9 1 * *", table=RankingTable.PREVIOUS_SEASON),
        "deadline-reminders": ScheduleSetting(job=Job.DEADLINE_REMINDERS, cron="*/5 * * * *"),
        "evaluation-reminders": ScheduleSetting(job=Job.EVALUATION_REMINDERS, cron="0 10 * * *"),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMARTER_", env_file=".env", extra="ignore", toml_file=CONFIG_DIR / "settings.toml"
    )

    database_url: str = "sqlite:///smarter-bot.db"
    default_locale: str = "ja"
    # From the environment as a comma-separated list: SMARTER_SECRETARIAT=slack:T01:U02,console:local:ops
    secretariat: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rubrics_dir: Path = CONFIG_DIR / "rubrics"
    default_rubric: str = "business-planning"
    requests_per_partner_per_day: int = Field(default=10, ge=1)
    request_expiry_days: int = Field(default=14, ge=1)
    ranking_prior_mean: float = Field(default=60.0, ge=0, le=100)
    ranking_prior_weight: float = Field(default=3.0, gt=0)
    ranking_min_evaluations: int = Field(default=1, ge=1)
    ranking_size: int = Field(default=10, ge=1, le=200)
    min_grade: int = 1
    max_grade: int = 10

    schedules: dict[str, ScheduleSetting] = Field(default_factory=_default_schedules)
    # Where ranking announcements go, as platform:workspace:channel (comma-separated in the environment).
    announcement_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["console:local:#announcements"]
    )
    # Deadline reminders go this long before a task's deadline to participants who have not submitted.
    reminder_offsets: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["24h", "1h"])
    # A run missed while the bot was down is made up on start if its slot is at most this old.
    catch_up_window: str = "6h"
    # APScheduler runs a job at most this many seconds after its fire time; later ones wait for catch-up.
    misfire_grace_seconds: int = Field(default=600, ge=1)
    # A standby process tries to take over the scheduler this often (seconds).
    leader_poll_seconds: float = Field(default=10.0, gt=0)

    # E-mail copies of participation requests; no e-mail is sent while smtp_host is empty.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str | None = None
    mail_from_name: str = "SMARTER×SMARTER"

    # Slack. The bot starts on Slack in three cases. A bot token and a signing secret serve one workspace over
    # HTTP. An app-level token as well selects Socket Mode, which needs no public URL. An OAuth client id and
    # secret make the app installable in several workspaces. Set the secrets in the environment.
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    # Where Slack sends events, slash commands and interactions in HTTP mode, and where it listens.
    slack_http_host: str = "0.0.0.0"
    slack_http_port: int = Field(default=3000, ge=1, le=65535)
    # The slash command as registered in the app manifest.
    slack_command: str = "/smarter"
    # Channel (name or id) where brainstorm sessions open as threads; the bot must be a member.
    slack_brainstorm_channel: str = "brainstorm"
    # Slack's Web API; tests point it at a local fake.
    slack_api_url: str = "https://slack.com/api/"
    # How many times a Slack call that was rate limited (HTTP 429) is retried after Retry-After.
    slack_rate_limit_retries: int = Field(default=3, ge=0, le=10)
    # How many Slack requests do their work after the ack at the same time in one process; the rest queue.
    slack_work_concurrency: int = Field(default=2, ge=1, le=64)

    @field_validator("secretariat", "announcement_channels", "reminder_offsets", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Read a comma-separated list, or a JSON list as pydantic-settings writes lists elsewhere."""
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("secretariat")
    @classmethod
    def _account_format(cls, value: list[str]) -> list[str]:
        for account in value:
            if account.count(":") != 2 or not all(account.split(":")):
                raise ValueError(f"secretariat account {account!r} must be platform:workspace:user")
        return value

    @field_validator("announcement_channels")
    @classmethod
    def _channel_format(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("announcement_channels must name at least one channel, as platform:workspace:channel")
        for channel in value:
            if not CHANNEL_REF.fullmatch(channel):
                raise ValueError(f"announcement channel {channel!r} must be platform:workspace:channel")
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _durations(cls, value: list[str]) -> list[str]:
        for offset in value:
            parse_duration(offset)
        return value

    @field_validator("catch_up_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("schedules")
    @classmethod
    def _schedule_names(cls, value: dict[str, ScheduleSetting]) -> dict[str, ScheduleSetting]:
        for name in value:
            if not SCHEDULE_NAME.fullmatch(name):
                raise ValueError(f"schedule name {name!r} must be 1-32 lowercase letters, digits, - or _")
        return value

    @field_validator("smtp_host", "smtp_username", "mail_from", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _mail_sender(self) -> Settings:
        if self.smtp_host and not self.mail_from:
            raise ValueError("mail_from must be set when smtp_host is set (the From address of e-mails)")
        return self

    @field_validator("slack_command")
    @classmethod
    def _slash_command(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", value):
            raise ValueError(
                f"slack_command must be a slash and up to 31 lowercase letters, digits, - or _, like /smarter; "
                f"got {value!r}"
            )
        return value

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_client_id", mode="before")
    @classmethod
    def _empty_client_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _slack_credentials(self) -> Settings:
        oauth = self.slack_client_id is not None or self.slack_client_secret is not None
        if oauth and (self.slack_client_id is None or self.slack_client_secret is None):
            raise ValueError("slack_client_id and slack_client_secret must be set together (OAuth installation)")
        if oauth and self.slack_signing_secret is None:
            raise ValueError("slack_signing_secret must be set for OAuth installation (HTTP mode)")
        if self.slack_app_token is not None and self.slack_bot_token is None:
            raise ValueError("slack_app_token (Socket Mode) needs slack_bot_token too")
        if self.slack_app_token is not None and not self.slack_app_token.get_secret_value().startswith("xapp-"):
            raise ValueError("slack_app_token must be an app-level token, starting with xapp-")
        if self.slack_bot_token is not None and not self.slack_bot_token.get_secret_value().startswith("xoxb-"):
            raise ValueError("slack_bot_token must be a bot token, starting with xoxb-")
        if self.slack_bot_token is not None and self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "slack_signing_secret must be set with slack_bot_token in HTTP mode (or set slack_app_token for "
                "Socket Mode)"
            )
        return self

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None or self.slack_client_id is not None

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("ja", "en"):
            raise ValueError(f"default_locale must be ja or en, not {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls))
