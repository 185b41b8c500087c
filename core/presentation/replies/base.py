"""The presenter registry shared by every reply module, the reply helper and the error reply."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from core.domain.errors import UserError
from core.presentation.i18n import Localizer
from core.presentation.messages import Line, Message, Visibility

__all__ = ["EPHEMERAL", "present", "present_error", "reply_message"]

EPHEMERAL = Visibility.EPHEMERAL


def reply_message(loc: Localizer, title: Line | None, *lines: Line, **extra: Any) -> Message:
    return Message(EPHEMERAL, loc.locale, title=title, lines=tuple(lines), **extra)


def present_error(error: UserError, loc: Localizer) -> Message:
    return Message(EPHEMERAL, loc.locale, lines=(loc.line(error.key, **error.values),), error=True, kind="error")


@singledispatch
def present(result: object, loc: Localizer) -> list[Message]:
    raise TypeError(f"no presenter for {type(result).__name__}")
