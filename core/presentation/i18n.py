"""Gettext catalogs (Babel) in ja and en, and the localizer that fills message templates."""

from __future__ import annotations

import functools
import io
import string
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from core.domain.errors import Term
from core.domain.text import TOKYO, UserText
from core.presentation.messages import Line, Span

__all__ = ["DEFAULT_LOCALE", "DOMAIN", "LOCALES", "Localizer", "catalog_path", "localizer"]

DOMAIN = "smarter_bot"
LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "config" / "locales"


def catalog_path(locale: str, directory: Path = LOCALE_DIR) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _translations(locale: str) -> Translations:
    # The repository keeps only the .po files. Compiling them in memory at start needs no build step,
    # so no stale .mo file can exist.
    with catalog_path(locale).open("rb") as file:
        catalog = read_po(file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


class Localizer:
    """Translate msgids into one locale and fill their ``{name}`` placeholders as spans."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self._translations = _translations(self.locale)

    def __call__(self, msgid: str, **values: Any) -> str:
        """Translate ``msgid`` and fill it as plain text (for labels and button texts)."""
        return "".join(span.text for span in self.line(msgid, **values))

    def gettext(self, msgid: str) -> str:
        return str(self._translations.gettext(msgid))

    def line(self, msgid: str, **values: Any) -> Line:
        """Translate ``msgid`` and return it as spans; user-typed values stay marked."""
        spans: list[Span] = []
        for literal, name, spec, _conversion in string.Formatter().parse(self.gettext(msgid)):
            if literal:
                spans.append(Span(literal))
            if name is not None:
                spans.extend(self.value(values[name], spec or ""))
        return tuple(spans)

    def of(self, value: Any) -> Line:
        """Return one value (user text, term, datetime, list) as a line, with no sentence around it."""
        return tuple(self.value(value))

    def value(self, value: Any, spec: str = "") -> Iterable[Span]:
        if isinstance(value, UserText):
            return (Span(str(value), user=True),)
        if isinstance(value, Term):
            return (Span(self.gettext(value)),)
        if isinstance(value, datetime):
            return (Span(self.datetime(value)),)
        if isinstance(value, tuple) and value and all(isinstance(item, Span) for item in value):
            return value  # an already built line, such as a requester label
        if isinstance(value, tuple | list):
            separator = "、" if self.locale == "ja" else ", "
            joined: list[Span] = []
            for index, item in enumerate(value):
                if index:
                    joined.append(Span(separator))
                joined.extend(self.value(item))
            return tuple(joined)
        return (Span(format(value, spec)),)

    def datetime(self, moment: datetime) -> str:
        """Format in Japan time: ``2026年12月31日(木) 18:00`` in Japanese, ISO-like in English."""
        if self.locale == "ja":
            return str(format_datetime(moment, "y年M月d日(E) HH:mm", tzinfo=TOKYO, locale="ja"))
        return str(format_datetime(moment, "yyyy-MM-dd (EEE) HH:mm 'JST'", tzinfo=TOKYO, locale="en"))


def localizer(locale: str | None) -> Localizer:
    return Localizer(locale or DEFAULT_LOCALE)
