"""chat.*, pins.add and reactions.get of the fake Slack."""

from __future__ import annotations

import copy
from typing import Any

from tests.slack.blocks import check_message_blocks
from tests.slack.workspace import Args, FakeChannel, SlackError, Workspace

__all__ = ["METHODS", "attach_to_thread", "invalid_blocks_error", "writable_channel"]

MESSAGE_TEXT_MAX = 40_000


def invalid_blocks_error(reasons: list[str]) -> SlackError:
    """Build the error Slack returns for a message whose blocks fail validation."""
    messages = [f"[ERROR] {reason}" for reason in reasons]
    return SlackError("invalid_blocks", errors=reasons, response_metadata={"messages": messages}, block_reasons=reasons)


def _message_content(args: Args, *, required: bool = True) -> tuple[str | None, list[dict[str, Any]] | None]:
    """Return the text and blocks of a message after Slack's checks on them."""
    text = args.text("text")
    blocks = args.params.get("blocks")
    if blocks is not None:
        reasons = check_message_blocks(blocks)
        if reasons:
            raise invalid_blocks_error(reasons)

    if required and not text and not blocks and not args.params.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(text) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")
    return text, blocks


def writable_channel(workspace: Workspace, channel: FakeChannel) -> FakeChannel:
    """Return the channel if the bot may post there, else raise is_archived or not_in_channel."""
    if channel.is_archived:
        raise SlackError("is_archived")
    # NOTE: a public channel accepts posts from a non-member bot, as with the chat:write.public scope.
    if channel.is_private and workspace.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _channel_argument(workspace: Workspace, args: Args) -> FakeChannel:
    reference = args.text("channel") or args.text("channel_id")
    if not reference:
        raise SlackError("channel_not_found")
    return workspace.find_channel(reference)


def post_message(workspace: Workspace, args: Args) -> dict[str, Any]:
    reference = args.text("channel")
    if not reference:
        raise SlackError("channel_not_found")
    channel = writable_channel(workspace, workspace.message_target(reference))
    text, blocks = _message_content(args)

    message: dict[str, Any] = {
        "type": "message",
        "user": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "team": args.team_id,
        "text": text or "",
        "ts": workspace.new_ts(),
    }
    if blocks:
        message["blocks"] = blocks
    attach_to_thread(channel, message, args.text("thread_ts"), broadcast=args.flag("reply_broadcast"))
    channel.messages.append(message)
    return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}


def attach_to_thread(channel: FakeChannel, message: dict[str, Any], thread_ts: str | None, *, broadcast: bool) -> None:
    """Make a message a reply in the thread of `thread_ts` and count it on the parent."""
    if not thread_ts:
        return

    parent = channel.message(thread_ts)
    # A reply to a reply joins the thread of the first message, as in Slack.
    if parent is not None and parent.get("thread_ts") not in (None, parent["ts"]):
        parent = channel.message(parent["thread_ts"])
    root_ts = parent["ts"] if parent is not None else thread_ts
    message["thread_ts"] = root_ts
    if broadcast:
        message["subtype"] = "thread_broadcast"
    if parent is None:
        return

    parent["thread_ts"] = root_ts
    parent["reply_count"] = parent.get("reply_count", 0) + 1
    parent["latest_reply"] = message["ts"]
    users = parent.setdefault("reply_users", [])
    if message["user"] not in users:
        users.append(message["user"])


def post_ephemeral(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = writable_channel(workspace, _channel_argument(workspace, args))
    user_id = args.required("user")
    if user_id not in workspace.users:
        raise SlackError("user_not_found")
    if user_id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _message_content(args)

    ts = workspace.new_ts()
    channel.ephemerals.append({"user": user_id, "text": text or "", "blocks": blocks, "ts": ts})
    return {"message_ts": ts}


def update(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel_argument(workspace, args)
    if channel.is_archived:
        raise SlackError("is_archived")
    message = channel.message(args.required("ts"))
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != workspace.bot_user_id:
        raise SlackError("cant_update_message")
    text, blocks = _message_content(args)

    if text is not None:
        message["text"] = text
    if blocks is not None:
        message["blocks"] = blocks
    if blocks == []:
        message.pop("blocks")
    message["edited"] = {"user": workspace.bot_user_id, "ts": workspace.new_ts()}
    return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": copy.deepcopy(message)}


def pins_add(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel_argument(workspace, args)
    timestamp = args.text("timestamp")
    if not timestamp:
        raise SlackError("no_item_specified")
    message = channel.message(timestamp)
    if message is None:
        raise SlackError("message_not_found")
    if timestamp in channel.pins:
        raise SlackError("already_pinned")

    channel.pins.append(timestamp)
    message["pinned_to"] = [channel.id]
    return {}


def reactions_get(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel_argument(workspace, args)
    timestamp = args.text("timestamp")
    if not timestamp:
        raise SlackError("no_item_specified")
    message = channel.message(timestamp)
    if message is None:
        raise SlackError("message_not_found")
    return {"type": "message", "channel": channel.id, "message": copy.deepcopy(message)}


METHODS = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "pins.add": pins_add,
    "reactions.get": reactions_get,
}
