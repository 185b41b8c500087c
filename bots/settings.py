"""Configuration from config/settings.toml, overridden by SMARTER_* environment variables and .env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["CONFIG_DIR", "Settings"]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


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

    @field_validator("secretariat", mode="before")
    @classmethod
    def _split_accounts(cls, value: object) -> object:
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
