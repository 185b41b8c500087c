"""Check that the ja and en message catalogs cover the code, parse, and reach the runtime localizer."""

from __future__ import annotations

import io
import re
import string

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bots.catalogs import extract, load, missing_translations
from core.domain.errors import T_
from core.presentation.i18n import DOMAIN, LOCALES, Localizer, catalog_path

# A Japanese text contains hiragana, katakana or CJK ideographs.
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

NOT_FOUND = "Task T{task_id} was not found. /smarter task list shows the open tasks."
SECRETARIAT_ONLY = "Only the secretariat can do this."


def placeholders(text: str) -> set[str]:
    """Return the names of the ``{name}`` fields in ``text``. Raises ValueError on a stray brace."""
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_translates_every_msgid(locale: str) -> None:
    missing = missing_translations()[locale]

    assert missing == [], f"run `python -m bots.catalogs update` and translate these in {locale}: {missing}"


def test_ja_placeholders_match_msgid() -> None:
    catalog = load("ja")
    mismatched: list[str] = []
    malformed: list[str] = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        msgid, msgstr = str(message.id), str(message.string)
        try:
            translated = placeholders(msgstr)
        except ValueError as error:
            malformed.append(f"{msgid!r}: {error}")
            continue
        if translated != placeholders(msgid):
            mismatched.append(f"{msgid!r} has {sorted(placeholders(msgid))}, msgstr has {sorted(translated)}")

    assert malformed == [], "ja msgstrs with unbalanced braces"
    assert mismatched == [], "ja msgstrs whose placeholders differ from their msgid"


@pytest.mark.parametrize("msgid", [NOT_FOUND, SECRETARIAT_ONLY])
def test_sample_msgid_still_in_code(msgid: str) -> None:
    # The localizer tests below use these msgids. If the code rewords one, pick a new sample.
    assert msgid in {str(message.id) for message in extract() if message.id}


def test_localizer_returns_japanese() -> None:
    loc = Localizer("ja")

    text = loc(NOT_FOUND, task_id=7)
    assert JAPANESE.search(text), text
    assert "T7" in text
    assert "/smarter task list" in text
    assert JAPANESE.search(loc(SECRETARIAT_ONLY))
    assert JAPANESE.search(loc.gettext(T_("open")))


def test_localizer_returns_english() -> None:
    loc = Localizer("en")

    assert loc(NOT_FOUND, task_id=7) == NOT_FOUND.format(task_id=7)
    assert loc(SECRETARIAT_ONLY) == SECRETARIAT_ONLY
    assert loc.gettext(T_("open")) == "open"


def test_localizer_unknown_locale_uses_japanese() -> None:
    loc = Localizer("fr")

    assert loc.locale == "ja"
    assert JAPANESE.search(loc(SECRETARIAT_ONLY))


@pytest.mark.parametrize("locale", LOCALES)
def test_po_file_parses(locale: str) -> None:
    with catalog_path(locale).open("rb") as file:
        catalog = read_po(file, locale=locale, domain=DOMAIN, abort_invalid=True)

    assert len(catalog) > 0
    assert [str(message.id) for message in catalog if message.id and message.fuzzy] == []
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    assert buffer.getvalue(), f"{locale} catalog compiled to an empty .mo file"
