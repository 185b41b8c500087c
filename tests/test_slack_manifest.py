"""The Slack app manifest (config/slack/manifest.yml) agrees with what the adapter serves, subscribes to and calls."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.client import WebClient

from adapters.slack.app import SlackBot
from adapters.slack.config import BOT_EVENTS, BOT_SCOPES, SlackConfig
from adapters.slack.install import Installations
from adapters.slack.server import EVENTS_PATH
from bots.settings import CONFIG_DIR, Settings
from core.services.context import ServiceContext

MANIFEST = CONFIG_DIR / "slack" / "manifest.yml"
SLACK_ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "slack"

# Bot scopes each Web API method needs as the adapter calls it, by slack_sdk method name. A method the
# adapter starts calling must be added here, with the scopes from its page in Slack's Web API reference.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "chat_postMessage": frozenset({"chat:write"}),
    "chat_postEphemeral": frozenset({"chat:write"}),
    # types="public_channel,private_channel" needs both read scopes.
    "conversations_list": frozenset({"channels:read", "groups:read"}),
    "conversations_join": frozenset({"channels:join"}),
    "reactions_get": frozenset({"reactions:read"}),
    # Task channels are private, so creating, inviting to, removing from and archiving them need groups:write.
    "conversations_create": frozenset({"groups:write"}),
    "conversations_invite": frozenset({"groups:write"}),
    "conversations_kick": frozenset({"groups:write"}),
    "conversations_archive": frozenset({"groups:write"}),
    "pins_add": frozenset({"pins:write"}),
    "users_info": frozenset({"users:read"}),
    # files.getUploadURLExternal and files.completeUploadExternal.
    "files_upload_v2": frozenset({"files:write"}),
    "views_open": frozenset(),
    "views_update": frozenset(),
    "views_publish": frozenset(),
}
# Bot scopes Slack requires before it sends each event.
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "reaction_added": frozenset({"reactions:read"}),
    "reaction_removed": frozenset({"reactions:read"}),
}
# Every public method of slack_sdk's Web API clients, and api_call, which can call any method by name.
WEB_API_METHODS = frozenset(
    name for client in (WebClient, AsyncWebClient) for name in vars(client) if not name.startswith("_")
) | {"api_call"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    with MANIFEST.open(encoding="utf-8") as file:
        loaded = yaml.safe_load(file)
    assert isinstance(loaded, dict), f"{MANIFEST} must be a YAML mapping"
    return loaded


def bot_scopes(manifest: dict[str, Any]) -> list[str]:
    return list(manifest["oauth_config"]["scopes"]["bot"])


def called_methods() -> dict[str, list[str]]:
    """Return each Web API method called in adapters/slack/*.py, with the file:line of every call."""
    calls: dict[str, list[str]] = {}
    for path in sorted(SLACK_ADAPTER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr in WEB_API_METHODS:
                calls.setdefault(node.func.attr, []).append(f"{path.name}:{node.lineno}")
    return calls


def test_manifest_bot_scopes_match_code(manifest: dict[str, Any]) -> None:
    scopes = bot_scopes(manifest)
    assert len(scopes) == len(set(scopes)), f"duplicate bot scopes in {MANIFEST}: {scopes}"
    assert set(scopes) == set(BOT_SCOPES)


def test_manifest_bot_events_match_code(manifest: dict[str, Any]) -> None:
    events = list(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert len(events) == len(set(events)), f"duplicate bot events in {MANIFEST}: {events}"
    assert set(events) == set(BOT_EVENTS)


def test_manifest_slash_command_matches_setting(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert len(commands) == 1
    assert commands[0]["command"] == Settings.model_fields["slack_command"].default


def test_manifest_slash_command_escapes_references(manifest: dict[str, Any]) -> None:
    # adapters/slack/incoming.py reads channels and users as <#C…|name> and <@U…>, which Slack sends only
    # when should_escape is true.
    assert manifest["features"]["slash_commands"][0]["should_escape"] is True


def test_manifest_request_urls_use_events_path(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = {
        "slash command": manifest["features"]["slash_commands"][0]["url"],
        "event subscriptions": settings["event_subscriptions"]["request_url"],
        "interactivity": settings["interactivity"]["request_url"],
    }
    for name, url in urls.items():
        assert url.startswith("https://"), f"the {name} URL {url} must use HTTPS"
        assert urlsplit(url).path == EVENTS_PATH, f"the {name} URL {url} must end with {EVENTS_PATH}"


def test_manifest_interactivity_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_app_home_tabs(manifest: dict[str, Any]) -> None:
    app_home = manifest["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
    assert app_home["messages_tab_enabled"] is True
    # Read-only would keep people from typing the slash command in the app's Messages tab.
    assert app_home["messages_tab_read_only_enabled"] is False


def test_manifest_settings_for_http_mode(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    # Installations keep one bot token per workspace and never refresh it.
    assert settings["token_rotation_enabled"] is False
    assert settings["org_deploy_enabled"] is False


def test_manifest_redirect_url_matches_bolt(manifest: dict[str, Any], ctx: ServiceContext) -> None:
    config = SlackConfig(signing_secret="secret", client_id="1234.5678", client_secret="client-secret")
    bot = SlackBot(ctx, config, Installations(config, ctx.session_factory.kw["bind"]))
    assert bot.app.oauth_flow is not None
    redirect_urls = manifest["oauth_config"]["redirect_urls"]
    assert len(redirect_urls) == 1
    assert redirect_urls[0].startswith("https://")
    assert urlsplit(redirect_urls[0]).path == bot.app.oauth_flow.redirect_uri_path


def test_manifest_grants_called_method_scopes(manifest: dict[str, Any]) -> None:
    calls = called_methods()
    granted = set(bot_scopes(manifest))
    assert "chat_postMessage" in calls, "the scan of adapters/slack found no chat_postMessage call"
    for method, places in sorted(calls.items()):
        assert method in METHOD_SCOPES, (
            f"{method} is called at {', '.join(places)} but missing from METHOD_SCOPES; add it with its bot scopes"
        )
        missing = METHOD_SCOPES[method] - granted
        assert not missing, f"{method} needs bot scopes {sorted(missing)}, which {MANIFEST.name} does not grant"


def test_method_scopes_lists_only_called_methods() -> None:
    stale = set(METHOD_SCOPES) - set(called_methods())
    assert not stale, f"METHOD_SCOPES lists methods adapters/slack no longer calls: {sorted(stale)}"


def test_manifest_grants_event_scopes(manifest: dict[str, Any]) -> None:
    granted = set(bot_scopes(manifest))
    for event in BOT_EVENTS:
        assert event in EVENT_SCOPES, f"bot event {event} is missing from EVENT_SCOPES; add it with its bot scopes"
        missing = EVENT_SCOPES[event] - granted
        assert not missing, f"bot event {event} needs bot scopes {sorted(missing)}, which are not granted"
    assert "commands" in granted, "the slash command needs the commands scope"
