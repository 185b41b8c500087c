"""conversations.* of the fake Slack."""

from __future__ import annotations

import base64
import binascii
import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.slack.workspace import Args, FakeChannel, SlackError, Workspace

__all__ = ["METHODS", "check_channel_name"]

CHANNEL_NAME_MAX = 80
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000


def check_channel_name(name: str) -> None:
    """Raise the SlackError that conversations.create returns for an invalid channel name.

    Names are lowercase letters of any script, digits, hyphens and underscores, at most 80 characters.
    """
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > CHANNEL_NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    for character in name:
        letter = character.isalpha() and character == character.lower()
        if not (letter or character.isdecimal() or character in "-_"):
            raise SlackError("invalid_name_specials")
    if all(character in "-_" for character in name):
        raise SlackError("invalid_name_punctuation")


def _group_channel(workspace: Workspace, args: Args) -> FakeChannel:
    """Resolve a channel that the bot manages: not a direct message channel, and visible to the bot."""
    reference = args.text("channel")
    if not reference:
        raise SlackError("channel_not_found")
    channel = workspace.visible_channel(reference)
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    return channel


def _readable(workspace: Workspace, args: Args) -> FakeChannel:
    reference = args.text("channel")
    if not reference:
        raise SlackError("channel_not_found")
    return workspace.visible_channel(reference)


def create(workspace: Workspace, args: Args) -> dict[str, Any]:
    name = args.text("name") or ""
    check_channel_name(name)
    if any(channel.name == name and not channel.is_im for channel in workspace.channels.values()):
        raise SlackError("name_taken")

    channel = workspace.add_channel(
        name, private=args.flag("is_private"), members={workspace.bot_user_id}, creator=workspace.bot_user_id
    )
    return {"channel": channel.describe(bot_user_id=workspace.bot_user_id)}


def invite(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _group_channel(workspace, args)
    if channel.is_archived:
        raise SlackError("is_archived")
    if workspace.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    users = args.items("users")
    if not users:
        raise SlackError("no_user")
    if workspace.bot_user_id in users:
        raise SlackError("cant_invite_self")
    if any(user_id not in workspace.users for user_id in users):
        raise SlackError("user_not_found")
    if all(user_id in channel.members for user_id in users):
        raise SlackError("already_in_channel")

    channel.members.update(users)
    return {"channel": channel.describe(bot_user_id=workspace.bot_user_id)}


def kick(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _group_channel(workspace, args)
    user_id = args.text("user")
    if not user_id or user_id not in workspace.users:
        raise SlackError("user_not_found")
    if user_id == workspace.bot_user_id:
        raise SlackError("cant_kick_self")
    if user_id not in channel.members:
        raise SlackError("not_in_channel")

    channel.members.discard(user_id)
    return {}


def archive(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _group_channel(workspace, args)
    if channel.is_archived:
        raise SlackError("already_archived")
    if workspace.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")

    channel.is_archived = True
    return {}


def join(workspace: Workspace, args: Args) -> dict[str, Any]:
    """Join a public channel. For a private one Slack returns method_not_supported_for_channel_type."""
    channel = _group_channel(workspace, args)
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    already = workspace.bot_user_id in channel.members
    channel.members.add(workspace.bot_user_id)
    described = channel.describe(bot_user_id=workspace.bot_user_id)
    return {"channel": described, "warning": "already_in_channel"} if already else {"channel": described}


def unarchive(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _group_channel(workspace, args)
    if not channel.is_archived:
        raise SlackError("not_archived")

    channel.is_archived = False
    return {}


def open_conversation(workspace: Workspace, args: Args) -> dict[str, Any]:
    users = args.items("users")
    if not users:
        channel_id = args.text("channel")
        if not channel_id:
            raise SlackError("users_list_not_supplied")
        return {"channel": _readable(workspace, args).describe(bot_user_id=workspace.bot_user_id)}
    # NOTE: group direct messages (several users) are not modelled; Slack would open an mpim "G..." channel.
    if len(users) > 1:
        raise SlackError("not_implemented_in_fake", detail="conversations.open with several users")
    user_id = users[0]
    if user_id not in workspace.users:
        raise SlackError("user_not_found")
    if user_id == workspace.bot_user_id:
        raise SlackError("cannot_dm_bot")

    already_open = user_id in workspace.dm_by_user
    channel = workspace.dm_channel(user_id)
    answer: dict[str, Any] = {"channel": {"id": channel.id}}
    if args.flag("return_im"):
        answer["channel"] = channel.describe(bot_user_id=workspace.bot_user_id)
    if already_open:
        answer.update(no_op=True, already_open=True)
    return answer


def info(workspace: Workspace, args: Args) -> dict[str, Any]:
    return {"channel": _readable(workspace, args).describe(bot_user_id=workspace.bot_user_id)}


def _listed(workspace: Workspace, channel: FakeChannel, types: list[str]) -> bool:
    if channel.is_im:
        return "im" in types
    if channel.is_private:
        return "private_channel" in types and workspace.bot_user_id in channel.members
    return "public_channel" in types


def list_conversations(workspace: Workspace, args: Args) -> dict[str, Any]:
    types = args.items("types") or ["public_channel"]
    exclude_archived = args.flag("exclude_archived")
    channels = [
        channel.describe(bot_user_id=workspace.bot_user_id)
        for channel in workspace.channels.values()
        if _listed(workspace, channel, types) and not (exclude_archived and channel.is_archived)
    ]
    page, next_cursor = _page(channels, args)
    return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}


def _page(items: list[dict[str, Any]], args: Args) -> tuple[list[dict[str, Any]], str]:
    """Cut one page of `limit` items at `cursor` and return it with the cursor of the next page ("" at the end)."""
    limit = min(max(args.integer("limit", PAGE_SIZE_DEFAULT), 1), PAGE_SIZE_MAX)
    start = _decode_cursor(args.text("cursor") or "")
    end = start + limit
    next_cursor = _encode_cursor(end) if end < len(items) else ""
    return copy.deepcopy(items[start:end]), next_cursor


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode("ascii")


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.b64decode(cursor, validate=True).decode("ascii").partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise SlackError("invalid_cursor")


def _ts_bound(args: Args, name: str) -> Decimal | None:
    value = args.text(name)
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SlackError("invalid_ts_" + name) from None


def history(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _readable(workspace, args)
    if not channel.is_im and workspace.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    oldest, latest = _ts_bound(args, "oldest"), _ts_bound(args, "latest")
    inclusive = args.flag("inclusive")

    def in_range(ts: str) -> bool:
        value = Decimal(ts)
        above = oldest is None or value > oldest or (inclusive and value == oldest)
        below = latest is None or value < latest or (inclusive and value == latest)
        return above and below

    # The channel history shows thread parents and broadcast replies, not the other replies.
    top_level = [
        message
        for message in channel.messages
        if message.get("thread_ts") in (None, message["ts"]) or message.get("subtype") == "thread_broadcast"
    ]
    newest_first = [message for message in reversed(top_level) if in_range(message["ts"])]
    page, next_cursor = _page(newest_first, args)
    return {"messages": page, "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}


def replies(workspace: Workspace, args: Args) -> dict[str, Any]:
    channel = _readable(workspace, args)
    parent = channel.message(args.required("ts"))
    if parent is None:
        raise SlackError("thread_not_found")
    root_ts = parent.get("thread_ts") or parent["ts"]

    thread = [
        message for message in channel.messages if message["ts"] == root_ts or message.get("thread_ts") == root_ts
    ]
    page, next_cursor = _page(thread, args)
    return {"messages": page, "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}


METHODS = {
    "conversations.create": create,
    "conversations.invite": invite,
    "conversations.kick": kick,
    "conversations.archive": archive,
    "conversations.unarchive": unarchive,
    "conversations.join": join,
    "conversations.open": open_conversation,
    "conversations.info": info,
    "conversations.list": list_conversations,
    "conversations.history": history,
    "conversations.replies": replies,
}
