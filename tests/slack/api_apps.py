"""apps.connections.open and oauth.v2.access of the fake Slack: the methods an app calls with its own credentials.

They authenticate with an app-level token (xapp-) or with the OAuth client id and secret instead of a bot
token, so the fake handles them before its bot token check.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.slack.workspace import SlackError, Workspace

__all__ = ["METHODS", "AppCredentials", "OAuthGrant", "answer"]

METHODS = frozenset({"apps.connections.open", "oauth.v2.access"})


@dataclass(frozen=True)
class OAuthGrant:
    """What oauth.v2.access returns for one authorization code: a bot token for one workspace."""

    access_token: str
    team_id: str
    team_name: str
    installer_id: str
    bot_user_id: str = "UBOT"
    app_id: str = "A0001"
    scope: str = "commands,chat:write"


@dataclass
class AppCredentials:
    """The app's own credentials as the fake accepts them, and the authorization codes it has handed out."""

    # app-level token -> a function that returns a fresh WebSocket URL for apps.connections.open
    app_tokens: dict[str, Callable[[], str]] = field(default_factory=dict)
    client_id: str | None = None
    client_secret: str | None = None
    codes: dict[str, OAuthGrant] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)


def answer(
    method: str,
    credentials: AppCredentials,
    workspace: Workspace,
    params: Mapping[str, Any],
    token: str | None,
    authorization: str,
) -> dict[str, Any]:
    """Return the result of ``method`` (one of METHODS); raise SlackError with the error Slack would return."""
    if method == "apps.connections.open":
        return _apps_connections_open(credentials, token)
    return _oauth_v2_access(credentials, workspace, params, authorization)


def _apps_connections_open(credentials: AppCredentials, token: str | None) -> dict[str, Any]:
    if token is None:
        raise SlackError("not_authed")
    if not token.startswith("xapp-"):
        raise SlackError("not_allowed_token_type")
    issue_url = credentials.app_tokens.get(token)
    if issue_url is None:
        raise SlackError("invalid_auth")
    return {"url": issue_url()}


def _oauth_v2_access(
    credentials: AppCredentials, workspace: Workspace, params: Mapping[str, Any], authorization: str
) -> dict[str, Any]:
    client_id, client_secret = _client_credentials(authorization, params)
    if client_id is None or client_id != credentials.client_id:
        raise SlackError("invalid_client_id")
    if client_secret != credentials.client_secret:
        raise SlackError("bad_client_secret")
    if params.get("grant_type") not in (None, "authorization_code"):
        raise SlackError("invalid_grant_type")

    code = str(params.get("code") or "")
    grant = credentials.codes.get(code)
    # NOTE: Slack's error for a code exchanged a second time is assumed to be invalid_code, like an unknown code.
    if grant is None or code in credentials.used_codes:
        raise SlackError("invalid_code")
    credentials.used_codes.add(code)

    # The bot token is valid from the moment Slack hands it out.
    workspace.tokens[grant.access_token] = grant.team_id
    workspace.teams.setdefault(grant.team_id, grant.team_name)
    return {
        "access_token": grant.access_token,
        "token_type": "bot",
        "scope": grant.scope,
        "bot_user_id": grant.bot_user_id,
        "app_id": grant.app_id,
        "team": {"id": grant.team_id, "name": grant.team_name},
        "enterprise": None,
        "is_enterprise_install": False,
        "authed_user": {"id": grant.installer_id},
    }


def _client_credentials(authorization: str, params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Return the client id and secret from HTTP Basic authentication, or from the form as Slack also accepts."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic" and encoded.strip():
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, separator, client_secret = decoded.partition(":")
        return (client_id, client_secret) if separator else (None, None)
    form_id = params.get("client_id")
    form_secret = params.get("client_secret")
    return (
        form_id if isinstance(form_id, str) else None,
        form_secret if isinstance(form_secret, str) else None,
    )
