"""User errors raised by use cases: each carries a message key and the values the message names."""

from __future__ import annotations

from typing import Any

__all__ = ["N_", "T_", "Term", "UserError"]


def N_(message: str) -> str:
    """Mark a message key for extraction into the catalogs without translating it here."""
    return message


class Term(str):
    """A message value that is itself a msgid, translated along with the message (a field name)."""

    __slots__ = ()


def T_(term: str) -> Term:
    """Mark a term (a field or status name) for extraction and translation inside another message."""
    return Term(term)


class UserError(Exception):
    """Raised when a person's request cannot be carried out as given.

    ``key`` is the catalog msgid (English source text with ``{name}`` placeholders) and ``values``
    fill those placeholders after translation. Values of type ``UserText`` are text a person typed.
    """

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(key.format(**values) if values else key)
