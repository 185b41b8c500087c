"""Scheduled ranking announcements: the run record and its outbox rows, written once per (schedule, slot)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.domain.schedule import RankingTable, period_for
from core.domain.text import UserText
from core.services.context import ServiceContext
from core.services.outbox import enqueue
from core.services.rankings import top_members
from core.storage.models import Person, Schedule, ScheduledRun

__all__ = ["AnnouncedRow", "Announcement", "announce_ranking", "announcement_view", "slot_key"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnnouncedRow:
    rank: int
    member_id: int
    nickname: UserText
    score: float
    evaluation_count: int
    # Places gained (positive) or lost since the previous announcement of the same period; None for a new entry.
    movement: int | None


@dataclass(frozen=True, slots=True)
class Announcement:
    schedule: str
    slot: datetime
    period: str
    table: RankingTable
    rows: list[AnnouncedRow]
    # False for the first announcement of a period, which has nothing to compare with (no arrows, no NEW).
    compared: bool
    # When the scores were read: the scheduled time, or later for a run caught up after downtime.
    as_of: datetime


def slot_key(slot: datetime) -> str:
    """Return the slot as it appears in delivery keys and file names: ``20261207T0000`` (UTC)."""
    return f"{slot:%Y%m%dT%H%M}"


def _previous_ranks(session: Session, period: str, slot: datetime) -> dict[int, int] | None:
    """Return the ranks in the latest earlier announcement of ``period`` that had rows, or None if there is none.

    Runs with no rows posted nothing, so comparing with them would mark everyone NEW.
    """
    earlier = session.scalars(
        select(ScheduledRun)
        .where(ScheduledRun.period == period, ScheduledRun.slot < slot)
        .order_by(ScheduledRun.slot.desc())
    )
    for previous in earlier:
        if previous.entries:
            return {entry["member_id"]: entry["rank"] for entry in previous.entries}
    return None


def announce_ranking(ctx: ServiceContext, schedule: Schedule, slot: datetime, *, now: datetime) -> int | None:
    """Write the announcement of ``schedule`` for ``slot`` with one outbox row per target channel.

    Returns how many channel posts were queued, or None when this (schedule, slot) was already announced.
    The run record and the outbox rows are written in one transaction, and the record's primary key stops
    a second process or a retry.
    When no member is ranked in the period, the run is recorded and nothing is posted.
    """
    table = RankingTable(schedule.table or RankingTable.SEASON)
    period = period_for(table, slot)
    size = schedule.size or ctx.policy.ranking_size
    targets = (schedule.channel,) if schedule.channel else ctx.policy.announcement_channels
    try:
        with ctx.transaction() as session:
            if session.get(ScheduledRun, (schedule.name, slot)) is not None:
                return None
            rows = top_members(session, ctx.policy.ranking_prior, period, size, public_only=True)
            entries = [
                {"member_id": row.member_id, "rank": row.rank, "score": row.score, "count": row.evaluation_count}
                for row in rows
            ]
            session.add(ScheduledRun(schedule=schedule.name, slot=slot, ran_at=now, period=period, entries=entries))
            session.flush()
            # A period with no ranked member is recorded as run but not announced: an empty table rewards no one.
            for target in targets if rows else ():
                enqueue(
                    session,
                    at=now,
                    key=f"announce:{schedule.name}:{slot_key(slot)}:{target}",
                    kind="ranking.announcement",
                    platform=target.split(":", 1)[0],
                    schedule=schedule.name,
                    slot=slot.isoformat(),
                    target=target,
                )
    except IntegrityError:
        # Another process wrote the same run between this check and this insert, and its announcement is kept.
        logger.info("ranking announcement %s for %s was written by another process", schedule.name, slot)
        return None
    posts = len(targets) if rows else 0
    logger.info("ranking announcement %s for %s: %d rows, %d channel posts", schedule.name, slot, len(rows), posts)
    return posts


def announcement_view(session: Session, schedule_name: str, slot: datetime) -> Announcement:
    """Load an announcement as written, with current nicknames and movement against the one before it."""
    run = session.get_one(ScheduledRun, (schedule_name, slot))
    schedule = session.get(Schedule, schedule_name)
    table = RankingTable(schedule.table if schedule is not None and schedule.table else RankingTable.SEASON)
    period = run.period or period_for(table, slot)
    previous = _previous_ranks(session, period, slot)
    member_ids = [entry["member_id"] for entry in run.entries]
    query = select(Person.id, Person.display_name).where(Person.id.in_(member_ids))
    names = {member_id: name for member_id, name in session.execute(query)}
    rows = []
    for entry in run.entries:
        before = previous.get(entry["member_id"]) if previous is not None else None
        rows.append(
            AnnouncedRow(
                rank=entry["rank"],
                member_id=entry["member_id"],
                nickname=UserText(names.get(entry["member_id"], "?")),
                score=entry["score"],
                evaluation_count=entry["count"],
                movement=before - entry["rank"] if before is not None else None,
            )
        )
    return Announcement(schedule_name, slot, period, table, rows, previous is not None, run.ran_at)
