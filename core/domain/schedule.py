"""Cron rules of scheduled jobs: parsing in a named time zone, fire times, slots and the period a run covers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

from core.domain.scoring import ALL_TIME, month_period

__all__ = [
    "DEFAULT_TIMEZONE",
    "Job",
    "RankingTable",
    "ScheduleError",
    "ScheduleSpec",
    "fire_times",
    "latest_slot",
    "parse_cron",
    "parse_timezone",
    "period_for",
]

DEFAULT_TIMEZONE = "Asia/Tokyo"
CRONTAB_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
JAPANESE_WEEKDAYS = {"月": "mon", "火": "tue", "水": "wed", "木": "thu", "金": "fri", "土": "sat", "日": "sun"}
# A rule with no fire time in this span (such as 0 9 31 2 *) is rejected as one that never fires.
NEVER_HORIZON = timedelta(days=366 * 8)
# How far back latest_slot looks for the previous fire time: a yearly rule still has one.
LOOKBACK = timedelta(days=400)


class Job(StrEnum):
    """The action a schedule runs when it fires."""

    RANKING = "ranking"
    DEADLINE_REMINDERS = "deadline_reminders"
    EVALUATION_REMINDERS = "evaluation_reminders"


class RankingTable(StrEnum):
    """The ranking an announcement shows: all time, the current month (season) or the month that just ended."""

    ALL = "all"
    SEASON = "season"
    PREVIOUS_SEASON = "previous_season"


class ScheduleError(ValueError):
    """Raised when a cron rule or a time zone cannot be used; ``value`` is the text that was given.

    ``reason`` is ``invalid`` (does not parse), ``never`` (parses but never fires) or ``day_and_weekday``.
    """

    def __init__(self, message: str, value: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.value = value
        self.reason = reason


@cache
def _zone_names() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


def parse_timezone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name``, also when it is typed in other letter case (asia/tokyo)."""
    spelled = _zone_names().get(name.strip().lower(), name)
    try:
        return ZoneInfo(spelled)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown time zone {name!r}; use an IANA name such as Asia/Tokyo", name) from error


def _weekday_names(field: str) -> str:
    """Rewrite a crontab weekday field with day names, which APScheduler reads the crontab way.

    APScheduler counts weekday numbers from Monday (0 = Monday), while crontab counts from Sunday
    (0 or 7 = Sunday), so numbers, numeric ranges and ``*/2`` are expanded into names here. Japanese
    names (月, 月曜, 月曜日 …) become ``mon`` and so on.
    """
    field = re.sub(r"([月火水木金土日])(?:曜日?)?", lambda match: JAPANESE_WEEKDAYS[match.group(1)], field)
    names: list[str] = []
    for part in field.split(","):
        match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
        if match is None:
            names.append(part)  # a name or a name range, which APScheduler reads as crontab does
            continue
        start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
        if start == "*" and step == 1:
            return "*"
        if start == "*":
            first, last = 0, 6
        else:
            first = int(start)
            last = int(end) if end is not None else first
        if not (0 <= first <= 7 and 0 <= last <= 7 and step >= 1):
            names.append(part)  # out of range: APScheduler raises the error with the value
            continue
        names.extend(CRONTAB_WEEKDAYS[day % 7] for day in range(first, last + 1, step))
    return ",".join(dict.fromkeys(names))


def parse_cron(expression: str, timezone: str = DEFAULT_TIMEZONE) -> CronTrigger:
    """Parse a five-field crontab rule (minute hour day month weekday) into a trigger in ``timezone``.

    Weekdays follow crontab: 0 or 7 is Sunday, and names such as ``mon`` or ``月曜`` are accepted.
    """
    zone = parse_timezone(timezone)
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"invalid cron rule {expression!r}: expected 5 fields (minute hour day month weekday), got {len(fields)}",
            expression,
        )
    if fields[2] != "*" and fields[4] != "*":
        # crontab runs such a rule on either day, APScheduler only when both match, so neither reading is safe.
        raise ScheduleError(
            f"invalid cron rule {expression!r}: give a day of the month or a weekday, not both",
            expression,
            "day_and_weekday",
        )
    fields[4] = _weekday_names(fields[4])
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    except ValueError as error:
        raise ScheduleError(f"invalid cron rule {expression!r}: {error}", expression) from error
    reference = datetime(2026, 1, 1, tzinfo=UTC)
    if next(fire_times(trigger, reference, reference + NEVER_HORIZON), None) is None:
        raise ScheduleError(f"cron rule {expression!r} never fires (such as 31 February)", expression, "never")
    return trigger


def fire_times(trigger: CronTrigger, after: datetime, until: datetime) -> Iterator[datetime]:
    """Yield the trigger's fire times ``t`` with ``after < t <= until``, in UTC."""
    moment = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while moment is not None and moment <= until:
        yield moment.astimezone(UTC)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))


def latest_slot(trigger: CronTrigger, now: datetime, lookback: timedelta = LOOKBACK) -> datetime | None:
    """Return the last fire time at or before ``now`` within ``lookback``, or None.

    The window grows from an hour, so a rule that fires every minute is not walked over a whole year.
    """
    window = timedelta(hours=1)
    while True:
        start = now - min(window, lookback)
        latest = None
        for latest in fire_times(trigger, start - timedelta(microseconds=1), now):  # noqa: B007
            pass
        if latest is not None or window >= lookback:
            return latest
        window *= 4


def period_for(table: RankingTable, slot: datetime) -> str:
    """Return the ranking period an announcement at ``slot`` shows (``all`` or a Tokyo month like ``2026-12``)."""
    if table == RankingTable.ALL:
        return ALL_TIME
    local = slot.astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    if table == RankingTable.SEASON:
        return month_period(local)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return month_period(first - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule as the settings define it; the database copy follows it until changed from chat."""

    name: str
    job: Job
    cron: str
    timezone: str = DEFAULT_TIMEZONE
    table: RankingTable | None = None
    size: int | None = None
    channel: str | None = None
    enabled: bool = True
