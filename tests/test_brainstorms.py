"""Brainstorm posts and the partner's digest of them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.console.session import SettableClock
from core.domain.enums import TaskStatus
from core.domain.errors import UserError
from core.presentation.deliveries import render_delivery
from core.presentation.i18n import Localizer
from core.presentation.replies import present
from core.services import brainstorms, tasks
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem
from core.storage.models import OutboxMessage
from tests.conftest import actor
from tests.scenario import member, open_task, outbox_keys, partner


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


def test_close_sends_partner_digest(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    brainstorms.post_idea(any_ctx, actor("taro"), brainstorm_id, "平日限定の学割")
    tasks.change_task_status(any_ctx, actor("acme"), brainstorm_id, TaskStatus.CLOSED)

    with any_ctx.transaction() as session:
        (row,) = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "brainstorm.digest")).all()
        delivery = render_delivery(any_ctx, session, OutboxItem(row.id, row.delivery_key, row.kind, row.payload, 0))

    assert delivery.recipient is not None
    assert delivery.recipient.identities == (("console", "local", "acme"),)
    text = "\n".join(message.text() for message in delivery.messages)
    assert "平日限定の学割" in text
    assert f"T{brainstorm_id}" in text


def test_reclose_sends_second_digest(any_ctx: ServiceContext, brainstorm_id: int, clock: SettableClock) -> None:
    tasks.change_task_status(any_ctx, actor("acme"), brainstorm_id, TaskStatus.CLOSED)
    clock.advance("1h")
    tasks.change_task_status(any_ctx, actor("acme"), brainstorm_id, TaskStatus.OPEN)
    tasks.change_task_status(any_ctx, actor("acme"), brainstorm_id, TaskStatus.CLOSED)

    assert len(outbox_keys(any_ctx, "brainstorm.digest")) == 2


def test_practice_close_sends_no_digest(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    task_id = open_task(any_ctx, "practice")
    tasks.change_task_status(any_ctx, actor("acme"), task_id, TaskStatus.CLOSED)

    assert outbox_keys(any_ctx, "brainstorm.digest") == []


def test_post_to_closed_brainstorm_rejected(any_ctx: ServiceContext, brainstorm_id: int) -> None:
    tasks.change_task_status(any_ctx, actor("acme"), brainstorm_id, TaskStatus.CLOSED)

    with pytest.raises(UserError) as raised:
        brainstorms.post_idea(any_ctx, actor("taro"), brainstorm_id, "遅れたアイデア")

    assert raised.value.key == "Brainstorm T{task_id} is {status}, so it no longer accepts new ideas."
