"""The console walkthroughs done from Slack, end to end through the real Bolt app and the real delivery worker.

Each test sends signed slash commands, button clicks, modal submissions and events to the app, which calls
the fake Slack Web API. It then delivers the outbox and checks what the people in the workspace would see:
replies, modals, channels, direct messages and the App Home.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.domain.text import TOKYO
from core.services.context import ServiceContext
from core.services.schedules import run_latest
from core.storage.models import ChatPost, Person, Post, Schedule, Task
from tests.conftest import make_settings
from tests.slack.fake import FakeChannel, FakeSlack
from tests.slack.harness import TEAM, SlackHarness, TypedUser, buttons

PARTNER = TypedUser("UPARTNER", "sato")
HANA = TypedUser("UHANA", "hana")
KENTA = TypedUser("UKENTA", "kenta", "en-US")
YUI = TypedUser("UYUI", "yui")
SECRETARIAT = TypedUser("USECRETARIAT", "jimukyoku")
OTHER_PARTNER = TypedUser("USUZUKI", "suzuki")
GUEST = TypedUser("UGUEST", "guest")  # never registers
PEOPLE = (PARTNER, HANA, KENTA, YUI, SECRETARIAT, OTHER_PARTNER, GUEST)

PRACTICE_TITLE = "冷凍食品の購買動向調査"
PRACTICE_CHANNEL = "t1-冷凍食品の購買動向調査"


@dataclass
class SlackWorld:
    """One workspace: the fake Slack, the Bolt app serving it, and the service behind the app."""

    fake: FakeSlack
    slack: SlackHarness
    ctx: ServiceContext
    clock: SettableClock
    announcements: str  # channel id of #announcements, the configured announcement channel
    brainstorm: str  # channel id of #brainstorm, where brainstorm threads start


@pytest.fixture
def world(engine: Engine, clock: SettableClock) -> Iterator[SlackWorld]:
    """A fake Slack with every person and the two shared channels, and the app on SQLite and PostgreSQL."""
    fake = FakeSlack().start()
    for person in PEOPLE:
        fake.add_user(person.user_id, name=person.name, locale=person.locale)
    everyone = tuple(person.user_id for person in PEOPLE)
    announcements = fake.add_channel("announcements", members=everyone)
    # The bot is not in #brainstorm yet: it joins when the first brainstorm opens, or it would get no replies.
    brainstorm = fake.add_channel("brainstorm", members=everyone, bot_member=False)
    settings = make_settings(
        secretariat=[f"slack:{TEAM}:{SECRETARIAT.user_id}"],
        announcement_channels=[f"slack:{TEAM}:{announcements}"],
    )
    ctx = build_context(settings, clock=clock, engine=engine, migrate=False)
    slack = SlackHarness(ctx, fake).start()
    try:
        yield SlackWorld(fake, slack, ctx, clock, announcements, brainstorm)
    finally:
        slack.stop()
        fake.stop()


# --- reading what Slack shows ------------------------------------------------------------------------------


BOLD = re.compile(r"\*([^*\n]+)\*")


def _mrkdwn(text: str) -> str:
    """Return mrkdwn as Slack displays it: bold markers gone and the entities &amp; &lt; &gt; undone."""
    return BOLD.sub(r"\1", text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shown(message: dict[str, Any]) -> str:
    """Return what a person reads in a message or view: each block's text, fields, context and button labels.

    Plain text is read as mrkdwn too, which is harmless because no header or label here contains "*" or "&".
    """
    lines: list[str] = []
    for block in message.get("blocks") or ():
        kind = block.get("type")
        if kind in ("header", "section") and block.get("text"):
            lines.append(_mrkdwn(block["text"]["text"]))
        if kind == "section":
            lines.extend(_mrkdwn(field["text"]) for field in block.get("fields") or ())
        if kind == "context":
            lines.extend(_mrkdwn(element.get("text", "")) for element in block["elements"])
        if kind == "actions":
            lines.extend(f"[{element['text']['text']}]" for element in block["elements"] if "text" in element)
        if kind == "input":
            lines.append(block["label"]["text"])
    return "\n".join(lines)


def replies(world: SlackWorld) -> list[dict[str, Any]]:
    """Return the messages posted to the response URL of the latest slash command or button click."""
    return list(world.fake.responses_by_url.values())[-1]


def reply(world: SlackWorld) -> str:
    return "\n".join(shown(message) for message in replies(world))


def dms(world: SlackWorld, person: TypedUser) -> list[str]:
    """Return what the bot sent to ``person`` in their direct message channel, oldest first."""
    return [shown(message) for message in world.fake.dm_channel(person.user_id).messages]


def channel_texts(channel: FakeChannel) -> list[str]:
    return [shown(message) for message in channel.messages]


def button(blocks: list[dict[str, Any]], command: str) -> dict[str, Any]:
    """Return the button whose command (its value) starts with ``command``."""
    found = [element for element in buttons(blocks) if element["value"].startswith(command)]
    assert found, f"no button for {command!r} in {json.dumps(blocks, ensure_ascii=False)}"
    return found[0]


def calls_since(world: SlackWorld, start: int) -> list[str]:
    return [call.method for call in world.fake.calls[start:]]


# --- filling in forms as Slack sends them ------------------------------------------------------------------


def open_form(world: SlackWorld, person: TypedUser, text: str) -> dict[str, Any]:
    """Type a command that opens a form; check the loading modal was replaced by the form and return the form."""
    start = len(world.fake.calls)
    response = world.slack.command(person, text)
    assert response.status_code == 200
    methods = [call for call in world.fake.calls[start:] if call.method.startswith("views.")]
    assert [call.method for call in methods] == ["views.open", "views.update"]
    assert methods[1].params["view_id"] == methods[0].response["view"]["id"]
    return world.slack.last_view()


def typed(text: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": text}}


def chosen(view: dict[str, Any], block_id: str, value: str) -> dict[str, Any]:
    """Return the state of a select or radio input with the option ``value`` picked, as Slack sends it."""
    element = next(block["element"] for block in view["blocks"] if block.get("block_id") == block_id)
    option = next((option for option in element["options"] if option["value"] == value), None)
    assert option is not None, f"the {block_id} input has no option {value!r}: {element['options']}"
    return {"value": {"type": element["type"], "selected_option": option}}


def ticked(view: dict[str, Any], block_id: str, *values: str) -> dict[str, Any]:
    element = next(block["element"] for block in view["blocks"] if block.get("block_id") == block_id)
    options = [option for option in element["options"] if option["value"] in values]
    assert len(options) == len(values)
    return {"value": {"type": "checkboxes", "selected_options": options}}


def task_form_values(view: dict[str, Any], title: str) -> dict[str, dict[str, Any]]:
    return {
        "menu": chosen(view, "menu", "practice"),
        "title": typed(title),
        "description": typed("県内のスーパー3店舗以上で冷凍食品売り場を観察してください。"),
        "types": ticked(view, "types", "research", "analysis"),
        "deadline_date": {"value": {"type": "datepicker", "selected_date": "2026-12-15"}},
        "deadline_time": {"value": {"type": "timepicker", "selected_time": "18:00"}},
        "eligibility": chosen(view, "eligibility", "paid"),
        "capacity": {"value": {"type": "number_input", "value": "5"}},
    }


# --- setting the scene with typed commands -----------------------------------------------------------------


def register_partner(world: SlackWorld) -> None:
    world.slack.command(
        PARTNER,
        '/smarter register partner company="株式会社みらい食品" display=anonymous industry=製造業 prefecture=静岡県',
    )


def open_practice_task(world: SlackWorld, *extra: str) -> None:
    options = " ".join(extra)
    world.slack.command(
        PARTNER,
        f'/smarter task new practice title="{PRACTICE_TITLE}" deadline="2026/12/15 18:00" types=情報収集 {options}',
    )


def register_member(world: SlackWorld, person: TypedUser, nickname: str) -> None:
    world.slack.command(person, f"/smarter register member nickname={nickname}")


def count(world: SlackWorld, model: type[Any]) -> int:
    with world.ctx.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- practical work -----------------------------------------------------------------------------------------


def test_partner_registration_and_task_forms(world: SlackWorld) -> None:
    form = open_form(world, PARTNER, "/smarter register partner")
    assert form["callback_id"] == "smarter.form.register_partner"
    assert [block["block_id"] for block in form["blocks"]] == ["company", "display", "industry", "prefecture", "email"]

    response = world.slack.submit(
        PARTNER,
        form,
        {
            "company": typed("株式会社みらい食品"),
            "display": chosen(form, "display", "anonymous"),
            "industry": typed("製造業"),
            "prefecture": chosen(form, "prefecture", "静岡県"),
        },
    )
    assert response.status_code == 200
    assert response.text == ""
    welcome = reply(world)
    assert "株式会社みらい食品様、SMARTER×SMARTERへようこそ！登録が完了しました。" in welcome
    assert "メンバー会員への表示\n業種＋所在都道府県: 製造業、静岡県" in welcome

    form = open_form(world, PARTNER, "/smarter task new practice")
    assert form["callback_id"] == "smarter.form.task_new"
    menu = next(block for block in form["blocks"] if block["block_id"] == "menu")
    assert menu["element"]["initial_option"]["value"] == "practice"
    values = task_form_values(form, "冷" * 101)
    response = world.slack.submit(PARTNER, form, values)
    assert response.status_code == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {"title": "タイトルが長すぎます（101文字。上限は100文字です）。短くしてください。"},
    }
    assert count(world, Task) == 0

    values["title"] = typed(PRACTICE_TITLE)
    response = world.slack.submit(PARTNER, form, values)
    assert response.status_code == 200
    assert response.text == ""
    card = reply(world)
    assert f"[T1] おシゴト実践：{PRACTICE_TITLE}" in card
    assert "依頼元\n株式会社みらい食品" in card  # the reply to the partner shows its company name
    assert "締め切り\n2026年12月15日(火) 18:00" in card
    assert "参加者\n0人／定員5人" in card

    world.slack.deliver()
    created = world.fake.calls_to("conversations.create")
    assert [call.params["name"] for call in created] == [PRACTICE_CHANNEL]
    assert str(created[0].params["is_private"]).lower() in ("true", "1")
    channel = world.fake.channel_named(PRACTICE_CHANNEL)
    assert channel.is_private
    assert PARTNER.user_id in channel.members
    brief, welcome_note = channel_texts(channel)
    assert f"[T1] おシゴト実践：{PRACTICE_TITLE}" in brief
    assert "依頼元\n静岡県の製造業の企業" in brief
    assert "株式会社みらい食品" not in brief
    assert welcome_note.startswith("ここは課題T1の専用掲示板です。")
    assert channel.pins == [channel.messages[0]["ts"]]

    announcement = world.fake.channels[world.announcements].messages[-1]
    assert "依頼元\n静岡県の製造業の企業" in shown(announcement)
    assert "株式会社みらい食品" not in shown(announcement)
    assert button(announcement["blocks"], "/smarter join")["value"] == "/smarter join T1"
    assert world.fake.invalid_blocks == []


def test_members_join_from_task_card(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world, "eligibility=paid")
    world.slack.deliver()
    channel = world.fake.channel_named(PRACTICE_CHANNEL)

    register_member(world, HANA, "はな")
    assert "はな様、SMARTER×SMARTERへようこそ！登録が完了しました。" in reply(world)
    form = open_form(world, KENTA, "/smarter register member")
    assert form["callback_id"] == "smarter.form.register_member"
    duplicate = world.slack.submit(KENTA, form, {"nickname": typed("はな")})
    assert duplicate.json() == {
        "response_action": "errors",
        "errors": {"nickname": "The name はな is already taken. Please choose another one."},
    }
    world.slack.submit(KENTA, form, {"nickname": typed("Kenta")})
    assert "Welcome to SMARTER×SMARTER, Kenta! Your registration is complete." in reply(world)
    register_member(world, YUI, "ゆい")

    world.slack.command(SECRETARIAT, "/smarter admin membership はな paid")
    assert reply(world) == "はなさん（M2）を有料会員にしました（会員グレード: -）。"
    world.slack.command(SECRETARIAT, "/smarter admin grade はな 3")
    assert reply(world) == "はなさん（M2）の会員グレードを3にしました。"
    world.slack.command(SECRETARIAT, "/smarter admin membership ゆい 有料")
    assert reply(world) == "ゆいさん（M4）を有料会員にしました（会員グレード: -）。"

    world.slack.command(HANA, "/smarter task show T1")
    join = button(replies(world)[0]["blocks"], "/smarter join")
    assert join["text"]["text"] == "参加する"
    world.slack.click(HANA, join)
    assert "課題T1に参加しました。" in reply(world)

    world.slack.click(KENTA, join)
    rejection = replies(world)
    assert rejection[0]["response_type"] == "ephemeral"
    assert shown(rejection[0]) == (
        "⚠️ Task T1 is open to paid members only, and your membership is free. "
        "Please contact the secretariat if you would like to become a paid member."
    )

    world.slack.click(YUI, join)
    assert "課題T1に参加しました。" in reply(world)

    world.slack.deliver()
    assert {HANA.user_id, YUI.user_id} <= channel.members
    assert KENTA.user_id not in channel.members
    invited = [call.params["users"] for call in world.fake.calls_to("conversations.invite")]
    assert invited == [[PARTNER.user_id], [HANA.user_id], [YUI.user_id]]
    assert channel_texts(channel)[-2:] == ["はなさんが課題に参加しました。", "ゆいさんが課題に参加しました。"]

    # Questions in the task channel are conversation between people: the bot neither answers nor records them.
    question = "観察する店舗は静岡市内に限定してもよいでしょうか？"
    question_ts = world.fake.add_message(channel.id, user=HANA.user_id, text=question)
    start = len(world.fake.calls)
    world.slack.event(
        {"type": "message", "channel": channel.id, "user": HANA.user_id, "text": question, "ts": question_ts}
    )
    answer = "静岡市内で構いません。"
    answer_ts = world.fake.add_message(channel.id, user=PARTNER.user_id, text=answer, thread_ts=question_ts)
    world.slack.event(
        {
            "type": "message",
            "channel": channel.id,
            "user": PARTNER.user_id,
            "text": answer,
            "ts": answer_ts,
            "thread_ts": question_ts,
        }
    )
    assert calls_since(world, start) == []
    assert count(world, Post) == 0
    assert count(world, ChatPost) == 0
    assert world.fake.invalid_blocks == []


def test_submit_and_evaluate_with_forms(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    register_member(world, HANA, "はな")
    world.slack.command(HANA, "/smarter join T1")

    # The Submit button on the announced task card opens the same form as /smarter submit T1.
    world.slack.deliver()
    card = world.fake.channels[world.announcements].messages[-1]
    start = len(world.fake.calls)
    world.slack.click(HANA, button(card["blocks"], "/smarter submit T1"), channel=world.announcements)
    assert [method for method in calls_since(world, start) if method.startswith("views.")] == [
        "views.open",
        "views.update",
    ]
    form = world.slack.last_view()
    assert form["callback_id"] == "smarter.form.submit"
    assert f"課題: T1 {PRACTICE_TITLE}" in shown(form)
    submission = "静岡市内3店舗を観察しました。売れ筋は冷凍うどん & 冷凍餃子です。"
    links = "https://docs.example.com/hana/report\nhttps://docs.example.com/hana/data.xlsx"
    world.slack.submit(HANA, form, {"text": typed(submission), "links": typed(links)})
    assert "課題T1への提出を第1版として受け付けました。" in reply(world)

    world.clock.set(datetime(2026, 12, 16, 9, 0, tzinfo=TOKYO))
    world.slack.command(PARTNER, "/smarter task close T1")
    world.slack.command(PARTNER, "/smarter submissions T1")
    listed = reply(world)
    assert "はなさん（M2）第1版、2026年12月1日(火) 10:00提出: 評価待ち" in listed
    assert submission in listed
    assert "https://docs.example.com/hana/data.xlsx" in listed

    evaluate = button(replies(world)[0]["blocks"], "/smarter evaluate T1 M2")
    world.slack.click(PARTNER, evaluate)
    form = world.slack.last_view()
    assert form["callback_id"] == "smarter.form.evaluate"
    rubric = world.ctx.rubrics["business-planning"]
    for criterion in rubric.criteria:
        select_block = next(block for block in form["blocks"] if block.get("block_id") == f"level.{criterion.key}")
        options = [(option["value"], option["text"]["text"]) for option in select_block["element"]["options"]]
        assert options == [(str(level.value), f"{level.value}: {level.name_ja}") for level in criterion.levels]

    levels = {"logic": "3", "evidence": "3", "originality": "4", "feasibility": "3", "clarity": "3"}
    values = {f"level.{key}": chosen(form, f"level.{key}", level) for key, level in levels.items()}
    values["remark.originality"] = typed("ワンプレート商品の着眼点は社内でも出ていなかった視点です。")
    values["advice"] = typed("次は価格帯ごとの売場面積も見てみてください。")
    response = world.slack.submit(PARTNER, form, values)
    assert response.status_code == 200
    assert response.text == ""
    assert "課題T1におけるはなさんの評価: 72.22点" in reply(world)

    world.slack.deliver()
    direct = [call for call in world.fake.calls_to("chat.postMessage") if call.params["channel"] == HANA.user_id]
    assert len(direct) == 1
    (evaluated,) = dms(world, HANA)
    assert evaluated.startswith("課題T1の成果物が評価されました: 72.22点")
    assert "コメント: ワンプレート商品の着眼点は社内でも出ていなかった視点です。" in evaluated
    assert "助言: 次は価格帯ごとの売場面積も見てみてください。" in evaluated

    world.slack.command(HANA, "/smarter ranking")
    assert "1位 はなさん（M2）— 63.05点（評価 1件）" in reply(world)
    assert world.fake.invalid_blocks == []


def test_participation_request_accepted_by_button(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    register_member(world, HANA, "はな")
    world.slack.deliver()

    world.slack.command(PARTNER, '/smarter request はな T1 message="店頭観察の視点を活かしていただけると嬉しいです。"')
    assert "はなさんに課題T1への参加要請R1を送りました。" in reply(world)
    world.slack.deliver()
    dm = world.fake.dm_channel(HANA.user_id)
    request = dm.messages[-1]
    assert shown(request).startswith(f"参加要請R1: 課題T1 {PRACTICE_TITLE}")
    assert "これはお願いであり、義務ではありません。" in shown(request)
    accept = button(request["blocks"], "/smarter accept")
    assert accept["text"]["text"] == "承諾する"
    assert accept["value"] == "/smarter accept R1"
    assert button(request["blocks"], "/smarter decline")["value"] == "/smarter decline R1"

    world.slack.click(HANA, accept, channel=dm.id, message_ts=request["ts"], message=request)
    replaced = [response for response in world.fake.responses if response.get("replace_original")]
    assert len(replaced) == 1
    assert [block["type"] for block in replaced[0]["blocks"] if block["type"] == "actions"] == []
    assert "これはお願いであり、義務ではありません。" in json.dumps(replaced[0]["blocks"], ensure_ascii=False)
    accepted = reply(world)
    assert "参加要請R1を承諾しました。ありがとうございます！" in accepted
    assert "課題T1に参加しました。" in accepted

    world.slack.deliver()
    assert dms(world, PARTNER)[-1].startswith("はなさんが参加要請R1を承諾し、課題T1に参加しました。")
    channel = world.fake.channel_named(PRACTICE_CHANNEL)
    assert HANA.user_id in channel.members
    assert channel_texts(channel)[-1] == "はなさんが課題に参加しました。"
    assert world.fake.invalid_blocks == []


def test_task_archive_archives_channel(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    register_member(world, HANA, "はな")
    world.slack.command(HANA, "/smarter join T1")
    world.slack.command(HANA, '/smarter submit T1 text="3店舗を観察しました。"')
    world.slack.deliver()
    channel = world.fake.channel_named(PRACTICE_CHANNEL)

    world.clock.set(datetime(2026, 12, 16, 9, 0, tzinfo=TOKYO))
    world.slack.command(PARTNER, "/smarter task close T1")
    assert reply(world) == "課題T1の状態が締め切り済みになりました（変更前: 募集中）。"
    world.slack.command(
        PARTNER,
        '/smarter evaluate T1 はな logic=3 evidence=3 originality=3 feasibility=3 clarity=3 advice="丁寧です。"',
    )
    world.slack.command(PARTNER, "/smarter task finish T1")
    assert reply(world) == "課題T1の状態が評価済みになりました（変更前: 締め切り済み）。"
    world.slack.deliver()
    assert not channel.is_archived

    world.slack.command(PARTNER, "/smarter task archive T1")
    assert reply(world) == "課題T1の状態がアーカイブ済みになりました（変更前: 評価済み）。"
    world.slack.deliver()
    assert channel_texts(channel)[-1] == (
        "課題T1がアーカイブされたため、この専用掲示板もアーカイブします。皆さん、ありがとうございました。"
    )
    assert [call.params["channel"] for call in world.fake.calls_to("conversations.archive")] == [channel.id]
    assert channel.is_archived
    assert world.fake.invalid_blocks == []


# --- brainstorm ---------------------------------------------------------------------------------------------


def reply_in_thread(world: SlackWorld, person: TypedUser, thread_ts: str, text: str) -> str:
    """Post ``text`` (escaped as Slack sends it) in a thread of #brainstorm and send its event; return its ts."""
    ts = world.fake.add_message(world.brainstorm, user=person.user_id, text=text, thread_ts=thread_ts)
    event = {
        "type": "message",
        "channel": world.brainstorm,
        "channel_type": "channel",
        "user": person.user_id,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
    }
    world.slack.event(event)
    return ts


def react(world: SlackWorld, person: TypedUser, ts: str, *, added: bool) -> None:
    """Add or remove ``person``'s 👍 on a message in the fake, then send the event Slack sends for it."""
    if added:
        world.fake.add_reaction(world.brainstorm, ts, "+1", person.user_id)
    else:
        world.fake.remove_reaction(world.brainstorm, ts, "+1", person.user_id)
    item = {"type": "message", "channel": world.brainstorm, "ts": ts}
    event_type = "reaction_added" if added else "reaction_removed"
    world.slack.event({"type": event_type, "user": person.user_id, "reaction": "+1", "item": item, "event_ts": ts})


def test_brainstorm_thread_replies_become_posts(world: SlackWorld) -> None:
    world.slack.command(
        PARTNER, '/smarter register partner company="株式会社さくらトラベル" industry=宿泊業 prefecture=京都府'
    )
    world.slack.command(
        PARTNER, '/smarter task new ブレスト title="閑散期の京都に若者を呼ぶには" deadline="12月10日 18時"'
    )
    world.slack.command(OTHER_PARTNER, '/smarter register partner company="株式会社ひかり観光"')
    register_member(world, HANA, "はな")
    register_member(world, KENTA, "Kenta")
    world.slack.deliver()

    assert world.fake.bot_user_id in world.fake.channels[world.brainstorm].members
    parent, hint = world.fake.channels[world.brainstorm].messages
    assert "[T1] みんなでブレスト：閑散期の京都に若者を呼ぶには" in shown(parent)
    assert hint["thread_ts"] == parent["ts"]
    assert shown(hint).startswith("このスレッドへの返信としてアイデアを投稿してください。")
    assert button(parent["blocks"], "/smarter post")["value"].strip() == "/smarter post T1"
    assert world.fake.calls_to("conversations.create") == []

    idea = reply_in_thread(
        world, HANA, parent["ts"], "大学の期末試験明けに「卒業旅行の下見プラン」を出すのはどうでしょう。"
    )
    reply_in_thread(world, KENTA, parent["ts"], "R&amp;D &lt;!here&gt; morning temple tours")

    # None of these is a post: the bot's own note, a person who has not registered, another company's
    # partner, a reply in a thread that is not a brainstorm, and a message outside any thread.
    start = len(world.fake.calls)
    world.slack.event({**hint, "channel": world.brainstorm, "channel_type": "channel"})
    reply_in_thread(world, GUEST, parent["ts"], "私もアイデアがあります！")
    (guest_error,) = world.fake.channels[world.brainstorm].ephemerals
    assert guest_error["user"] == GUEST.user_id
    assert guest_error["text"].startswith("⚠️ まだ会員登録されていません。")
    reply_in_thread(world, OTHER_PARTNER, parent["ts"], "弊社のツアーと組み合わせませんか。")
    partner_error = world.fake.channels[world.brainstorm].ephemerals[-1]
    assert partner_error["user"] == OTHER_PARTNER.user_id
    assert partner_error["text"].startswith("⚠️ ")
    chatter = world.fake.add_message(world.brainstorm, user=YUI.user_id, text="お昼どうしますか")
    reply_in_thread(world, HANA, chatter, "カレーにしましょう")
    outside = world.fake.add_message(world.brainstorm, user=HANA.user_id, text="スレッドの外です")
    world.slack.event(
        {
            "type": "message",
            "channel": world.brainstorm,
            "user": HANA.user_id,
            "text": "スレッドの外です",
            "ts": outside,
        }
    )
    assert "chat.postMessage" not in calls_since(world, start)

    react(world, KENTA, idea, added=True)
    react(world, PARTNER, idea, added=True)
    react(world, KENTA, idea, added=False)
    react(world, KENTA, parent["ts"], added=True)  # the parent message is not a post

    with world.ctx.transaction() as session:
        posts = [(post.text, post.reactions) for post in session.scalars(select(Post).order_by(Post.id))]
    assert posts == [
        ("大学の期末試験明けに「卒業旅行の下見プラン」を出すのはどうでしょう。", 1),
        ("R&D <!here> morning temple tours", 0),
    ]

    world.slack.command(PARTNER, "/smarter digest T1")
    digest = replies(world)[0]
    assert "投稿 2件（投稿者 2人）" in shown(digest)
    idea_line = "はなさん: 大学の期末試験明けに「卒業旅行の下見プラン」を出すのはどうでしょう。（リアクション: 1）"
    assert idea_line in shown(digest)
    assert "Kentaさん: R&D <!here> morning temple tours" in shown(digest)
    # The typed mention stays escaped in the posted blocks, so Slack shows it as text instead of notifying.
    assert "&lt;!here&gt;" in json.dumps(digest["blocks"], ensure_ascii=False)

    world.slack.command(PARTNER, "/smarter task close T1")
    world.slack.deliver()
    closing = "\n".join(dms(world, PARTNER))
    assert "みんなでブレストT1のまとめ: 閑散期の京都に若者を呼ぶには" in closing
    assert idea_line in closing
    assert "Kentaさん: R&D <!here> morning temple tours" in closing
    assert world.fake.invalid_blocks == []


# --- contest ------------------------------------------------------------------------------------------------


CONTEST_COPYRIGHT = (
    "応募作品の著作権は応募者に帰属します。ただし主催者は、審査と結果発表のために応募作品を無償で利用できます。"
)


def test_contest_copyright_freeze_and_standings(world: SlackWorld) -> None:
    world.slack.command(
        PARTNER, '/smarter register partner company="みなと信用金庫" industry=金融業 prefecture=神奈川県'
    )
    world.slack.command(
        PARTNER, '/smarter task new contest title="地域の商店街を元気にするビジネスプラン" deadline=2026/12/20'
    )
    assert reply(world).startswith("⚠️ 燃えろビジコンでは、応募作品の著作権の帰属を明記する必要があります。")
    world.slack.command(
        PARTNER,
        '/smarter task new ビジコン title="地域の商店街を元気にするビジネスプラン" '
        f'deadline="2026年12月20日 23時59分" copyright="{CONTEST_COPYRIGHT}"',
    )
    assert f"応募作品の著作権の帰属\n{CONTEST_COPYRIGHT}" in reply(world)
    world.slack.command(PARTNER, "/smarter task freeze T1 2026/12/21 12:00")

    register_member(world, HANA, "あおい")
    register_member(world, YUI, "だいき")
    world.slack.command(HANA, "/smarter join T1")
    assert f"提出の前に、応募作品の著作権の帰属をご確認ください: {CONTEST_COPYRIGHT}" in reply(world)
    world.slack.command(YUI, "/smarter join T1")

    world.clock.set(datetime(2026, 12, 6, 10, 0, tzinfo=TOKYO))
    form = open_form(world, HANA, "/smarter submit T1")
    assert CONTEST_COPYRIGHT in shown(form)
    world.slack.submit(HANA, form, {"text": typed("空き店舗をシェアキッチンにする計画です。")})
    assert f"応募作品の著作権の帰属: {CONTEST_COPYRIGHT}" in reply(world)
    world.slack.command(YUI, '/smarter submit T1 text="商店街共通のポイントアプリを作る計画です。"')

    world.clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=TOKYO))
    world.slack.command(PARTNER, "/smarter task close T1")
    world.slack.command(
        PARTNER,
        '/smarter evaluate T1 あおい logic=3 evidence=3 originality=4 feasibility=3 clarity=4 advice="明確です。"',
    )
    assert "課題T1におけるあおいさんの評価: 77.78点" in reply(world)
    # After the freeze time, a new evaluation changes the live standings but not what members see.
    world.clock.set(datetime(2026, 12, 21, 13, 0, tzinfo=TOKYO))
    world.slack.command(
        PARTNER,
        '/smarter evaluate T1 だいき logic=4 evidence=4 originality=4 feasibility=4 clarity=4 advice="見事です。"',
    )
    assert "課題T1におけるだいきさんの評価: 100.00点" in reply(world)

    world.slack.command(HANA, "/smarter ranking T1")
    frozen = reply(world)
    assert "1位 あおいさん — 77.78点" in frozen
    assert "だいき" not in frozen
    assert "順位表は凍結中です。結果発表までは2026年12月21日(月) 12:00までの評価で表示しています。" in frozen
    world.slack.command(PARTNER, "/smarter ranking T1")
    live = reply(world)
    assert live.index("1位 だいきさん — 100.00点") < live.index("2位 あおいさん — 77.78点")
    assert "最新の順位表です。メンバー会員には結果発表まで2026年12月21日(月) 12:00時点の順位表が表示されます。" in live

    world.slack.command(PARTNER, "/smarter task finish T1")
    world.slack.command(HANA, "/smarter ranking T1")
    published = reply(world)
    assert published.index("1位 だいきさん — 100.00点") < published.index("2位 あおいさん — 77.78点")
    assert "凍結" not in published
    world.slack.deliver()
    assert world.fake.invalid_blocks == []


# --- announcements ------------------------------------------------------------------------------------------


def test_weekly_ranking_posted_with_chart(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    register_member(world, HANA, "はな")
    register_member(world, KENTA, "Kenta")
    for person, text in ((HANA, "表にまとめました。"), (KENTA, "Done.")):
        world.slack.command(person, "/smarter join T1")
        world.slack.command(person, f'/smarter submit T1 text="{text}"')
    world.slack.command(
        PARTNER,
        '/smarter evaluate T1 はな logic=3 evidence=4 originality=3 feasibility=3 clarity=4 advice="具体的です。"',
    )
    world.slack.command(
        PARTNER, '/smarter evaluate T1 M3 logic=2 evidence=2 originality=3 feasibility=2 clarity=2 advice="次へ。"'
    )
    world.slack.deliver()
    before = len(world.fake.channels[world.announcements].messages)

    world.clock.set(datetime(2026, 12, 7, 9, 30, tzinfo=TOKYO))
    result = run_latest(world.ctx, "weekly")
    assert result.queued == 1
    world.slack.deliver()

    posted = world.fake.channels[world.announcements].messages[before:]
    ranking = shown(posted[0])
    assert ranking.startswith("📣 2026年12月のランキング")
    assert ranking.index("1位 はなさん") < ranking.index("2位 Kentaさん")
    (completed,) = world.fake.calls_to("files.completeUploadExternal")
    assert completed.params["channel_id"] == world.announcements
    (chart,) = world.fake.uploads.values()
    assert chart.startswith(b"\x89PNG")
    assert world.fake.invalid_blocks == []


def test_schedule_channel_set_from_slack(world: SlackWorld) -> None:
    def stored_channel() -> str | None:
        with world.ctx.transaction() as session:
            return session.get_one(Schedule, "weekly").channel

    world.slack.command(HANA, "/smarter admin schedule channel weekly <#C123|announcements>", escaped=True)
    assert reply(world).startswith("⚠️ ")
    assert stored_channel() is None

    world.slack.command(SECRETARIAT, "/smarter admin schedule channel weekly <#C123|announcements>", escaped=True)
    assert stored_channel() == f"slack:{TEAM}:C123"
    world.slack.command(SECRETARIAT, "/smarter admin schedules")
    assert "C123に今月のシーズンのランキングを発表" in reply(world)

    world.slack.command(SECRETARIAT, "/smarter admin schedule channel weekly here", channel=world.announcements)
    assert stored_channel() == f"slack:{TEAM}:{world.announcements}"
    world.slack.command(SECRETARIAT, "/smarter admin schedule channel weekly default")
    assert stored_channel() is None
    assert world.fake.invalid_blocks == []


# --- App Home -----------------------------------------------------------------------------------------------


def open_home(world: SlackWorld, person: TypedUser) -> dict[str, Any]:
    start = len(world.fake.calls)
    world.slack.event({"type": "app_home_opened", "user": person.user_id, "channel": "D0HOME", "tab": "home"})
    (published,) = [call for call in world.fake.calls[start:] if call.method == "views.publish"]
    assert published.params["user_id"] == person.user_id
    return world.fake.home_views[person.user_id]


def test_app_home_for_member_and_partner(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    world.slack.command(
        PARTNER, '/smarter task new practice title="冷凍食品の新商品アイデア" deadline=2027/01/15 types=ideas'
    )
    register_member(world, HANA, "はな")
    register_member(world, KENTA, "Kenta")
    for person in (HANA, KENTA):
        world.slack.command(person, "/smarter join T1")
        world.slack.command(person, '/smarter submit T1 text="観察結果です。"')
    world.slack.command(
        PARTNER,
        '/smarter evaluate T1 はな logic=3 evidence=3 originality=3 feasibility=3 clarity=3 advice="丁寧です。"',
    )
    world.slack.deliver()

    home = open_home(world, HANA)
    assert home["type"] == "home"
    member_home = shown(home)
    assert "名前\nはな" in member_home
    assert "ID\nM2" in member_home
    assert "1位 はなさん（M2）" in member_home
    assert "冷凍食品の新商品アイデア" in member_home
    join = button(home["blocks"], "/smarter join T2")

    partner_home = shown(open_home(world, PARTNER))
    assert f"[T1] おシゴト実践：{PRACTICE_TITLE}" in partner_home
    assert "[T2] おシゴト実践：冷凍食品の新商品アイデア" in partner_home
    assert "「Kenta」さん（M3）" in partner_home  # waiting for evaluation
    assert "はな (M2)" not in partner_home  # already evaluated

    # A button in the Home tab has no response URL, so the reply arrives as a direct message.
    responses_before = len(world.fake.responses)
    world.slack.click(HANA, join, channel=None)
    assert len(world.fake.responses) == responses_before
    assert "課題T2に参加しました。" in dms(world, HANA)[-1]
    assert world.fake.invalid_blocks == []


# --- languages ----------------------------------------------------------------------------------------------


def test_reply_language_follows_slack_and_lang(world: SlackWorld) -> None:
    register_partner(world)
    open_practice_task(world)
    register_member(world, KENTA, "Kenta")
    register_member(world, HANA, "はな")

    world.slack.command(KENTA, "/smarter task list")
    english = reply(world)
    assert english.startswith("Open tasks")
    assert f"[T1] Practical work (おシゴト実践): {PRACTICE_TITLE}" in english
    world.slack.command(HANA, "/smarter task list")
    assert reply(world).startswith("募集中の課題")
    world.slack.command(KENTA, "/smarter join T9")
    assert reply(world) == "⚠️ Task T9 was not found. /smarter task list shows the open tasks."

    world.slack.command(KENTA, "/smarter lang ja")
    assert reply(world) == "これから日本語でお返事します。"
    world.slack.command(KENTA, "/smarter profile")
    assert "会員種別\nメンバー会員" in reply(world)
    world.slack.command(KENTA, "/smarter lang en")
    assert reply(world) == "Replies will now be in English."
    assert world.fake.invalid_blocks == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"types": {"value": {"type": "checkboxes", "selected_options": []}}}, "types"),
        ({"capacity": {"value": {"type": "number_input", "value": "0"}}}, "capacity"),
        ({"deadline_date": {"value": {"type": "datepicker", "selected_date": "2026-11-01"}}}, "deadline_date"),
        ({"copyright": typed("応募者に帰属")}, "copyright"),
    ],
)
def test_task_form_error_under_its_field(world: SlackWorld, change: dict[str, Any], field: str) -> None:
    register_partner(world)
    form = open_form(world, PARTNER, "/smarter task new practice")
    values = {**task_form_values(form, PRACTICE_TITLE), **change}

    response = world.slack.submit(PARTNER, form, values)

    assert response.status_code == 200
    assert list(response.json()["errors"]) == [field]
    assert count(world, Task) == 0


def test_register_form_email_error_under_email(world: SlackWorld) -> None:
    form = open_form(world, HANA, "/smarter register member")

    response = world.slack.submit(HANA, form, {"nickname": typed("はな"), "email": typed("not-an-address")})

    assert response.status_code == 200
    assert list(response.json()["errors"]) == ["email"]
    assert count(world, Person) == 0


def test_loading_modal_in_slack_language(world: SlackWorld) -> None:
    open_form(world, KENTA, "/smarter register member")

    (opened,) = world.fake.calls_to("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["title"]["text"] == "Loading"
    assert world.slack.last_view()["title"]["text"] != "読み込み中"


def posts(world: SlackWorld) -> list[Post]:
    with world.ctx.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def test_command_idea_appears_in_thread(world: SlackWorld) -> None:
    world.slack.command(PARTNER, '/smarter register partner company="株式会社さくらトラベル"')
    world.slack.command(PARTNER, '/smarter task new ブレスト title="閑散期の京都" deadline="12月10日 18時"')
    register_member(world, HANA, "はな")
    register_member(world, YUI, "ゆい")
    world.slack.deliver()
    parent = world.fake.channels[world.brainstorm].messages[0]

    world.slack.command(HANA, "/smarter post T1 町家で朝ごはん R&D <!here>")
    world.slack.deliver()

    posted = world.fake.channels[world.brainstorm].messages[-1]
    assert posted["thread_ts"] == parent["ts"]
    assert shown(posted) == "「はな」さんのアイデア: 町家で朝ごはん R&D <!here>"
    assert "R&amp;D &lt;!here&gt;" in posted["text"]
    # A reaction on the bot's copy counts for the idea, like one on a reply typed in the thread. The idea's
    # author reacting to it does not count.
    react(world, YUI, posted["ts"], added=True)
    react(world, HANA, posted["ts"], added=True)
    assert [post.reactions for post in posts(world)] == [1]
    assert world.fake.invalid_blocks == []


def test_thread_mention_shows_nickname(world: SlackWorld) -> None:
    world.slack.command(PARTNER, '/smarter register partner company="株式会社さくらトラベル"')
    world.slack.command(PARTNER, '/smarter task new ブレスト title="閑散期の京都" deadline="12月10日 18時"')
    register_member(world, HANA, "はな")
    register_member(world, YUI, "ゆい")
    world.slack.deliver()
    parent = world.fake.channels[world.brainstorm].messages[0]

    reply_in_thread(
        world, YUI, parent["ts"], f"<@{HANA.user_id}> さんの案に賛成です <@{PARTNER.user_id}> <@{GUEST.user_id}>"
    )

    assert [post.text for post in posts(world)] == [f"@はな さんの案に賛成です @P1 @{GUEST.user_id}"]


def test_form_language_survives_other_process(world: SlackWorld) -> None:
    form = open_form(world, KENTA, "/smarter register member")
    # The submission reaches a process that has not looked up Kenta's Slack language.
    world.slack.bot._locales.clear()

    response = world.slack.submit(KENTA, form, {"nickname": typed("Kenta"), "email": typed("not-an-address")})

    (message,) = response.json()["errors"].values()
    assert "not-an-address" in message
    assert message.isascii()
