"""Deliver outbox items to Slack: task channels, brainstorm threads, direct messages and announcements.

Every delivery is a list of steps (create the channel, invite a user, post part 2, upload the chart). Each step
is recorded in ``delivery_steps`` right after Slack accepted it, so a delivery retried after a rate limit, an
error or a crash continues where it stopped and posts nothing twice. Calls run in one worker thread with
slack_sdk's synchronous WebClient; a 429 is retried after its Retry-After by slack_sdk's retry handler.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.slack.blocks import SlackMessage, render_message
from adapters.slack.config import SlackConfig
from adapters.slack.errors import error_code
from adapters.slack.install import Installations
from core.presentation.deliveries import RENDERERS, render_delivery
from core.presentation.delivery import Delivery, Recipient
from core.presentation.messages import Attachment
from core.services import chat_state
from core.services.context import ServiceContext
from core.services.outbox import OutboxItem, PermanentDeliveryError, claim, complete, record_failure
from core.storage.models import Identity, Task

__all__ = ["PLATFORM", "SlackDelivery", "SlackDeliveryWorker"]

logger = logging.getLogger(__name__)

PLATFORM = "slack"
# Errors that no retry can fix: the place or person is gone, or the app lacks access.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "not_authed",
        "missing_scope",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
        "invalid_name_specials",
        "invalid_name_maxlength",
    }
)
# When the worker stops, it keeps delivering what is due for at most this long.
FLUSH_SECONDS = 10.0
# Kinds this adapter delivers; request e-mails belong to the e-mail worker.
KINDS = frozenset(RENDERERS)
# Channel ids are upper-case: C (public or private), G (older private channels) or D (direct message) and more.
# Channel names are lower-case, so a name never matches.
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


@dataclass(frozen=True, slots=True)
class Account:
    workspace: str
    user_id: str


def slack_accounts(recipient: Recipient | None) -> list[Account]:
    if recipient is None:
        return []
    return [Account(workspace, user) for platform, workspace, user in recipient.identities if platform == PLATFORM]


class SlackDelivery:
    """Carries out one rendered delivery on Slack, step by step."""

    def __init__(self, ctx: ServiceContext, config: SlackConfig, installations: Installations) -> None:
        self.ctx = ctx
        self.config = config
        self.installations = installations
        self._clients: dict[str, WebClient] = {}
        self._channel_ids: dict[tuple[str, str], str] = {}

    # --- plumbing --------------------------------------------------------------------------------

    def client(self, workspace: str) -> WebClient:
        token = self.installations.bot_token(workspace)
        client = self._clients.get(token)
        if client is None:
            client = WebClient(
                token=token,
                base_url=self.config.api_url,
                retry_handlers=[
                    ConnectionErrorRetryHandler(max_retry_count=2),
                    RateLimitErrorRetryHandler(max_retry_count=self.config.rate_limit_retries),
                ],
            )
            self._clients[token] = client
        return client

    def deliver(self, item: OutboxItem) -> None:
        """Render ``item`` and carry out its remaining steps; raise to have the outbox retry it later."""
        with self.ctx.transaction() as session:
            delivery = render_delivery(self.ctx, session, item)
            partner_accounts = self._partner_accounts(session, delivery)
        if not delivery.messages and delivery.kind != "task_channel.archive":
            return
        self.steps = chat_state.finished_steps(self.ctx, delivery.key)
        self.payload = item.payload
        handler = getattr(self, "_on_" + delivery.kind.replace(".", "_"), None)
        if handler is None:
            handler = self._direct
        try:
            handler(delivery, partner_accounts)
        except SlackApiError as error:
            code = error_code(error)
            if code in PERMANENT_ERRORS:
                raise PermanentDeliveryError(f"{code}: Slack rejected {delivery.kind} {delivery.key}") from error
            raise

    def _partner_accounts(self, session: Session, delivery: Delivery) -> list[Account]:
        """Return the Slack accounts of the task's partner: task channels and threads live in their workspaces."""
        if delivery.task_id is None:
            return []
        rows = session.execute(
            select(Identity.workspace, Identity.user_id)
            .join(Task, Task.partner_id == Identity.person_id)
            .where(Task.id == delivery.task_id, Identity.platform == PLATFORM)
        ).all()
        return [Account(workspace, user_id) for workspace, user_id in rows]

    def step(self, name: str) -> str | None:
        """Return what the finished step ``name`` produced ("" if nothing), or None if it has not run yet."""
        return self.steps.get(name)

    def done(self, key: str, name: str, result: str = "") -> None:
        # A step without a result (an invite, a pin) records "", because None would read as not done on a retry.
        chat_state.record_step(self.ctx, key, name, result)
        self.steps[name] = result

    def post(
        self,
        delivery: Delivery,
        workspace: str,
        channel: str,
        *,
        prefix: str,
        thread_ts: str | None = None,
        thread_rest: bool = False,
    ) -> list[str]:
        """Post every part of the delivery's messages to ``channel`` once; return the ts of each part.

        With ``thread_rest``, every part after the first is a reply in the first part's thread.
        """
        stamps: list[str] = []
        for index, part in enumerate(self._parts(delivery)):
            name = f"{prefix}:post:{index}"
            ts = self.step(name)
            if ts is None:
                reply_to = thread_ts or (stamps[0] if thread_rest and stamps else None)
                response = self.client(workspace).chat_postMessage(
                    channel=channel, text=part.text, blocks=part.blocks, thread_ts=reply_to, unfurl_links=False
                )
                ts = str(response["ts"])
                self.done(delivery.key, name, ts)
            stamps.append(ts)
        return stamps

    def _parts(self, delivery: Delivery) -> Iterator[SlackMessage]:
        for message in delivery.messages:
            yield from render_message(message, command_name=self.config.command)

    def channel_id(self, workspace: str, channel: str) -> str:
        """Return the id of ``channel`` (an id, or a name with or without #), looking names up once."""
        name = channel.removeprefix("#")
        if CHANNEL_ID.fullmatch(name):
            return name
        cached = self._channel_ids.get((workspace, name))
        if cached is not None:
            return cached
        for found in self._list_channels(workspace, "public_channel,private_channel"):
            self._channel_ids[(workspace, found["name"])] = found["id"]
            if found["name"] == name:
                break
        if (workspace, name) not in self._channel_ids:
            raise PermanentDeliveryError(
                f"channel_not_found: the bot sees no channel named #{name} in workspace {workspace}; create it, "
                "or invite the bot if it is private"
            )
        return self._channel_ids[(workspace, name)]

    # --- task channels ---------------------------------------------------------------------------

    def _on_task_channel_open(self, delivery: Delivery, partners: list[Account]) -> None:
        assert delivery.task_id is not None and delivery.channel_name is not None
        for partner in partners:
            prefix = f"{partner.workspace}"
            channel = self._create_channel(delivery, partner.workspace, delivery.channel_name, prefix)
            self._invite(delivery, partner.workspace, channel, partner.user_id, prefix)
            stamps = self.post(delivery, partner.workspace, channel, prefix=prefix)
            if stamps and self.step(f"{prefix}:pin") is None:
                try:
                    self.client(partner.workspace).pins_add(channel=channel, timestamp=stamps[0])
                except SlackApiError as error:
                    if error_code(error) != "already_pinned":
                        raise
                self.done(delivery.key, f"{prefix}:pin")

    def _create_channel(self, delivery: Delivery, workspace: str, name: str, prefix: str) -> str:
        assert delivery.task_id is not None
        created = self.step(f"{prefix}:create")
        if created is not None:
            return created
        place = chat_state.find_place(self.ctx, PLATFORM, workspace, delivery.task_id, chat_state.TASK_CHANNEL)
        if place is not None:
            channel = place.channel_id
        else:
            client = self.client(workspace)
            try:
                channel = str(client.conversations_create(name=name, is_private=True)["channel"]["id"])
            except SlackApiError as error:
                if error_code(error) != "name_taken":
                    raise
                # An earlier attempt created it and died before recording it, or someone took the name.
                channel = self._find_own_channel(workspace, name) or self._create_suffixed(client, name)
            chat_state.save_place(self.ctx, PLATFORM, workspace, delivery.task_id, chat_state.TASK_CHANNEL, channel)
        self.done(delivery.key, f"{prefix}:create", channel)
        return channel

    def _find_own_channel(self, workspace: str, name: str) -> str | None:
        """Return the id of the private channel ``name`` if the bot is in it (it created it), else None."""
        found = next(
            (found for found in self._list_channels(workspace, "private_channel") if found["name"] == name), None
        )
        return str(found["id"]) if found is not None else None

    def _list_channels(self, workspace: str, types: str) -> Iterator[dict[str, Any]]:
        """Yield the channels the bot can see, without archived ones, fetching pages only as the caller reads on."""
        client = self.client(workspace)
        cursor: str | None = None
        while True:
            response = client.conversations_list(types=types, exclude_archived=True, limit=200, cursor=cursor)
            yield from response["channels"]
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def _create_suffixed(self, client: WebClient, name: str) -> str:
        for attempt in range(2, 10):
            candidate = f"{name[:76]}-{attempt}"
            try:
                return str(client.conversations_create(name=candidate, is_private=True)["channel"]["id"])
            except SlackApiError as error:
                if error_code(error) != "name_taken":
                    raise
        raise PermanentDeliveryError(f"name_taken: every channel name like #{name} is taken")

    def _invite(self, delivery: Delivery, workspace: str, channel: str, user_id: str, prefix: str) -> None:
        name = f"{prefix}:invite:{user_id}"
        if self.step(name) is not None:
            return
        try:
            self.client(workspace).conversations_invite(channel=channel, users=user_id)
        except SlackApiError as error:
            if error_code(error) not in ("already_in_channel", "cant_invite_self"):
                raise
        self.done(delivery.key, name)

    def _task_channel(self, delivery: Delivery, workspace: str) -> str | None:
        assert delivery.task_id is not None
        place = chat_state.find_place(self.ctx, PLATFORM, workspace, delivery.task_id, chat_state.TASK_CHANNEL)
        return place.channel_id if place is not None and not place.archived else None

    def _on_task_channel_invite(self, delivery: Delivery, partners: list[Account]) -> None:
        for partner in partners:
            channel = self._task_channel(delivery, partner.workspace)
            if channel is None:
                continue
            for account in slack_accounts(delivery.recipient):
                if account.workspace == partner.workspace:
                    self._invite(delivery, partner.workspace, channel, account.user_id, partner.workspace)
            self.post(delivery, partner.workspace, channel, prefix=partner.workspace)

    def _on_task_channel_remove(self, delivery: Delivery, partners: list[Account]) -> None:
        for partner in partners:
            channel = self._task_channel(delivery, partner.workspace)
            if channel is None:
                continue
            self.post(delivery, partner.workspace, channel, prefix=partner.workspace)
            for account in slack_accounts(delivery.recipient):
                name = f"{partner.workspace}:kick:{account.user_id}"
                if account.workspace != partner.workspace or self.step(name) is not None:
                    continue
                try:
                    self.client(partner.workspace).conversations_kick(channel=channel, user=account.user_id)
                except SlackApiError as error:
                    if error_code(error) not in ("not_in_channel", "cant_kick_self"):
                        raise
                self.done(delivery.key, name)

    def _on_task_channel_archive(self, delivery: Delivery, partners: list[Account]) -> None:
        assert delivery.task_id is not None
        for partner in partners:
            channel = self._task_channel(delivery, partner.workspace)
            if channel is None:
                continue
            self.post(delivery, partner.workspace, channel, prefix=partner.workspace)
            try:
                self.client(partner.workspace).conversations_archive(channel=channel)
            except SlackApiError as error:
                if error_code(error) != "already_archived":
                    raise
            chat_state.mark_archived(self.ctx, PLATFORM, partner.workspace, delivery.task_id, chat_state.TASK_CHANNEL)

    def _on_task_deadline_changed(self, delivery: Delivery, partners: list[Account]) -> None:
        assert delivery.task_id is not None
        for partner in partners:
            channel = self._task_channel(delivery, partner.workspace)
            if channel is not None:
                self.post(delivery, partner.workspace, channel, prefix=partner.workspace)
                continue
            thread = chat_state.find_place(
                self.ctx, PLATFORM, partner.workspace, delivery.task_id, chat_state.BRAINSTORM_THREAD
            )
            if thread is not None:
                self.post(
                    delivery, partner.workspace, thread.channel_id, prefix=partner.workspace, thread_ts=thread.thread_id
                )

    # --- brainstorms and announcements -----------------------------------------------------------

    def _on_brainstorm_open(self, delivery: Delivery, partners: list[Account]) -> None:
        assert delivery.task_id is not None
        for partner in partners:
            channel = self.channel_id(partner.workspace, self.config.brainstorm_channel)
            self._join(delivery, partner.workspace, channel)
            # The card starts the thread, and the note asking for replies in "this thread" goes inside it.
            stamps = self.post(delivery, partner.workspace, channel, prefix=partner.workspace, thread_rest=True)
            if stamps:
                chat_state.save_place(
                    self.ctx,
                    PLATFORM,
                    partner.workspace,
                    delivery.task_id,
                    chat_state.BRAINSTORM_THREAD,
                    channel,
                    thread_id=stamps[0],
                )

    def _on_brainstorm_post(self, delivery: Delivery, partners: list[Account]) -> None:
        """Post an idea sent by command or form into the brainstorm's thread, and record it for reactions."""
        assert delivery.task_id is not None
        post_id = int(self.payload["post_id"])
        for partner in partners:
            thread = chat_state.find_place(
                self.ctx, PLATFORM, partner.workspace, delivery.task_id, chat_state.BRAINSTORM_THREAD
            )
            if thread is None:
                continue
            stamps = self.post(
                delivery, partner.workspace, thread.channel_id, prefix=partner.workspace, thread_ts=thread.thread_id
            )
            for ts in stamps[:1]:
                chat_state.record_post_message(self.ctx, PLATFORM, partner.workspace, thread.channel_id, ts, post_id)

    def _join(self, delivery: Delivery, workspace: str, channel: str) -> None:
        """Join a public brainstorm channel: a bot that only posts there (chat:write.public) gets no replies.

        A private channel cannot be joined this way, so the bot must be invited to it (README step 4).
        """
        name = f"{workspace}:join"
        if self.step(name) is not None:
            return
        try:
            self.client(workspace).conversations_join(channel=channel)
        except SlackApiError as error:
            if error_code(error) != "method_not_supported_for_channel_type":
                raise
        self.done(delivery.key, name)

    def _on_task_announce(self, delivery: Delivery, partners: list[Account]) -> None:
        for target in self.ctx.policy.announcement_channels:
            platform, workspace, channel = target.split(":", 2)
            if platform == PLATFORM:
                self.post(delivery, workspace, self.channel_id(workspace, channel), prefix=target)

    def _on_ranking_announcement(self, delivery: Delivery, partners: list[Account]) -> None:
        platform, workspace, channel = (delivery.target or "::").split(":", 2)
        if platform != PLATFORM:
            return
        channel_id = self.channel_id(workspace, channel)
        self.post(delivery, workspace, channel_id, prefix="announce")
        for index, attachment in enumerate(delivery.attachments):
            name = f"announce:file:{index}"
            if self.step(name) is not None:
                continue
            response = self._upload(workspace, channel_id, attachment)
            files = response.get("files") or [{}]
            self.done(delivery.key, name, str(files[0].get("id", "")))

    def _upload(self, workspace: str, channel_id: str, attachment: Attachment) -> Any:
        """Upload a file beside the message; join the public channel first if Slack reports that the bot is not in it.

        Text reaches a public channel without joining (chat:write.public), but a file share needs membership.
        """
        client = self.client(workspace)
        arguments: dict[str, Any] = {
            "channel": channel_id,
            "content": attachment.content,
            "filename": attachment.filename,
            "title": attachment.title,
            "alt_txt": attachment.alt_text,
        }
        try:
            return client.files_upload_v2(**arguments)
        except SlackApiError as error:
            if error_code(error) != "not_in_channel":
                raise
        client.conversations_join(channel=channel_id)
        return client.files_upload_v2(**arguments)

    # --- direct messages -------------------------------------------------------------------------

    def _direct(self, delivery: Delivery, partners: list[Account]) -> None:
        accounts = slack_accounts(delivery.recipient)
        if not accounts:
            logger.debug("delivery %s: the recipient has no Slack account; nothing to send", delivery.key)
        for account in accounts:
            # Posting to a user id opens (or reuses) the bot's direct message channel with that user.
            self.post(delivery, account.workspace, account.user_id, prefix=f"dm:{account.workspace}:{account.user_id}")


class SlackDeliveryWorker:
    """Deliver the outbox to Slack in a background thread, woken after every handled request."""

    def __init__(
        self, ctx: ServiceContext, delivery: SlackDelivery, *, poll_seconds: float = 5.0, worker: str | None = None
    ) -> None:
        self.ctx = ctx
        self.delivery = delivery
        self.poll_seconds = poll_seconds
        self.worker = worker or f"slack-{os.getpid()}-{threading.get_ident()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = ctx.now()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slack-delivery", daemon=True)
        self._thread.start()
        logger.info("Slack delivery worker %s started", self.worker)

    def stop(self, timeout: float = FLUSH_SECONDS + 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        logger.info("Slack delivery worker %s stopped", self.worker)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
                self._purge_requests()
            except Exception:
                logger.exception(
                    "Slack delivery worker %s failed; trying again in %.0f s", self.worker, self.poll_seconds
                )
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
        self._flush()

    def _flush(self) -> None:
        """Deliver what is still due when the worker stops, for at most ``FLUSH_SECONDS``."""
        deadline = time.monotonic() + FLUSH_SECONDS
        try:
            while time.monotonic() < deadline and self.run_once():
                pass
        except Exception:
            logger.exception("Slack delivery worker %s failed while delivering before it stopped", self.worker)

    def run_once(self, limit: int = 20) -> int:
        """Claim and deliver up to ``limit`` items in order; return how many were claimed."""
        items = claim(self.ctx, worker=self.worker, platform=PLATFORM, kinds=KINDS, limit=limit)
        for item in items:
            try:
                self.delivery.deliver(item)
            except Exception as error:
                record_failure(self.ctx, item.id, error)
                continue
            complete(self.ctx, [item.id])
        return len(items)

    def _purge_requests(self) -> None:
        """Forget handled request ids after an hour: Slack's last retry comes about five minutes after the first."""
        now = self.ctx.now()
        if now - self._last_purge >= timedelta(minutes=10):
            forgotten = chat_state.forget_requests(self.ctx, now - timedelta(hours=1))
            logger.debug("forgot %d handled Slack request ids", forgotten)
            self._last_purge = now
