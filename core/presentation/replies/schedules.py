"""Replies about schedules, contest standings and freezes, and a member's own settings."""

from __future__ import annotations

from core.domain.errors import N_
from core.domain.schedule import Job
from core.presentation.cards import task_title
from core.presentation.i18n import Localizer
from core.presentation.messages import Line, Message
from core.presentation.replies.base import present, reply_message
from core.services.preferences import PreferenceChanged
from core.services.schedules import ScheduleInfo, ScheduleList
from core.services.standings import FreezeSet, Standings

__all__: list[str] = []

JOB_NAMES = {
    Job.RANKING: N_("ranking announcement"),
    Job.DEADLINE_REMINDERS: N_("deadline reminders"),
    Job.EVALUATION_REMINDERS: N_("evaluation reminders"),
}
TABLE_NAMES = {
    "all": N_("the all-time ranking"),
    "season": N_("the ranking of this month's season"),
    "previous_season": N_("the final ranking of last month's season"),
}


def _schedule_lines(loc: Localizer, info: ScheduleInfo) -> list[Line]:
    lines = [
        loc.line(
            N_("{name}: {job}, cron {cron} ({timezone})"),
            name=info.name,
            job=loc(JOB_NAMES[info.job]),
            cron=info.cron,
            timezone=info.timezone,
        )
    ]
    if info.table is not None:
        channel = info.channel.split(":", 2)[2] if info.channel else loc(N_("the default announcement channels"))
        lines.append(
            loc.line(N_("  announces {table} in {channel}"), table=loc(TABLE_NAMES[info.table]), channel=channel)
        )
    if info.next_fire is not None:
        lines.append(loc.line(N_("  next run: {moment}"), moment=info.next_fire))
    else:
        lines.append(loc.line(N_("  paused")))
    if info.last_run is not None:
        lines.append(loc.line(N_("  last run: {moment}"), moment=info.last_run))
    if info.changed_by is not None:
        lines.append(loc.line(N_("  set from chat, so the settings file no longer changes it")))
    return lines


@present.register
def _(result: ScheduleList, loc: Localizer) -> list[Message]:
    if not result.schedules:
        return [reply_message(loc, None, loc.line(N_("There are no schedules.")))]
    lines = [line for info in result.schedules for line in _schedule_lines(loc, info)]
    return [reply_message(loc, loc.line(N_("Schedules (times in Japan time)")), *lines)]


@present.register
def _(result: ScheduleInfo, loc: Localizer) -> list[Message]:
    title = loc.line(N_("Schedule {name} is updated."), name=result.name)
    return [reply_message(loc, title, *_schedule_lines(loc, result))]


@present.register
def _(result: Standings, loc: Localizer) -> list[Message]:
    entry = N_("{rank}. {nickname} — {score} points")
    lines: list[Line] = [
        loc.line(entry, rank=row.rank, nickname=row.nickname, score=f"{row.score:.2f}") for row in result.rows
    ] or [loc.line(N_("No entries have been evaluated yet."))]
    if result.frozen_at is not None:
        lines.append(
            loc.line(
                N_("The standings are frozen: they show evaluations up to {moment} until the results are published."),
                moment=result.frozen_at,
            )
        )
    elif result.live_during_freeze:
        lines.append(
            loc.line(
                N_("These are live standings. Members see them as they were at {moment} until the results."),
                moment=result.freeze_at,
            )
        )
    elif result.freeze_at is not None and result.task.status in ("open", "closed"):
        lines.append(loc.line(N_("The standings will freeze at {moment}."), moment=result.freeze_at))
    title = loc.line(N_("Standings of contest T{task_id}"), task_id=result.task.id)
    return [reply_message(loc, title, task_title(loc, result.task), *lines, kind="ranking")]


@present.register
def _(result: FreezeSet, loc: Localizer) -> list[Message]:
    line = (
        loc.line(
            N_(
                "From {moment}, members see the standings of T{task_id} as they are then, until you mark the task "
                "evaluated. You and the secretariat keep seeing them live."
            ),
            moment=result.freeze_at,
            task_id=result.task.id,
        )
        if result.freeze_at is not None
        else loc.line(N_("The standings of T{task_id} will not freeze."), task_id=result.task.id)
    )
    return [reply_message(loc, task_title(loc, result.task), line)]


@present.register
def _(result: PreferenceChanged, loc: Localizer) -> list[Message]:
    if result.setting == "ranking":
        line = (
            loc.line(N_("You appear in public rankings and announcements."))
            if result.enabled
            else loc.line(
                N_(
                    "You no longer appear in public rankings and announcements. /smarter ranking still shows your "
                    "place."
                )
            )
        )
    elif result.enabled:
        line = loc.line(N_("Participation requests will also be e-mailed to {email}."), email=result.email)
    else:
        line = loc.line(N_("Participation requests will no longer be e-mailed. You still get them here."))
    return [reply_message(loc, None, line)]
