"""Input normalisation, Japanese deadlines and durations (core.domain.text)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.domain.errors import UserError
from core.domain.text import TOKYO, UserText, normalize, parse_deadline, parse_duration

# 2026-12-01 10:00 in Japan, the same moment as the clock fixture.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)


def tokyo(year: int, month: int, day: int, hour: int = 23, minute: int = 59) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def test_normalize_fullwidth_digits_and_letters() -> None:
    assert normalize("ＡＢＣ１２３") == "ABC123"


def test_normalize_ideographic_space_to_space() -> None:
    assert normalize("山田\u3000太郎") == "山田 太郎"


def test_normalize_strips_ideographic_spaces_around() -> None:
    assert normalize("\u3000 T12\u3000") == "T12"


def test_normalize_halfwidth_katakana() -> None:
    assert normalize("ｶﾀｶﾅ") == "カタカナ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026/12/31", tokyo(2026, 12, 31)),
        ("2026-12-31", tokyo(2026, 12, 31)),
        ("2026/12/31 18:00", tokyo(2026, 12, 31, 18, 0)),
        ("2026-12-31T18:00", tokyo(2026, 12, 31, 18, 0)),
        ("12月31日 18:00", tokyo(2026, 12, 31, 18, 0)),
        ("12月31日18:00", tokyo(2026, 12, 31, 18, 0)),
        ("12月31日(木) 18時30分", tokyo(2026, 12, 31, 18, 30)),
        ("2026年1月5日 9時", tokyo(2026, 1, 5, 9, 0)),
        ("２０２６／１２／３１ １８：００", tokyo(2026, 12, 31, 18, 0)),
        ("2026/12/31 24:00", datetime(2026, 12, 31, 23, 59, 59, tzinfo=TOKYO)),
    ],
)
def test_parse_deadline_accepted_forms(text: str, expected: datetime) -> None:
    assert parse_deadline(text, now=NOW) == expected


def test_parse_deadline_returns_utc() -> None:
    deadline = parse_deadline("2026/12/31 18:00", now=NOW)

    assert deadline.utcoffset() == timedelta(0)
    assert deadline.hour == 9


def test_parse_deadline_date_only_means_2359() -> None:
    deadline = parse_deadline("2026/12/31", now=NOW).astimezone(TOKYO)

    assert (deadline.hour, deadline.minute) == (23, 59)


def test_parse_deadline_without_year_rolls_over() -> None:
    assert parse_deadline("1月5日", now=NOW) == tokyo(2027, 1, 5)


def test_parse_deadline_without_year_earlier_this_year() -> None:
    assert parse_deadline("11月30日 12:00", now=NOW) == tokyo(2027, 11, 30, 12, 0)


def test_parse_deadline_without_year_today_stays() -> None:
    assert parse_deadline("12月1日", now=NOW) == tokyo(2026, 12, 1)


def test_parse_deadline_with_year_never_rolls() -> None:
    assert parse_deadline("2026年11月30日", now=NOW) == tokyo(2026, 11, 30)


@pytest.mark.parametrize(
    "text",
    [
        "2026/02/30",
        "2026/13/01",
        "2026/12/31 25:00",
        "2026/12/31 18:60",
        "12月31日 25時",
        "2月30日",
        "garbage",
        "",
        "2026/12/31 18:00 extra",
    ],
)
def test_parse_deadline_invalid_names_input(text: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_deadline(text, now=NOW)

    assert raised.value.values["value"] == text
    assert isinstance(raised.value.values["value"], UserText)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("２ｄ", timedelta(days=2)),
        ("2 d", timedelta(days=2)),
    ],
)
def test_parse_duration_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2x", "d", "-1d", "1.5h", ""])
def test_parse_duration_invalid_names_input(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(text)

    assert repr(text) in str(raised.value)
