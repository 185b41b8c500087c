"""Slack's delivery contract, driven through the real Bolt app over signed HTTP against the fake Web API.

Covers request signatures, retried and redelivered requests, the 3-second acknowledgement, rate limits
(HTTP 429) and permanent errors during outbox delivery, mention injection through typed text, a
200-member ranking within Block Kit's limits, and the reply language taken from users.info.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from adapters.console.session import SettableClock
from adapters.slack.app import FORM_ANSWER_SECONDS, PLATFORM, REQUEST_LEASE
from adapters.slack.blocks import ACTION_PREFIX
from bots.settings import ScheduleSetting
from bots.wiring import build_context
from core.domain.schedule import Job, RankingTable
from core.domain.text import TOKYO
from core.presentation.deliveries import task_channel_name
from core.services import brainstorms, chat_state, evaluations, participation, rankings, registration, submissions
from core.services import tasks as task_service
from core.services.context import Actor, ServiceContext
from core.services.schedules import run_schedule
from core.storage.models import ChatPost, InboundRequest, OutboxMessage, Person, Post
from tests.conftest import make_settings
from tests.scenario import count_rows
from tests.slack.fake import Call, FakeSlack
from tests.slack.harness import SIGNING_SECRET, TEAM, SlackHarness, TypedUser, slack_escape
from tests.slack.signing import event_body, sign, slash_command_body

PARTNER = TypedUser("UPART", "acme")
MEMBER = TypedUser("UMEM", "taro")
OFFICE = TypedUser("USEC", "office")
SECRETARIAT_ACCOUNT = f"{PLATFORM}:{TEAM}:{OFFICE.user_id}"
ANNOUNCEMENTS = "announcements"
FORM_CONTENT = "application/x-www-form-urlencoded"
JSON_CONTENT = "application/json"

# Slack gives an app 3 seconds to acknowledge a request, and the app should respond far sooner whatever the core does.
SLACK_ACK_SECONDS = 3.0
ACK_SECONDS_MAX = 1.5
# A form waits up to FORM_ANSWER_SECONDS for the core, so that an error can still appear under its field.
FORM_ACK_SECONDS_MAX = FORM_ANSWER_SECONDS + 0.5
# A held core function gives up waiting after this long, so a late ack shows as a slow response, not a hang.
CORE_DELAY_SECONDS = 4.0
# Slack rejects a request whose timestamp is more than 5 minutes from its own clock.
STALE_SECONDS = 6 * 60

CRITERIA = ("logic", "evidence", "originality", "feasibility", "clarity")
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)

# Slack's Block Kit limits for one message (chat.postMessage and response URLs).
BLOCKS_MAX = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
RESPONSE_URL_POSTS_MAX = 5

REFERENCE_OPENERS = ("<!", "<@", "<#")
BROADCAST_WORDS = ("@here", "@channel", "@everyone")


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def slack_ctx(engine: Engine, clock: SettableClock) -> ServiceContext:
    """A context whose secretariat is a Slack account and whose announcements go to #announcements on Slack."""
    weekly = ScheduleSetting(
        job=Job.RANKING,
        cron="0 9 * * mon",
        table=RankingTable.SEASON,
        size=200,
        channel=f"{PLATFORM}:{TEAM}:#{ANNOUNCEMENTS}",
    )
    settings = make_settings(
        secretariat=[SECRETARIAT_ACCOUNT],
        announcement_channels=[f"{PLATFORM}:{TEAM}:#{ANNOUNCEMENTS}"],
        schedules={"weekly": weekly},
    )
    return build_context(settings, clock=clock, engine=engine, migrate=False)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        for user in (PARTNER, MEMBER, OFFICE):
            server.add_user(user.user_id, name=user.name, locale=user.locale)
        server.add_channel(ANNOUNCEMENTS)
        server.add_channel("brainstorm")
        yield server


@pytest.fixture
def slack(slack_ctx: ServiceContext, fake: FakeSlack) -> Iterator[SlackHarness]:
    harness = SlackHarness(slack_ctx, fake).start()
    yield harness
    harness.stop()


# --- helpers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrainstormThread:
    task_id: int
    channel_id: str
    thread_ts: str


class Gate:
    """Wrap a core function so that it waits until the test opens the gate (at most CORE_DELAY_SECONDS)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.opened = threading.Event()
        self.finished = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.opened.wait(CORE_DELAY_SECONDS)
        try:
            return self.function(*args, **kwargs)
        finally:
            self.finished.set()


def slack_actor(user: TypedUser) -> Actor:
    return Actor(PLATFORM, TEAM, user.user_id, user.locale.split("-", 1)[0])


def register_people(ctx: ServiceContext) -> None:
    """Register the partner (ACME) and the member taro from their Slack accounts."""
    registration.register_partner(ctx, slack_actor(PARTNER), company="ACME 株式会社")
    registration.register_member(ctx, slack_actor(MEMBER), nickname="taro")


def open_task(ctx: ServiceContext, menu: str = "practice", title: str = "市場調査") -> int:
    work_types = ("research",) if menu == "practice" else ()
    spec = task_service.NewTask(menu=menu, title=title, deadline="2026/12/31", work_types=work_types)
    return task_service.create_task(ctx, slack_actor(PARTNER), spec).id


def open_brainstorm(slack: SlackHarness) -> BrainstormThread:
    """Open a brainstorm and deliver it, so that its thread exists in #brainstorm."""
    task_id = open_task(slack.ctx, "brainstorm", "新商品のアイデア")
    slack.deliver()
    place = chat_state.find_place(slack.ctx, PLATFORM, TEAM, task_id, chat_state.BRAINSTORM_THREAD)
    assert place is not None and place.thread_id is not None
    return BrainstormThread(task_id, place.channel_id, place.thread_id)


def thread_reply(slack: SlackHarness, thread: BrainstormThread, text: str, user: TypedUser = MEMBER) -> dict[str, Any]:
    """Post ``text`` in the thread as ``user`` in the fake and return the message event Slack sends for it."""
    ts = slack.fake.add_message(thread.channel_id, user=user.user_id, text=text, thread_ts=thread.thread_ts)
    return {
        "type": "message",
        "channel": thread.channel_id,
        "user": user.user_id,
        "text": text,
        "ts": ts,
        "thread_ts": thread.thread_ts,
        "event_ts": ts,
        "channel_type": "channel",
        "team": TEAM,
    }


def reaction(event: dict[str, Any], user: TypedUser, kind: str = "reaction_added") -> dict[str, Any]:
    """Return the reaction event of ``user`` adding a 👍 to the message of ``event``."""
    return {
        "type": kind,
        "user": user.user_id,
        "reaction": "+1",
        "item": {"type": "message", "channel": event["channel"], "ts": event["ts"]},
        "item_user": event["user"],
        "event_ts": f"{time.time():.6f}",
    }


def post_reactions(ctx: ServiceContext) -> list[int]:
    with ctx.transaction() as session:
        return list(session.scalars(select(Post.reactions).order_by(Post.id)))


def inbound_request(ctx: ServiceContext, request_id: str) -> InboundRequest:
    with ctx.transaction() as session:
        return session.get_one(InboundRequest, (PLATFORM, request_id))


def outbox_row(ctx: ServiceContext, key: str) -> OutboxMessage:
    with ctx.transaction() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.delivery_key == key)).one()


def button_payload(user: TypedUser, value: str, *, trigger_id: str, response_url: str) -> dict[str, Any]:
    """Return the block_actions payload of ``user`` pressing a button whose value is the command ``value``."""
    return {
        "type": "block_actions",
        "user": {"id": user.user_id, "username": user.name, "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "team": {"id": TEAM, "domain": "smarter"},
        "trigger_id": trigger_id,
        "container": {"type": "message", "channel_id": "CGENERAL", "message_ts": "1.0"},
        "channel": {"id": "CGENERAL", "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}.0",
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "button"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def submission_payload(
    user: TypedUser, view: dict[str, Any], values: dict[str, Any], *, trigger_id: str
) -> dict[str, Any]:
    """Return the view_submission payload of ``user`` submitting ``view`` with ``values`` as state.values."""
    submitted = {**view, "state": {"values": values}, "id": view.get("id", "V1"), "team_id": TEAM}
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "smarter"},
        "user": {"id": user.user_id, "username": user.name, "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": trigger_id,
        "view": submitted,
    }


def idea_form(slack: SlackHarness, thread: BrainstormThread) -> dict[str, Any]:
    """Open the post form of the brainstorm as the member and return the modal as the app filled it in."""
    slack.command(MEMBER, f"post T{thread.task_id}")
    return slack.last_view()


def idea_values(text: str) -> dict[str, Any]:
    return {"text": {"value": {"type": "plain_text_input", "value": text}}}


def command_body(
    slack: SlackHarness,
    user: TypedUser,
    text: str,
    *,
    response_url: str,
    trigger_id: str,
    channel: str = "CGENERAL",
) -> bytes:
    """Return the slash command body Slack posts when ``user`` types ``text`` (escaped as Slack escapes it)."""
    return slash_command_body(
        command=slack.config.command,
        text=slack_escape(text),
        user_id=user.user_id,
        team_id=TEAM,
        channel_id=channel,
        response_url=response_url,
        trigger_id=trigger_id,
    )


def command_replies(
    slack: SlackHarness, user: TypedUser, text: str, *, channel: str = "CGENERAL"
) -> list[dict[str, Any]]:
    """Run a slash command typed in ``channel`` and return what the app posted to its response URL."""
    response_url = slack.fake.response_url()
    body = command_body(slack, user, text, response_url=response_url, trigger_id=slack.trigger_id(), channel=channel)
    assert slack.post(body, FORM_CONTENT).status_code == 200
    slack.settle()
    return slack.fake.responses_by_url[response_url]


def send_raw(slack: SlackHarness, body: bytes, content_type: str, headers: dict[str, str]) -> httpx.Response:
    """Send ``body`` with exactly ``headers`` (no signature added), as a forger would."""
    return slack.http.post(slack.url, content=body, headers={"Content-Type": content_type, **headers})


def forgeries(body: bytes, changed: bytes) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Return requests Bolt must reject: (body, headers) by what is wrong with them."""
    now = int(time.time())
    signed = sign(SIGNING_SECRET, body, now)
    return {
        "wrong secret": (body, sign("not-the-signing-secret", body, now)),
        "changed body": (changed, signed),
        "missing signature": (body, {"X-Slack-Request-Timestamp": signed["X-Slack-Request-Timestamp"]}),
        "missing timestamp": (body, {"X-Slack-Signature": signed["X-Slack-Signature"]}),
        "timestamp 6 minutes old": (body, sign(SIGNING_SECRET, body, now - STALE_SECONDS)),
        "timestamp 6 minutes ahead": (body, sign(SIGNING_SECRET, body, now + STALE_SECONDS)),
    }


def text_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Yield every Block Kit text object (mrkdwn or plain_text) inside blocks or a view."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value
        for item in value.values():
            yield from text_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from text_objects(item)


def shown_texts(fake: FakeSlack) -> list[tuple[str, dict[str, Any]]]:
    """Return (where, text object) for every text the app sent: Web API calls and response URL posts.

    A message's top-level ``text`` (the notification and fallback, read as mrkdwn) counts as type "fallback".
    """
    sent: list[tuple[str, dict[str, Any]]] = []
    for call in fake.calls:
        sent.extend(_message_texts(call.method, call.params))
    for response in fake.responses:
        sent.extend(_message_texts("response_url", response))
    return sent


def _message_texts(where: str, message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    texts: list[tuple[str, dict[str, Any]]] = []
    if isinstance(message.get("text"), str):
        texts.append((where, {"type": "fallback", "text": message["text"]}))
    for key in ("blocks", "view", "attachments"):
        value = message.get(key)
        # Form-encoded calls carry these as JSON strings.
        value = json.loads(value) if isinstance(value, str) else value
        texts.extend((where, text) for text in text_objects(value))
    return texts


def posted_messages(fake: FakeSlack, channel_id: str) -> list[Call]:
    """Return the chat.postMessage calls to ``channel_id`` that Slack accepted."""
    return [
        call
        for call in fake.calls_to("chat.postMessage")
        if call.params.get("channel") == channel_id and call.status == 200 and call.error is None
    ]


def check_message_limits(blocks: list[dict[str, Any]], where: str) -> list[str]:
    """Return how a message's blocks break Slack's limits; empty when they keep them."""
    problems = []
    if len(blocks) > BLOCKS_MAX:
        problems.append(f"{where}: {len(blocks)} blocks")
    for block in blocks:
        if block["type"] == "header" and len(block["text"]["text"]) > HEADER_TEXT_MAX:
            problems.append(f"{where}: header of {len(block['text']['text'])} characters")
        if block["type"] == "section" and len(block.get("text", {}).get("text", "")) > SECTION_TEXT_MAX:
            problems.append(f"{where}: section of {len(block['text']['text'])} characters")
        for field in block.get("fields", []) if block["type"] == "section" else []:
            if len(field["text"]) > FIELD_TEXT_MAX:
                problems.append(f"{where}: field of {len(field['text'])} characters")
    return problems


def missing_in_order(text: str, items: list[str]) -> list[str]:
    """Return the items that are missing from ``text`` or out of order; empty when all appear in order."""
    wrong = []
    position = 0
    for item in items:
        found = text.find(item, position)
        if found == -1:
            wrong.append(item)
            continue
        position = found + len(item)
    return wrong


# --- signatures ------------------------------------------------------------------------------------------


def test_command_signature_checked(slack: SlackHarness, fake: FakeSlack) -> None:
    body = command_body(
        slack, MEMBER, "register member nickname=taro", response_url=fake.response_url(), trigger_id=slack.trigger_id()
    )
    changed = body.replace(b"nickname%3Dtaro", b"nickname%3Djiro")
    assert changed != body

    statuses = {
        name: send_raw(slack, forged, FORM_CONTENT, headers).status_code
        for name, (forged, headers) in forgeries(body, changed).items()
    }
    slack.settle()

    assert statuses == dict.fromkeys(statuses, 401)
    assert count_rows(slack.ctx, Person) == 0
    assert fake.calls == []
    assert fake.responses == []

    accepted = slack.post(body, FORM_CONTENT)
    slack.settle()
    assert accepted.status_code == 200
    assert count_rows(slack.ctx, Person) == 1


def test_event_signature_checked(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    body = event_body(reply, team_id=TEAM, event_id="EvSIGNED", event_time=int(time.time()))
    changed = body.replace("駅前".encode(), "駅裏".encode())
    assert changed != body
    calls_before = len(fake.calls)

    statuses = {
        name: send_raw(slack, forged, JSON_CONTENT, headers).status_code
        for name, (forged, headers) in forgeries(body, changed).items()
    }
    slack.settle()

    assert statuses == dict.fromkeys(statuses, 401)
    assert count_rows(slack.ctx, Post) == 0
    assert count_rows(slack.ctx, InboundRequest) == 0
    assert fake.calls[calls_before:] == []

    # Four minutes of clock difference is inside Slack's five-minute window.
    accepted = slack.post(body, JSON_CONTENT, timestamp=int(time.time()) - 4 * 60)
    slack.settle()
    assert accepted.status_code == 200
    assert count_rows(slack.ctx, Post) == 1


def test_unsigned_garbage_rejected_quietly(slack: SlackHarness, caplog: pytest.LogCaptureFixture) -> None:
    bodies = {
        "payload not JSON": (b"payload=%7Bnot-json", FORM_CONTENT),
        "body not JSON": (b"{not json", JSON_CONTENT),
        "empty": (b"", FORM_CONTENT),
    }
    headers = {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}

    with caplog.at_level("INFO"):
        statuses = {name: send_raw(slack, body, kind, headers).status_code for name, (body, kind) in bodies.items()}

    assert statuses == dict.fromkeys(bodies, 401)
    assert [record for record in caplog.records if record.exc_info] == []
    assert [record for record in caplog.records if record.levelname == "ERROR"] == []


# --- retries and redeliveries ----------------------------------------------------------------------------


def test_event_retries_post_once(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")

    responses = [slack.event(reply, event_id="EvREPLY", retry=retry) for retry in (None, 1, 2)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert count_rows(slack.ctx, Post) == 1
    assert count_rows(slack.ctx, ChatPost) == 1
    assert inbound_request(slack.ctx, "EvREPLY").completed_at is not None


def test_reaction_retries_count_once(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    slack.event(reply)

    slack.fake.add_reaction(reply["channel"], reply["ts"], "+1", PARTNER.user_id)
    for retry in (None, 1, 2):
        slack.event(reaction(reply, PARTNER), event_id="EvLIKE", retry=retry)
    assert post_reactions(slack.ctx) == [1]

    # Another person's reaction is another event, so it counts.
    slack.fake.add_reaction(reply["channel"], reply["ts"], "+1", OFFICE.user_id)
    slack.event(reaction(reply, OFFICE), event_id="EvLIKE2")
    assert post_reactions(slack.ctx) == [2]


def test_reactions_follow_slack_state(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    slack.event(reply)
    channel, ts = reply["channel"], reply["ts"]

    # The removal's event arrives before the addition's, and the author reacts to their own idea.
    slack.fake.add_reaction(channel, ts, "+1", PARTNER.user_id)
    slack.fake.remove_reaction(channel, ts, "+1", PARTNER.user_id)
    slack.event(reaction(reply, PARTNER, "reaction_removed"))
    slack.event(reaction(reply, PARTNER))
    slack.fake.add_reaction(channel, ts, "tada", MEMBER.user_id)
    slack.event({**reaction(reply, MEMBER), "reaction": "tada"})

    assert post_reactions(slack.ctx) == [0]
    slack.fake.add_reaction(channel, ts, "tada", OFFICE.user_id)
    slack.event({**reaction(reply, OFFICE), "reaction": "tada"})
    assert post_reactions(slack.ctx) == [1]


def test_concurrent_duplicates_post_once(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    start = threading.Barrier(6)

    def deliver(retry: int) -> int:
        start.wait()
        return slack.event(reply, event_id="EvTWICE", retry=retry or None, settle=False).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(deliver, range(6)))
    slack.settle()

    assert statuses == [200] * 6
    assert count_rows(slack.ctx, Post) == 1
    assert count_rows(slack.ctx, ChatPost) == 1


def test_expired_lease_handled_again(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    now = slack.ctx.now()
    with slack.ctx.transaction() as session:
        # The first attempt began a minute ago and died before completing.
        session.add(
            InboundRequest(
                platform=PLATFORM,
                request_id="EvDIED",
                received_at=now - timedelta(minutes=1),
                lease_until=now - timedelta(seconds=10),
            )
        )

    response = slack.event(reply, event_id="EvDIED", retry=1)

    assert response.status_code == 200
    assert count_rows(slack.ctx, Post) == 1
    assert inbound_request(slack.ctx, "EvDIED").completed_at is not None


def test_live_lease_drops_retry(slack: SlackHarness, clock: SettableClock) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    now = slack.ctx.now()
    lease_until = now + REQUEST_LEASE - timedelta(seconds=10)
    with slack.ctx.transaction() as session:
        # The first attempt began ten seconds ago and is still working.
        session.add(
            InboundRequest(
                platform=PLATFORM,
                request_id="EvBUSY",
                received_at=now - timedelta(seconds=10),
                lease_until=lease_until,
            )
        )

    slack.event(reply, event_id="EvBUSY", retry=1)
    assert count_rows(slack.ctx, Post) == 0
    assert inbound_request(slack.ctx, "EvBUSY").completed_at is None

    clock.set(lease_until + timedelta(seconds=1))
    slack.event(reply, event_id="EvBUSY", retry=2)
    assert count_rows(slack.ctx, Post) == 1
    assert inbound_request(slack.ctx, "EvBUSY").completed_at is not None


def test_http_command_not_recorded(slack: SlackHarness, fake: FakeSlack) -> None:
    # Slack does not retry slash commands over HTTP, so they cost no request record; Socket Mode redelivery
    # is covered in test_slack_socket_mode.
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    body = command_body(
        slack,
        MEMBER,
        f"post T{thread.task_id} 駅前で試食会を開く",
        response_url=fake.response_url(),
        trigger_id="77.1.http",
    )

    response = slack.post(body, FORM_CONTENT)
    slack.settle()

    assert response.status_code == 200
    assert count_rows(slack.ctx, Post) == 1
    assert count_rows(slack.ctx, InboundRequest) == 0


def test_form_redelivery_runs_once(slack: SlackHarness) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    view = idea_form(slack, thread)
    payload = submission_payload(MEMBER, view, idea_values("駅前で試食会を開く"), trigger_id="78.1111.redelivered")

    first = slack.interaction(payload)
    second = slack.interaction(payload)

    assert (first.status_code, second.status_code) == (200, 200)
    assert count_rows(slack.ctx, Post) == 1


# --- acknowledgement within 3 seconds --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldRequest:
    """The HTTP response to a request sent while a core function was held."""

    seconds: float
    status: int
    core_finished: bool  # whether the held core function had returned when the response arrived


def send_while_core_held(slack: SlackHarness, gate: Gate, send: Callable[[], httpx.Response]) -> HeldRequest:
    """Send a request while ``gate`` holds the core, then release the core and wait until the app is idle."""
    response = send()
    held = HeldRequest(response.elapsed.total_seconds(), response.status_code, gate.finished.is_set())
    gate.opened.set()
    slack.settle()
    return held


def test_command_acked_while_core_slow(slack: SlackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    register_people(slack.ctx)
    open_task(slack.ctx, title="市場調査")
    gate = Gate(task_service.list_tasks)
    monkeypatch.setattr(task_service, "list_tasks", gate)

    held = send_while_core_held(slack, gate, lambda: slack.command(MEMBER, "task list", settle=False))

    assert held.seconds < ACK_SECONDS_MAX
    assert held.status == 200
    assert not held.core_finished
    assert "市場調査" in slack.responses_text()


def test_button_acked_while_core_slow(slack: SlackHarness, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    register_people(slack.ctx)
    open_task(slack.ctx, title="市場調査")
    gate = Gate(task_service.list_tasks)
    monkeypatch.setattr(task_service, "list_tasks", gate)
    payload = button_payload(
        MEMBER, "/smarter task list", trigger_id=slack.trigger_id(), response_url=fake.response_url()
    )

    held = send_while_core_held(slack, gate, lambda: slack.interaction(payload, settle=False))

    assert held.seconds < ACK_SECONDS_MAX
    assert held.status == 200
    assert not held.core_finished
    assert "市場調査" in slack.responses_text()


def test_form_acked_while_core_slow(slack: SlackHarness, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    view = idea_form(slack, thread)
    gate = Gate(brainstorms.post_idea)
    monkeypatch.setattr(brainstorms, "post_idea", gate)
    payload = submission_payload(MEMBER, view, idea_values("駅前で試食会を開く"), trigger_id=slack.trigger_id())
    replies_before = len(fake.responses)

    held = send_while_core_held(slack, gate, lambda: slack.interaction(payload, settle=False))

    assert FORM_ACK_SECONDS_MAX < SLACK_ACK_SECONDS
    assert held.seconds < FORM_ACK_SECONDS_MAX
    assert held.status == 200
    assert not held.core_finished
    assert count_rows(slack.ctx, Post) == 1
    # The modal closed before the outcome was known, so the outcome follows as a private reply.
    assert len(fake.responses) > replies_before


def test_event_acked_while_core_slow(slack: SlackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    reply = thread_reply(slack, thread, "駅前で試食会を開く")
    gate = Gate(brainstorms.post_idea)
    monkeypatch.setattr(brainstorms, "post_idea", gate)

    held = send_while_core_held(slack, gate, lambda: slack.event(reply, settle=False))

    assert held.seconds < ACK_SECONDS_MAX
    assert held.status == 200
    assert not held.core_finished
    assert count_rows(slack.ctx, Post) == 1


# --- rate limits during outbox delivery ------------------------------------------------------------------


def task_channel(ctx: ServiceContext, task_id: int) -> str:
    place = chat_state.find_place(ctx, PLATFORM, TEAM, task_id, chat_state.TASK_CHANNEL)
    assert place is not None
    return place.channel_id


def task_channels(fake: FakeSlack, task_id: int) -> list[str]:
    """Return the ids of every channel whose name is a channel name of task ``task_id``."""
    prefix = f"t{task_id}-"
    return [channel.id for channel in fake.channels.values() if channel.name.startswith(prefix)]


def message_texts(fake: FakeSlack, channel_id: str) -> list[str]:
    return [str(message["text"]) for message in fake.channels[channel_id].messages]


def test_rate_limited_post_waits_retry_after(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    fake.rate_limit("chat.postMessage", retry_after=1, times=1)

    slack.deliver()

    channel_id = task_channel(slack.ctx, task_id)
    limited, retried, welcome = [
        call for call in fake.calls_to("chat.postMessage") if call.params.get("channel") == channel_id
    ]
    assert limited.status == 429
    assert retried.status == 200
    assert retried.at - limited.at >= 1.0
    assert retried.params == limited.params
    assert welcome.status == 200
    assert message_texts(fake, channel_id) == [retried.params["text"], welcome.params["text"]]
    assert task_channels(fake, task_id) == [channel_id]
    assert len(fake.calls_to("conversations.create")) == 1
    assert len(fake.calls_to("conversations.invite")) == 1
    assert len(fake.calls_to("pins.add")) == 1
    assert outbox_row(slack.ctx, f"task:{task_id}:open").delivered_at is not None
    assert fake.invalid_blocks == []


def test_rate_limit_exhausted_resumes_after_backoff(
    slack: SlackHarness, fake: FakeSlack, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    key = f"task:{task_id}:open"
    record_step = chat_state.record_step

    def record_then_limit(ctx: ServiceContext, delivery_key: str, step: str, result: str | None = None) -> None:
        record_step(ctx, delivery_key, step, result)
        if delivery_key == key and step.endswith(":post:0"):
            # Slack starts limiting right after the first message: the next attempt and all its retries get 429.
            fake.rate_limit("chat.postMessage", retry_after=0, times=slack.config.rate_limit_retries + 1)

    monkeypatch.setattr(chat_state, "record_step", record_then_limit)
    slack.deliver()
    monkeypatch.setattr(chat_state, "record_step", record_step)

    row = outbox_row(slack.ctx, key)
    channel_id = task_channel(slack.ctx, task_id)
    assert row.attempts == 1
    assert row.not_before is not None and row.not_before > slack.ctx.now()
    assert row.delivered_at is None
    assert row.failed_at is None
    assert "ratelimited" in (row.last_error or "")
    assert len(message_texts(fake, channel_id)) == 1

    assert slack.deliver() == 0  # nothing is due before the backoff ends
    calls_before = len(fake.calls)
    clock.set(row.not_before + timedelta(seconds=1))
    slack.deliver()

    resumed = [call.method for call in fake.calls[calls_before:]]
    assert resumed == ["chat.postMessage", "pins.add"]
    texts = message_texts(fake, channel_id)
    assert len(texts) == 2
    assert len(set(texts)) == 2
    assert task_channels(fake, task_id) == [channel_id]
    assert len(fake.calls_to("conversations.create")) == 1
    assert len(fake.calls_to("conversations.invite")) == 1
    assert outbox_row(slack.ctx, key).delivered_at is not None
    assert fake.invalid_blocks == []


# --- errors during outbox delivery -----------------------------------------------------------------------


def outbox_keys(ctx: ServiceContext, kind: str) -> list[str]:
    with ctx.transaction() as session:
        statement = select(OutboxMessage.delivery_key).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list(session.scalars(statement))


def submit_work(ctx: ServiceContext, task_id: int, user: TypedUser = MEMBER) -> None:
    participation.join_task(ctx, slack_actor(user), task_id)
    submissions.submit(ctx, slack_actor(user), task_id, text="市場規模の推計と競合の整理")


def evaluate_work(ctx: ServiceContext, task_id: int, member: str = "taro", advice: str = "よくできました") -> None:
    levels = dict.fromkeys(CRITERIA, "3")
    evaluations.evaluate(ctx, slack_actor(PARTNER), task_id, member, levels=levels, advice=advice)


def assert_failed_and_reported(slack: SlackHarness, key: str, detail: str) -> None:
    """Check that the row ``key`` failed for good and that the secretariat got one report mentioning ``detail``."""
    row = outbox_row(slack.ctx, key)
    assert row.failed_at is not None
    assert row.delivered_at is None
    assert row.attempts == 1
    report = outbox_row(slack.ctx, f"failed:{key}")
    assert report.kind == "delivery.failed"
    assert report.delivered_at is not None

    slack.deliver()
    reports = message_texts(slack.fake, slack.fake.dm_channel(OFFICE.user_id).id)
    assert len(reports) == 1
    assert detail in reports[0]
    assert slack.fake.invalid_blocks == []


@pytest.mark.parametrize("error", ["user_not_found", "channel_not_found"])
def test_invite_error_reported(slack: SlackHarness, fake: FakeSlack, error: str) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    fake.fail("conversations.invite", error)

    slack.deliver()

    assert_failed_and_reported(slack, f"task:{task_id}:open", error)
    assert message_texts(fake, task_channel(slack.ctx, task_id)) == []


@pytest.mark.parametrize("error", ["user_not_found", "channel_not_found"])
def test_direct_message_error_reported(slack: SlackHarness, fake: FakeSlack, error: str) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    submit_work(slack.ctx, task_id)
    slack.deliver()
    evaluate_work(slack.ctx, task_id)
    fake.fail("chat.postMessage", error)

    slack.deliver()

    [key] = outbox_keys(slack.ctx, "evaluation.result")
    assert_failed_and_reported(slack, key, error)
    assert message_texts(fake, fake.dm_channel(MEMBER.user_id).id) == []


def test_announcement_missing_channel_reported(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    submit_work(slack.ctx, task_id)
    evaluate_work(slack.ctx, task_id)
    slack.command(OFFICE, "admin schedule channel weekly #nowhere")
    slack.deliver()

    run_schedule(slack.ctx, "weekly", MONDAY_9.astimezone(UTC))
    slack.deliver()

    [key] = outbox_keys(slack.ctx, "ranking.announcement")
    assert_failed_and_reported(slack, key, "#nowhere")
    assert fake.calls_to("files.getUploadURLExternal") == []


def test_already_in_channel_not_an_error(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx)
    fake.fail("conversations.invite", "already_in_channel")

    slack.deliver()

    row = outbox_row(slack.ctx, f"task:{task_id}:open")
    assert row.delivered_at is not None
    assert row.failed_at is None
    channel_id = task_channel(slack.ctx, task_id)
    assert task_channels(fake, task_id) == [channel_id]
    assert len(message_texts(fake, channel_id)) == 2
    assert outbox_keys(slack.ctx, "delivery.failed") == []


def test_name_taken_reuses_own_channel(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    task_id = open_task(slack.ctx, title="市場調査")
    # An earlier attempt created the channel and died before recording it.
    existing = fake.add_channel(task_channel_name(task_id, "市場調査"), private=True)

    slack.deliver()

    assert [call.error for call in fake.calls_to("conversations.create")] == ["name_taken"]
    assert task_channel(slack.ctx, task_id) == existing
    assert task_channels(fake, task_id) == [existing]
    assert PARTNER.user_id in fake.channels[existing].members
    assert len(message_texts(fake, existing)) == 2
    assert outbox_row(slack.ctx, f"task:{task_id}:open").delivered_at is not None
    assert outbox_keys(slack.ctx, "delivery.failed") == []


# --- mention injection -----------------------------------------------------------------------------------

TYPED_TITLE = "R&D <!here> <!channel> <@U999> <#C1|x>"
ESCAPED_TITLE = "R&amp;D &lt;!here&gt; &lt;!channel&gt; &lt;@U999&gt; &lt;#C1|x&gt;"
DEFUSED_TITLE = "R&D <\u200b!here> <\u200b!channel> <\u200b@U999> <\u200b#C1|x>"
# The partner typed an entity on purpose; it must come back escaped once, as &amp;amp;.
TYPED_ENTITY = "AT&amp;T"
ESCAPED_ENTITY = "AT&amp;amp;T"


def test_typed_mentions_never_ping(slack: SlackHarness, fake: FakeSlack) -> None:
    slack.command(PARTNER, "register partner company=ACME")
    slack.command(MEMBER, "register member nickname=<!everyone>")
    slack.command(
        PARTNER,
        f'task new practice title="{TYPED_TITLE}" deadline=2026/12/31 types=research description={TYPED_ENTITY}',
    )
    thread = open_brainstorm(slack)
    slack.command(MEMBER, "join T1")
    slack.command(MEMBER, "submit T1 text=市場規模の推計")
    slack.command(
        PARTNER,
        'evaluate T1 M2 logic=3 evidence=3 originality=3 feasibility=3 clarity=3 advice="<!channel> 次は出典を"',
    )
    # Typed text arrives escaped; a mention picked in Slack's client arrives as a reference.
    slack.event(thread_reply(slack, thread, "@here &lt;!here&gt; <!here>"))
    slack.command(PARTNER, f"digest T{thread.task_id}")
    slack.command(MEMBER, "ranking")
    slack.deliver()

    texts = shown_texts(fake)
    references = [(where, text["text"]) for where, text in texts if any(o in text["text"] for o in REFERENCE_OPENERS)]
    assert references == []
    unguarded = [
        (where, text["text"])
        for where, text in texts
        if text["type"] == "mrkdwn" and not text.get("verbatim") and any(w in text["text"] for w in BROADCAST_WORDS)
    ]
    assert unguarded == []
    escaped = [text["text"] for where, text in texts if text["type"] != "plain_text"]
    assert all(text.count("&amp;amp;") == text.count(ESCAPED_ENTITY) for text in escaped)
    assert not any("&amp;lt;" in text or "&amp;gt;" in text for text in escaped)
    assert fake.invalid_blocks == []

    joined = "\n".join(escaped)
    plain = "\n".join(text["text"] for where, text in texts if text["type"] == "plain_text")
    assert ESCAPED_TITLE in joined
    assert ESCAPED_ENTITY in joined
    assert DEFUSED_TITLE in plain
    assert "&lt;!everyone&gt;さんが課題に参加しました" in joined
    assert "&lt;!channel&gt; 次は出典を" in joined
    assert "@here &lt;!here&gt; @here" in joined


# --- long replies: a 200-member ranking and a long digest --------------------------------------------------

FAMILY_NAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "森田", "斎藤", "清水",
)  # fmt: skip
GIVEN_NAMES = ("陽翔", "蓮", "湊", "結衣", "陽葵", "芽依", "さくら", "美咲", "大輝", "悠真")
LONG_SUFFIX = "・新規事業開発部マーケティング戦略グループ企画担当"
NICKNAME_MAX = 30


def japanese_nicknames(count: int) -> list[str]:
    """Return ``count`` distinct nicknames like members choose, some at the 30-character maximum."""
    names = []
    for index in range(count):
        base = FAMILY_NAMES[index % len(FAMILY_NAMES)] + GIVEN_NAMES[index // len(FAMILY_NAMES) % len(GIVEN_NAMES)]
        variants = (
            f"企画好きの{base}",
            f"{base}{LONG_SUFFIX}"[:NICKNAME_MAX],
            f"{base}（事業企画）",
            base,
            f"{base}です",
        )
        names.append(variants[index % len(variants)])
    return names


def rank_members(ctx: ServiceContext, nicknames: list[str]) -> None:
    """Register each nickname as a member, and have the partner evaluate their work with varied levels."""
    task_id = open_task(ctx)
    for index, nickname in enumerate(nicknames):
        member = Actor("console", "local", f"member{index}")
        registration.register_member(ctx, member, nickname=nickname)
        participation.join_task(ctx, member, task_id)
        submissions.submit(ctx, member, task_id, text="市場調査の報告")
        levels = {key: str(1 + (index * 7 + position * 3) % 4) for position, key in enumerate(CRITERIA)}
        evaluations.evaluate(ctx, slack_actor(PARTNER), task_id, f"M{index + 2}", levels=levels, advice="次も期待")


def skip_console_deliveries(ctx: ServiceContext) -> None:
    """Mark the members' results and channel notes delivered, to save time.

    The members have console accounts only, so the Slack worker would complete these rows without a call.
    """
    kinds = ("evaluation.result", "task_channel.invite")
    with ctx.transaction() as session:
        pending = select(OutboxMessage).where(OutboxMessage.kind.in_(kinds), OutboxMessage.delivered_at.is_(None))
        for row in session.scalars(pending):
            row.delivered_at = ctx.now()


def ranked_names(ctx: ServiceContext, period: str | None) -> list[str]:
    table = rankings.show_ranking(ctx, slack_actor(PARTNER), period=period, top=200)
    return [str(row.nickname) for row in table.rows]


def test_ranking_of_200_within_limits(slack: SlackHarness, fake: FakeSlack) -> None:
    registration.register_partner(slack.ctx, slack_actor(PARTNER), company="ACME 株式会社")
    nicknames = japanese_nicknames(200)
    assert max(len(name) for name in nicknames) == NICKNAME_MAX
    assert not [(a, b) for a in nicknames for b in nicknames if a != b and a in b]
    rank_members(slack.ctx, nicknames)
    skip_console_deliveries(slack.ctx)
    slack.deliver()
    expected = ranked_names(slack.ctx, None)
    assert len(expected) == 200

    replies = command_replies(slack, PARTNER, "ranking top=200")
    assert 1 <= len(replies) <= RESPONSE_URL_POSTS_MAX
    problems = [
        problem
        for index, reply in enumerate(replies)
        for problem in check_message_limits(reply["blocks"], f"reply {index}")
    ]
    assert problems == []
    reply_text = "\n".join(text["text"] for reply in replies for text in text_objects(reply["blocks"]))
    assert missing_in_order(reply_text, expected) == []

    run_schedule(slack.ctx, "weekly", MONDAY_9.astimezone(UTC))
    slack.deliver()

    announced = posted_messages(fake, fake.channel_named(ANNOUNCEMENTS).id)
    expected_season = ranked_names(slack.ctx, "2026-12")
    problems = [
        problem
        for index, call in enumerate(announced)
        for problem in check_message_limits(call.params["blocks"], f"post {index}")
    ]
    assert problems == []
    announcement_text = "\n".join(text["text"] for call in announced for text in text_objects(call.params["blocks"]))
    assert missing_in_order(announcement_text, expected_season) == []
    assert fake.invalid_blocks == []


# A brainstorm idea of 1,840 characters (the limit is 2,000): long enough that the digest needs several messages.
IDEA_TEXT = "駅前の商店街で試食会を開き、地域の声を集める。" * 80


def test_long_reply_beyond_response_url_limit(slack: SlackHarness, fake: FakeSlack) -> None:
    register_people(slack.ctx)
    thread = open_brainstorm(slack)
    general = fake.add_channel("general", members=(PARTNER.user_id,))
    markers = [f"案{index:03d}：" for index in range(300)]
    for marker in markers:
        brainstorms.post_idea(slack.ctx, slack_actor(MEMBER), thread.task_id, marker + IDEA_TEXT)

    replies = command_replies(slack, PARTNER, f"digest T{thread.task_id}", channel=general)

    ephemerals = [call.params for call in fake.calls_to("chat.postEphemeral") if call.error is None]
    assert len(replies) == RESPONSE_URL_POSTS_MAX
    assert ephemerals != []
    assert {params["user"] for params in ephemerals} == {PARTNER.user_id}
    parts = [*replies, *ephemerals]
    problems = [
        problem for index, part in enumerate(parts) for problem in check_message_limits(part["blocks"], f"part {index}")
    ]
    assert problems == []
    digest_text = "\n".join(text["text"] for part in parts for text in text_objects(part["blocks"]))
    assert missing_in_order(digest_text, markers) == []
    assert fake.invalid_blocks == []


# --- reply language --------------------------------------------------------------------------------------


@pytest.mark.parametrize("default_locale", ["ja", "en"])
def test_reply_language_from_users_info(
    slack: SlackHarness, fake: FakeSlack, slack_ctx: ServiceContext, default_locale: str
) -> None:
    slack_ctx.policy = replace(slack_ctx.policy, default_locale=default_locale)
    people = {
        "ja-JP": ("UJA", "ja", "ja"),
        "en-US": ("UEN", "en", "en"),
        "fr-FR": ("UFR", default_locale, None),
        "users.info failing": ("UNONE", default_locale, None),
    }
    welcome = {"ja": "ようこそ", "en": "Welcome to SMARTER×SMARTER"}

    for case, (user_id, language, stored) in people.items():
        locale = case if "-" in case else "ja-JP"
        fake.add_user(user_id, name=user_id.lower(), locale=locale)
        if case == "users.info failing":
            fake.fail("users.info", "user_not_found")
        typed = TypedUser(user_id, user_id.lower(), locale)
        [reply] = command_replies(slack, typed, f"register member nickname={typed.name}")
        assert welcome[language] in reply["text"], case
        with slack_ctx.transaction() as session:
            person = session.scalars(select(Person).where(Person.display_name == user_id.lower())).one()
            assert person.locale == stored, case
