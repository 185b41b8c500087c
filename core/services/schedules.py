"""Scheduled jobs: the stored schedules, running one slot exactly once, catch-up, and the secretariat's changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.domain.errors import N_, UserError
from core.domain.schedule import (
    Job,
    RankingTable,
    ScheduleError,
    ScheduleSpec,
    fire_times,
    latest_slot,
    parse_cron,
    parse_timezone,
)
from core.domain.text import UserText, normalize, strip_invisible
from core.services.announcements import announce_ranking
from core.services.context import Actor, ServiceContext
from core.services.lookup import require_secretariat
from core.services.reminders import remind_deadlines, remind_evaluations
from core.storage.models import Schedule, ScheduledRun

__all__ = [
    "RunResult",
    "ScheduleInfo",
    "ScheduleList",
    "UnknownSchedule",
    "catch_up",
    "change_schedule",
    "list_schedules",
    "load_schedules",
    "reset_schedule",
    "run_due",
    "run_latest",
    "run_schedule",
    "schedule_infos",
    "sync_schedules",
]

logger = logging.getLogger(__name__)

CHANNEL_MAX = 150
TABLE_ALIASES = {
    "all": RankingTable.ALL,
    "通算": RankingTable.ALL,
    "season": RankingTable.SEASON,
    "month": RankingTable.SEASON,
    "今月": RankingTable.SEASON,
    "previous_season": RankingTable.PREVIOUS_SEASON,
    "previous": RankingTable.PREVIOUS_SEASON,
    "先月": RankingTable.PREVIOUS_SEASON,
}


class UnknownSchedule(LookupError):
    """Raised by the operator commands for a schedule name that is not stored; ``names`` lists the known ones."""

    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__(f"no schedule named {name!r}; known schedules: {', '.join(names) or 'none'}")
        self.name = name
        self.names = names


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    name: str
    job: Job
    cron: str
    timezone: str
    table: RankingTable | None
    size: int | None
    channel: str | None
    enabled: bool
    changed_by: str | None
    next_fire: datetime | None
    last_run: datetime | None


@dataclass(frozen=True, slots=True)
class ScheduleList:
    schedules: list[ScheduleInfo]


@dataclass(frozen=True, slots=True)
class RunResult:
    schedule: str
    job: Job
    slot: datetime
    # False when this slot had run before, so nothing new was written.
    ran: bool
    # Outbox rows written by this run: channel posts or reminders.
    queued: int = 0


def _apply(row: Schedule, spec: ScheduleSpec) -> None:
    row.job, row.cron, row.timezone = spec.job, spec.cron, spec.timezone
    row.table = spec.table.value if spec.table else None
    row.size, row.channel, row.enabled = spec.size, spec.channel, spec.enabled


def sync_schedules(ctx: ServiceContext, specs: Iterable[ScheduleSpec]) -> None:
    """Make the stored schedules follow the settings, except those the secretariat changed from chat.

    A schedule removed from the settings is deleted unless it was changed from chat; its past runs stay.
    """
    specs_by_name = {spec.name: spec for spec in specs}
    with ctx.transaction() as session:
        stored = {row.name: row for row in session.scalars(select(Schedule).with_for_update())}
        for name, spec in specs_by_name.items():
            row = stored.get(name)
            if row is None:
                row = Schedule(name=name, updated_at=ctx.now())
                _apply(row, spec)
                session.add(row)
            elif row.changed_by is None:
                _apply(row, spec)
        for name, row in stored.items():
            if name not in specs_by_name and row.changed_by is None:
                session.delete(row)


def load_schedules(ctx: ServiceContext) -> list[Schedule]:
    with ctx.transaction() as session:
        return list(session.scalars(select(Schedule).order_by(Schedule.name)))


def _info(schedule: Schedule, last_run: datetime | None, now: datetime) -> ScheduleInfo:
    trigger = parse_cron(schedule.cron, schedule.timezone)
    next_fire = next(fire_times(trigger, now, now.replace(year=now.year + 2)), None) if schedule.enabled else None
    return ScheduleInfo(
        name=schedule.name,
        job=Job(schedule.job),
        cron=schedule.cron,
        timezone=schedule.timezone,
        table=RankingTable(schedule.table) if schedule.table else None,
        size=schedule.size,
        channel=schedule.channel,
        enabled=schedule.enabled,
        changed_by=schedule.changed_by,
        next_fire=next_fire,
        last_run=last_run,
    )


def schedule_infos(ctx: ServiceContext) -> list[ScheduleInfo]:
    """Return every stored schedule with its next fire time and the slot of its last recorded run."""
    now = ctx.now()
    with ctx.transaction() as session:
        query = select(ScheduledRun.schedule, func.max(ScheduledRun.slot)).group_by(ScheduledRun.schedule)
        last_runs = {name: slot for name, slot in session.execute(query)}
        schedules = list(session.scalars(select(Schedule).order_by(Schedule.name)))
    return [_info(schedule, last_runs.get(schedule.name), now) for schedule in schedules]


def _load(ctx: ServiceContext, name: str) -> Schedule:
    with ctx.transaction() as session:
        schedule = session.get(Schedule, name)
        if schedule is None:
            raise UnknownSchedule(name, list(session.scalars(select(Schedule.name).order_by(Schedule.name))))
        return schedule


def run_schedule(ctx: ServiceContext, name: str, slot: datetime, *, now: datetime | None = None) -> RunResult:
    """Run schedule ``name`` for ``slot`` (its scheduled fire time) unless that slot has run already."""
    schedule = _load(ctx, name)
    job = Job(schedule.job)
    moment = now or ctx.now()
    if job == Job.RANKING:
        queued = announce_ranking(ctx, schedule, slot, now=moment)
    elif job == Job.EVALUATION_REMINDERS:
        queued = remind_evaluations(ctx, schedule.name, slot, now=moment)
    else:
        # Deadline reminders carry their own keys per task, member and offset, so a repeated scan queues nothing new.
        queued = remind_deadlines(ctx, slot)
    return RunResult(name, job, slot, queued is not None, queued or 0)


def run_latest(ctx: ServiceContext, name: str) -> RunResult:
    """Run schedule ``name`` for its most recent fire time (the operator's ``jobs run``); a repeat does nothing.

    A schedule that has never fired yet runs for the current time instead.
    """
    schedule = _load(ctx, name)
    now = ctx.now()
    slot = latest_slot(parse_cron(schedule.cron, schedule.timezone), now) or now.replace(microsecond=0)
    return run_schedule(ctx, name, slot, now=now)


def run_due(ctx: ServiceContext, after: datetime, until: datetime) -> Iterator[RunResult]:
    """Run every enabled schedule's slots in ``(after, until]`` in time order, as if the bot had been running.

    Runs happen one at a time as the caller iterates, so it can deliver what each run queued before the next.
    """
    slots: list[tuple[datetime, str]] = []
    for schedule in load_schedules(ctx):
        if schedule.enabled:
            trigger = parse_cron(schedule.cron, schedule.timezone)
            slots.extend((slot, schedule.name) for slot in fire_times(trigger, after, until))
    for slot, name in sorted(slots):
        yield run_schedule(ctx, name, slot, now=slot)


def catch_up(ctx: ServiceContext, *, scans: bool = True) -> list[RunResult]:
    """Run each schedule's latest missed slot once if it is within the catch-up window.

    Only the latest slot runs, so a bot that was down for several periods announces once, not once per period.
    With ``scans`` False, deadline reminders (a scan with no run record) are left to their own schedule.
    """
    now = ctx.now()
    window = ctx.policy.catch_up_window
    results = []
    for schedule in load_schedules(ctx):
        if not schedule.enabled or (not scans and schedule.job == Job.DEADLINE_REMINDERS):
            continue
        slot = latest_slot(parse_cron(schedule.cron, schedule.timezone), now)
        if slot is None or now - slot > window:
            continue
        result = run_schedule(ctx, schedule.name, slot, now=now)
        if result.ran:
            logger.info("caught up %s for %s", schedule.name, slot.isoformat())
        results.append(result)
    return results


# --- the secretariat's changes from chat -----------------------------------------------------------------


def _find(ctx: ServiceContext, name: str) -> Schedule:
    try:
        return _load(ctx, normalize(name).lower())
    except UnknownSchedule as error:
        raise UserError(
            N_("{value} is not a schedule. The schedules are: {names}."),
            value=UserText(name),
            names=", ".join(error.names),
        ) from error


def list_schedules(ctx: ServiceContext, actor: Actor) -> ScheduleList:
    require_secretariat(ctx, actor)
    return ScheduleList(schedule_infos(ctx))


def _checked_cron(rule: str, timezone: str) -> str:
    value = " ".join(normalize(rule).split())
    try:
        parse_cron(value, timezone)
    except ScheduleError as error:
        if error.reason == "never":
            raise UserError(
                N_("The cron rule {value} never runs (there is no such day). Check the day and the month."),
                value=UserText(rule),
            ) from error
        if error.reason == "day_and_weekday":
            raise UserError(
                N_(
                    "The cron rule {value} gives both a day of the month and a weekday. Give only one of them and "
                    "* for the other, like 0 9 1 * * or 0 9 * * mon."
                ),
                value=UserText(rule),
            ) from error
        raise UserError(
            N_(
                "{value} is not a cron rule. Write five fields (minute hour day month weekday), like "
                "0 9 * * mon for Mondays at 09:00."
            ),
            value=UserText(rule),
        ) from error
    return value


def _checked_timezone(zone: str) -> str:
    value = normalize(zone).strip()
    try:
        value = str(parse_timezone(value))
    except ScheduleError as error:
        raise UserError(
            N_("{value} is not a time zone. Use a name such as Asia/Tokyo."), value=UserText(zone)
        ) from error
    return value


def _checked_table(table: str) -> RankingTable:
    value = TABLE_ALIASES.get(normalize(table).lower())
    if value is None:
        raise UserError(
            N_("{value} is not a ranking table. Choose all, season or previous_season."), value=UserText(table)
        )
    return value


def _checked_channel(actor: Actor, channel: str) -> str | None:
    value = strip_invisible(normalize(channel)).strip()
    if value.lower() in ("default", "既定"):
        return None
    if not value or any(character.isspace() for character in value) or len(value) > CHANNEL_MAX:
        raise UserError(
            N_("{value} is not a channel. Give one channel, like #announcements, or default."), value=UserText(channel)
        )
    return f"{actor.platform}:{actor.workspace}:{value}"


def change_schedule(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    *,
    cron: str | None = None,
    timezone: str | None = None,
    table: str | None = None,
    channel: str | None = None,
    enabled: bool | None = None,
) -> ScheduleInfo:
    """Change one schedule from chat (secretariat); from then on it keeps this setting over the settings file."""
    require_secretariat(ctx, actor)
    schedule = _find(ctx, name)
    zone = _checked_timezone(timezone) if timezone is not None else schedule.timezone
    rule = _checked_cron(cron, zone) if cron is not None else _checked_cron(schedule.cron, zone)
    if (table is not None or channel is not None) and schedule.job != Job.RANKING:
        raise UserError(
            N_("{name} is not a ranking announcement, so it has no table or channel."), name=UserText(schedule.name)
        )
    new_table = _checked_table(table) if table is not None else None
    new_channel = _checked_channel(actor, channel) if channel is not None else None

    with ctx.transaction() as session:
        row = session.get_one(Schedule, schedule.name, with_for_update=True)
        row.cron, row.timezone = rule, zone
        if new_table is not None:
            row.table = new_table.value
        if channel is not None:
            row.channel = new_channel
        if enabled is not None:
            row.enabled = enabled
        row.changed_by = actor.ref
        row.updated_at = ctx.now()
    logger.info("schedule %s changed by %s", schedule.name, actor.ref)
    return next(info for info in schedule_infos(ctx) if info.name == schedule.name)


def reset_schedule(ctx: ServiceContext, actor: Actor, name: str) -> ScheduleInfo:
    """Put a schedule back to its settings (secretariat), so that it follows the settings file again."""
    require_secretariat(ctx, actor)
    schedule = _find(ctx, name)
    spec = next((spec for spec in ctx.policy.schedules if spec.name == schedule.name), None)
    if spec is None:
        raise UserError(
            N_("{name} is not in the settings file, so there is nothing to go back to. Pause it instead."),
            name=UserText(schedule.name),
        )

    with ctx.transaction() as session:
        row = session.get_one(Schedule, schedule.name, with_for_update=True)
        _apply(row, spec)
        row.changed_by = None
        row.updated_at = ctx.now()
    logger.info("schedule %s reset to the settings by %s", schedule.name, actor.ref)
    return next(info for info in schedule_infos(ctx) if info.name == schedule.name)
