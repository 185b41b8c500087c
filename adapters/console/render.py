"""Render neutral messages as terminal text, with control characters removed from user text."""

from __future__ import annotations

import re

from core.presentation.messages import Line, Message

__all__ = ["clean_text", "render_line", "render_message"]

# Escape sequences or other control characters typed by a user could rewrite the operator's terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Return ``text`` without control characters, for echoing what a user typed."""
    return CONTROL.sub("", text)


def render_line(line: Line) -> str:
    return "".join(clean_text(span.text) if span.user else span.text for span in line)


def render_message(message: Message, *, indent: str = "  ") -> list[str]:
    """Return the message as lines: a title in 【】, its lines, its fields and its actions."""
    out: list[str] = []
    if message.title:
        out.append(f"【{render_line(message.title)}】")
    for line in message.lines:
        out.extend(render_line(line).splitlines() or [""])
    for field in message.fields:
        out.append(f"{field.label}: {render_line(field.value)}")
    if message.actions:
        out.append(" ".join(f"[{action.label}: {action.command.strip()}]" for action in message.actions))
    prefix = "⚠ " if message.error else ""
    return [indent + (prefix if index == 0 else "") + text for index, text in enumerate(out)]
