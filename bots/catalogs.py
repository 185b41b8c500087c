"""Keep the message catalogs in step with the code: ``python -m bots.catalogs update|check``.

``update`` extracts every msgid marked with ``N_`` or ``T_`` (Babel's extractor), adds new ones to the
ja and en catalogs, marks removed ones obsolete, and fills each en msgstr with its English msgid.
``check`` exits non-zero when a msgid is missing from a catalog or has no Japanese translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.presentation.i18n import DOMAIN, LOCALES, catalog_path

__all__ = ["extract", "load", "missing_translations", "update"]

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("core", "adapters", "bots")
KEYWORDS = {"N_": None, "T_": None, "_": None}


def extract() -> Catalog:
    """Collect the msgids used in the code into a template catalog."""
    template = Catalog(domain=DOMAIN, project="smarter-bot", charset="utf-8")
    for source in SOURCES:
        for filename, lineno, message, comments, _context in extract_from_dir(
            ROOT / source, method_map=[("**.py", "python")], keywords=KEYWORDS, strip_comment_tags=True
        ):
            template.add(message, locations=[(f"{source}/{filename}", lineno)], auto_comments=comments)
    return template


def load(locale: str) -> Catalog:
    path = catalog_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="smarter-bot", charset="utf-8")
    with path.open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN)


def update() -> None:
    template = extract()
    for locale in LOCALES:
        catalog = load(locale)
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if message.id and locale == "en":
                message.string = message.id
            message.flags.discard("fuzzy")
        catalog.obsolete.clear()
        path = catalog_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, omit_header=False, sort_output=False, include_previous=False)


def missing_translations() -> dict[str, list[str]]:
    """Return, per locale, the msgids used in the code that the catalog lacks or leaves untranslated."""
    used_msgids = [str(message.id) for message in extract() if message.id]
    missing: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalog = load(locale)
        missing[locale] = [msgid for msgid in used_msgids if not _translated(catalog, msgid)]
    return missing


def _translated(catalog: Catalog, msgid: str) -> bool:
    message = catalog.get(msgid)
    return message is not None and bool(message.string)


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        missing = missing_translations()
        for locale, msgids in missing.items():
            for msgid in msgids:
                print(f"{locale}: missing translation for {msgid!r}")
        return 1 if any(missing.values()) else 0
    print("usage: python -m bots.catalogs update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
