"""Transcripts: replay lines of ``who [#place]: text`` and ``:directive`` and print every user's view."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from adapters.console.session import ConsoleError, ConsoleSession

__all__ = ["TranscriptError", "TranscriptLine", "parse_transcript", "replay"]

LINE = re.compile(r"^(?P<user>[^\s:#]+)(?:\s+(?P<place>#\S+|dm))?\s*:\s?(?P<text>.*)$")


QUIT = (":quit", ":q", ":exit")


class TranscriptError(ValueError):
    """Raised for a transcript line that cannot be read; the message names the file and line number."""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    number: int
    user: str | None
    place: str | None
    text: str


def parse_transcript(text: str, *, source: str = "<transcript>") -> list[TranscriptLine]:
    """Read a transcript up to its end or a ``:quit`` line.

    Blank lines and lines starting with ``#`` are skipped, and ``:`` lines are directives.
    """
    lines: list[TranscriptLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped in QUIT:
            break
        if stripped.startswith(":"):
            lines.append(TranscriptLine(number, None, None, stripped))
            continue
        match = LINE.match(stripped)
        if match is None or not match.group("text").strip():
            raise TranscriptError(
                f"{source}:{number}: expected 'user #place: text', 'user: text' or a ':directive', got {raw!r}"
            )
        lines.append(TranscriptLine(number, match.group("user"), match.group("place"), match.group("text")))
    return lines


def replay(session: ConsoleSession, path: Path) -> None:
    """Replay a transcript file line by line until its end or a ``:quit`` line.

    A bad line stops the replay with its line number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line_number = path.read_bytes()[: error.start].count(b"\n") + 1
        raise TranscriptError(f"{path}:{line_number}: not valid UTF-8 text ({error.reason})") from error
    for line in parse_transcript(text, source=str(path)):
        try:
            if line.user is None:
                session.directive(line.text)
            else:
                session.say(line.text, user=line.user, place=line.place or session.place)
        except ConsoleError as error:
            raise TranscriptError(f"{path}:{line.number}: {session.error_text(error)}") from error
