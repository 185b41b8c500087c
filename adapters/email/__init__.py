"""E-mail adapter: participation requests sent over SMTP by a worker that reads the outbox."""

from __future__ import annotations

from adapters.email.smtp import (
    EmailRejectedError,
    InvalidAddressError,
    SmtpConfig,
    SmtpMailer,
    TemporaryEmailError,
    compose,
    message_id,
)
from adapters.email.worker import EmailWorker, Mailer

__all__ = [
    "EmailRejectedError",
    "EmailWorker",
    "InvalidAddressError",
    "Mailer",
    "SmtpConfig",
    "SmtpMailer",
    "TemporaryEmailError",
    "compose",
    "message_id",
]
