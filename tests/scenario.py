"""Steps shared by the use-case tests: register people and open tasks through the real use cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.services import registration, secretariat, tasks
from core.services.context import ServiceContext
from core.storage.models import OutboxMessage
from tests.conftest import actor

SECRETARIAT = actor("secretariat")

# Fields each menu needs before the test adds its own.
MENU_DEFAULTS: dict[str, dict[str, Any]] = {
    "brainstorm": {},
    "practice": {"work_types": ("research",)},
    "contest": {"copyright": "応募作品の著作権は応募者に帰属します"},
}


def partner(ctx: ServiceContext, user: str = "acme", company: str | None = None) -> None:
    registration.register_partner(ctx, actor(user), company=company or f"{user} 株式会社")


def member(ctx: ServiceContext, user: str, *, paid: bool = False, grade: int | None = None) -> None:
    """Register ``user`` as a member with the nickname ``user``, then let the secretariat set paid and grade."""
    registration.register_member(ctx, actor(user), nickname=user)
    if paid:
        secretariat.set_membership(ctx, SECRETARIAT, user, "paid")
    if grade is not None:
        secretariat.set_grade(ctx, SECRETARIAT, user, grade)


def open_task(ctx: ServiceContext, menu: str = "practice", *, by: str = "acme", **fields: Any) -> int:
    """Open a task with a deadline of 2026/12/31 23:59 Japan time and return its id."""
    values: dict[str, Any] = {"title": f"{menu} task", "deadline": "2026/12/31", **MENU_DEFAULTS[menu], **fields}
    return tasks.create_task(ctx, actor(by), tasks.NewTask(menu=menu, **values)).id


def outbox_keys(ctx: ServiceContext, kind: str) -> list[str]:
    with ctx.transaction() as session:
        statement = select(OutboxMessage.delivery_key).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list(session.scalars(statement))


def count_rows(ctx: ServiceContext, model: type[Any]) -> int:
    with ctx.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0
