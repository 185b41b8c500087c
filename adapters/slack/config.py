"""Settings of the Slack adapter: credentials, the slash command, channels and the Web API address."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BOT_EVENTS", "BOT_SCOPES", "SlackConfig"]

# Every bot scope the adapter calls a method for; config/slack/manifest.yml lists the same scopes.
BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:read",
    "channels:join",
    "channels:history",
    "groups:read",
    "groups:write",
    "groups:history",
    "pins:write",
    "reactions:read",
    "users:read",
    "files:write",
)

# Events the adapter subscribes to: brainstorm thread replies, reactions on them, and the App Home tab.
BOT_EVENTS: tuple[str, ...] = (
    "app_home_opened",
    "message.channels",
    "message.groups",
    "reaction_added",
    "reaction_removed",
)


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """Slack settings after validation; secrets are plain strings here and must never be logged."""

    signing_secret: str | None
    bot_token: str | None = None
    app_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    command: str = "/smarter"
    brainstorm_channel: str = "brainstorm"
    api_url: str = "https://slack.com/api/"
    rate_limit_retries: int = 3
    http_host: str = "0.0.0.0"
    http_port: int = 3000
    # Requests whose work after the ack runs at the same time in one process; the rest queue.
    work_concurrency: int = 2

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def oauth(self) -> bool:
        return self.client_id is not None
