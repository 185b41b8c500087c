"""Drive the real Bolt app over HTTP with signed requests, against the fake Slack Web API.

The app runs in its own thread and event loop behind aiohttp on a free 127.0.0.1 port, as ``smarter-bot run``
serves it. Tests send form-encoded or JSON requests with Slack's signature headers and wait until the app's
background work has finished. Then they deliver the outbox with the real worker and read what the fake Slack
recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from aiohttp import web

from adapters.slack.app import SlackBot
from adapters.slack.config import SlackConfig
from adapters.slack.delivery import SlackDelivery, SlackDeliveryWorker
from adapters.slack.install import Installations
from adapters.slack.server import EVENTS_PATH, http_application
from core.services.context import ServiceContext
from tests.slack.fake import FakeSlack
from tests.slack.signing import event_body, interaction_body, sign, slash_command_body

__all__ = ["SIGNING_SECRET", "TEAM", "SlackHarness", "TypedUser"]

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"


@dataclass(frozen=True, slots=True)
class TypedUser:
    user_id: str
    name: str
    locale: str = "ja-JP"


class SlackHarness:
    """One Bolt app, its delivery worker and a fake Slack; start with ``start()`` and stop with ``stop()``."""

    def __init__(self, ctx: ServiceContext, fake: FakeSlack, *, config: SlackConfig | None = None) -> None:
        self.ctx = ctx
        self.fake = fake
        base = SlackConfig(signing_secret=SIGNING_SECRET, bot_token="xoxb-test", rate_limit_retries=2)
        self.config = replace(config or base, api_url=fake.base_url)
        installations = Installations(self.config, ctx.session_factory.kw["bind"])
        self.delivery = SlackDelivery(ctx, self.config, installations)
        self.worker = SlackDeliveryWorker(ctx, self.delivery, worker="test-worker")
        self.bot = SlackBot(ctx, self.config, installations)
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bolt-app", daemon=True)
        self._runner: web.AppRunner | None = None
        self._baseline: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.http = httpx.Client(timeout=10)

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> SlackHarness:
        self._thread.start()
        self._call(self._start_server())
        return self

    async def _start_server(self) -> None:
        self._runner = web.AppRunner(http_application(self.bot), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the bound socket reports the free port the OS chose
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._baseline = set(asyncio.all_tasks())

    def stop(self) -> None:
        self.http.close()
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coroutine: Any, timeout: float = 15) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    # --- waiting ---------------------------------------------------------------------------------

    def settle(self, timeout: float = 15) -> None:
        """Wait until every listener the app started after its ack has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._call(self._busy()) == 0:
                return
            time.sleep(0.02)
        tasks = self._call(self._busy_tasks())
        raise AssertionError(f"the Bolt app was still working after the timeout: {tasks}\n" + self.fake.summary())

    async def _busy_tasks(self) -> list[str]:
        return [repr(task) for task in self._working()]

    async def _busy(self) -> int:
        return len(self._working())

    def _working(self) -> list[asyncio.Task[Any]]:
        """Return the app's tasks that are still running, leaving out idle keep-alive connection handlers."""
        current = asyncio.current_task()
        return [
            task
            for task in asyncio.all_tasks()
            if task is not current
            and task not in self._baseline
            and getattr(task.get_coro(), "__qualname__", "") != "RequestHandler.start"
        ]

    def deliver(self) -> int:
        """Deliver every pending outbox item with the real worker; return how many were claimed."""
        total = 0
        while claimed := self.worker.run_once():
            total += claimed
        return total

    # --- requests --------------------------------------------------------------------------------

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        secret: str = SIGNING_SECRET,
    ) -> httpx.Response:
        stamp = int(time.time()) if timestamp is None else timestamp
        all_headers = {"Content-Type": content_type, **sign(secret, body, stamp), **(headers or {})}
        return self.http.post(self.url, content=body, headers=all_headers)

    def command(
        self, user: TypedUser, text: str, *, channel: str = "CGENERAL", settle: bool = True, escaped: bool = False
    ) -> httpx.Response:
        """Send ``text`` as typed, escaping & < > first as Slack does.

        With ``escaped`` the test has done that itself, to send references such as <#C1|name> or <!here> the way
        Slack encodes a picked channel or a mention.
        """
        body = slash_command_body(
            command=self.config.command,
            text=text if escaped else slack_escape(text),
            user_id=user.user_id,
            team_id=TEAM,
            channel_id=channel,
            response_url=self.fake.response_url(),
            trigger_id=self.trigger_id(),
        )
        response = self.post(body, "application/x-www-form-urlencoded")
        if settle:
            self.settle()
        return response

    def trigger_id(self) -> str:
        return f"{next(self._ids)}.1111.trigger"

    def interaction(self, payload: dict[str, Any], *, settle: bool = True) -> httpx.Response:
        response = self.post(interaction_body(payload), "application/x-www-form-urlencoded")
        if settle:
            self.settle()
        return response

    def click(
        self,
        user: TypedUser,
        block_action: dict[str, Any],
        *,
        channel: str | None = "CGENERAL",
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Press a button: ``block_action`` is the button element as it was posted (action_id, value, text).

        ``message`` is the message that carried the button, which Slack sends along with the click.
        """
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user.user_id, "username": user.name, "team_id": TEAM},
            "api_app_id": "A0001",
            "token": "legacy",
            "team": {"id": TEAM, "domain": "smarter"},
            "trigger_id": self.trigger_id(),
            "actions": [
                {
                    "type": "button",
                    "action_id": block_action["action_id"],
                    "block_id": block_action.get("block_id", "b1"),
                    "value": block_action.get("value", ""),
                    "text": block_action.get("text", {"type": "plain_text", "text": "button"}),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if channel is not None:
            payload["container"] = {"type": "message", "channel_id": channel, "message_ts": message_ts or "1.0"}
            payload["channel"] = {"id": channel, "name": "general"}
            payload["response_url"] = self.fake.response_url()
            if message is not None:
                payload["message"] = message
        else:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
        return self.interaction(payload)

    def submit(self, user: TypedUser, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> httpx.Response:
        """Submit a modal: ``view`` as the app last opened or updated it, ``values`` as state.values."""
        submitted = {**view, "state": {"values": values}, "id": view.get("id", "V1"), "team_id": TEAM}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "smarter"},
            "user": {"id": user.user_id, "username": user.name, "team_id": TEAM},
            "api_app_id": "A0001",
            "token": "legacy",
            "trigger_id": self.trigger_id(),
            "view": submitted,
        }
        return self.interaction(payload)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None, settle: bool = True
    ) -> httpx.Response:
        body = event_body(
            event, team_id=TEAM, event_id=event_id or f"Ev{next(self._ids):08d}", event_time=int(time.time())
        )
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        response = self.post(body, "application/json", headers=headers)
        if settle:
            self.settle()
        return response

    # --- reading what Slack showed ---------------------------------------------------------------

    def last_view(self) -> dict[str, Any]:
        """Return the modal as the app last opened or updated it, with the view id the fake gave it."""
        for call in reversed(self.fake.calls):
            if call.method in ("views.update", "views.open") and call.params.get("view"):
                view = call.params["view"]
                view = json.loads(view) if isinstance(view, str) else view
                view_id = call.params.get("view_id") or call.response.get("view", {}).get("id", "V1")
                return {**view, "id": view_id}
        raise AssertionError("no modal was opened:\n" + self.fake.summary())

    def responses_text(self) -> str:
        """Return every text the app sent to response URLs and as ephemeral messages, joined."""
        parts = [str(response.get("text", "")) for response in self.fake.responses]
        parts += [str(call.params.get("text", "")) for call in self.fake.calls_to("chat.postEphemeral")]
        return "\n".join(parts)


def slack_escape(text: str) -> str:
    """Escape typed text as Slack does before sending it to an app: & < > become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return every button element in ``blocks``, with its block id."""
    found = []
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button":
                found.append({**element, "block_id": block.get("block_id", "")})
    return found


def wait(predicate: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
