"""Build and sign the HTTP requests that Slack sends to an app: slash commands, interactions and events.

The signature follows Slack's published scheme (v0: HMAC-SHA256 over "v0:{timestamp}:{body}" keyed with the
signing secret) and is computed here with hmac and hashlib, so a test also checks Bolt's verifier against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

__all__ = ["event_body", "interaction_body", "sign", "slash_command_body"]


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Return the X-Slack-Request-Timestamp and X-Slack-Signature headers for a request body."""
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def slash_command_body(
    *, command: str, text: str, user_id: str, team_id: str, channel_id: str, response_url: str, trigger_id: str
) -> bytes:
    """Encode a slash command invocation as the application/x-www-form-urlencoded body Slack posts."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "smarter-test",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """Encode an interaction (block action, view submission, shortcut) as Slack posts it: payload=<JSON>."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def event_body(
    event: dict[str, Any],
    *,
    team_id: str,
    event_id: str,
    event_time: int,
    api_app_id: str = "A0001",
    bot_user_id: str = "UBOT",
) -> bytes:
    """Encode an Events API event_callback envelope as the JSON body Slack posts."""
    envelope = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope, ensure_ascii=False).encode()
