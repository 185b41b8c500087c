"""Input normalisation (NFKC, Japanese dates) and the marker for text a person typed."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import N_, Term, UserError

__all__ = ["TOKYO", "UserText", "check_length", "normalize", "parse_deadline", "parse_duration", "strip_invisible"]

TOKYO = ZoneInfo("Asia/Tokyo")


class UserText(str):
    """Text a person typed. Adapters escape it for their platform before showing it."""

    __slots__ = ()


def normalize(text: str) -> str:
    """Return ``text`` in NFKC form (全角 digits and letters to ASCII, U+3000 to a space), stripped."""
    return unicodedata.normalize("NFKC", text).strip()


def strip_invisible(text: str, *, multiline: bool = False) -> str:
    """Remove control and format characters (escape sequences, zero-width spaces, bidi overrides).

    Line breaks and tabs stay in multi-line text and become spaces elsewhere.
    NOTE: the zero-width joiner inside emoji sequences is a format character too, so such emoji split.
    """
    visible: list[str] = []
    for char in text:
        if char in "\n\t":
            visible.append(char if multiline else " ")
        elif unicodedata.category(char) not in ("Cc", "Cf"):
            visible.append(char)
    return "".join(visible).strip()


def check_length(field: Term, value: str, maximum: int, *, minimum: int = 1, multiline: bool = False) -> UserText:
    """Return ``value`` without invisible characters as user text; raise if it is empty or too long."""
    value = strip_invisible(value, multiline=multiline)
    if len(value) < minimum:
        raise UserError(N_("{field} is missing. Please enter it."), field=field)
    if len(value) > maximum:
        raise UserError(
            N_("{field} is too long: {length} characters, the maximum is {maximum}. Please shorten it."),
            field=field,
            length=len(value),
            maximum=maximum,
        )
    return UserText(value)


_ISO_DATE = re.compile(r"^(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})$")
_JA_DATE = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日(?:\([^)]*\))?$")
_TIME = re.compile(r"^(\d{1,2})(?::|時)(\d{2})?分?$")


def _parse_date(text: str, today: date) -> date | None:
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _JA_DATE.match(text):
        year = int(match.group(1)) if match.group(1) else today.year
        month, day = int(match.group(2)), int(match.group(3))
    else:
        return None
    try:
        parsed = date(year, month, day)
    except ValueError:
        return None
    if not match.group(1) and parsed < today:
        # "12月31日" without a year means the next such day.
        parsed = parsed.replace(year=parsed.year + 1)
    return parsed


def _parse_time(text: str) -> time | None:
    match = _TIME.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0:
        return time(23, 59, 59)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_deadline(text: str, *, now: datetime) -> datetime:
    """Parse a deadline typed in Japan time and return it as an aware UTC datetime.

    Accepted forms: ``2026/12/31``, ``2026-12-31``, ``12月31日`` and ``2026年12月31日``, each optionally
    followed by a time (``18:00``, ``18時``, ``18時30分``). A date without a time means 23:59 that day.
    """
    normalized = normalize(text)
    parts = normalized.replace("T", " ").split()
    if len(parts) == 1 and (match := re.match(r"^(.*日(?:\([^)]*\))?)(\d.*)$", parts[0])):
        parts = [match.group(1), match.group(2)]
    today = now.astimezone(TOKYO).date()
    day = _parse_date(parts[0], today) if parts else None
    moment = _parse_time(parts[1]) if len(parts) == 2 else time(23, 59) if len(parts) == 1 else None
    if day is None or moment is None:
        raise UserError(
            N_(
                "The deadline {value} is not a date I can read. "
                "Please write it like 2026/12/31 18:00, 2026-12-31 or 12月31日 18:00 (Japan time)."
            ),
            value=UserText(text),
        )
    return datetime.combine(day, moment, tzinfo=TOKYO).astimezone(ZoneInfo("UTC"))


def parse_duration(text: str) -> timedelta:
    """Parse ``90m``, ``2h``, ``3d`` or ``1w`` into a timedelta."""
    match = re.fullmatch(r"(\d+)\s*([mhdw])", normalize(text))
    if not match:
        raise ValueError(f"invalid duration {text!r}: expected a number followed by m, h, d or w")
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "m": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
        "w": timedelta(weeks=amount),
    }[unit]
