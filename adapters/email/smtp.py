"""SMTP delivery: the server settings, composing a MIME message from rendered content, and sending it."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Literal, NoReturn, get_args

import aiosmtplib

from core.presentation.emails import EmailContent
from core.services.outbox import PermanentDeliveryError

__all__ = [
    "EmailRejectedError",
    "InvalidAddressError",
    "Security",
    "SmtpConfig",
    "SmtpMailer",
    "TemporaryEmailError",
    "compose",
    "message_id",
]

logger = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]

# A domain name as it may follow the "@" of a Message-ID: ASCII letters, digits, hyphens and dots.
DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


class TemporaryEmailError(Exception):
    """Raised when an e-mail could not be sent this time and a later attempt may succeed.

    Causes are a 4xx reply, a refused or lost connection, a timeout, or a 5xx reply to a step that does not
    concern this message (EHLO, AUTH, MAIL FROM), which points to the server settings. ``code`` is the SMTP
    reply code, or None when the server sent no reply.
    """

    def __init__(self, message: str, *, delivery_key: str, code: int | None = None) -> None:
        super().__init__(message)
        self.delivery_key = delivery_key
        self.code = code


class EmailRejectedError(PermanentDeliveryError):
    """Raised when the SMTP server rejected the recipient or the message with a 5xx reply, so a resend would fail."""

    def __init__(self, message: str, *, delivery_key: str, code: int) -> None:
        super().__init__(message)
        self.delivery_key = delivery_key
        self.code = code


class InvalidAddressError(PermanentDeliveryError):
    """Raised by ``compose`` when the recipient's address cannot be written into a message header."""

    def __init__(self, message: str, *, delivery_key: str) -> None:
        super().__init__(message)
        self.delivery_key = delivery_key


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpConfig:
    """Settings of the SMTP server that sends the service's e-mail, and of the sender shown to members."""

    host: str
    port: int = 587
    # "starttls" upgrades a plain connection (usually port 587), "tls" connects with TLS (usually port 465),
    # and "none" sends in clear text, which is only fit for a relay on the same host.
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Timeout for connecting and for each reply of the server.
    timeout_seconds: float = 10.0
    sender_address: str
    sender_name: str = "SMARTER×SMARTER"
    # The domain part of every Message-ID; None uses the sender address's domain. Deployments that share a
    # sender domain should set different values, because receivers may drop a message whose id they have seen.
    message_id_domain: str | None = None
    # The name sent with EHLO; None lets aiosmtplib use socket.getfqdn().
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if self.security not in get_args(Security):
            raise ValueError(f"invalid SMTP security {self.security!r}: expected starttls, tls or none")
        if not 0 < self.port < 65536:
            raise ValueError(f"invalid SMTP port {self.port}: expected 1 to 65535")
        if self.timeout_seconds <= 0:
            raise ValueError(f"invalid SMTP timeout {self.timeout_seconds}: expected a number of seconds above 0")
        try:
            Address(addr_spec=self.sender_address)
        except ValueError as error:
            raise ValueError(f"invalid sender address {self.sender_address!r}: {error}") from error
        if not DOMAIN.fullmatch(self.id_domain):
            raise ValueError(f"invalid Message-ID domain {self.id_domain!r}: expected an ASCII domain name")

    @property
    def id_domain(self) -> str:
        """The domain used in Message-IDs."""
        return self.message_id_domain or self.sender_address.rpartition("@")[2]


def message_id(delivery_key: str, domain: str) -> str:
    """Return the Message-ID of the e-mail for ``delivery_key``: the same key always gives the same id.

    A resend after a crash therefore carries the id of the first attempt, and receivers can drop the copy.
    The readable part shows the key, and the hash keeps keys that differ only in punctuation apart.
    """
    readable = re.sub(r"[^A-Za-z0-9]+", ".", delivery_key).strip(".")[:64]
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:16]
    return f"<{readable}.{digest}@{domain}>" if readable else f"<{digest}@{domain}>"


def _header_text(text: str) -> str:
    # Header values must be one line, whatever the caller passed.
    return " ".join(text.split())


def _recipient(content: EmailContent) -> Address:
    """Return the recipient as a header address, with an internationalized domain in its ASCII form."""
    local, at, domain = content.to_address.strip().rpartition("@")
    try:
        if not at or not local or not domain:
            raise ValueError("expected local-part@domain")
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
        return Address(display_name=_header_text(content.to_name), addr_spec=f"{local}@{ascii_domain}")
    except (UnicodeError, ValueError) as error:
        raise InvalidAddressError(
            f"e-mail {content.delivery_key} has an invalid recipient address: {error}",
            delivery_key=content.delivery_key,
        ) from error


def compose(content: EmailContent, config: SmtpConfig, *, date: datetime) -> EmailMessage:
    """Build the plain-text UTF-8 message for ``content``, dated ``date`` (a timezone-aware time).

    Non-ASCII header text (the sender's name, the subject) is RFC 2047-encoded by the SMTP policy.
    Raises InvalidAddressError when the recipient's address is not valid.
    """
    if date.utcoffset() is None:
        raise ValueError(f"e-mail date {date!r} has no time zone. Pass an aware datetime.")
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=_header_text(config.sender_name), addr_spec=config.sender_address)
    message["To"] = _recipient(content)
    message["Subject"] = _header_text(content.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(content.delivery_key, config.id_domain)
    # RFC 3834: out-of-office and other automatic replies are not sent back to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    # Base64 keeps Japanese text 7-bit clean for servers without 8BITMIME, and quoted-printable keeps
    # ASCII text readable while limiting line length.
    encoding = "quoted-printable" if content.body.isascii() else "base64"
    message.set_content(content.body, subtype="plain", charset="utf-8", cte=encoding)
    # After set_content, which replaces every Content-* header.
    message["Content-Language"] = content.locale
    return message


class SmtpMailer:
    """Sends one message per connection through the configured SMTP server."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage, *, delivery_key: str | None = None) -> None:
        """Send ``message`` to the addresses in its To header.

        Raises EmailRejectedError (a PermanentDeliveryError) when the server rejects the recipient or the
        message with a 5xx reply, and TemporaryEmailError for everything worth retrying.
        ``delivery_key`` names the message in logs and errors. Without it, the Message-ID does.
        """
        key = delivery_key or str(message["Message-ID"])
        config = self.config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                timeout=config.timeout_seconds,
                local_hostname=config.local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            # The message has one recipient, so the list contains exactly one refusal.
            _raise_for_reply(key, error.recipients[0], error)
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            _raise_for_reply(key, error, error)
        except aiosmtplib.SMTPResponseException as error:
            # A reply before the recipient was accepted (EHLO, AUTH, MAIL FROM) concerns the settings, not the message.
            logger.warning("e-mail %s not sent: SMTP %d before RCPT TO, check the SMTP settings", key, error.code)
            raise TemporaryEmailError(
                f"SMTP server {config.host}:{config.port} replied {error.code} {error.message}",
                delivery_key=key,
                code=error.code,
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # Timeouts, refused and lost connections and TLS failures. TimeoutError is an OSError.
            logger.warning("e-mail %s not sent: %s from %s:%d", key, type(error).__name__, config.host, config.port)
            raise TemporaryEmailError(
                f"SMTP server {config.host}:{config.port} failed: {type(error).__name__}: {error}",
                delivery_key=key,
            ) from error


def _raise_for_reply(key: str, reply: aiosmtplib.SMTPResponseException, cause: Exception) -> NoReturn:
    """Raise the error for a reply to RCPT TO or DATA: a rejection for 5xx, a temporary error otherwise."""
    text = f"SMTP server replied {reply.code} {reply.message}"
    if 500 <= reply.code < 600:
        logger.warning("e-mail %s rejected: SMTP %d, not retrying", key, reply.code)
        raise EmailRejectedError(text, delivery_key=key, code=reply.code) from cause
    logger.warning("e-mail %s deferred by the server: SMTP %d", key, reply.code)
    raise TemporaryEmailError(text, delivery_key=key, code=reply.code) from cause
