"""A member's own choices: appearing in public rankings, and e-mail copies of participation requests."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import N_, UserError
from core.domain.text import UserText, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import require_member
from core.services.registration import EMAIL

__all__ = ["PreferenceChanged", "set_email", "set_ranking_visibility"]

ON_WORDS = ("on", "yes", "public", "オン", "公開")
OFF_WORDS = ("off", "no", "private", "オフ", "非公開")
EMAIL_MAX = 254


@dataclass(frozen=True, slots=True)
class PreferenceChanged:
    setting: str  # "ranking" or "email"
    enabled: bool
    email: UserText | None = None


def _switch(value: str) -> bool | None:
    word = normalize(value).lower()
    if word in ON_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    return None


def set_ranking_visibility(ctx: ServiceContext, actor: Actor, value: str) -> PreferenceChanged:
    """Show the member in public rankings and announcements (on) or leave them out (off)."""
    public = _switch(value)
    if public is None:
        raise UserError(
            N_("{value} is not a choice here. Write on to appear in public rankings, or off to stay out of them."),
            value=UserText(value),
        )
    with ctx.transaction() as session:
        require_member(session, actor).ranking_public = public
    return PreferenceChanged("ranking", public)


def set_email(ctx: ServiceContext, actor: Actor, value: str) -> PreferenceChanged:
    """Turn e-mail copies of participation requests on or off, or set the address they go to."""
    switch = _switch(value)
    address = normalize(value).strip()
    if switch is None and (not EMAIL.match(address) or len(address) > EMAIL_MAX):
        raise UserError(
            N_("{value} is neither on, off nor an e-mail address. Write on, off, or an address like name@example.com."),
            value=UserText(value),
        )
    with ctx.transaction() as session:
        member = require_member(session, actor)
        if switch is None:
            member.email, member.email_enabled = address, True
        elif switch and not member.email:
            raise UserError(
                N_("There is no e-mail address to send to. Give one, like /smarter me email name@example.com.")
            )
        else:
            member.email_enabled = switch
        return PreferenceChanged("email", member.email_enabled, UserText(member.email) if member.email else None)
