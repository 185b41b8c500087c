"""The console session: the typing user, the place, the transcript clock and the output for every user."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from adapters.console.render import clean_text, render_message
from core.commands.dispatch import CommandRunner, resolve_locale
from core.domain.errors import N_, UserError
from core.domain.text import TOKYO, UserText, normalize, parse_duration
from core.presentation.deliveries import RENDERERS, Delivery, render_delivery
from core.presentation.emails import REQUEST_EMAIL, EmailContent, render_request_email
from core.presentation.i18n import Localizer
from core.presentation.messages import Message
from core.presentation.replies import present_error
from core.services import brainstorms
from core.services.context import Actor, Clock, ServiceContext
from core.services.lookup import parse_task_id
from core.services.outbox import OutboxItem, PermanentDeliveryError, deliver_pending
from core.services.participation import channel_members
from core.services.schedules import run_due

__all__ = ["ConsoleError", "ConsoleSession", "SettableClock", "is_directive"]

logger = logging.getLogger(__name__)

PLATFORM = "console"
WORKSPACE = "local"
GENERAL = "#general"
ANNOUNCEMENTS = "#announcements"
BRAINSTORM = "#brainstorm"
# NOTE: any place named like a task channel (#t3-anything) is treated as task T3's channel.
TASK_CHANNEL = re.compile(r"#t(\d{1,9})-")
DIRECTIVE_EXAMPLES = {
    "as": ":as hanako",
    "in": ":in #general",
    "clock": ":clock 2026-12-01 10:00",
    "advance": ":advance 2d",
}


class ConsoleError(UserError):
    """Raised for a console directive that cannot be understood; it carries a message key like any user error."""


class SettableClock(Clock):
    """The system clock until a transcript sets it; after that, time moves only with ``advance``."""

    def __init__(self) -> None:
        self._fixed: datetime | None = None

    def now(self) -> datetime:
        return self._fixed or datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self._fixed = moment.astimezone(UTC)

    def advance(self, text: str) -> None:
        try:
            self._fixed = self.now() + parse_duration(text)
        except ValueError as error:
            raise ConsoleError(
                N_("{value} is not a time span. Write a number followed by m, h, d or w, like 90m or 2d."),
                value=UserText(text),
            ) from error
        except OverflowError as error:
            raise ConsoleError(N_("{value} moves the clock past the year 9999."), value=UserText(text)) from error


@dataclass
class ConsoleSession:
    ctx: ServiceContext
    clock: SettableClock
    write: Callable[[str], None] = print
    user: str = "guest"
    place: str = GENERAL
    delivered: set[str] = field(default_factory=set)
    # Print participation-request e-mails here; off when an SMTP server is configured and the e-mail worker sends them.
    email_preview: bool = True
    # Channels that exist in the console: the fixed ones and every one someone moved to with :in.
    channels: set[str] = field(default_factory=lambda: {GENERAL, ANNOUNCEMENTS, BRAINSTORM})

    def __post_init__(self) -> None:
        self.runner = CommandRunner(self.ctx)
        # Held while one typed line is handled; the scheduler thread's deliveries wait for it, so output never mixes.
        self.turn = threading.RLock()
        # Operator notes (channel created, user invited) stand in for what the chat platform itself shows.
        self.loc = Localizer(self.ctx.policy.default_locale)

    def note(self, msgid: str, **values: object) -> None:
        """Print an operator note in the workspace language, with user names cleaned of control characters."""
        self.write("  " + clean_text(self.loc(msgid, **values)))

    def error_text(self, error: UserError) -> str:
        return clean_text(self.loc(error.key, **error.values))

    def actor(self, user: str | None = None) -> Actor:
        return Actor(PLATFORM, WORKSPACE, user or self.user)

    # --- input -------------------------------------------------------------------------------

    def directive(self, text: str) -> None:
        """Run a console directive: ``:as USER``, ``:in PLACE``, ``:clock DATETIME``, ``:advance 2d``, ``:who``."""
        name, _, argument = text[1:].strip().partition(" ")
        argument = argument.strip()
        if name in ("as", "in", "clock", "advance") and not argument:
            raise ConsoleError(
                N_(":{directive} needs a value, for example {example}."),
                directive=name,
                example=DIRECTIVE_EXAMPLES[name],
            )
        if name == "as":
            self.user = argument
        elif name == "in":
            self.place = argument if argument.startswith("#") or argument == "dm" else f"#{argument}"
            self.channels.add(self.place)
        elif name == "clock":
            self.clock.set(_parse_clock(argument))
            self.write(f"⏰ {self.clock.now().astimezone(TOKYO):%Y-%m-%d %H:%M} JST")
        elif name == "advance":
            before = self.clock.now()
            self.clock.advance(argument)
            self.pass_time(before)
        elif name == "who":
            self.write(f"{self.user} {self.place} {self.clock.now().astimezone(TOKYO):%Y-%m-%d %H:%M} JST")
        else:
            raise ConsoleError(
                N_(
                    "{value} is not a console directive. Use :as USER, :in #PLACE, :clock YYYY-MM-DD HH:MM, "
                    ":advance 2d or :who."
                ),
                value=UserText(text),
            )

    def say(self, text: str, *, user: str | None = None, place: str | None = None) -> None:
        """Handle one line typed by ``user`` in ``place``: a command, or a message in a channel or thread."""
        user, place = user or self.user, place or self.place
        self.write(clean_text(f"» {user} {place}: {text}"))
        if normalize(text).startswith("/"):
            self.show(self.runner.run(self.actor(user), text), user=user, place=place)
        else:
            self._converse(text, user, place)
        self.deliver()

    def _converse(self, text: str, user: str, place: str) -> None:
        if place.startswith(f"{BRAINSTORM}/"):
            self._brainstorm_post(text, user, place)
            return
        match = TASK_CHANNEL.match(place)
        members = channel_members(self.ctx, int(match.group(1))) if match else None
        if members is not None and (PLATFORM, WORKSPACE, user) not in members:
            loc = Localizer(resolve_locale(self.ctx, self.actor(user)))
            error = UserError(
                N_(
                    "Only the partner and the members who joined this task can talk in its task "
                    "channel. Join the task first."
                )
            )
            self.show([present_error(error, loc)], user=user, place=place)
            return
        self.write(clean_text(f"  [{place}] {user}: {text}"))

    def _brainstorm_post(self, text: str, user: str, place: str) -> None:
        actor = self.actor(user)
        loc = Localizer(resolve_locale(self.ctx, actor))
        try:
            result = brainstorms.post_idea(
                self.ctx, actor, parse_task_id(place.rsplit("/", 1)[1]), text, in_thread=True
            )
        except UserError as error:
            self.show([present_error(error, loc)], user=user, place=place)
            return
        self.write(clean_text(f"  [{place}] {user}: {text}"))
        logger.debug("brainstorm post %d recorded", result.post_id)

    # --- output ------------------------------------------------------------------------------

    def show(self, messages: list[Message], *, user: str, place: str) -> None:
        for message in messages:
            audience = f"{user} only" if message.visibility == "ephemeral" else place
            self.write(f"  [→ {audience}]")
            for line in render_message(message, indent="    "):
                self.write(line)

    def pass_time(self, since: datetime) -> None:
        """Run the scheduled jobs whose fire times fell between ``since`` and now, in order, as the bot would.

        What each run delivers is printed under the time it ran, so a replay reads in time order.
        """
        until = self.clock.now()
        for result in run_due(self.ctx, since, until):
            logger.debug("scheduled %s ran for %s: %s", result.schedule, result.slot, result.ran)
            # Deliveries are rendered at the time of the run, as the bot would have sent them then.
            self.clock.set(result.slot)
            self._deliver_under(f"⏰ {result.slot.astimezone(TOKYO):%Y-%m-%d %H:%M} JST ({result.schedule})")
        self.clock.set(until)
        self.deliver()
        self.write(f"⏰ {self.clock.now().astimezone(TOKYO):%Y-%m-%d %H:%M} JST")

    def _deliver_under(self, heading: str) -> None:
        """Deliver pending items and print them below ``heading``; print nothing if there was nothing to show."""
        captured: list[str] = []
        write, self.write = self.write, captured.append
        try:
            self.deliver()
        finally:
            self.write = write
        if captured:
            self.write(heading)
            for line in captured:
                self.write(line)

    def deliver(self) -> int:
        """Deliver every pending outbox item for the console and print it as its audience would read it."""
        kinds = set(RENDERERS) | ({REQUEST_EMAIL} if self.email_preview else set())
        with self.turn:
            return deliver_pending(self.ctx, self._deliver_one, platform=PLATFORM, kinds=kinds)

    def _deliver_one(self, session: Session, item: OutboxItem) -> None:
        if item.delivery_key in self.delivered:
            return  # already shown before a crash or a retry: showing it again would duplicate it
        if item.kind == REQUEST_EMAIL:
            content = render_request_email(self.ctx, session, item)
            if content is not None:
                self._email(content)
        else:
            delivery = render_delivery(self.ctx, session, item)
            if delivery.messages:
                getattr(self, "_on_" + delivery.kind.replace(".", "_"))(delivery)
        self.delivered.add(item.delivery_key)

    def _post(self, place: str, delivery: Delivery) -> None:
        self.write(f"  [→ {place}]")
        for message in delivery.messages:
            for line in render_message(message, indent="    "):
                self.write(line)

    def _console_user(self, delivery: Delivery) -> str | None:
        if delivery.recipient is None:
            return None
        for platform, workspace, user_id in delivery.recipient.identities:
            if platform == PLATFORM and workspace == WORKSPACE:
                return user_id
        return None

    def _on_task_channel_open(self, delivery: Delivery) -> None:
        place = f"#{delivery.channel_name}"
        partner = self._console_user(delivery)
        self.note(N_("✚ channel {channel} created; {user} invited"), channel=place, user=partner or "-")
        self._post(place, delivery)

    def _on_task_channel_invite(self, delivery: Delivery) -> None:
        place, user = f"#{delivery.channel_name}", self._console_user(delivery)
        if user:
            self.note(N_("✚ {user} invited to {channel}"), user=user, channel=place)
        self._post(place, delivery)

    def _on_task_channel_remove(self, delivery: Delivery) -> None:
        place, user = f"#{delivery.channel_name}", self._console_user(delivery)
        if user:
            self.note(N_("✖ {user} removed from {channel}"), user=user, channel=place)
        self._post(place, delivery)

    def _on_task_channel_archive(self, delivery: Delivery) -> None:
        place = f"#{delivery.channel_name}"
        self._post(place, delivery)
        self.note(N_("✖ channel {channel} archived"), channel=place)

    def _on_task_deadline_changed(self, delivery: Delivery) -> None:
        place = f"#{delivery.channel_name}" if delivery.channel_name else f"{BRAINSTORM}/T{delivery.task_id}"
        self._post(place, delivery)

    def _on_brainstorm_open(self, delivery: Delivery) -> None:
        self._post(BRAINSTORM, delivery)
        self.note(N_("✚ thread {thread} opened"), thread=f"{BRAINSTORM}/T{delivery.task_id}")

    def _on_brainstorm_post(self, delivery: Delivery) -> None:
        self._post(f"{BRAINSTORM}/T{delivery.task_id}", delivery)

    def _on_task_announce(self, delivery: Delivery) -> None:
        self._post(ANNOUNCEMENTS, delivery)

    def _direct(self, delivery: Delivery) -> None:
        user = self._console_user(delivery)
        if user is None:
            logger.info("delivery %s: recipient has no console account; nothing shown", delivery.key)
            return
        self._post(f"DM {user}", delivery)

    _on_evaluation_result = _direct
    _on_brainstorm_digest = _direct
    _on_request_sent = _direct
    _on_request_answered = _direct
    _on_reminder_deadline = _direct
    _on_reminder_evaluations = _direct
    _on_delivery_failed = _direct

    def _on_ranking_announcement(self, delivery: Delivery) -> None:
        place = (delivery.target or "").split(":", 2)[-1]
        if place not in self.channels:
            raise PermanentDeliveryError(f"channel_not_found: the console has no channel {place}")
        self._post(place, delivery)
        for attachment in delivery.attachments:
            self.write(f"    🖼 {attachment.filename} ({attachment.alt_text})")

    def _email(self, content: EmailContent) -> None:
        """Print an e-mail as it would be sent: recipient, subject and body."""
        self.note(N_("✉ e-mail to {name} <{address}>"), name=content.to_name, address=content.to_address)
        self.write(clean_text(f"    Subject: {content.subject}"))
        for line in content.body.splitlines():
            self.write(clean_text(f"    {line}".rstrip()))


def is_directive(text: str) -> bool:
    """Tell a directive (``:as hanako``) from chat that happens to start with a colon (``:-)``)."""
    return re.match(r":(as|in|clock|advance|who)(\s|$)", text) is not None


def _parse_clock(text: str) -> datetime:
    value = normalize(text).replace("/", "-").replace("T", " ")
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=TOKYO)
        except ValueError:
            continue
    raise ConsoleError(
        N_("{value} is not a clock time. Write it as YYYY-MM-DD HH:MM in Japan time, like 2026-12-01 10:00."),
        value=UserText(text),
    )
