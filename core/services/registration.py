"""Registration of partners and members, profiles and the language setting."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.domain.enums import Membership, NameDisplay, Role
from core.domain.errors import N_, T_, UserError
from core.domain.japan import INDUSTRIES, PREFECTURES
from core.domain.text import UserText, check_length, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import find_person, require_person
from core.storage.models import Identity, Person

__all__ = [
    "Profile",
    "match_industry",
    "match_prefecture",
    "register_member",
    "register_partner",
    "set_locale",
    "show_profile",
]

LOCALES = ("ja", "en")
LOCALE_ALIASES = {"日本語": "ja", "japanese": "ja", "英語": "en", "english": "en"}
# Nicknames are also how commands name members, so one that reads as an id would reach someone else.
ID_LIKE = re.compile(r"@?[MmTtRrPp]?\d+")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NICKNAME_MAX = 30
COMPANY_MAX = 100


@dataclass(frozen=True, slots=True)
class Profile:
    person_id: int
    role: Role
    display_name: UserText
    email: UserText | None
    membership: Membership | None
    grade: int | None
    name_display: NameDisplay | None
    industry: str | None
    prefecture: str | None
    locale: str | None
    newly_registered: bool = False


def person_profile(person: Person, *, new: bool = False) -> Profile:
    return Profile(
        person_id=person.id,
        role=Role(person.role),
        display_name=UserText(person.display_name),
        email=UserText(person.email) if person.email else None,
        membership=Membership(person.membership) if person.membership else None,
        grade=person.grade,
        name_display=NameDisplay(person.name_display) if person.name_display else None,
        industry=person.industry,
        prefecture=person.prefecture,
        locale=person.locale,
        newly_registered=new,
    )


def match_prefecture(text: str) -> str:
    value = normalize(text)
    for prefecture in PREFECTURES:
        # 東京 and 大阪 name 東京都 and 大阪府; 北海道 keeps its 道 because it is part of the name.
        short = prefecture[:-1] if prefecture[-1] in "都府県" else prefecture
        if value in (prefecture, short):
            return prefecture
    raise UserError(
        N_("{value} is not a prefecture. Write one of the 47 prefectures, for example 東京都 or 大阪府."),
        value=UserText(text),
    )


def match_industry(text: str) -> str:
    """Match an industry to a JSIC major group by its name (NFKC-normalised) or its letter A–T."""
    value = normalize(text)
    if len(value) == 1 and "A" <= value.upper() <= "T":
        return INDUSTRIES[ord(value.upper()) - ord("A")]
    for industry in INDUSTRIES:
        if value == normalize(industry):
            return industry
    matches = [industry for industry in INDUSTRIES if value and value in normalize(industry)]
    if len(matches) == 1:
        return matches[0]
    raise UserError(
        N_("{value} is not one of the industry groups. Allowed: {allowed}."),
        value=UserText(text),
        allowed=" / ".join(INDUSTRIES),
    )


def _check_unregistered(session: Session, actor: Actor) -> None:
    if find_person(session, actor) is not None:
        raise UserError(N_("You are already registered. /smarter profile shows your registration."))


def _check_name_free(session: Session, role: Role, name: str) -> None:
    """Raise if another person of ``role`` has this name, ignoring case."""
    existing_id = session.scalars(
        select(Person.id).where(Person.role == role, Person.name_key == name.casefold())
    ).first()
    if existing_id is not None:
        raise UserError(N_("The name {value} is already taken. Please choose another one."), value=UserText(name))


def _add(session: Session, actor: Actor, person: Person) -> None:
    """Store the person and the actor's identity; a concurrent registration of either loses here."""
    session.add(person)
    session.add(Identity(platform=actor.platform, workspace=actor.workspace, user_id=actor.user_id, person=person))
    try:
        session.flush()
    except IntegrityError as error:
        raise UserError(
            N_(
                "The name {value} was registered, or this account was registered, a moment ago. Please check "
                "with /smarter profile or choose another name."
            ),
            value=UserText(person.display_name),
        ) from error


def register_member(ctx: ServiceContext, actor: Actor, *, nickname: str, email: str | None = None) -> Profile:
    """Register the actor as a free member with a unique nickname and an optional e-mail address."""
    nickname = check_length(T_("nickname"), normalize(nickname), NICKNAME_MAX)
    if ID_LIKE.fullmatch(nickname):
        raise UserError(
            N_(
                "The nickname {value} looks like an id (M3, T1, R2 or a number). Please choose a nickname with letters."
            ),
            value=UserText(nickname),
        )
    if email is not None and not EMAIL.match(normalize(email)):
        raise UserError(N_("{value} is not an e-mail address. Write it like name@example.com."), value=UserText(email))
    with ctx.transaction() as session:
        _check_unregistered(session, actor)
        _check_name_free(session, Role.MEMBER, nickname)

        person = Person(
            role=Role.MEMBER,
            display_name=nickname,
            name_key=nickname.casefold(),
            email=normalize(email) if email else None,
            membership=Membership.FREE,
            locale=actor.locale,
            created_at=ctx.now(),
        )
        _add(session, actor, person)
        return person_profile(person, new=True)


def register_partner(
    ctx: ServiceContext,
    actor: Actor,
    *,
    company: str,
    display: NameDisplay = NameDisplay.COMPANY,
    industry: str | None = None,
    prefecture: str | None = None,
    email: str | None = None,
) -> Profile:
    """Register the actor as a partner, shown by company name or by industry + prefecture."""
    company = check_length(T_("company name"), normalize(company), COMPANY_MAX)
    industry_value = match_industry(industry) if industry else None
    prefecture_value = match_prefecture(prefecture) if prefecture else None
    if display == NameDisplay.INDUSTRY_PREFECTURE and (industry_value is None or prefecture_value is None):
        raise UserError(N_("To be shown as industry + prefecture, give both industry= and prefecture=."))
    if email is not None and not EMAIL.match(normalize(email)):
        raise UserError(N_("{value} is not an e-mail address. Write it like name@example.com."), value=UserText(email))
    with ctx.transaction() as session:
        _check_unregistered(session, actor)

        person = Person(
            role=Role.PARTNER,
            display_name=company,
            name_key=company.casefold(),
            email=normalize(email) if email else None,
            name_display=display,
            industry=industry_value,
            prefecture=prefecture_value,
            locale=actor.locale,
            created_at=ctx.now(),
        )
        _add(session, actor, person)
        return person_profile(person, new=True)


def show_profile(ctx: ServiceContext, actor: Actor) -> Profile:
    with ctx.transaction() as session:
        return person_profile(require_person(session, actor))


def set_locale(ctx: ServiceContext, actor: Actor, locale: str) -> str:
    """Store the language the actor reads replies in (``ja`` or ``en``).

    NOTE: the language is stored on the person. Unregistered accounts and secretariat accounts named only
    in configuration therefore cannot choose one, and they read the platform's locale or the default.
    """
    value = LOCALE_ALIASES.get(normalize(locale).lower(), normalize(locale).lower())
    if value not in LOCALES:
        raise UserError(N_("{value} is not a supported language. Choose ja or en."), value=UserText(locale))
    with ctx.transaction() as session:
        require_person(session, actor).locale = value
    return value
