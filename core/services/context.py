"""The context every use case receives: the acting person, the clock, settings, rubrics and transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.domain.rubric import Rubric
from core.domain.schedule import ScheduleSpec
from core.domain.scoring import RankingPrior

__all__ = ["Actor", "Clock", "Policy", "ServiceContext", "SystemClock"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The chat account acting: platform, workspace and user id, with the locale the platform reports."""

    platform: str
    workspace: str
    user_id: str
    locale: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.user_id}"


class Clock:
    """Source of the current time; transcripts and tests set it, the bot uses the system clock."""

    def now(self) -> datetime:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    """Service rules taken from configuration."""

    secretariat: frozenset[str] = frozenset()
    default_locale: str = "ja"
    default_rubric: str = "business-planning"
    requests_per_partner_per_day: int = 10
    request_expiry_days: int = 14
    ranking_prior: RankingPrior = field(default_factory=RankingPrior)
    ranking_size: int = 10
    ranking_max_size: int = 200
    min_grade: int = 1
    max_grade: int = 10
    # Ranking announcements go to these channels (platform:workspace:channel) unless a schedule names one.
    announcement_channels: tuple[str, ...] = ("console:local:#announcements",)
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    catch_up_window: timedelta = timedelta(hours=6)
    # The schedules as the settings define them, which ``admin schedule reset`` goes back to.
    schedules: tuple[ScheduleSpec, ...] = ()


@dataclass(slots=True)
class ServiceContext:
    session_factory: sessionmaker[Session]
    rubrics: dict[str, Rubric]
    clock: Clock = field(default_factory=SystemClock)
    policy: Policy = field(default_factory=Policy)

    def now(self) -> datetime:
        return self.clock.now()

    def is_secretariat(self, actor: Actor) -> bool:
        return actor.ref in self.policy.secretariat

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session and a transaction: commit when the block ends, roll back if it raises."""
        with self.session_factory() as session, session.begin():
            yield session
