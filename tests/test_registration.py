"""Registration of members and partners on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from core.domain.enums import Membership, NameDisplay, Role
from core.domain.errors import UserError
from core.services import registration, secretariat
from core.services.context import ServiceContext
from tests.conftest import actor


def test_register_member_starts_free(any_ctx: ServiceContext) -> None:
    profile = registration.register_member(any_ctx, actor("taro"), nickname="たろう", email="taro@example.com")

    assert profile.role == Role.MEMBER
    assert profile.membership == Membership.FREE
    assert profile.display_name == "たろう"


def test_register_twice_is_rejected(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, actor("taro"), nickname="たろう")

    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("taro"), nickname="たろう2")

    assert "already registered" in raised.value.key


def test_register_nickname_normalised_and_unique(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, actor("a"), nickname="ＴＡＲＯ１")

    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("b"), nickname="TARO1")

    assert "already taken" in raised.value.key


def test_register_partner_anonymous_needs_industry(any_ctx: ServiceContext) -> None:
    with pytest.raises(UserError):
        registration.register_partner(
            any_ctx, actor("p"), company="株式会社テスト", display=NameDisplay.INDUSTRY_PREFECTURE
        )

    profile = registration.register_partner(
        any_ctx,
        actor("p"),
        company="株式会社テスト",
        display=NameDisplay.INDUSTRY_PREFECTURE,
        industry="E",
        prefecture="大阪",
    )
    assert profile.industry == "製造業"
    assert profile.prefecture == "大阪府"


def test_register_nickname_too_long_names_limit(any_ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("taro"), nickname="あ" * 31)

    assert raised.value.values["maximum"] == 30
    assert raised.value.values["length"] == 31


@pytest.mark.parametrize("nickname", ["M3", "m12", "T1", "R2", "5", "＠Ｍ３"])
def test_register_nickname_like_id_rejected(any_ctx: ServiceContext, nickname: str) -> None:
    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("taro"), nickname=nickname)

    assert "looks like an id" in raised.value.key


def test_register_nickname_case_insensitive_unique(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, actor("a"), nickname="hana")

    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("b"), nickname="HANA")

    assert "already taken" in raised.value.key


def test_register_strips_control_and_invisible_characters(any_ctx: ServiceContext) -> None:
    profile = registration.register_member(any_ctx, actor("a"), nickname="\x1b[31mは\u200bな\x1b[0m")

    assert profile.display_name == "[31mはな[0m"


def test_register_only_invisible_characters_rejected(any_ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        registration.register_member(any_ctx, actor("a"), nickname="\x1b\u200b")

    assert "missing" in raised.value.key


@pytest.mark.parametrize(("typed", "stored"), [("日本語", "ja"), ("English", "en"), ("ＥＮ", "en")])
def test_set_locale_aliases(any_ctx: ServiceContext, typed: str, stored: str) -> None:
    registration.register_member(any_ctx, actor("a"), nickname="hana")

    assert registration.set_locale(any_ctx, actor("a"), typed) == stored


def test_partner_company_names_may_repeat(any_ctx: ServiceContext) -> None:
    registration.register_partner(
        any_ctx,
        actor("p1"),
        company="株式会社ヒミツ",
        display=NameDisplay.INDUSTRY_PREFECTURE,
        industry="E",
        prefecture="東京都",
    )

    profile = registration.register_partner(any_ctx, actor("p2"), company="株式会社ヒミツ")

    assert profile.display_name == "株式会社ヒミツ"


def test_membership_free_clears_grade(any_ctx: ServiceContext) -> None:
    registration.register_member(any_ctx, actor("a"), nickname="hana")
    secretariat.set_membership(any_ctx, actor("secretariat"), "hana", "paid")
    secretariat.set_grade(any_ctx, actor("secretariat"), "hana", 4)

    updated = secretariat.set_membership(any_ctx, actor("secretariat"), "hana", "free")

    assert updated.grade is None
