"""The fake Slack Web API, driven by slack_sdk's real clients so that it also proves the wire format matches."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.slack import FakeSlack
from tests.slack.signing import event_body, interaction_body, sign, slash_command_body

USERS = {
    "U1": {"name": "hanako", "locale": "ja-JP", "real_name": "山田 花子"},
    "U2": {"name": "taro", "locale": "en-US", "real_name": "Taro Sato"},
    "U3": {"name": "jiro", "locale": "ja-JP", "real_name": "Jiro Ito"},
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(users=USERS) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.base_url, timeout=10)


def api_error(function: Callable[..., Any], **kwargs: Any) -> str:
    """Call a WebClient method that must fail and return Slack's error code."""
    with pytest.raises(SlackApiError) as raised:
        function(**kwargs)
    return str(raised.value.response["error"])


def section(text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **fields}


def modal(title: str = "提出", **fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [section("本文")], **fields}


# -- messages


def test_post_message_then_history(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general", members=("U1",))

    first = client.chat_postMessage(channel=channel_id, text="first", blocks=[section("*first*")])
    second = client.chat_postMessage(channel="#general", text="second")
    reply = client.chat_postMessage(channel="general", text="reply", thread_ts=first["ts"])
    history = client.conversations_history(channel=channel_id)
    thread = client.conversations_replies(channel=channel_id, ts=first["ts"])

    assert first["channel"] == channel_id
    assert second["channel"] == channel_id
    assert first["ts"] == "1700000000.000100"
    assert first["ts"] < second["ts"] < reply["ts"]
    assert first["message"]["user"] == "UBOT"
    assert first["message"]["blocks"] == [section("*first*")]
    assert reply["message"]["thread_ts"] == first["ts"]
    assert [message["text"] for message in history["messages"]] == ["second", "first"]
    assert history["messages"][1]["reply_count"] == 1
    assert [message["text"] for message in thread["messages"]] == ["first", "reply"]
    assert len(fake.channels[channel_id].messages) == 3


def test_post_message_records_wire_format(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")

    client.chat_postMessage(channel=channel_id, text="hi", blocks=[section("hi")])
    client.conversations_invite(channel=channel_id, users=["U1", "U2"])

    post, invite = fake.calls
    assert post.method == "chat.postMessage"
    assert post.token == "xoxb-test"
    assert post.headers["Authorization"] == "Bearer xoxb-test"
    assert post.headers["Content-Type"].startswith("application/json")
    assert post.params["blocks"] == [section("hi")]
    assert invite.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert invite.params["users"] == ["U1", "U2"]
    assert post.response["ok"] is True
    assert fake.calls_to("conversations.invite") == [invite]


def test_post_message_to_user_id_opens_dm(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U1", text="こんにちは")
    opened = client.conversations_open(users="U1")
    again = client.conversations_open(users=["U1"])

    assert posted["channel"].startswith("D")
    assert opened["channel"]["id"] == posted["channel"]
    assert again["channel"]["id"] == posted["channel"]
    assert again["already_open"] is True
    assert fake.dm_channel("U1").messages[0]["text"] == "こんにちは"
    assert api_error(client.conversations_open, users="U404") == "user_not_found"


def test_post_message_errors(fake: FakeSlack, client: WebClient) -> None:
    archived = fake.add_channel("old")
    fake.channels[archived].is_archived = True
    secret = fake.add_channel("secret", private=True, members=("U1",), bot_member=False)
    general = fake.add_channel("general")

    assert api_error(client.chat_postMessage, channel="C404", text="x") == "channel_not_found"
    assert api_error(client.chat_postMessage, channel=archived, text="x") == "is_archived"
    assert api_error(client.chat_postMessage, channel=secret, text="x") == "not_in_channel"
    with pytest.warns(UserWarning, match="text"):
        assert api_error(client.chat_postMessage, channel=general, text="") == "no_text"
    assert api_error(client.chat_postMessage, channel=general, text="あ" * 40_001) == "msg_too_long"
    assert client.chat_postMessage(channel=general, text="あ" * 40_000)["ok"] is True
    assert len(fake.channels[general].messages) == 1


def test_post_ephemeral_needs_member(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general", members=("U1",))

    answer = client.chat_postEphemeral(channel=channel_id, user="U1", text="only you")

    assert answer["message_ts"]
    assert fake.channels[channel_id].ephemerals[0]["user"] == "U1"
    assert fake.channels[channel_id].messages == []
    assert api_error(client.chat_postEphemeral, channel=channel_id, user="U2", text="x") == "user_not_in_channel"
    assert api_error(client.chat_postEphemeral, channel=channel_id, user="U404", text="x") == "user_not_found"


def test_chat_update_own_message(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general", members=("U1",))
    posted = client.chat_postMessage(channel=channel_id, text="draft")
    from_user = fake.add_message(channel_id, user="U1", text="mine")

    updated = client.chat_update(channel=channel_id, ts=posted["ts"], text="final", blocks=[section("final")])

    assert updated["ts"] == posted["ts"]
    assert fake.channels[channel_id].message(posted["ts"]) is not None
    assert fake.channels[channel_id].messages[0]["text"] == "final"
    assert fake.channels[channel_id].messages[0]["blocks"] == [section("final")]
    assert api_error(client.chat_update, channel=channel_id, ts="1.000000", text="x") == "message_not_found"
    assert api_error(client.chat_update, channel=channel_id, ts=from_user, text="x") == "cant_update_message"


def test_pins_and_reactions(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general", members=("U1", "U2"))
    ts = client.chat_postMessage(channel=channel_id, text="announcement")["ts"]
    fake.add_reaction(channel_id, ts, "eyes", "U1")
    fake.add_reaction(channel_id, ts, "eyes", "U2")
    fake.add_reaction(channel_id, ts, "tada", "U1")

    client.pins_add(channel=channel_id, timestamp=ts)
    reactions = client.reactions_get(channel=channel_id, timestamp=ts)["message"]["reactions"]

    assert fake.channels[channel_id].pins == [ts]
    assert api_error(client.pins_add, channel=channel_id, timestamp=ts) == "already_pinned"
    assert api_error(client.pins_add, channel=channel_id, timestamp="1.000000") == "message_not_found"
    assert reactions == [
        {"name": "eyes", "users": ["U1", "U2"], "count": 2},
        {"name": "tada", "users": ["U1"], "count": 1},
    ]


# -- conversations


def test_create_invite_kick_archive(fake: FakeSlack, client: WebClient) -> None:
    created = client.conversations_create(name="task-42", is_private=True)["channel"]
    channel_id = created["id"]

    assert created["is_private"] is True
    assert created["name"] == "task-42"
    assert fake.channels[channel_id].members == {"UBOT"}
    assert client.conversations_invite(channel=channel_id, users=["U1", "U2"])["channel"]["id"] == channel_id
    assert fake.channels[channel_id].members == {"UBOT", "U1", "U2"}
    assert api_error(client.conversations_invite, channel=channel_id, users="U1,U2") == "already_in_channel"
    assert api_error(client.conversations_invite, channel=channel_id, users="UBOT") == "cant_invite_self"
    assert api_error(client.conversations_invite, channel=channel_id, users="U3,U404") == "user_not_found"
    assert api_error(client.conversations_invite, channel="C404", users="U3") == "channel_not_found"

    client.conversations_kick(channel=channel_id, user="U1")
    assert fake.channels[channel_id].members == {"UBOT", "U2"}
    assert api_error(client.conversations_kick, channel=channel_id, user="U1") == "not_in_channel"
    assert api_error(client.conversations_kick, channel=channel_id, user="UBOT") == "cant_kick_self"

    client.conversations_archive(channel=channel_id)
    assert fake.channels[channel_id].is_archived is True
    assert api_error(client.conversations_archive, channel=channel_id) == "already_archived"
    assert api_error(client.conversations_invite, channel=channel_id, users="U3") == "is_archived"
    assert api_error(client.chat_postMessage, channel=channel_id, text="x") == "is_archived"
    assert api_error(client.conversations_create, name="task-42") == "name_taken"

    client.conversations_unarchive(channel=channel_id)
    assert fake.channels[channel_id].is_archived is False
    assert api_error(client.conversations_unarchive, channel=channel_id) == "not_archived"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("General", "invalid_name_specials"),
        ("task 42", "invalid_name_specials"),
        ("task.42", "invalid_name_specials"),
        ("task#42", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("", "invalid_name_required"),
        ("--", "invalid_name_punctuation"),
        ("x" * 80, None),
        ("おシゴト実践-第1回_チーム", None),
        ("task_42-b", None),
    ],
)
def test_channel_name_rules(client: WebClient, name: str, error: str | None) -> None:
    if error is None:
        assert client.conversations_create(name=name)["channel"]["name"] == name
    else:
        assert api_error(client.conversations_create, name=name) == error


def test_list_pages_with_cursor(fake: FakeSlack, client: WebClient) -> None:
    public = [fake.add_channel(f"room-{number}") for number in range(5)]
    fake.add_channel("hidden", private=True, bot_member=False)
    mine = fake.add_channel("mine", private=True)
    fake.channels[public[0]].is_archived = True

    pages = []
    cursor = None
    while True:
        page = client.conversations_list(types="public_channel", limit=2, cursor=cursor)
        pages.append([channel["id"] for channel in page["channels"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    both = client.conversations_list(types=["public_channel", "private_channel"], exclude_archived=True)

    assert pages == [public[0:2], public[2:4], public[4:5]]
    assert [channel["id"] for channel in both["channels"]] == [*public[1:], mine]
    assert api_error(client.conversations_list, cursor="not-a-cursor") == "invalid_cursor"


def test_history_range_and_limit(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")
    stamps = [client.chat_postMessage(channel=channel_id, text=str(number))["ts"] for number in range(5)]

    newest_two = client.conversations_history(channel=channel_id, limit=2)
    between = client.conversations_history(channel=channel_id, oldest=stamps[1], latest=stamps[4])

    assert [message["text"] for message in newest_two["messages"]] == ["4", "3"]
    assert newest_two["has_more"] is True
    assert [message["text"] for message in between["messages"]] == ["3", "2"]
    assert client.conversations_info(channel=channel_id)["channel"]["is_member"] is True
    outside = fake.add_channel("outside", bot_member=False)
    assert api_error(client.conversations_history, channel=outside) == "not_in_channel"
    hidden = fake.add_channel("hidden", private=True, bot_member=False)
    assert api_error(client.conversations_info, channel=hidden) == "channel_not_found"


# -- views


def test_views_open_and_update(fake: FakeSlack, client: WebClient) -> None:
    fake.expire_trigger("trigger-old")

    opened = client.views_open(trigger_id="trigger-1", view=modal(callback_id="submit", private_metadata="42"))["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("更新"))["view"]

    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "submit"
    assert opened["private_metadata"] == "42"
    assert opened["state"] == {"values": {}}
    assert updated["id"] == opened["id"]
    assert updated["title"]["text"] == "更新"
    assert updated["hash"] != opened["hash"]
    assert api_error(client.views_open, trigger_id="trigger-1", view=modal()) == "exchanged_trigger_id"
    assert api_error(client.views_open, trigger_id="", view=modal()) == "invalid_trigger_id"
    assert api_error(client.views_open, trigger_id="trigger-old", view=modal()) == "expired_trigger_id"
    assert api_error(client.views_update, view_id=opened["id"], hash=opened["hash"], view=modal()) == "hash_conflict"
    assert api_error(client.views_update, view_id="V404", view=modal()) == "not_found"


def test_views_push_and_external_id(client: WebClient) -> None:
    root = client.views_open(trigger_id="t1", view=modal(external_id="task-7"))["view"]
    pushed = client.views_push(trigger_id="t2", view=modal("二枚目"))["view"]
    client.views_push(trigger_id="t3", view=modal("三枚目"))
    by_external = client.views_update(external_id="task-7", view=modal("外部ID", external_id="task-7"))["view"]

    assert pushed["root_view_id"] == root["id"]
    assert pushed["previous_view_id"] == root["id"]
    assert by_external["id"] == root["id"]
    assert api_error(client.views_push, trigger_id="t4", view=modal()) == "push_limit_reached"
    assert api_error(client.views_open, trigger_id="t5", view=modal(external_id="task-7")) == "duplicate_external_id"


def test_views_publish_home(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("ランキング")]}

    first = client.views_publish(user_id="U1", view=home)["view"]
    second = client.views_publish(user_id="U1", view={**home, "blocks": [section("更新")]})["view"]

    assert second["id"] == first["id"]
    assert fake.home_views["U1"]["blocks"] == [section("更新")]
    assert api_error(client.views_publish, user_id="U404", view=home) == "user_not_found"
    assert api_error(client.views_publish, user_id="U1", view=modal()) == "invalid_arguments"


# -- Block Kit validation


def test_invalid_blocks_long_section(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")

    client.chat_postMessage(channel=channel_id, text="ok", blocks=[section("あ" * 3000)])
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=channel_id, text="long", blocks=[section("あ" * 3001)])

    assert raised.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in raised.value.response["errors"][0]
    assert [method for method, _ in fake.invalid_blocks] == ["chat.postMessage"]
    assert "3000" in fake.invalid_blocks[0][1]
    assert len(fake.channels[channel_id].messages) == 1


def test_invalid_blocks_over_fifty(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")
    divider = {"type": "divider"}

    client.chat_postMessage(channel=channel_id, text="fifty", blocks=[divider] * 50)
    error = api_error(client.chat_postMessage, channel=channel_id, text="too many", blocks=[divider] * 51)

    assert error == "invalid_blocks"
    assert len(fake.invalid_blocks) == 1
    assert "50" in fake.invalid_blocks[0][1]


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [
        ([section("a", block_id="b1"), section("b", block_id="b1")], "block_id"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "150"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "A"}, "action_id": "go"},
                        {"type": "button", "text": {"type": "plain_text", "text": "B"}, "action_id": "go"},
                    ],
                }
            ],
            "action_id",
        ),
        ([{"type": "no_such_block"}], "unsupported type"),
        ([{"type": "section"}], "text or fields"),
    ],
)
def test_invalid_blocks_cases(fake: FakeSlack, client: WebClient, blocks: list[dict[str, Any]], reason: str) -> None:
    channel_id = fake.add_channel("general")

    assert api_error(client.chat_postMessage, channel=channel_id, text="x", blocks=blocks) == "invalid_blocks"
    assert reason in fake.invalid_blocks[0][1]


@pytest.mark.parametrize(
    ("view", "reason"),
    [
        (modal("x" * 25), "title"),
        (modal(submit={"type": "plain_text", "text": "x" * 25}), "submit"),
        (modal(private_metadata="x" * 3001), "private_metadata"),
        (modal(callback_id="x" * 256), "callback_id"),
        ({**modal(), "blocks": [{"type": "divider"}] * 101}, "100"),
        ({"type": "modal", "blocks": []}, "title"),
    ],
)
def test_invalid_view_cases(fake: FakeSlack, client: WebClient, view: dict[str, Any], reason: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id="t1", view=view)

    assert raised.value.response["error"] == "invalid_arguments"
    assert raised.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")
    assert fake.invalid_blocks[0][0] == "views.open"
    assert reason in fake.invalid_blocks[0][1]
    assert client.views_open(trigger_id="t1", view=modal())["ok"] is True


# -- rate limits, injected failures and auth


def test_rate_limit_honoured_by_retry(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")
    fake.rate_limit("chat.postMessage", retry_after=1)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))

    answer = client.chat_postMessage(channel=channel_id, text="after the wait")

    limited, retried = fake.calls_to("chat.postMessage")
    assert answer["ok"] is True
    assert limited.status == 429
    assert limited.response == {"ok": False, "error": "ratelimited"}
    assert retried.status == 200
    assert retried.at - limited.at >= 1.0
    assert [message["text"] for message in fake.channels[channel_id].messages] == ["after the wait"]


def test_rate_limit_without_retry(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")
    fake.rate_limit("chat.postMessage", retry_after=7, times=2)

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=channel_id, text="x")
    second = api_error(client.chat_postMessage, channel=channel_id, text="x")
    third = client.chat_postMessage(channel=channel_id, text="x")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert second == "ratelimited"
    assert third["ok"] is True


def test_fail_injects_error_once(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("users.info", "fatal_error")

    assert api_error(client.users_info, user="U1") == "fatal_error"
    assert client.users_info(user="U1")["user"]["name"] == "hanako"


def test_auth_tokens(fake: FakeSlack) -> None:
    stranger = WebClient(token="xoxb-unknown", base_url=fake.base_url)
    fake.add_token("xoxb-other", "T0002", team_name="Other")
    other = WebClient(token="xoxb-other", base_url=fake.base_url)

    assert api_error(stranger.auth_test) == "invalid_auth"
    assert api_error(WebClient(base_url=fake.base_url).auth_test) == "not_authed"
    assert other.auth_test()["team_id"] == "T0002"
    assert other.team_info()["team"]["name"] == "Other"
    assert fake.calls[0].token == "xoxb-unknown"


def test_unknown_method(client: WebClient) -> None:
    assert api_error(client.api_call, api_method="no.such.method") == "unknown_method"


def test_users_info_locale(client: WebClient) -> None:
    with_locale = client.users_info(user="U2", include_locale=True)["user"]
    without = client.users_info(user="U1")["user"]

    assert with_locale["locale"] == "en-US"
    assert with_locale["tz"] == "Asia/Tokyo"
    assert with_locale["profile"]["real_name"] == "Taro Sato"
    assert "locale" not in without
    assert without["real_name"] == "山田 花子"
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True
    assert api_error(client.users_info, user="U404") == "user_not_found"


# -- files


def test_files_upload_v2_end_to_end(fake: FakeSlack, client: WebClient) -> None:
    channel_id = fake.add_channel("general")
    content = bytes(range(256)) * 4

    answer = client.files_upload_v2(
        channel=channel_id,
        file=content,
        filename="ranking.png",
        title="ランキング",
        alt_txt="順位のグラフ",
        initial_comment="今週のランキング",
    )

    file_id = answer["file"]["id"]
    message = fake.channels[channel_id].messages[-1]
    assert fake.uploads == {file_id: content}
    assert answer["file"]["title"] == "ランキング"
    assert message["text"] == "今週のランキング"
    assert message["files"][0]["id"] == file_id
    assert message["files"][0]["alt_txt"] == "順位のグラフ"
    assert message["files"][0]["mimetype"] == "image/png"
    assert fake.calls_to("files.getUploadURLExternal")[0].params["length"] == str(len(content))


def test_upload_url_multipart(fake: FakeSlack, client: WebClient) -> None:
    upload_url = client.files_getUploadURLExternal(filename="a.bin", length=3)["upload_url"]
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="filename"\r\n\r\na.bin\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n\x00\r\n--XyZ--\r\n"
    )
    request = urllib.request.Request(
        upload_url, data=body, method="POST", headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )

    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read().decode()

    assert answer == "OK - 3"
    assert list(fake.uploads.values()) == [b"\r\n\x00"]


def test_complete_upload_unknown_file(client: WebClient) -> None:
    error = api_error(client.files_completeUploadExternal, files=[{"id": "F404", "title": "x"}])

    assert error == "file_not_found"


# -- async client


def test_async_client_wire_format(fake: FakeSlack) -> None:
    channel_id = fake.add_channel("general")

    async def run() -> tuple[str, str, str]:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.base_url, timeout=10)
        posted = await client.chat_postMessage(channel=channel_id, text="async", blocks=[section("async")])
        await client.conversations_invite(channel=channel_id, users=["U1", "U3"])
        user = await client.users_info(user="U1", include_locale=True)
        uploaded = await client.files_upload_v2(channel=channel_id, content="a,b\n1,2\n", filename="scores.csv")
        return posted["ts"], user["user"]["locale"], uploaded["file"]["id"]

    ts, locale, file_id = asyncio.run(run())

    assert fake.channels[channel_id].message(ts) is not None
    assert fake.channels[channel_id].members == {"UBOT", "U1", "U3"}
    assert locale == "ja-JP"
    assert fake.uploads[file_id] == b"a,b\n1,2\n"
    assert fake.calls_to("users.info")[0].headers["Authorization"] == "Bearer xoxb-test"


# -- response URLs


def test_response_url_records_posts(fake: FakeSlack) -> None:
    url = fake.response_url()
    webhook = WebhookClient(url)

    first = webhook.send(text="受け付けました", response_type="ephemeral")
    invalid = webhook.send(text="x", blocks=[section("x" * 3001)])
    for number in range(4):
        webhook.send(text=str(number))
    used_up = webhook.send(text="sixth")

    assert first.status_code == 200
    assert json.loads(first.body) == {"ok": True}
    assert json.loads(invalid.body)["error"] == "invalid_blocks"
    assert fake.invalid_blocks[0][0] == "response_url"
    assert fake.responses[0] == {"text": "受け付けました", "response_type": "ephemeral"}
    assert len(fake.responses_by_url[url]) == 5
    assert used_up.status_code == 404


def test_wait_for_lists_calls(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    fake.wait_for(lambda: len(fake.calls) == 1, timeout=1)

    with pytest.raises(AssertionError) as raised:
        fake.wait_for(lambda: False, timeout=0.1)

    assert "auth.test -> ok" in str(raised.value)


# -- signing helpers


def test_sign_matches_sdk_verifier() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = slash_command_body(
        command="/smarter",
        text="task list",
        user_id="U1",
        team_id="T0001",
        channel_id="C1",
        response_url="http://127.0.0.1:1/response/1",
        trigger_id="t1",
    )
    now = int(time.time())
    headers = sign(secret, body, now)
    verifier = SignatureVerifier(secret)

    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]) is True
    assert verifier.is_valid_request(body, headers) is True
    assert verifier.is_valid(body + b"&x=1", str(now), headers["X-Slack-Signature"]) is False
    assert SignatureVerifier("another-secret").is_valid_request(body, headers) is False
    assert parse_qs(body.decode())["command"] == ["/smarter"]


def test_sign_known_vector() -> None:
    # Slack's published signing example: its secret, timestamp, body and expected signature.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )

    headers = sign("8f742231b10e8888abcd99yyyzzz85a5", body, 1531420618)

    assert headers["X-Slack-Signature"] == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_interaction_and_event_bodies() -> None:
    payload = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "go"}]}

    interaction = parse_qs(interaction_body(payload).decode())
    event = json.loads(event_body({"type": "app_mention", "text": "hi"}, team_id="T0001", event_id="Ev1", event_time=1))

    assert json.loads(interaction["payload"][0]) == payload
    assert event["type"] == "event_callback"
    assert event["event"]["type"] == "app_mention"
    assert event["team_id"] == "T0001"
    assert event["event_id"] == "Ev1"
    assert event["api_app_id"] == "A0001"
