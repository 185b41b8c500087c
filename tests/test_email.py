"""Participation request e-mail: rendering, composing, and the worker against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import socket
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from adapters.console.session import SettableClock
from adapters.email import (
    EmailWorker,
    InvalidAddressError,
    SmtpConfig,
    SmtpMailer,
    compose,
    message_id,
)
from core.domain.enums import NameDisplay
from core.domain.text import TOKYO
from core.presentation.emails import REQUEST_EMAIL, EmailContent, wrap
from core.presentation.i18n import Localizer
from core.services import registration, requests
from core.services.context import ServiceContext
from core.services.outbox import FAILURE_REPORT, PermanentDeliveryError, enqueue, retry_delay
from core.storage.models import OutboxMessage, Person, Task
from tests.conftest import actor
from tests.scenario import open_task, partner

SENDER = "noreply@smarter.example"
MEMBER_ADDRESS = "taro@example.com"
TITLE = "新規事業のアイデア募集"
HIDDEN_COMPANY = "秘密商事株式会社"
SUBJECT_MSGID = "[SMARTER×SMARTER] Participation request: T{task_id} {title}"
DATE = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
# Wrapped body lines: 74 columns, plus 2 for punctuation that hangs at the end of a Japanese line.
MAX_COLUMNS = 76


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, email.message_from_bytes(self.raw, policy=email.policy.default))

    @property
    def body(self) -> str:
        # A text part travels with CRLF line ends (RFC 2045 canonical form), and base64 keeps them.
        return cast(str, self.message.get_content()).replace("\r\n", "\n")


@dataclass
class MailHandler:
    """An aiosmtpd handler that stores accepted messages, or returns a queued reply to the next RCPT or DATA."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    rcpt_count: int = 0
    port: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_count += 1
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mail_server() -> Iterator[MailHandler]:
    """An SMTP server on 127.0.0.1 at a free port that accepts every message unless a reply is queued."""
    handler = MailHandler(port=free_port())
    # server_hostname is set so that the server does not look up its own name.
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port, server_hostname="localhost")
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are accepted by the kernel but the server never speaks."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def smtp_config(port: int = 25, **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "timeout_seconds": 5.0,
        "sender_address": SENDER,
        "local_hostname": "localhost",
    }
    values.update(overrides)
    return SmtpConfig(**values)


def run_worker(ctx: ServiceContext, port: int, *, worker_id: str = "test-worker", **overrides: Any) -> int:
    worker = EmailWorker(ctx, SmtpMailer(smtp_config(port, **overrides)), worker_id=worker_id)
    return asyncio.run(worker.run_once())


def send_request(
    ctx: ServiceContext,
    *,
    locale: str | None = None,
    title: str = TITLE,
    message: str = "ぜひご参加ください。",
    hidden: bool = False,
) -> int:
    """Register acme and the member taro (with an e-mail address), open a task and send taro a request."""
    if hidden:
        registration.register_partner(
            ctx,
            actor("acme"),
            company=HIDDEN_COMPANY,
            display=NameDisplay.INDUSTRY_PREFECTURE,
            industry="情報通信業",
            prefecture="東京都",
        )
    else:
        partner(ctx)
    registration.register_member(ctx, actor("taro", locale), nickname="taro", email=MEMBER_ADDRESS)
    task_id = open_task(ctx, title=title)
    return requests.send_request(ctx, actor("acme"), "taro", task_id, message=message).id


def email_row(ctx: ServiceContext) -> OutboxMessage:
    with ctx.transaction() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REQUEST_EMAIL)).one()


def failure_reports(ctx: ServiceContext) -> list[OutboxMessage]:
    with ctx.transaction() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == FAILURE_REPORT)))


def only_received(handler: MailHandler) -> Received:
    assert len(handler.received) == 1, f"expected one message, the server received {len(handler.received)}"
    return handler.received[0]


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def unwrapped(body: str) -> str:
    """Join wrapped lines again: without a space next to a wide (Japanese) character, else with one."""
    lines = body.split("\n")
    joined = lines[0]
    for line in lines[1:]:
        if not line or not joined or joined.endswith("\n"):
            joined += "\n" + line
        elif columns(joined[-1]) == 2 or columns(line[0]) == 2:
            joined += line
        else:
            joined += " " + line
    return joined


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def raw_header(raw: bytes, name: str) -> bytes:
    """Return one header as sent, folded lines included."""
    match = re.search(rb"^" + name.encode() + rb":([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", header_block(raw), re.MULTILINE)
    assert match is not None, f"no {name} header in the message"
    return match.group(1)


def test_email_envelope_and_addresses(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(any_ctx)

    claimed = run_worker(any_ctx, mail_server.port)

    received = only_received(mail_server)
    to = received.message["To"].addresses
    sender = received.message["From"].addresses
    assert claimed == 1
    assert received.mail_from == SENDER
    assert received.rcpt_tos == [MEMBER_ADDRESS]
    assert [(a.display_name, a.addr_spec) for a in to] == [("taro", MEMBER_ADDRESS)]
    assert [(a.display_name, a.addr_spec) for a in sender] == [("SMARTER×SMARTER", SENDER)]
    assert b"=?utf-8?" in raw_header(received.raw, "From").lower()


def test_email_headers(any_ctx: ServiceContext, mail_server: MailHandler, clock: SettableClock) -> None:
    request_id = send_request(any_ctx)

    run_worker(any_ctx, mail_server.port)

    message = only_received(mail_server).message
    assert message["Message-ID"] == message_id(f"request:{request_id}:email", "smarter.example")
    assert message["Message-ID"].startswith(f"<request.{request_id}.email.")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "ja"
    assert parsedate_to_datetime(message["Date"]) == clock.now()
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"


def test_japanese_subject_encoded_on_wire(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(any_ctx)

    run_worker(any_ctx, mail_server.port)

    raw = only_received(mail_server).raw
    subject = raw_header(raw, "Subject")
    decoded = str(make_header(decode_header(subject.decode("ascii").replace("\r\n", ""))))
    assert header_block(raw).isascii()
    assert b"=?utf-8?" in subject.lower()
    assert decoded == Localizer("ja")(SUBJECT_MSGID, task_id=1, title=TITLE)
    assert decoded.endswith(f"T1 {TITLE}")
    assert "SMARTER×SMARTER" in decoded


def test_japanese_body(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    request_id = send_request(any_ctx)

    run_worker(any_ctx, mail_server.port)

    received = only_received(mail_server)
    body = received.body
    text = unwrapped(body)
    assert received.message["Content-Transfer-Encoding"] == "base64"
    assert "taro" in body.split("\n")[0]
    assert "acme 株式会社" in text
    assert TITLE in text
    assert "> ぜひご参加ください。" in body.split("\n")
    assert "義務ではありません" in text
    assert "辞退しても、評価やランキングに影響することはありません" in text
    assert f"/smarter accept R{request_id}" in body
    assert f"/smarter decline R{request_id}" in body
    assert "/smarter task show T1" in body
    assert "/smarter me email off" in body
    assert "2026年12月15日(火) 10:00" in text  # expiry: 14 days after the request
    assert "2026年12月31日(木) 23:59" in text  # the task's deadline


def test_body_lines_fit_columns(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    japanese = "市場調査の経験がある方を歓迎します。" * 8
    english = "We welcome people with research experience. " * 4
    long_message = f"{japanese}\n{english}"
    send_request(any_ctx, message=long_message)

    run_worker(any_ctx, mail_server.port)

    lines = only_received(mail_server).body.split("\n")
    too_long = [line for line in lines if columns(line) > MAX_COLUMNS]
    assert too_long == []
    assert len([line for line in lines if line.startswith("> ")]) > 4


def test_english_email(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    request_id = send_request(any_ctx, locale="en", title="New business ideas", message="Please join us.")

    run_worker(any_ctx, mail_server.port)

    received = only_received(mail_server)
    message = received.message
    text = unwrapped(received.body)
    assert message["Subject"] == "[SMARTER×SMARTER] Participation request: T1 New business ideas"
    assert message["Content-Language"] == "en"
    assert text.startswith("Dear taro,")
    assert "acme 株式会社 would like you to take part in this task." in text
    assert "Deadline: 2026-12-31 (Thu) 23:59 JST" in text
    assert "> Please join us." in text
    assert (
        "This is a request, not an obligation: whether you accept is entirely your own choice, "
        "and declining has no effect on your evaluations or ranking."
    ) in text
    assert f"Accept and join the task: /smarter accept R{request_id}" in text
    assert f"Decline: /smarter decline R{request_id}" in text
    assert "This request expires on 2026-12-15 (Tue) 10:00 JST." in text
    assert "Stop these e-mails: /smarter me email off" in text


def test_hidden_partner_name_absent(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(any_ctx, hidden=True)

    run_worker(any_ctx, mail_server.port)

    received = only_received(mail_server)
    message = received.message
    decoded_headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    body = unwrapped(received.body)
    assert HIDDEN_COMPANY.encode() not in received.raw
    assert HIDDEN_COMPANY not in decoded_headers
    assert HIDDEN_COMPANY not in body
    assert "情報通信業" in body
    assert "東京都" in body


def test_temporary_failure_retried_after_backoff(
    any_ctx: ServiceContext, mail_server: MailHandler, clock: SettableClock
) -> None:
    send_request(any_ctx)
    mail_server.data_replies.append("451 4.3.0 Try again later")

    failed_at = clock.now()
    first = run_worker(any_ctx, mail_server.port)
    failed = email_row(any_ctx)
    early = run_worker(any_ctx, mail_server.port)
    clock.advance("1m")
    retried = run_worker(any_ctx, mail_server.port)
    after = run_worker(any_ctx, mail_server.port)

    delivered = email_row(any_ctx)
    assert (first, early, retried, after) == (1, 0, 1, 0)
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert "451" in failed.last_error
    assert failed.not_before == failed_at + retry_delay(1)
    assert len(mail_server.received) == 1
    assert delivered.delivered_at == clock.now()
    assert delivered.attempts == 2
    assert failure_reports(any_ctx) == []


@pytest.mark.parametrize(
    ("step", "reply"),
    [("rcpt", "550 5.1.1 No such user here"), ("data", "554 5.6.0 Message rejected")],
)
def test_rejection_recorded_as_failed(
    any_ctx: ServiceContext, mail_server: MailHandler, clock: SettableClock, step: str, reply: str
) -> None:
    send_request(any_ctx)
    (mail_server.rcpt_replies if step == "rcpt" else mail_server.data_replies).append(reply)

    run_worker(any_ctx, mail_server.port)
    clock.advance("2h")
    later = run_worker(any_ctx, mail_server.port)

    row = email_row(any_ctx)
    reports = failure_reports(any_ctx)
    assert later == 0
    assert mail_server.received == []
    assert mail_server.rcpt_count == 1
    assert row.failed_at is not None
    assert row.delivered_at is None
    assert row.last_error is not None
    assert reply[:3] in row.last_error
    assert row.last_error.startswith("EmailRejectedError")
    assert [report.payload["delivery_key"] for report in reports] == [row.delivery_key]


def test_silent_server_times_out_then_retried(
    any_ctx: ServiceContext, mail_server: MailHandler, silent_port: int, clock: SettableClock
) -> None:
    send_request(any_ctx)

    started = time.monotonic()
    run_worker(any_ctx, silent_port, timeout_seconds=0.3)
    elapsed = time.monotonic() - started
    timed_out = email_row(any_ctx)
    clock.advance("1m")
    retried = run_worker(any_ctx, mail_server.port)

    assert elapsed < 5
    assert timed_out.attempts == 1
    assert timed_out.failed_at is None
    assert timed_out.last_error is not None
    assert timed_out.last_error.startswith("TemporaryEmailError")
    assert "Timeout" in timed_out.last_error
    assert retried == 1
    assert len(mail_server.received) == 1
    assert email_row(any_ctx).delivered_at is not None


@pytest.mark.parametrize(
    "change",
    [{"email_enabled": False}, {"email": None}],
    ids=["email off", "no address"],
)
def test_email_not_sent_after_opt_out(
    any_ctx: ServiceContext, mail_server: MailHandler, change: dict[str, Any]
) -> None:
    send_request(any_ctx)
    with any_ctx.transaction() as session:
        session.execute(update(Person).where(Person.display_name == "taro").values(**change))

    claimed = run_worker(any_ctx, mail_server.port)

    row = email_row(any_ctx)
    assert claimed == 1
    assert mail_server.received == []
    assert mail_server.rcpt_count == 0
    assert row.delivered_at is not None
    assert row.failed_at is None


@pytest.mark.parametrize("outcome", ["declined", "expired"])
def test_email_not_sent_for_closed_request(
    ctx: ServiceContext, mail_server: MailHandler, clock: SettableClock, outcome: str
) -> None:
    request_id = send_request(ctx)
    if outcome == "declined":
        requests.answer_request(ctx, actor("taro"), request_id, accept=False)
    else:
        clock.advance("15d")

    claimed = run_worker(ctx, mail_server.port)

    assert claimed == 1
    assert mail_server.received == []
    assert email_row(ctx).delivered_at is not None


class SimulatedCrash(BaseException):
    """Raised after a send to stop the worker like a killed process: the outcome is never recorded."""


class CrashAfterSend(SmtpMailer):
    async def send(self, message: EmailMessage, *, delivery_key: str | None = None) -> None:
        await super().send(message, delivery_key=delivery_key)
        raise SimulatedCrash


def test_resend_after_crash_keeps_message_id(
    any_ctx: ServiceContext, mail_server: MailHandler, clock: SettableClock
) -> None:
    send_request(any_ctx)
    crashing = EmailWorker(any_ctx, CrashAfterSend(smtp_config(mail_server.port)), worker_id="crashed")

    with pytest.raises(SimulatedCrash):
        asyncio.run(crashing.run_once())
    during_lease = run_worker(any_ctx, mail_server.port)
    clock.advance("6m")
    after_lease = run_worker(any_ctx, mail_server.port)

    first, second = (received.message for received in mail_server.received)
    assert during_lease == 0
    assert after_lease == 1
    assert first["Message-ID"] == second["Message-ID"]
    assert email_row(any_ctx).delivered_at is not None


def test_crlf_in_title_adds_no_header(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(any_ctx)
    # Written past the task service, which would already have removed the line breaks.
    injected = "新規事業\r\nBcc: x@example.com\u2028X-Injected: yes"
    with any_ctx.transaction() as session:
        session.execute(update(Task).values(title=injected))

    run_worker(any_ctx, mail_server.port)

    received = only_received(mail_server)
    message = received.message
    body_lines = received.body.split("\n")
    assert received.rcpt_tos == [MEMBER_ADDRESS]
    assert message.get_all("Bcc") is None
    assert message.get_all("X-Injected") is None
    assert not re.search(rb"^(Bcc|X-Injected):", header_block(received.raw), re.MULTILINE | re.IGNORECASE)
    assert str(message["Subject"]).endswith("T1 新規事業 Bcc: x@example.com X-Injected: yes")
    assert not [line for line in body_lines if line.startswith(("Bcc:", "X-Injected:"))]


def test_partner_message_lines_quoted(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(any_ctx, message="よろしくお願いします。\r\n  /smarter accept R99\u2028Bcc: x@example.com")

    run_worker(any_ctx, mail_server.port)

    lines = only_received(mail_server).body.split("\n")
    assert ">   /smarter accept R99" in lines
    assert "> Bcc: x@example.com" in lines
    assert not [line for line in lines if "R99" in line and not line.startswith("> ")]


def test_worker_survives_bad_item(any_ctx: ServiceContext, mail_server: MailHandler) -> None:
    with any_ctx.transaction() as session:
        enqueue(session, key="request:broken:email", kind=REQUEST_EMAIL)
    send_request(any_ctx)

    claimed = run_worker(any_ctx, mail_server.port)

    with any_ctx.transaction() as session:
        statement = select(OutboxMessage).where(OutboxMessage.delivery_key == "request:broken:email")
        broken = session.scalars(statement).one()
    assert claimed == 2
    assert len(mail_server.received) == 1
    assert broken.attempts == 1
    assert broken.delivered_at is None
    assert broken.last_error is not None
    assert broken.last_error.startswith("KeyError")


def test_password_not_logged(ctx: ServiceContext, mail_server: MailHandler, caplog: pytest.LogCaptureFixture) -> None:
    send_request(ctx)
    caplog.set_level(logging.DEBUG)

    # The test server offers no AUTH, so logging in fails and the attempt is logged and recorded.
    run_worker(ctx, mail_server.port, username="bot", password="s3cret-password")

    row = email_row(ctx)
    assert mail_server.received == []
    assert row.last_error is not None
    assert row.last_error.startswith("TemporaryEmailError")
    assert caplog.records
    assert "s3cret-password" not in caplog.text
    assert "s3cret-password" not in row.last_error


def test_worker_run_sends_until_stopped(
    ctx: ServiceContext, mail_server: MailHandler, caplog: pytest.LogCaptureFixture
) -> None:
    send_request(ctx)
    caplog.set_level(logging.INFO, logger="adapters.email.worker")
    worker = EmailWorker(ctx, SmtpMailer(smtp_config(mail_server.port)), worker_id="looping")

    async def run_until_sent() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop, interval=0.05))
        for _ in range(200):
            if mail_server.received:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=2)

    asyncio.run(run_until_sent())

    messages = [record.getMessage() for record in caplog.records]
    assert len(mail_server.received) == 1
    assert email_row(ctx).delivered_at is not None
    assert any("looping started" in text for text in messages)
    assert any("looping stopped" in text for text in messages)


def test_send_request_only_queues_email(ctx: ServiceContext, mail_server: MailHandler) -> None:
    send_request(ctx)

    row = email_row(ctx)
    assert row.delivery_key == "request:1:email"
    assert row.delivered_at is None
    assert mail_server.received == []


def email_content(**overrides: str) -> EmailContent:
    values = {
        "delivery_key": "request:1:email",
        "to_address": MEMBER_ADDRESS,
        "to_name": "taro",
        "locale": "ja",
        "subject": "件名",
        "body": "本文\n",
    }
    values.update(overrides)
    return EmailContent(**values)


@pytest.mark.parametrize("address", ["no-at-sign", "たろう@example.com", "a b@example.com", "@example.com"])
def test_compose_rejects_invalid_address(address: str) -> None:
    with pytest.raises(InvalidAddressError) as raised:
        compose(email_content(to_address=address), smtp_config(25), date=DATE)

    assert isinstance(raised.value, PermanentDeliveryError)
    assert "request:1:email" in str(raised.value)


def test_compose_encodes_international_domain() -> None:
    message = compose(email_content(to_address="taro@例え.jp"), smtp_config(25), date=DATE)

    assert message["To"].addresses[0].domain == "xn--r8jz45g.jp"


def test_compose_requires_aware_date() -> None:
    with pytest.raises(ValueError, match="time zone"):
        compose(email_content(), smtp_config(25), date=datetime(2026, 12, 1, 10, 0))


def test_compose_joins_header_lines() -> None:
    message = compose(email_content(subject="a\r\nBcc: x@example.com", to_name="ta\nro"), smtp_config(25), date=DATE)

    assert message["Subject"] == "a Bcc: x@example.com"
    assert message["To"].addresses[0].display_name == "ta ro"
    assert message.get_all("Bcc") is None


def test_message_id_depends_only_on_key() -> None:
    first = message_id("request:1:email", "smarter.example")

    assert message_id("request:1:email", "smarter.example") == first
    assert message_id("request.1.email", "smarter.example") != first
    assert message_id("request:2:email", "smarter.example") != first
    assert re.fullmatch(r"<request\.1\.email\.[0-9a-f]{16}@smarter\.example>", first)


def test_smtp_config_hides_password() -> None:
    config = smtp_config(587, password="s3cret-password")

    assert "s3cret-password" not in repr(config)
    assert config.id_domain == "smarter.example"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"security": "ssl"}, "security"),
        ({"port": 0}, "port"),
        ({"timeout_seconds": 0}, "timeout"),
        ({"sender_address": "not an address"}, "sender address"),
        ({"message_id_domain": "bad domain"}, "Message-ID domain"),
    ],
)
def test_smtp_config_rejects_invalid(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        smtp_config(**overrides)


def test_wrap_breaks_japanese_within_columns() -> None:
    text = "参加するかどうかは、あなたご自身が自由に決めてください。" * 5

    lines = wrap(text, columns=40)

    assert "".join(lines) == text
    assert all(columns(line) <= 42 for line in lines)
    assert not [line for line in lines if line[0] in "、。"]


def test_wrap_keeps_words_whole() -> None:
    text = "To answer, type /smarter accept R12 in the chat of SMARTER×SMARTER today."

    lines = wrap(text, columns=20, prefix="> ")

    assert " ".join(line.removeprefix("> ") for line in lines) == text
    assert all(line.startswith("> ") for line in lines)
    assert all(columns(line) <= 20 for line in lines)


def test_wrap_moves_opening_bracket() -> None:
    lines = wrap("あいうえおかきく「けこ」", columns=18)

    assert lines == ["あいうえおかきく", "「けこ」"]
