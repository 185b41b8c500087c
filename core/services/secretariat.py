"""Secretariat tools: membership (free / paid) and grades of members."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.enums import Membership
from core.domain.errors import N_, UserError
from core.domain.text import UserText, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import load_member, require_secretariat

__all__ = ["MemberUpdated", "set_grade", "set_membership"]

MEMBERSHIP_ALIASES = {
    "free": Membership.FREE,
    "無料": Membership.FREE,
    "無料会員": Membership.FREE,
    "paid": Membership.PAID,
    "有料": Membership.PAID,
    "有料会員": Membership.PAID,
}


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    member_id: int
    member: UserText
    membership: Membership
    grade: int | None
    changed: str  # "membership" or "grade"


def set_membership(ctx: ServiceContext, actor: Actor, member_ref: str, membership: str) -> MemberUpdated:
    require_secretariat(ctx, actor)
    value = MEMBERSHIP_ALIASES.get(normalize(membership).lower())
    if value is None:
        raise UserError(N_("{value} is not a membership. Choose free or paid."), value=UserText(membership))
    with ctx.transaction() as session:
        member = load_member(session, member_ref)
        member.membership = value
        if value == Membership.FREE:
            member.grade = None  # grades belong to paid members only
        return MemberUpdated(member.id, UserText(member.display_name), value, member.grade, "membership")


def set_grade(ctx: ServiceContext, actor: Actor, member_ref: str, grade: int | None) -> MemberUpdated:
    """Set a member's grade (None clears it); only paid members are graded."""
    require_secretariat(ctx, actor)
    low, high = ctx.policy.min_grade, ctx.policy.max_grade
    if grade is not None and not low <= grade <= high:
        raise UserError(
            N_("A grade must be a whole number from {low} to {high}; you gave {value}."),
            low=low,
            high=high,
            value=grade,
        )
    with ctx.transaction() as session:
        member = load_member(session, member_ref)
        if grade is not None and member.membership != Membership.PAID:
            raise UserError(
                N_("{member} is a free member; only paid members are graded. Set the membership to paid first."),
                member=UserText(member.display_name),
            )
        member.grade = grade
        return MemberUpdated(
            member.id, UserText(member.display_name), Membership(member.membership or "free"), grade, "grade"
        )
