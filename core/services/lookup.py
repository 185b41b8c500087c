"""Loading people and tasks for a use case, raising user errors for unknown or unregistered ones."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain.enums import Role
from core.domain.errors import N_, UserError
from core.domain.text import UserText, normalize, strip_invisible
from core.services.context import Actor, ServiceContext
from core.storage.models import Identity, Person, Task

__all__ = [
    "check_own_task",
    "find_person",
    "load_member",
    "load_task",
    "parse_task_id",
    "require_member",
    "require_partner",
    "require_person",
    "require_secretariat",
    "require_task_owner",
]


def find_person(session: Session, actor: Actor) -> Person | None:
    """Return the person linked to the actor's chat account, or None if it is not registered."""
    statement = (
        select(Person)
        .join(Identity, Identity.person_id == Person.id)
        .where(
            Identity.platform == actor.platform,
            Identity.workspace == actor.workspace,
            Identity.user_id == actor.user_id,
        )
    )
    return session.scalars(statement).one_or_none()


def require_person(session: Session, actor: Actor) -> Person:
    person = find_person(session, actor)
    if person is None:
        raise UserError(
            N_(
                "You are not registered yet. Register first with /smarter register member or "
                "/smarter register partner (see /smarter help register)."
            )
        )
    return person


def require_secretariat(ctx: ServiceContext, actor: Actor) -> None:
    if not ctx.is_secretariat(actor):
        raise UserError(N_("Only the secretariat can do this."))


def require_partner(session: Session, actor: Actor) -> Person:
    person = require_person(session, actor)
    if person.role != Role.PARTNER:
        raise UserError(N_("Only partners can do this. You are registered as a member."))
    return person


def require_member(session: Session, actor: Actor) -> Person:
    person = require_person(session, actor)
    if person.role != Role.MEMBER:
        raise UserError(N_("Only members can do this. You are registered as a partner."))
    return person


def parse_task_id(text: str) -> int:
    """Read a task id written as ``T12``, ``t12`` or ``12`` (全角 digits too)."""
    match = re.fullmatch(r"[Tt]?(\d{1,9})", normalize(text))
    if not match:
        raise UserError(
            N_("{value} is not a task id. Task ids look like T12; /smarter task list shows them."),
            value=UserText(text),
        )
    return int(match.group(1))


def load_task(session: Session, task_id: int, *, lock: bool = False, share: bool = False) -> Task:
    """Load a task; ``lock`` takes its row for update, ``share`` only keeps its status from changing.

    Work that depends on the task's status (submit, evaluate, post) takes the shared lock, so a
    concurrent close or archive, which takes the update lock, waits for it or runs before it.
    """
    statement = select(Task).where(Task.id == task_id)
    if lock:
        statement = statement.with_for_update()
    elif share:
        statement = statement.with_for_update(read=True)
    task = session.scalars(statement).one_or_none()
    if task is None:
        raise UserError(N_("Task T{task_id} was not found. /smarter task list shows the open tasks."), task_id=task_id)
    return task


def load_member(session: Session, reference: str) -> Person:
    """Find a member by ``M12``, ``@nickname`` or ``nickname``."""
    text = strip_invisible(normalize(reference)).removeprefix("@")
    statement = select(Person).where(Person.role == Role.MEMBER)
    if match := re.fullmatch(r"[Mm](\d{1,9})", text):
        statement = statement.where(Person.id == int(match.group(1)))
    else:
        statement = statement.where(Person.name_key == text.casefold())
    member = session.scalars(statement).one_or_none()
    if member is None:
        raise UserError(
            N_("Member {value} was not found. Use the member's nickname or id (like M3) as the ranking shows it."),
            value=UserText(reference),
        )
    return member


def require_task_owner(ctx: ServiceContext, session: Session, actor: Actor, task: Task) -> Person | None:
    """Return the partner who owns ``task``, or None for the secretariat; raise for anyone else."""
    if ctx.is_secretariat(actor):
        return find_person(session, actor)
    person = require_partner(session, actor)
    check_own_task(person, task)
    return person


def check_own_task(partner: Person, task: Task) -> None:
    """Raise unless ``partner`` posted ``task``."""
    if partner.id != task.partner_id:
        raise UserError(
            N_("Task T{task_id} belongs to another partner; only its partner can do this."), task_id=task.id
        )
