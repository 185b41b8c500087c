"""Interactive console: read lines from the terminal and act as the current user in the current place."""

from __future__ import annotations

import sys
from typing import TextIO

from adapters.console.session import ConsoleError, ConsoleSession, is_directive

__all__ = ["run_repl"]

from core.domain.errors import N_

BANNER = N_(
    "smarter-bot console. Type /smarter help for the commands.\n"
    "Directives: :as USER (act as USER), :in #PLACE (a channel, or #brainstorm/T3 for a brainstorm thread), "
    ":clock 2026-12-01 10:00 (set Japan time), :advance 2d (move time on), :who, :quit.\n"
    "Secretariat accounts here: {secretariat}."
)


def run_repl(session: ConsoleSession, stdin: TextIO = sys.stdin) -> None:
    accounts = [ref.split(":", 2)[2] for ref in session.ctx.policy.secretariat if ref.startswith("console:local:")]
    session.write(session.loc(BANNER, secretariat=", ".join(accounts) or "-"))
    session.deliver()
    while True:
        if stdin.isatty():
            sys.stdout.write(f"{session.user} {session.place}> ")
            sys.stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in (":quit", ":q", ":exit"):
            break
        with session.turn:
            try:
                if is_directive(text):
                    session.directive(text)
                else:
                    session.say(text)
            except ConsoleError as error:
                session.write(f"  ⚠ {session.error_text(error)}")
