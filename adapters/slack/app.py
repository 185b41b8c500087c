"""The Bolt app: the slash command, buttons, modals, brainstorm threads, reactions and App Home.

Every listener acknowledges first and works afterwards, so Slack's 3-second limit never depends on the database.
The core is synchronous, so its calls run in worker threads (``asyncio.to_thread``), never on the event loop.
Each request is recorded under its event id or trigger id before its work starts (see ``chat_state``), so a
retried or redelivered request has one effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import modals
from adapters.slack.blocks import ACTION_PREFIX, SlackMessage, render_blocks, render_message
from adapters.slack.config import BOT_SCOPES, SlackConfig
from adapters.slack.errors import error_code
from adapters.slack.incoming import command_text, message_text, slack_locale
from adapters.slack.install import Installations, ThreadedInstallationStore, ThreadedStateStore
from core.commands.dispatch import CommandRunner, Outcome, resolve_locale
from core.commands.parser import find_spec, tokenize
from core.domain.enums import Role
from core.domain.errors import N_, UserError
from core.domain.text import normalize
from core.presentation.i18n import Localizer
from core.presentation.messages import Message, Visibility
from core.presentation.replies import present, present_error
from core.services import brainstorms, chat_state
from core.services.context import Actor, ServiceContext
from core.services.home import home_view
from core.services.lookup import find_person

__all__ = ["PLATFORM", "SlackBot"]

logger = logging.getLogger(__name__)

PLATFORM = "slack"
# A request whose handler has not completed within this time is handled again when Slack retries it. Slack
# retries an event about 1 minute and 5 minutes after the first attempt, so a live handler is never doubled.
REQUEST_LEASE = timedelta(seconds=50)
# users.info responses are cached this long. A registered person keeps the language stored at registration (or
# chosen with /smarter lang); for others a changed Slack language shows within the hour.
LOCALE_CACHE_SECONDS = 3600
# Slash-command text may name the current channel for the announcement channel.
HERE_WORDS = ("here", "ここ")
# Work after an ack waits while other requests of the same process still wait for theirs, at most this long.
ACK_PRIORITY_SECONDS = 0.5
# Before opening a loading modal, the person's language is looked up for at most this long.
LOADING_LOCALE_SECONDS = 1.0
# A form submission gets its response within this time (Slack allows 3 s). A slower outcome follows as a message.
FORM_ANSWER_SECONDS = 2.0
# Slack accepts 5 posts to one response URL (within 30 minutes); further parts go another way.
RESPONSE_URL_USES = 5
# Response URLs whose uses are counted; the oldest are forgotten first.
RESPONSE_URL_MEMORY = 10_000
FILLED_OPTION = re.compile(r"[^=＝]+[=＝]\S")
EMPTY_OPTION = re.compile(r"[^=＝]+[=＝]")


@dataclass(frozen=True, slots=True)
class Where:
    """The origin of a request and the ways to reply to its sender privately."""

    team_id: str
    user_id: str
    channel_id: str | None = None
    response_url: str | None = None
    thread_ts: str | None = None


class SlackBot:
    """The Slack adapter: owns the Bolt app and turns Slack requests into core commands."""

    def __init__(
        self,
        ctx: ServiceContext,
        config: SlackConfig,
        installations: Installations,
        *,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.on_change = on_change or (lambda: None)
        self.runner = CommandRunner(ctx, command_names=tuple(dict.fromkeys((config.command, "/smarter"))))
        self._locales: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._response_uses: dict[str, int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._work_slots = asyncio.Semaphore(config.work_concurrency)
        self._working: set[asyncio.Task[Any]] = set()
        self._acks_pending = 0
        self._no_ack_pending = asyncio.Event()
        self._no_ack_pending.set()
        self.app = AsyncApp(**self._app_arguments(installations))
        self._register()

    def _app_arguments(self, installations: Installations) -> dict[str, Any]:
        client = AsyncWebClient(
            token=None if self.config.oauth else self.config.bot_token,
            base_url=self.config.api_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=self.config.rate_limit_retries),
            ],
        )
        arguments: dict[str, Any] = {
            "client": client,
            "signing_secret": self.config.signing_secret or "",
            # Socket Mode requests come over the app's own WebSocket and carry no signature.
            "request_verification_enabled": not self.config.socket_mode,
            "logger": logging.getLogger("slack_bolt"),
        }
        if self.config.oauth:
            assert installations.store is not None and installations.state_store is not None
            arguments["oauth_settings"] = AsyncOAuthSettings(
                client_id=self.config.client_id,
                client_secret=self.config.client_secret,
                scopes=list(BOT_SCOPES),
                installation_store=ThreadedInstallationStore(installations.store),
                state_store=ThreadedStateStore(installations.state_store),
            )
        return arguments

    def _register(self) -> None:
        self.app.command(self.config.command)(self.on_command)
        self.app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}\.\d+$"))(self.on_button)
        self.app.view(re.compile(rf"^{re.escape(modals.CALLBACK_PREFIX)}"))(self.on_form)
        self.app.event("message")(self.on_message)
        self.app.event("reaction_added")(self.on_reaction)
        self.app.event("reaction_removed")(self.on_reaction)
        self.app.event("app_home_opened")(self.on_home_opened)

    # --- request bookkeeping ---------------------------------------------------------------------

    async def _once(self, request_id: str | None, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` unless ``request_id`` was handled already; mark it complete only if ``work`` finished.

        At most ``work_concurrency`` requests work at once. The others wait their turn, so a burst of commands
        cannot slow down the acknowledgements that later requests of the burst still need within 3 s.
        """
        task = asyncio.current_task()
        if task is not None:
            self._working.add(task)
        try:
            # Requests still waiting for their ack go first; work waits for them, but never longer than this.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_ack_pending.wait(), ACK_PRIORITY_SECONDS)
            async with self._work_slots:
                await self._run_once(request_id, work)
        finally:
            self._working.discard(task)

    def request_started(self) -> None:
        """Count a request that has arrived and is not acknowledged yet (the HTTP server calls this)."""
        self._acks_pending += 1
        self._no_ack_pending.clear()

    def request_finished(self) -> None:
        self._acks_pending -= 1
        if self._acks_pending == 0:
            self._no_ack_pending.set()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for acknowledged requests to finish their work."""
        pending = {task for task in self._working if not task.done()}
        if not pending:
            return
        logger.info("waiting up to %.0f s for %d acknowledged Slack requests to finish", timeout, len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=timeout)
        if unfinished:
            logger.warning("%d Slack requests were still working at shutdown; their replies are lost", len(unfinished))

    def _interaction_id(self, body: dict[str, Any]) -> str | None:
        """Return the id under which a slash command or button press is recorded, or None to skip recording.

        Over HTTP, Slack does not retry slash commands and interactions (only Events API deliveries), so they
        are recorded only in Socket Mode, where an envelope that was not acknowledged in time comes again.
        """
        return body.get("trigger_id") if self.config.socket_mode else None

    async def _run_once(self, request_id: str | None, work: Callable[[], Awaitable[None]]) -> None:
        if request_id is not None:
            fresh = await asyncio.to_thread(
                chat_state.begin_request, self.ctx, PLATFORM, request_id, lease=REQUEST_LEASE
            )
            if not fresh:
                logger.info("Slack request %s was already handled; ignoring the repeat", request_id)
                return
        await work()
        if request_id is not None:
            await asyncio.to_thread(chat_state.complete_request, self.ctx, PLATFORM, request_id)
        self.on_change()

    async def actor(self, client: AsyncWebClient, team_id: str, user_id: str) -> Actor:
        """Return the acting account with the language Slack shows this user, from users.info (cached)."""
        loop = asyncio.get_running_loop()
        cached = self._locales.get((team_id, user_id))
        if cached is not None and loop.time() - cached[0] < LOCALE_CACHE_SECONDS:
            return Actor(PLATFORM, team_id, user_id, cached[1])
        locale: str | None = None
        try:
            response = await client.users_info(user=user_id, include_locale=True)
            locale = slack_locale((response.get("user") or {}).get("locale"))
        except SlackApiError as error:
            logger.warning("users.info failed for %s:%s: %s", team_id, user_id, error_code(error))
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("users.info failed for %s:%s: %r", team_id, user_id, error)
        self._locales[(team_id, user_id)] = (loop.time(), locale)
        return Actor(PLATFORM, team_id, user_id, locale)

    def _webhook(self, url: str) -> AsyncWebhookClient:
        return AsyncWebhookClient(url, session=self._session)

    async def open_session(self) -> None:
        """Share one HTTP connection pool among all Web API calls and replies, instead of one per call."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self.app.client.session = self._session

    async def close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self.app.client.session = None
            self._session = None

    def _account(self, team_id: str, user_id: str) -> tuple[Role, int, str] | None:
        """Return the role, id and display name of the person behind a Slack account, if registered."""
        with self.ctx.transaction() as session:
            person = find_person(session, Actor(PLATFORM, team_id, user_id))
            return (Role(person.role), person.id, person.display_name) if person is not None else None

    def _mention_name(self, team_id: str) -> Callable[[str], str | None]:
        def mention_name(user_id: str) -> str | None:
            account = self._account(team_id, user_id)
            if account is None:
                return None
            role, person_id, name = account
            # A partner goes by its id, because its company name may be hidden from members.
            return name if role == Role.MEMBER else f"P{person_id}"

        return mention_name

    def _member_ref(self, team_id: str) -> Callable[[str], str | None]:
        def member_ref(user_id: str) -> str | None:
            account = self._account(team_id, user_id)
            return f"M{account[1]}" if account is not None and account[0] == Role.MEMBER else None

        return member_ref

    # --- slash command and buttons ---------------------------------------------------------------

    async def on_command(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        where = Where(body["team_id"], body["user_id"], body.get("channel_id"), body.get("response_url"))

        async def work() -> None:
            text = command_text(body.get("text", ""), member_ref=lambda user_id: None)
            if await self._open_form_first(client, where, text, body.get("trigger_id")):
                return
            actor = await self.actor(client, where.team_id, where.user_id)
            text = await asyncio.to_thread(
                command_text, body.get("text", ""), member_ref=self._member_ref(where.team_id)
            )
            text = _here_channel(text, where.channel_id)
            messages = await asyncio.to_thread(self.runner.run, actor, text)
            await self.send(client, respond, where, messages)

        await self._once(self._interaction_id(body), work)

    async def on_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        team_id = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        where = Where(team_id, body["user"]["id"], channel, body.get("response_url"))
        text = str(action.get("value", ""))

        async def work() -> None:
            if await self._open_form_first(client, where, text, body.get("trigger_id")):
                return
            actor = await self.actor(client, where.team_id, where.user_id)
            messages = await asyncio.to_thread(self.runner.run, actor, text)
            if _answers_request(text) and messages and not messages[0].error:
                await self._retire_buttons(body, where)
            await self.send(client, respond, where, messages)

        await self._once(self._interaction_id(body), work)

    async def _retire_buttons(self, body: dict[str, Any], where: Where) -> None:
        """Remove the Accept and Decline buttons from a request message once it has a reply, so it reads as done."""
        message = body.get("message") or {}
        if not where.response_url or not message.get("blocks"):
            return
        blocks = [block for block in message["blocks"] if block.get("type") != "actions"]
        await self._webhook(where.response_url).send(text=message.get("text", ""), blocks=blocks, replace_original=True)

    async def _open_form_first(self, client: AsyncWebClient, where: Where, text: str, trigger_id: str | None) -> bool:
        """Open the command's form if it needs one and none of its fields were typed; return whether it did.

        The trigger id expires 3 s after the click. So the person's language is looked up for at most
        ``LOADING_LOCALE_SECONDS``, and if that takes longer the loading modal opens in the workspace language.
        """
        form = _form_request(text, self.runner.command_names)
        if form is None or not trigger_id:
            return False
        name, arguments = form
        lookup = asyncio.ensure_future(self.actor(client, where.team_id, where.user_id))
        try:
            actor = await asyncio.wait_for(asyncio.shield(lookup), LOADING_LOCALE_SECONDS)
            locale = await asyncio.to_thread(resolve_locale, self.ctx, actor)
        except TimeoutError:
            locale = self.ctx.policy.default_locale
        opened = await client.views_open(trigger_id=trigger_id, view=modals.loading_view(Localizer(locale)))
        actor = await lookup
        await self.fill_form(actor, where, opened["view"]["id"], name, arguments, client)
        return True

    # --- forms -----------------------------------------------------------------------------------

    async def fill_form(
        self,
        actor: Actor,
        where: Where,
        view_id: str,
        name: str,
        arguments: dict[str, str],
        client: AsyncWebClient,
    ) -> None:
        """Replace the loading modal with the form, or with the error that stops it (an unknown task, say)."""
        loc = Localizer(await asyncio.to_thread(resolve_locale, self.ctx, actor))
        # The submission may reach another process, or this one after a restart, so the form carries the
        # person's Slack language along with where to reply.
        metadata = json.dumps(
            {"r": where.response_url, "c": where.channel_id, "l": actor.locale}, separators=(",", ":")
        )
        try:
            view = await asyncio.to_thread(
                modals.form_view, self.ctx, loc, name, arguments=arguments, metadata=metadata
            )
        except UserError as error:
            view = _notice_view(loc, present_error(error, loc))
        await client.views_update(view_id=view_id, view=view)

    async def on_form(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        """Check and run a submitted form; errors keep the modal open with the message under the field.

        Slack needs the response within 3 s. If the core takes longer than ``FORM_ANSWER_SECONDS``, the modal is
        closed with a plain ack and the outcome (an error included) arrives afterwards as a private message.
        """
        team_id = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        user_id = body["user"]["id"]
        request_id = body.get("trigger_id")
        submission = modals.form_values(view)
        app_data = json.loads(submission.metadata or "{}")
        where = Where(team_id, user_id, app_data.get("c"), app_data.get("r"))
        actor = self._cached_actor(team_id, user_id)
        if actor.locale is None and isinstance(app_data.get("l"), str):
            actor = Actor(PLATFORM, team_id, user_id, slack_locale(app_data["l"]))

        async def check_and_run() -> Outcome | None:
            if request_id is not None:
                fresh = await asyncio.to_thread(
                    chat_state.begin_request, self.ctx, PLATFORM, request_id, lease=REQUEST_LEASE
                )
                if not fresh:
                    return None
            return await asyncio.to_thread(
                self.runner.run_form,
                actor,
                submission.command,
                arguments=submission.arguments,
                options=submission.options,
            )

        work = asyncio.ensure_future(check_and_run())
        try:
            outcome = await asyncio.wait_for(asyncio.shield(work), FORM_ANSWER_SECONDS)
        except TimeoutError:
            await ack()
            logger.warning(
                "form %s took longer than %.1f s; its outcome follows as a message",
                submission.command,
                FORM_ANSWER_SECONDS,
            )
            outcome = await work
            if outcome is not None:
                await self.send(client, None, where, outcome.messages)
        else:
            if outcome is not None and outcome.error is not None:
                message = outcome.messages[0].text() if outcome.messages else ""
                await ack(
                    response_action="errors",
                    errors=modals.field_errors(view, message, outcome.failed_field(), outcome.error.key),
                )
            else:
                await ack()
                if outcome is not None:
                    await self.send(client, None, where, outcome.messages)
        if outcome is None:
            logger.info("Slack form %s was already handled; ignoring the repeat", request_id)
            return
        if request_id is not None:
            # After an error the person fixes the form and submits again with a new trigger id.
            await asyncio.to_thread(chat_state.complete_request, self.ctx, PLATFORM, request_id)
        self.on_change()

    def _cached_actor(self, team_id: str, user_id: str) -> Actor:
        """Return the actor with the language already known; a form must be answered within 3 s of submitting."""
        cached = self._locales.get((team_id, user_id))
        return Actor(PLATFORM, team_id, user_id, cached[1] if cached else None)

    # --- events ----------------------------------------------------------------------------------

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        """Record a reply in a brainstorm thread as a post; every other message is ordinary conversation."""
        thread_ts = event.get("thread_ts")
        if (
            event.get("subtype") not in (None, "thread_broadcast")
            or event.get("bot_id")
            or not thread_ts
            or thread_ts == event.get("ts")
            or "user" not in event
        ):
            return
        team_id = body.get("team_id") or event.get("team", "")
        channel_id = event["channel"]

        async def work() -> None:
            task_id = await asyncio.to_thread(
                chat_state.find_thread_task, self.ctx, PLATFORM, team_id, channel_id, thread_ts
            )
            if task_id is None:
                return
            actor = await self.actor(client, team_id, event["user"])
            text = await asyncio.to_thread(message_text, event.get("text", ""), user_name=self._mention_name(team_id))
            try:
                result = await asyncio.to_thread(
                    partial(brainstorms.post_idea, in_thread=True), self.ctx, actor, task_id, text
                )
            except UserError as error:
                loc = Localizer(await asyncio.to_thread(resolve_locale, self.ctx, actor))
                where = Where(team_id, event["user"], channel_id, None, thread_ts)
                await self.send(client, None, where, [present_error(error, loc)])
                return
            await asyncio.to_thread(
                chat_state.record_post_message, self.ctx, PLATFORM, team_id, channel_id, event["ts"], result.post_id
            )

        await self._once(body.get("event_id"), work)

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        """Update the reaction count of a recorded brainstorm post from the message's reactions on Slack.

        Reading the count from reactions.get makes it right whatever order Slack delivers the added and
        removed events in. The author's own reactions are not counted.
        """
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        team_id = body.get("team_id", "")

        async def work() -> None:
            post_id = await asyncio.to_thread(
                chat_state.post_for_message, self.ctx, PLATFORM, team_id, item["channel"], item["ts"]
            )
            if post_id is None:
                return
            # The idea's author: the person who typed the reply, or who sent the idea the bot copied here.
            author = await asyncio.to_thread(chat_state.post_author_account, self.ctx, post_id, PLATFORM, team_id)
            count = await self._reaction_count(client, item["channel"], item["ts"], author)
            if count is not None:
                await asyncio.to_thread(chat_state.set_reactions, self.ctx, post_id, count)
            elif event.get("user") not in (event.get("item_user"), author):
                delta = 1 if event.get("type") == "reaction_added" else -1
                await asyncio.to_thread(chat_state.adjust_reactions, self.ctx, post_id, delta)

        await self._once(body.get("event_id"), work)

    async def _reaction_count(self, client: AsyncWebClient, channel: str, ts: str, author: str | None) -> int | None:
        """Return how many reactions people other than the idea's author put on a message, or None if unknown.

        ``author`` is the Slack user who wrote the idea. The message's own author is left out too: a member
        for a reply typed in the thread, or the bot for an idea it copied there.
        """
        try:
            response = await client.reactions_get(channel=channel, timestamp=ts, full=True)
        except SlackApiError as error:
            logger.warning(
                "reactions.get failed for %s/%s: %s; counting the event instead", channel, ts, error_code(error)
            )
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("reactions.get failed for %s/%s: %r; counting the event instead", channel, ts, error)
            return None
        message = response.get("message") or {}
        excluded = {user for user in (author, message.get("user")) if user}
        return sum(
            int(reaction.get("count", 0)) - len(excluded.intersection(reaction.get("users", ())))
            for reaction in message.get("reactions") or ()
        )

    async def on_home_opened(self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        team_id = body.get("team_id", "")
        actor = await self.actor(client, team_id, event["user"])
        view = await asyncio.to_thread(self.home, actor)
        await client.views_publish(user_id=event["user"], view=view)

    def home(self, actor: Actor) -> dict[str, Any]:
        """Build the App Home view of ``actor``: at most 100 blocks, as Slack allows for a Home tab."""
        loc = Localizer(resolve_locale(self.ctx, actor))
        blocks: list[dict[str, Any]] = []
        for message in present(home_view(self.ctx, actor), loc):
            for part in render_blocks(message, command_name=self.config.command, max_blocks=100):
                if len(blocks) + len(part) + 1 > 100:
                    break
                if blocks:
                    blocks.append({"type": "divider"})
                blocks.extend(part)
        return {"type": "home", "blocks": _unique_block_ids(blocks)}

    # --- replies ---------------------------------------------------------------------------------

    async def send(
        self, client: AsyncWebClient, respond: AsyncRespond | None, where: Where, messages: list[Message]
    ) -> None:
        """Show each message to its audience: ephemeral replies privately, direct messages in the DM."""
        for message in messages:
            for part in render_message(message, command_name=self.config.command):
                if message.visibility == Visibility.DIRECT:
                    await client.chat_postMessage(channel=where.user_id, text=part.text, blocks=part.blocks)
                    continue
                response_type = "in_channel" if message.visibility == Visibility.CHANNEL else "ephemeral"
                if not await self._respond(respond, where, part, response_type):
                    await self._private(client, where, part)

    async def _private(self, client: AsyncWebClient, where: Where, part: SlackMessage) -> None:
        """Reply privately without a response URL: ephemeral in the channel if the bot may post there, else DM."""
        if where.channel_id:
            try:
                await client.chat_postEphemeral(
                    channel=where.channel_id,
                    user=where.user_id,
                    text=part.text,
                    blocks=part.blocks,
                    thread_ts=where.thread_ts,
                )
                return
            except SlackApiError as error:
                logger.info("ephemeral reply in %s failed (%s); sending a DM", where.channel_id, error_code(error))
        await client.chat_postMessage(channel=where.user_id, text=part.text, blocks=part.blocks)

    async def _respond(
        self, respond: AsyncRespond | None, where: Where, part: SlackMessage, response_type: str
    ) -> bool:
        """Post to the request's response URL; return False when there is none, its uses ran out or it failed."""
        url = where.response_url
        if not url or self._response_uses.get(url, 0) >= RESPONSE_URL_USES:
            return False
        self._response_uses[url] = self._response_uses.get(url, 0) + 1
        while len(self._response_uses) > RESPONSE_URL_MEMORY:
            self._response_uses.pop(next(iter(self._response_uses)))
        try:
            response = await self._webhook(url).send(
                text=part.text, blocks=part.blocks, response_type=response_type, replace_original=False
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.info("response URL failed (%r); replying another way", error)
            return False
        if response.status_code != 200:
            logger.info("response URL returned HTTP %d (%s); replying another way", response.status_code, response.body)
            return False
        return True


def _form_request(text: str, command_names: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """Return (command, arguments) when ``text`` is a form command with none of its fields typed yet."""
    try:
        tokens = tokenize(text)
    except UserError:
        return None
    if tokens and normalize(tokens[0].text).lower() in command_names:
        tokens = tokens[1:]
    spec, used = find_spec([token.text for token in tokens])
    if spec is None or spec.name not in modals.FORM_COMMANDS:
        return None
    rest = tokens[used:]
    if any(FILLED_OPTION.match(token.text) for token in rest):
        return None
    # Empty options ("nickname=", as the App Home's register button sends) count as not typed.
    rest = [token for token in rest if not EMPTY_OPTION.fullmatch(token.text)]
    fixed = [argument for argument in spec.arguments if not argument.rest]
    if len(rest) > len(fixed):
        return None  # more words than arguments: a post with its text typed, say
    arguments = {argument.name: token.text for argument, token in zip(fixed, rest, strict=False)}
    missing = [a.name for a in fixed if not a.optional and a.name not in arguments and a.name != "menu"]
    return None if missing else (spec.name, arguments)


def _command_words(text: str) -> list[str]:
    """Return the words of a command line without the leading slash command."""
    words = normalize(text).split()
    return words[1:] if words and words[0].startswith("/") else words


def _answers_request(text: str) -> bool:
    """Tell whether a button's command replies to a participation request (accept or decline)."""
    words = _command_words(text)
    return bool(words) and words[0].lower() in ("accept", "decline")


def _here_channel(text: str, channel_id: str | None) -> str:
    """Let ``admin schedule channel NAME here`` name the channel the command was typed in."""
    words = _command_words(text)
    lowered = [word.lower() for word in words]
    if channel_id and len(words) == 5 and lowered[:3] == ["admin", "schedule", "channel"] and lowered[4] in HERE_WORDS:
        return " ".join([*words[:4], channel_id])
    return text


def _notice_view(loc: Localizer, message: Message) -> dict[str, Any]:
    blocks = [block for part in render_blocks(message, max_blocks=100) for block in part][:100]
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "SMARTER×SMARTER"},
        "close": {"type": "plain_text", "text": loc(N_("Close"))[:24]},
        "blocks": _unique_block_ids(blocks),
    }


def _unique_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give blocks joined from several messages distinct block ids, as Slack requires within one view."""
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id is not None and block_id in seen:
            block["block_id"] = f"{block_id}.{index}"
        if block.get("block_id"):
            seen.add(block["block_id"])
    return blocks
