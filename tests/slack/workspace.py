"""The state behind the fake Slack: users, channels, messages, views and files of one workspace."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Args", "FakeChannel", "SlackError", "Workspace"]

FIRST_TS_SECONDS = 1_700_000_000
CREATED_AT = 1_700_000_000  # `created` of every conversation, so responses are identical on every run


class SlackError(Exception):
    """An API error, sent as `{"ok": false, "error": code, **fields}` with HTTP 200.

    `block_reasons` lists the Block Kit problems behind the error, which the fake records in `invalid_blocks`.
    """

    def __init__(self, code: str, *, block_reasons: list[str] | None = None, **fields: Any) -> None:
        super().__init__(code)
        self.code = code
        self.block_reasons = block_reasons or []
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.fields}


def missing_argument(name: str) -> SlackError:
    """Build the error Slack returns for a required argument left out."""
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]})


@dataclass
class FakeChannel:
    """A conversation: a public or private channel, or a direct message channel when `dm_user` is set."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # in the order posted, replies included
    pins: list[str] = field(default_factory=list)  # ts of the pinned messages
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    creator: str = ""
    dm_user: str | None = None

    @property
    def is_im(self) -> bool:
        return self.dm_user is not None

    def message(self, ts: str) -> dict[str, Any] | None:
        return next((message for message in self.messages if message["ts"] == ts), None)

    def describe(self, *, bot_user_id: str) -> dict[str, Any]:
        """Return the conversation object that conversations.info and conversations.list send."""
        if self.dm_user is not None:
            return {"id": self.id, "created": CREATED_AT, "is_im": True, "is_org_shared": False, "user": self.dm_user}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": bot_user_id in self.members,
            "created": CREATED_AT,
            "creator": self.creator,
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class Args:
    """The decoded arguments of one API call and the team of its token."""

    params: dict[str, Any]
    team_id: str

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise missing_argument(name)
        return value

    def flag(self, name: str) -> bool:
        """Read a boolean argument: Slack takes true/false, 1/0 and JSON booleans."""
        value = self.params.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true")
        return bool(value)

    def integer(self, name: str, default: int) -> int:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] {name} must be a number"]}
            ) from None

    def items(self, name: str) -> list[str]:
        value = self.params.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return [str(item) for item in value]


class Workspace:
    """Users, conversations, views and files, with the id and ts sequences that Slack would assign."""

    def __init__(self, *, team_id: str, team_name: str, bot_user_id: str, bot_token: str) -> None:
        self.team_id = team_id
        self.server_url = ""  # set once the HTTP server has a port, for upload URLs
        self.teams: dict[str, str] = {team_id: team_name}  # team id -> name
        self.tokens: dict[str, str] = {bot_token: team_id}
        self.bot_user_id = bot_user_id
        self.bot_id = "B0001"
        self.users: dict[str, dict[str, Any]] = {
            bot_user_id: {"name": "smarter-bot", "real_name": "SMARTER Bot", "locale": "en-US", "is_bot": True}
        }
        self.channels: dict[str, FakeChannel] = {}
        self.dm_by_user: dict[str, str] = {}
        self.views: dict[str, dict[str, Any]] = {}  # view id -> the view as last returned
        self.view_stacks: list[list[str]] = []  # view ids of each modal stack, root first
        self.home_views: dict[str, dict[str, Any]] = {}
        self.used_triggers: set[str] = set()
        self.expired_triggers: set[str] = set()
        self.files: dict[str, dict[str, Any]] = {}  # file id -> getUploadURLExternal arguments
        self.uploads: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def new_ts(self) -> str:
        """Return the next message ts: "1700000000.000100", "1700000000.000200", ..., unique and increasing."""
        micros = next(self._ts) * 100
        return f"{FIRST_TS_SECONDS + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def team_domain(self, team_id: str) -> str:
        return f"smarter-{team_id.lower()}"

    def add_channel(self, name: str, *, private: bool, members: set[str], creator: str) -> FakeChannel:
        channel = FakeChannel(id=self.new_id("C"), name=name, is_private=private, members=members, creator=creator)
        self.channels[channel.id] = channel
        return channel

    def dm_channel(self, user_id: str) -> FakeChannel:
        """Return the direct message channel between the bot and a user, opening it on first use."""
        if user_id in self.dm_by_user:
            return self.channels[self.dm_by_user[user_id]]

        channel = FakeChannel(
            id=self.new_id("D"), name=user_id, is_private=True, members={self.bot_user_id, user_id}, dm_user=user_id
        )
        self.channels[channel.id] = channel
        self.dm_by_user[user_id] = channel.id
        return channel

    def find_channel(self, reference: str) -> FakeChannel:
        """Resolve a channel id, or a channel name with or without "#".

        Raises SlackError("channel_not_found") when nothing matches.
        """
        if reference in self.channels:
            return self.channels[reference]

        name = reference.removeprefix("#")
        for channel in self.channels.values():
            if channel.dm_user is None and channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    def message_target(self, reference: str) -> FakeChannel:
        """Resolve where chat.postMessage posts: a channel, or the direct message channel of a user id."""
        if reference in self.users and reference != self.bot_user_id:
            return self.dm_channel(reference)
        return self.find_channel(reference)

    def visible_channel(self, reference: str) -> FakeChannel:
        """Resolve a channel the bot can see: private channels only when the bot is a member.

        Raises SlackError("channel_not_found") otherwise, as Slack hides such channels.
        """
        channel = self.find_channel(reference)
        if channel.is_private and not channel.is_im and self.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def describe_user(self, user_id: str, *, include_locale: bool) -> dict[str, Any]:
        user = self.users[user_id]
        real_name = user.get("real_name") or user["name"]
        described: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user["name"],
            "deleted": False,
            "real_name": real_name,
            "tz": "Asia/Tokyo",
            "tz_label": "Japan Standard Time",
            "tz_offset": 9 * 3600,
            "profile": {"display_name": user["name"], "real_name": real_name},
            "is_admin": False,
            "is_bot": bool(user.get("is_bot")),
            "updated": CREATED_AT,
        }
        if user.get("is_bot"):
            described["profile"]["bot_id"] = self.bot_id
        if include_locale:
            described["locale"] = user.get("locale", "ja-JP")
        return described
