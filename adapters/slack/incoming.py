"""Text that arrives from Slack: undo its escaping and turn its channel, user and link references into plain text."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["command_text", "message_text", "slack_locale"]

# Slack wraps references in angle brackets: <#C123|name>, <@U123|name>, <!here>, <https://x|label>, <mailto:a@b|a@b>.
REFERENCE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def _unescape(text: str) -> str:
    """Undo Slack's escaping of & < > (in that order of replacement, so "&amp;lt;" stays "&lt;")."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_text(text: str, *, member_ref: Callable[[str], str | None]) -> str:
    """Return slash-command text as the user typed it, for the shared parser.

    A channel reference becomes its id (``C0123``), so ``admin schedule channel weekly #announcements`` stores
    the channel Slack picked. A user reference becomes the member id (``M3``) when ``member_ref`` finds the
    account, else the name Slack showed. Links become their address.
    """

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#C") or target.startswith("#G"):
            return target[1:]
        if target.startswith("@U") or target.startswith("@W"):
            return member_ref(target[1:]) or (f"@{label}" if label else target)
        if target.startswith("!"):
            # <!here> and friends: keep the visible word only, so nothing we echo back can ping anyone.
            return f"@{label or target[1:].split('^', 1)[0]}"
        if target.startswith("mailto:"):
            return target.removeprefix("mailto:")
        return target

    return _unescape(REFERENCE.sub(replace, text))


def message_text(text: str, *, user_name: Callable[[str], str | None] = lambda user_id: None) -> str:
    """Return a channel message as readable plain text: references shown by their label, escaping undone.

    Slack sends a user mention in a message as ``<@U123>`` with no label. So ``user_name`` names the user (a
    member's nickname) where it can, and otherwise the id stays.
    """

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target[0] == "@" and not label:
            name = user_name(target[1:])
            return f"@{name}" if name else target
        if target[0] in "#@":
            return f"{target[0]}{label}" if label else target
        if target.startswith("!"):
            return f"@{label or target[1:].split('^', 1)[0]}"
        if target.startswith("mailto:"):
            return target.removeprefix("mailto:")
        return target

    return _unescape(REFERENCE.sub(replace, text))


def slack_locale(value: str | None) -> str | None:
    """Map Slack's user locale (``ja-JP``, ``en-US``, ``en-GB``) to a service language, or None if unsupported."""
    if not value:
        return None
    language = value.split("-", 1)[0].lower()
    return language if language in ("ja", "en") else None
