"""Participation requests as plain-text e-mail in the member's language, for the e-mail worker to send."""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.domain.enums import RequestStatus
from core.domain.errors import N_
from core.domain.text import strip_invisible
from core.presentation.cards import menu_label, requester_line
from core.presentation.i18n import Localizer
from core.presentation.messages import plain
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem
from core.services.requests import RequestView, request_view
from core.storage.models import ParticipationRequest, Person

__all__ = ["REQUEST_EMAIL", "EmailContent", "render_request_email", "wrap"]

# The outbox kind that send_request writes for a member with an e-mail address.
REQUEST_EMAIL = "request.email"

# Body lines are wrapped at this many columns, where a wide (CJK) character takes two columns. A line may
# end up to two columns longer when punctuation that must not start a line hangs at its end.
WRAP_COLUMNS = 74

# Japanese line breaking (kinsoku): characters that must not start a line, and ones that must not end it.
NO_LINE_START = frozenset(
    "、。，．,.!?！？・：；:;」』）)]］】〉》〕｝}"  # closing punctuation and brackets
    "ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"  # the long vowel mark and small kana
)
NO_LINE_END = frozenset("「『（([［【〈《〔｛{")

SIGNATURE_SEPARATOR = "-- "


@dataclass(frozen=True, slots=True)
class EmailContent:
    """One e-mail ready to be composed: the recipient, its language and plain-text subject and body.

    ``subject`` and ``to_name`` contain no line breaks. ``body`` uses ``\\n`` line ends.
    """

    delivery_key: str
    to_address: str
    to_name: str
    locale: str
    subject: str
    body: str


def render_request_email(ctx: ServiceContext, session: Session, item: OutboxItem) -> EmailContent | None:
    """Render the participation request of a ``request.email`` item as the member's e-mail.

    Returns None when nothing should be sent any more: the request is no longer pending (answered,
    expired or deleted), or the member has removed the address or turned these e-mails off since then.
    The partner appears as the member may see it, so a hidden company name is never part of the e-mail.
    """
    request = session.get(ParticipationRequest, item.payload["request_id"])
    if request is None or request.status != RequestStatus.PENDING or request.expires_at <= ctx.now():
        return None
    member = session.get_one(Person, request.member_id)
    if not member.email or not member.email_enabled:
        return None

    loc = Localizer(member.locale or ctx.policy.default_locale)
    view = request_view(session, request, viewer_id=member.id, secretariat=False)
    nickname = _single_line(member.display_name)
    subject = loc(
        N_("[SMARTER×SMARTER] Participation request: T{task_id} {title}"),
        task_id=view.task.id,
        title=_single_line(view.task.title),
    )
    return EmailContent(
        delivery_key=item.delivery_key,
        to_address=member.email.strip(),
        to_name=nickname,
        locale=loc.locale,
        subject=_single_line(subject),
        body=_request_body(loc, view, nickname),
    )


def _request_body(loc: Localizer, view: RequestView, nickname: str) -> str:
    """Lay out the body: who asks for which task, the partner's message, and how to answer or opt out."""
    paragraphs = [[loc(N_("Dear {nickname},"), nickname=nickname)], _request_lines(loc, view), _task_lines(loc, view)]
    message = _multiline(view.message)
    if message:
        paragraphs.append([loc(N_("Message from the partner:")), *_quoted(message)])
    not_binding = N_(
        "This is a request, not an obligation: whether you accept is entirely your own "
        "choice, and declining has no effect on your evaluations or ranking."
    )
    paragraphs.append([loc(not_binding)])
    paragraphs.append(_answer_lines(loc, view))
    paragraphs.append(_expiry_lines(loc, view))
    paragraphs.append(_settings_lines(loc))

    signature = loc(N_("SMARTER×SMARTER secretariat"))
    return f"{_layout(paragraphs)}\n\n{SIGNATURE_SEPARATOR}\n{signature}\n"


def _request_lines(loc: Localizer, view: RequestView) -> list[str]:
    requester = _single_line(plain(requester_line(loc, view.task.requester)))
    return [
        loc(N_("You have received a participation request on SMARTER×SMARTER.")),
        loc(N_("{requester} would like you to take part in this task."), requester=requester),
    ]


def _task_lines(loc: Localizer, view: RequestView) -> list[str]:
    task = view.task
    return [
        loc(N_("Task: T{task_id} {title}"), task_id=task.id, title=_single_line(task.title)),
        loc(N_("Menu: {menu}"), menu=menu_label(loc, task.menu)),
        loc(N_("Deadline: {deadline}"), deadline=task.deadline),
    ]


def _answer_lines(loc: Localizer, view: RequestView) -> list[str]:
    return _command_lines(
        loc(N_("To answer, type one of these commands in the SMARTER×SMARTER chat (Slack, Discord or console):")),
        [
            loc(N_("Accept and join the task: {command}"), command=f"/smarter accept R{view.id}"),
            loc(N_("Decline: {command}"), command=f"/smarter decline R{view.id}"),
            loc(N_("Show the task: {command}"), command=f"/smarter task show T{view.task.id}"),
        ],
    )


def _expiry_lines(loc: Localizer, view: RequestView) -> list[str]:
    return [
        loc(
            N_("This request expires on {expires_at}. After that it can no longer be accepted."),
            expires_at=view.expires_at,
        ),
        loc(N_("Replying to this e-mail does not answer the request. Please use the commands above.")),
    ]


def _settings_lines(loc: Localizer) -> list[str]:
    heading = N_(
        "You receive this e-mail because your address is registered with SMARTER×SMARTER. "
        "To change that, type one of these commands in the chat:"
    )
    return _command_lines(
        loc(heading),
        [
            loc(N_("Stop these e-mails: {command}"), command="/smarter me email off"),
            loc(N_("Receive them again: {command}"), command="/smarter me email on"),
            loc(N_("Change the address: {command}"), command="/smarter me email new@example.com"),
        ],
    )


def _command_lines(heading: str, commands: list[str]) -> list[str]:
    # Each command gets an indented line of its own, so that wrapping never splits it and it copies whole.
    return [heading, *("  " + command for command in commands)]


def _quoted(message: str) -> list[str]:
    # Every line of the partner's text starts with "> ", so it cannot pass for a line of the service's own.
    return [f"> {line.expandtabs(4)}".rstrip() for line in message.split("\n")]


def _layout(paragraphs: list[list[str]]) -> str:
    """Wrap every line and join the paragraphs with blank lines."""
    blocks: list[str] = []
    for paragraph in paragraphs:
        wrapped: list[str] = []
        for line in paragraph:
            wrapped.extend(_wrap_line(line))
        blocks.append("\n".join(wrapped))
    return "\n\n".join(blocks)


def _wrap_line(line: str) -> list[str]:
    # Continuation lines keep the line's indent and its quote mark "> ".
    prefix, body = "", line
    while body.startswith((" ", "> ")):
        rest = body.lstrip(" ")
        if rest.startswith("> "):
            rest = rest[2:]
        prefix, body = prefix + body[: len(body) - len(rest)], rest
    return wrap(body, prefix=prefix)


def _single_line(text: str) -> str:
    """Return user text fit for one line or a header: no control or format characters, no line breaks.

    Every run of white space, line and paragraph separators included, becomes one space.
    """
    return " ".join(strip_invisible(text).split())


def _multiline(text: str) -> str:
    """Return user text without control or format characters, keeping its line breaks as ``\\n``."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return strip_invisible(unified, multiline=True)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _columns(text: str) -> int:
    return sum(2 if _is_wide(char) else 1 for char in text)


def _token_kind(char: str) -> str:
    if char == " ":
        return "space"
    return "wide" if _is_wide(char) else "word"


def _tokens(text: str) -> list[str]:
    """Split ``text`` into the units a line may break between.

    A unit is a run of spaces, one wide character (Japanese may break between any two), or a run of
    other characters without spaces, so that words, ids and commands stay whole.
    """
    tokens: list[str] = []
    for kind, group in itertools.groupby(text, key=_token_kind):
        run = "".join(group)
        tokens.extend(run if kind == "wide" else [run])
    return tokens


def wrap(text: str, *, prefix: str = "", columns: int = WRAP_COLUMNS) -> list[str]:
    """Wrap one line of text at ``columns`` display columns, starting every line with ``prefix``.

    Breaks fall at spaces and between wide characters, never inside a word or a command, and follow the
    Japanese rules for punctuation and brackets. A single word longer than a line is left whole.
    """
    lines: list[str] = []
    line = ""
    space = ""
    limit = columns - _columns(prefix)
    for token in _tokens(text):
        if token.startswith(" "):
            space = " " if line else ""
            continue
        candidate = line + space + token
        space = ""
        if not line or _columns(candidate) <= limit or token[0] in NO_LINE_START:
            line = candidate
            continue
        carried = ""
        while line and line[-1] in NO_LINE_END:
            carried, line = line[-1] + carried, line[:-1]
        if not line:
            line = candidate
            continue
        lines.append(prefix + line.rstrip())
        line = carried + token
    lines.append(prefix + line.rstrip())
    return lines
