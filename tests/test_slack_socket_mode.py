"""The Slack adapter over Socket Mode: serve() against a fake WebSocket endpoint and the fake Web API.

The app connects with its app-level token the way `smarter-bot run` does it when slack_app_token is set. The
fake endpoint greets it and pushes envelopes. The tests then check the acknowledgements and what the app did.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from adapters.slack.app import SlackBot
from adapters.slack.blocks import ACTION_PREFIX
from adapters.slack.config import SlackConfig
from adapters.slack.delivery import SlackDeliveryWorker
from adapters.slack.server import serve
from bots.slack_runner import build_slack
from core.services import chat_state, registration, tasks
from core.services.context import Actor, ServiceContext
from core.storage.models import InboundRequest, Person, Post
from tests.slack.fake import FakeSlack
from tests.slack.signing import event_body, slash_command_body
from tests.slack.socket import SocketModeServer

APP_TOKEN = "xapp-1-A0001-1-socket"
BOT_TOKEN = "xoxb-test"
TEAM = "T0001"
PARTNER = "UACME"
MEMBER = "UTARO"
NEWCOMER = "UHANAKO"
USERS = {
    PARTNER: {"name": "acme", "locale": "en-US"},
    MEMBER: {"name": "taro", "locale": "en-US"},
    NEWCOMER: {"name": "hanako", "locale": "en-US"},
}
# Coroutines that run as long as the app is connected (serve() and the Socket Mode client's loops), so waiting
# for the app's work skips them.
CLIENT_LOOPS = ("process_messages", "monitor_current_session", "receive_messages", "ServingThread._serve")


class ServingThread:
    """adapters.slack.server.serve() in its own thread and event loop, until `stop()` sets its stop event."""

    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slack-serve", daemon=True)

    def start(self) -> ServingThread:
        self._thread.start()
        assert self._started.wait(5), "serve() did not start"
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # the test reads it after stop()
            self.error = error
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        await serve(self.bot, self._stop)

    def stop(self, timeout: float = 5) -> None:
        stop = self._stop
        if stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def settle(self, timeout: float = 10) -> None:
        """Wait until every listener task the app started has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not asyncio.run_coroutine_threadsafe(self._working(), self.loop).result(5):
                return
            time.sleep(0.02)
        working = asyncio.run_coroutine_threadsafe(self._working(), self.loop).result(5)
        raise AssertionError(f"the app was still working after {timeout} s: {working}")

    async def _working(self) -> list[str]:
        current = asyncio.current_task()
        names = []
        for task in asyncio.all_tasks():
            name = getattr(task.get_coro(), "__qualname__", "")
            if task is not current and not name.endswith(CLIENT_LOOPS):
                names.append(name)
        return names


@dataclass
class SocketModeApp:
    ctx: ServiceContext
    fake: FakeSlack
    endpoint: SocketModeServer
    serving: ServingThread
    worker: SlackDeliveryWorker


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(users=USERS) as server:
        yield server


@pytest.fixture
def endpoint(fake: FakeSlack) -> Iterator[SocketModeServer]:
    with SocketModeServer() as server:
        fake.add_app_token(APP_TOKEN, server.issue_url)
        yield server


@pytest.fixture
def app(ctx: ServiceContext, fake: FakeSlack, endpoint: SocketModeServer) -> Iterator[SocketModeApp]:
    """The Slack adapter connected over Socket Mode, with the app already greeted by the endpoint."""
    config = SlackConfig(app_token=APP_TOKEN, bot_token=BOT_TOKEN, signing_secret=None, api_url=fake.base_url)
    bot, worker = build_slack(ctx, config)
    serving = ServingThread(bot).start()
    endpoint.wait_connected()
    yield SocketModeApp(ctx, fake, endpoint, serving, worker)
    serving.stop()


def slash_command(fake: FakeSlack, text: str, *, user: str, trigger_id: str) -> tuple[dict[str, Any], str]:
    """Return a slash command payload as Socket Mode carries it (the form fields as JSON) and its response URL."""
    response_url = fake.response_url()
    body = slash_command_body(
        command="/smarter",
        text=text,
        user_id=user,
        team_id=TEAM,
        channel_id="CGENERAL",
        response_url=response_url,
        trigger_id=trigger_id,
    )
    return dict(parse_qsl(body.decode())), response_url


def event_payload(event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    return json.loads(event_body(event, team_id=TEAM, event_id=event_id, event_time=int(time.time())))  # type: ignore[no-any-return]


def open_brainstorm(app: SocketModeApp) -> tuple[int, str, str]:
    """Register a Slack partner and member, open a brainstorm and deliver its thread; return (task, channel, ts)."""
    app.fake.add_channel("brainstorm", members=(PARTNER, MEMBER))
    registration.register_partner(app.ctx, Actor("slack", TEAM, PARTNER), company="acme 株式会社")
    registration.register_member(app.ctx, Actor("slack", TEAM, MEMBER), nickname="taro")
    spec = tasks.NewTask(menu="brainstorm", title="New snack ideas", deadline="2026/12/31")
    task_id = tasks.create_task(app.ctx, Actor("slack", TEAM, PARTNER), spec).id
    while app.worker.run_once():
        pass
    place = chat_state.find_place(app.ctx, "slack", TEAM, task_id, chat_state.BRAINSTORM_THREAD)
    assert place is not None, "the brainstorm thread was not posted:\n" + app.fake.summary()
    assert place.thread_id is not None
    return task_id, place.channel_id, place.thread_id


def posts_of(ctx: ServiceContext, task_id: int) -> list[Post]:
    with ctx.transaction() as session:
        return list(session.scalars(select(Post).where(Post.task_id == task_id).order_by(Post.id)))


def wait_until(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_connect_uses_app_token(app: SocketModeApp) -> None:
    opened = app.fake.calls_to("apps.connections.open")

    assert len(opened) == 1
    assert opened[0].token == APP_TOKEN
    assert opened[0].error is None
    assert app.endpoint.rejected_tickets == []


def test_slash_command_acked_and_answered(app: SocketModeApp) -> None:
    payload, response_url = slash_command(app.fake, "help", user=NEWCOMER, trigger_id="1.1.socket")

    envelope_id = app.endpoint.send(app.endpoint.envelope("slash_commands", payload, accepts_response_payload=True))
    ack = app.endpoint.wait_for_ack(envelope_id, timeout=3)
    app.fake.wait_for(lambda: bool(app.fake.responses_by_url[response_url]))
    app.serving.settle()

    assert ack.at - app.endpoint.sent[envelope_id] < 3
    assert ack.message == {"envelope_id": envelope_id}
    replies = app.fake.responses_by_url[response_url]
    assert replies[0]["response_type"] == "ephemeral"
    assert "register" in replies[0]["text"]
    users_info = app.fake.calls_to("users.info")
    assert [call.token for call in users_info] == [BOT_TOKEN]


def test_slash_command_registers_member(app: SocketModeApp) -> None:
    payload, response_url = slash_command(
        app.fake, "register member nickname=hanako", user=NEWCOMER, trigger_id="2.1.socket"
    )

    envelope_id = app.endpoint.send(app.endpoint.envelope("slash_commands", payload, accepts_response_payload=True))
    app.endpoint.wait_for_ack(envelope_id)
    app.fake.wait_for(lambda: bool(app.fake.responses_by_url[response_url]))
    app.serving.settle()

    with app.ctx.transaction() as session:
        names = list(session.scalars(select(Person.display_name)))
    assert names == ["hanako"]
    assert "hanako" in app.fake.responses_by_url[response_url][0]["text"]


def test_redelivered_command_runs_once(app: SocketModeApp) -> None:
    task_id, _, _ = open_brainstorm(app)
    payload, response_url = slash_command(
        app.fake, f"post T{task_id} 駅前で試食会を開く", user=MEMBER, trigger_id="3.1.socket"
    )

    first = app.endpoint.send(app.endpoint.envelope("slash_commands", payload, accepts_response_payload=True))
    app.endpoint.wait_for_ack(first)
    app.fake.wait_for(lambda: bool(app.fake.responses_by_url[response_url]))
    app.serving.settle()
    again = app.endpoint.envelope("slash_commands", payload, accepts_response_payload=True)
    again["retry_attempt"], again["retry_reason"] = 1, "timeout"
    second = app.endpoint.send(again)
    app.endpoint.wait_for_ack(second)
    app.serving.settle()

    assert [post.text for post in posts_of(app.ctx, task_id)] == ["駅前で試食会を開く"]
    assert len(app.fake.responses_by_url[response_url]) == 1


def test_button_click_acked_and_answered(app: SocketModeApp) -> None:
    response_url = app.fake.response_url()
    payload = {
        "type": "block_actions",
        "user": {"id": NEWCOMER, "username": "hanako", "team_id": TEAM},
        "api_app_id": "A0001",
        "team": {"id": TEAM, "domain": "smarter"},
        "trigger_id": "3.1.socket",
        "container": {"type": "message", "channel_id": "CGENERAL", "message_ts": "1.0"},
        "channel": {"id": "CGENERAL", "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}.0",
                "block_id": "b1",
                "value": "help",
                "text": {"type": "plain_text", "text": "Help"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }

    envelope_id = app.endpoint.send(app.endpoint.envelope("interactive", payload))
    ack = app.endpoint.wait_for_ack(envelope_id, timeout=3)
    app.fake.wait_for(lambda: bool(app.fake.responses_by_url[response_url]))

    assert ack.message == {"envelope_id": envelope_id}
    assert "register" in app.fake.responses_by_url[response_url][0]["text"]


def test_form_errors_sent_in_ack_payload(app: SocketModeApp) -> None:
    payload, _ = slash_command(app.fake, "register member", user=NEWCOMER, trigger_id="4.1.socket")
    app.endpoint.wait_for_ack(app.endpoint.send(app.endpoint.envelope("slash_commands", payload)))
    app.fake.wait_for(lambda: bool(app.fake.calls_to("views.update")))
    app.serving.settle()
    update = app.fake.calls_to("views.update")[-1]
    view = {**update.params["view"], "id": update.params["view_id"]}
    values = {"nickname": {"value": {"type": "plain_text_input", "value": "M3"}}, "email": {"value": {}}}
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "smarter"},
        "user": {"id": NEWCOMER, "username": "hanako", "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": "4.2.socket",
        "view": {**view, "state": {"values": values}, "team_id": TEAM},
    }

    envelope_id = app.endpoint.send(app.endpoint.envelope("interactive", submission, accepts_response_payload=True))
    ack = app.endpoint.wait_for_ack(envelope_id, timeout=3)

    assert ack.payload is not None, ack.message
    assert ack.payload["response_action"] == "errors"
    assert list(ack.payload["errors"]) == ["nickname"]
    assert "M3" in ack.payload["errors"]["nickname"]


def test_redelivered_thread_reply_recorded_once(app: SocketModeApp, caplog: pytest.LogCaptureFixture) -> None:
    task_id, channel, thread_ts = open_brainstorm(app)
    ts = app.fake.add_message(channel, user=MEMBER, text="Rice crackers with wasabi", thread_ts=thread_ts)
    event = {
        "type": "message",
        "channel": channel,
        "channel_type": "channel",
        "user": MEMBER,
        "text": "Rice crackers with wasabi",
        "ts": ts,
        "thread_ts": thread_ts,
        "event_ts": ts,
    }
    payload = event_payload(event, event_id="Ev0THREAD1")
    caplog.set_level(logging.INFO, logger="adapters.slack.app")

    first = app.endpoint.send(app.endpoint.envelope("events_api", payload))
    app.endpoint.wait_for_ack(first)
    wait_until(lambda: len(posts_of(app.ctx, task_id)) == 1)
    app.serving.settle()
    retry = app.endpoint.envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    second = app.endpoint.send(retry)
    app.endpoint.wait_for_ack(second)
    app.serving.settle()

    assert second != first
    assert len(app.endpoint.acks_for(first)) == 1
    assert len(app.endpoint.acks_for(second)) == 1
    posts = posts_of(app.ctx, task_id)
    assert [post.text for post in posts] == ["Rice crackers with wasabi"]
    assert chat_state.post_for_message(app.ctx, "slack", TEAM, channel, ts) == posts[0].id
    assert "Ev0THREAD1 was already handled" in caplog.text


def test_concurrent_redelivered_reaction_counted_once(app: SocketModeApp) -> None:
    task_id, channel, thread_ts = open_brainstorm(app)
    ts = app.fake.add_message(channel, user=MEMBER, text="Matcha chips", thread_ts=thread_ts)
    message = {"type": "message", "channel": channel, "user": MEMBER, "text": "Matcha chips", "ts": ts}
    reply = event_payload({**message, "thread_ts": thread_ts, "event_ts": ts}, event_id="Ev0POST1")
    app.endpoint.wait_for_ack(app.endpoint.send(app.endpoint.envelope("events_api", reply)))
    wait_until(lambda: len(posts_of(app.ctx, task_id)) == 1)
    app.serving.settle()
    app.fake.add_reaction(channel, ts, "thumbsup", PARTNER)
    reaction = {
        "type": "reaction_added",
        "user": PARTNER,
        "reaction": "thumbsup",
        "item_user": MEMBER,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }
    payload = event_payload(reaction, event_id="Ev0REACT1")

    # Slack redelivers before the first delivery's work has finished: both envelopes arrive back to back.
    first = app.endpoint.send(app.endpoint.envelope("events_api", payload))
    second = app.endpoint.send(app.endpoint.envelope("events_api", payload, retry_attempt=1, retry_reason="timeout"))
    app.endpoint.wait_for_ack(first)
    app.endpoint.wait_for_ack(second)
    app.serving.settle()

    assert [post.reactions for post in posts_of(app.ctx, task_id)] == [1]
    with app.ctx.transaction() as session:
        handled = session.scalar(select(InboundRequest).where(InboundRequest.request_id == "Ev0REACT1"))
    assert handled is not None
    assert handled.completed_at is not None


def test_disconnect_message_reconnects(app: SocketModeApp) -> None:
    first = app.endpoint.current
    app.endpoint.ask_to_reconnect()
    second = app.endpoint.wait_connected(count=2)
    assert first.closed.wait(5)
    payload, response_url = slash_command(app.fake, "help", user=NEWCOMER, trigger_id="5.1.socket")

    envelope_id = app.endpoint.send(app.endpoint.envelope("slash_commands", payload))
    app.endpoint.wait_for_ack(envelope_id)
    app.fake.wait_for(lambda: bool(app.fake.responses_by_url[response_url]))

    assert second is not first
    assert second.ticket != first.ticket
    assert [call.token for call in app.fake.calls_to("apps.connections.open")] == [APP_TOKEN, APP_TOKEN]


def test_stop_closes_websocket(app: SocketModeApp) -> None:
    connection = app.endpoint.current

    app.serving.stop()

    assert not app.serving.running
    assert app.serving.error is None
    assert connection.closed.wait(5)
    assert connection.close_code == 1000
    assert len(app.endpoint.connections) == 1
