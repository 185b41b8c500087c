"""Brainstorm posts and the partner's digest of them."""

from __future__ import annotations

import pytest

from core.domain.errors import UserError
from core.presentation.i18n import Localizer
from core.presentation.replies import present
from core.services import brainstorms
from core.services.context import ServiceContext
from tests.conftest import actor
from tests.scenario import member, open_task, partner


@pytest.fixture
def brainstorm_id(any_ctx: ServiceContext) -> int:
    partner(any_ctx)
    member(any_ctx, "taro")
    return open_task(any_ctx, "brainstorm")


def test_digest_lists_posts_in_order(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    brainstorms.post_idea(any_ctx, actor("taro"), brainstorm_id, "平日限定の学割")
    brainstorms.post_idea(any_ctx, actor("acme"), brainstorm_id, "宿泊とセットも歓迎です")

    digest = brainstorms.brainstorm_digest(any_ctx, actor("acme"), brainstorm_id)

    assert [post.text for post in digest.posts] == ["平日限定の学割", "宿泊とセットも歓迎です"]
    assert [post.by_partner for post in digest.posts] == [False, True]
    assert digest.authors == 2


def test_digest_marks_partner_posts(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    brainstorms.post_idea(any_ctx, actor("acme"), brainstorm_id, "歓迎です")
    brainstorms.post_idea(any_ctx, actor("taro"), brainstorm_id, "案です")

    (message,) = present(brainstorms.brainstorm_digest(any_ctx, actor("acme"), brainstorm_id), Localizer("ja"))

    assert message.text().splitlines()[2] == "acme 株式会社（パートナー会員）: 歓迎です"
    assert message.text().splitlines()[3] == "taroさん: 案です"


def test_digest_rejected_for_member(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    with pytest.raises(UserError) as raised:
        brainstorms.brainstorm_digest(any_ctx, actor("taro"), brainstorm_id)

    assert "Only partners" in raised.value.key


def test_post_empty_rejected(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    with pytest.raises(UserError) as raised:
        brainstorms.post_idea(any_ctx, actor("taro"), brainstorm_id, " \u200b ")

    assert "missing" in raised.value.key
