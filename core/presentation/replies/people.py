"""Replies about people: registration, profiles and the secretariat's membership and grade changes."""

from __future__ import annotations

from core.domain.enums import NameDisplay, Role
from core.domain.errors import N_, T_
from core.presentation.i18n import Localizer
from core.presentation.messages import Field, Message
from core.presentation.replies.base import present, reply_message
from core.services.registration import Profile
from core.services.secretariat import MemberUpdated


@present.register
def _(result: Profile, loc: Localizer) -> list[Message]:
    title = (
        loc.line(N_("Welcome to SMARTER×SMARTER, {name}! Your registration is complete."), name=result.display_name)
        if result.newly_registered
        else loc.line(N_("Your registration"))
    )
    fields = [
        Field(loc(N_("Role")), loc.of(T_(result.role))),
        Field(loc(N_("Name")), loc.of(result.display_name)),
        Field(loc(N_("ID")), loc.of(f"{'M' if result.role == Role.MEMBER else 'P'}{result.person_id}")),
    ]
    if result.role == Role.MEMBER:
        fields.append(Field(loc(N_("Membership")), loc.of(T_(result.membership or "free"))))
        fields.append(Field(loc(N_("Grade")), loc.of(result.grade if result.grade is not None else "-")))
    else:
        shown_as = (
            loc.line(
                N_("Industry + prefecture: {industry}, {prefecture}"),
                industry=result.industry or "-",
                prefecture=result.prefecture or "-",
            )
            if result.name_display == NameDisplay.INDUSTRY_PREFECTURE
            else loc.line(N_("Company name"))
        )
        fields.append(Field(loc(N_("Shown to members as")), shown_as))
    if result.email:
        fields.append(Field(loc(N_("E-mail")), loc.of(result.email)))
    if not result.newly_registered:
        return [reply_message(loc, title, fields=tuple(fields))]
    hint = (
        loc.line(N_("Next: /smarter task list shows the tasks you can join."))
        if result.role == Role.MEMBER
        else loc.line(N_("Next: /smarter task new practice title=... deadline=... types=... opens a task."))
    )
    return [reply_message(loc, title, hint, fields=tuple(fields))]


@present.register
def _(result: MemberUpdated, loc: Localizer) -> list[Message]:
    if result.changed == "grade":
        line = loc.line(
            N_("The grade of {member} (M{member_id}) is now {grade}."),
            member=result.member,
            member_id=result.member_id,
            grade=result.grade if result.grade is not None else T_("not set"),
        )
        return [reply_message(loc, None, line)]
    line = loc.line(
        N_("{member} (M{member_id}) is now a {membership} member, grade {grade}."),
        member=result.member,
        member_id=result.member_id,
        membership=T_(result.membership),
        grade=result.grade if result.grade is not None else "-",
    )
    return [reply_message(loc, None, line)]
