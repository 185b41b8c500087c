"""Neutral messages that every adapter renders: lines of spans, fields, actions and a visibility."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Action", "Attachment", "Field", "Line", "Message", "Span", "Visibility", "plain"]


class Visibility(StrEnum):
    EPHEMERAL = "ephemeral"
    CHANNEL = "channel"
    DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of text; ``user`` marks text a person typed, which adapters must escape."""

    text: str
    user: bool = False


Line = tuple[Span, ...]


def plain(line: Line) -> str:
    return "".join(span.text for span in line)


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: Line


@dataclass(frozen=True, slots=True)
class Action:
    """A button or menu entry; ``command`` is the same request written in the shared command grammar."""

    label: str
    command: str
    style: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file posted beside a message, such as the ranking chart; ``alt_text`` describes it for screen readers."""

    filename: str
    content: bytes
    title: str
    alt_text: str


@dataclass(frozen=True, slots=True)
class Message:
    visibility: Visibility
    locale: str
    title: Line | None = None
    lines: tuple[Line, ...] = ()
    fields: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = ()
    error: bool = False
    kind: str = field(default="reply")

    def text(self) -> str:
        """Return the whole message as plain text, the fallback for platforms without rich layout."""
        parts: list[str] = []
        if self.title:
            parts.append(plain(self.title))
        parts.extend(plain(line) for line in self.lines)
        parts.extend(f"{f.label}: {plain(f.value)}" for f in self.fields)
        return "\n".join(parts)
