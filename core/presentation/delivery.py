"""The rendered form of an outbox item for an adapter: the delivery and its recipient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain.enums import Role
from core.presentation.messages import Attachment, Message
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem
from core.storage.models import Identity, Person

__all__ = ["Delivery", "Recipient", "Renderer", "recipient"]


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    name: str
    identities: tuple[tuple[str, str, str], ...]
    locale: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox item rendered for an adapter; ``recipient`` is set for DMs and channel invitations.

    ``target`` names the channel of an announcement as platform:workspace:channel. A delivery with no
    messages has nothing left to say (a reminder about work already done) and is skipped by adapters.
    """

    key: str
    kind: str
    task_id: int | None
    channel_name: str | None
    recipient: Recipient | None
    messages: tuple[Message, ...]
    target: str | None = None
    attachments: tuple[Attachment, ...] = ()


def recipient(ctx: ServiceContext, session: Session, person_id: int) -> Recipient:
    person = session.get_one(Person, person_id)
    identities = session.execute(
        select(Identity.platform, Identity.workspace, Identity.user_id).where(Identity.person_id == person_id)
    ).all()
    # A partner's company name may be hidden, so a partner recipient goes by its id.
    name = person.display_name if person.role == Role.MEMBER else f"P{person.id}"
    return Recipient(
        person.id,
        name,
        tuple((p, w, u) for p, w, u in identities),
        person.locale or ctx.policy.default_locale,
    )


Renderer = Callable[[ServiceContext, Session, OutboxItem], Delivery]
