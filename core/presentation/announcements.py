"""Ranking announcements as people read them: the message, the movement marks and the chart image."""

from __future__ import annotations

from functools import lru_cache

from core.domain.errors import N_
from core.domain.schedule import RankingTable
from core.domain.scoring import ALL_TIME
from core.presentation.chart import ChartRow, render_ranking_chart
from core.presentation.i18n import Localizer
from core.presentation.messages import Attachment, Line, Message, Visibility, plain
from core.services.announcements import AnnouncedRow, Announcement, slot_key

__all__ = ["announcement_chart", "announcement_message", "movement_mark", "period_title"]


def movement_mark(loc: Localizer, row: AnnouncedRow, compared: bool) -> str:
    """Return ▲2 (up two places), ▼1, → (same place), NEW (not in the previous one), or nothing for a first one."""
    if not compared:
        return ""
    if row.movement is None:
        return loc(N_("NEW"))
    if row.movement > 0:
        return f"▲{row.movement}"
    if row.movement < 0:
        return f"▼{-row.movement}"
    return "→"


def period_title(loc: Localizer, announcement: Announcement) -> Line:
    if announcement.period == ALL_TIME:
        return loc.line(N_("All-time ranking"))
    year, month = int(announcement.period[:4]), int(announcement.period[5:])
    if announcement.table == RankingTable.PREVIOUS_SEASON:
        return loc.line(N_("Final ranking of the {year}-{month:02d} season"), year=year, month=month)
    return loc.line(N_("Ranking for {year}-{month:02d}"), year=year, month=month)


def _row_line(loc: Localizer, row: AnnouncedRow, compared: bool) -> Line:
    line = loc.line(
        N_("{rank}. {nickname} — {score} points, evaluations: {count}"),
        rank=row.rank,
        nickname=row.nickname,
        score=f"{row.score:.2f}",
        count=row.evaluation_count,
    )
    mark = movement_mark(loc, row, compared)
    return line + loc.of(f"  {mark}") if mark else line


def announcement_message(loc: Localizer, announcement: Announcement) -> Message:
    """Build the channel message of an announcement: title, the period covered, the rows and how to read them."""
    title = loc.line(N_("📣 {title}"), title=plain(period_title(loc, announcement)))
    lines: list[Line] = [loc.line(N_("As of {moment}."), moment=announcement.as_of)]
    lines.extend(_row_line(loc, row, announcement.compared) for row in announcement.rows)
    if not announcement.rows:
        lines.append(loc.line(N_("No evaluations in this period yet.")))
    if announcement.compared:
        lines.append(loc.line(N_("▲ and ▼ show places moved since the previous announcement; NEW marks a newcomer.")))
    if announcement.period != ALL_TIME:
        lines.append(
            loc.line(N_("Seasons run for one calendar month in Japan time; the all-time ranking keeps going."))
        )
    lines.append(loc.line(N_("To stay out of public rankings, use /smarter me ranking off.")))
    return Message(Visibility.CHANNEL, loc.locale, title=title, lines=tuple(lines), kind="announcement")


def announcement_chart(loc: Localizer, announcement: Announcement) -> Attachment:
    """Return the ranking chart as a PNG attachment; charts are cached, since every channel gets the same one."""
    rows = tuple(
        ChartRow(row.rank, str(row.nickname), row.score, movement_mark(loc, row, announcement.compared))
        for row in announcement.rows
    )
    title = plain(period_title(loc, announcement))
    subtitle = loc(N_("As of {moment}."), moment=announcement.as_of)
    filename = f"ranking-{announcement.schedule}-{slot_key(announcement.slot)}-{loc.locale}.png"
    alt_text = loc(N_("Ranking chart: {title}"), title=title)
    return Attachment(filename, _chart_png(title, rows, subtitle), title, alt_text)


@lru_cache(maxsize=16)
def _chart_png(title: str, rows: tuple[ChartRow, ...], subtitle: str) -> bytes:
    return render_ranking_chart(title, rows, subtitle=subtitle)
