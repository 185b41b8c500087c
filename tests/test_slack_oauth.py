"""OAuth installation in several workspaces: Bolt's install and redirect pages, slack_sdk's SQLAlchemy stores on
the project's database (SQLite and PostgreSQL), and the bot token of each workspace in requests and deliveries.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from adapters.slack.config import BOT_SCOPES, SlackConfig
from core.services import registration, tasks
from core.services.context import Actor, ServiceContext
from core.services.outbox import PermanentDeliveryError
from core.storage.models import Identity, InboundRequest, Person
from tests.slack.fake import FakeSlack
from tests.slack.harness import SIGNING_SECRET, SlackHarness
from tests.slack.signing import slash_command_body

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"  # Bolt's default redirect_uri_path
STATE_COOKIE = "slack-app-oauth-state"  # slack_sdk's OAuthStateUtils.default_cookie_name
AUTHORIZE_LINK = re.compile(r'href="(https://slack\.com/oauth/v2/authorize[^"]*)"')
TEAM_ONE, TOKEN_ONE = "T0001", "xoxb-test"
TEAM_TWO, TOKEN_TWO = "T0002", "xoxb-team2"
UNINSTALLED_TEAM = "T0003"
USERS = {
    "UTARO": {"name": "taro", "locale": "en-US"},
    "UJIRO": {"name": "jiro", "locale": "en-US"},
    "UACME2": {"name": "acme2", "locale": "en-US"},
    "USTRANGER": {"name": "stranger", "locale": "en-US"},
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(users=USERS) as server:
        server.set_oauth_client(CLIENT_ID, CLIENT_SECRET)
        server.add_oauth_code("code-team1", access_token=TOKEN_ONE, team_id=TEAM_ONE, installer_id="UTARO")
        server.add_oauth_code("code-team2", access_token=TOKEN_TWO, team_id=TEAM_TWO, installer_id="UJIRO")
        yield server


@pytest.fixture
def harness(any_ctx: ServiceContext, fake: FakeSlack) -> Iterator[SlackHarness]:
    """The HTTP app with OAuth, on SQLite and on PostgreSQL; no workspace has installed it yet."""
    config = SlackConfig(signing_secret=SIGNING_SECRET, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    harness = SlackHarness(any_ctx, fake, config=config).start()
    yield harness
    harness.stop()


def page(harness: SlackHarness, path: str) -> str:
    return f"http://127.0.0.1:{harness.port}{path}"


def begin_install(harness: SlackHarness) -> tuple[httpx.Response, str]:
    """Open the install page; return the response and the state in its Add to Slack link."""
    response = harness.http.get(page(harness, INSTALL_PATH))
    query = parse_qs(urlsplit(authorize_link(response.text)).query)
    return response, query["state"][0]


def authorize_link(install_page: str) -> str:
    """Return the target of the page's Add to Slack link."""
    link = AUTHORIZE_LINK.search(install_page)
    assert link is not None, install_page
    return html.unescape(link.group(1))


def finish_install(harness: SlackHarness, code: str, state: str, cookie: str | None) -> httpx.Response:
    """Follow Slack's redirect back to the app with ``code``, sending the state cookie as the browser would.

    Bolt sets the cookie with the Secure attribute, so a browser sends it back over HTTPS only. The test sends
    the header itself over plain HTTP.
    """
    headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie is not None else {}
    return harness.http.get(page(harness, REDIRECT_PATH), params={"code": code, "state": state}, headers=headers)


def install(harness: SlackHarness, code: str) -> httpx.Response:
    _, state = begin_install(harness)
    return finish_install(harness, code, state, state)


def command(harness: SlackHarness, team_id: str, user_id: str, text: str) -> tuple[httpx.Response, str]:
    """Send a signed slash command from ``team_id``; return the response and the command's response URL."""
    response_url = harness.fake.response_url()
    body = slash_command_body(
        command="/smarter",
        text=text,
        user_id=user_id,
        team_id=team_id,
        channel_id="CGENERAL",
        response_url=response_url,
        trigger_id=harness.trigger_id(),
    )
    response = harness.post(body, "application/x-www-form-urlencoded")
    harness.settle()
    return response, response_url


def identities(ctx: ServiceContext) -> list[tuple[str, str]]:
    with ctx.transaction() as session:
        rows = session.execute(select(Identity.workspace, Identity.user_id).order_by(Identity.person_id)).all()
    return [(workspace, user_id) for workspace, user_id in rows]


def test_install_page_links_to_slack(harness: SlackHarness) -> None:
    response, state = begin_install(harness)

    assert response.status_code == 200
    cookie = SimpleCookie(response.headers["set-cookie"])
    assert cookie[STATE_COOKIE].value == state
    url = urlsplit(authorize_link(response.text))
    query = parse_qs(url.query)
    assert f"{url.netloc}{url.path}" == "slack.com/oauth/v2/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"][0].split(",") == list(BOT_SCOPES)


def test_redirect_stores_installation(harness: SlackHarness) -> None:
    response = install(harness, "code-team2")

    assert response.status_code == 200, response.text
    store = harness.delivery.installations.store
    assert store is not None
    bot = store.find_bot(enterprise_id=None, team_id=TEAM_TWO)
    assert bot is not None
    assert bot.bot_token == TOKEN_TWO
    assert bot.bot_user_id == harness.fake.bot_user_id
    installation = store.find_installation(enterprise_id=None, team_id=TEAM_TWO)
    assert installation is not None
    assert installation.user_id == "UJIRO"
    exchanges = harness.fake.calls_to("oauth.v2.access")
    assert [call.params.get("code") for call in exchanges] == ["code-team2"]
    assert [call.error for call in exchanges] == [None]
    assert harness.delivery.installations.bot_token(TEAM_TWO) == TOKEN_TWO


def test_redirect_rejects_forged_state(harness: SlackHarness) -> None:
    response = finish_install(harness, "code-team2", "forged-state", "forged-state")

    assert response.status_code == 401
    assert harness.fake.calls_to("oauth.v2.access") == []
    store = harness.delivery.installations.store
    assert store is not None
    assert store.find_bot(enterprise_id=None, team_id=TEAM_TWO) is None


def test_redirect_with_unknown_code_fails(harness: SlackHarness) -> None:
    response = install(harness, "code-never-issued")

    assert response.status_code == 401
    assert [call.error for call in harness.fake.calls_to("oauth.v2.access")] == ["invalid_code"]
    store = harness.delivery.installations.store
    assert store is not None
    assert store.find_installation(enterprise_id=None, team_id=TEAM_TWO) is None


def test_redirect_rejects_missing_cookie(harness: SlackHarness) -> None:
    _, state = begin_install(harness)

    response = finish_install(harness, "code-team2", state, None)

    assert response.status_code == 400
    assert harness.fake.calls_to("oauth.v2.access") == []


def test_redirect_state_used_once(harness: SlackHarness) -> None:
    _, state = begin_install(harness)
    assert finish_install(harness, "code-team2", state, state).status_code == 200

    replayed = finish_install(harness, "code-team1", state, state)

    assert replayed.status_code == 401
    assert [call.params.get("code") for call in harness.fake.calls_to("oauth.v2.access")] == ["code-team2"]


def test_commands_use_own_workspace_token(harness: SlackHarness) -> None:
    assert install(harness, "code-team1").status_code == 200
    assert install(harness, "code-team2").status_code == 200
    fake = harness.fake
    before = len(fake.calls)

    response_one, url_one = command(harness, TEAM_ONE, "UTARO", "register member nickname=taro")
    calls_one = fake.calls[before:]
    before = len(fake.calls)
    response_two, url_two = command(harness, TEAM_TWO, "UJIRO", "register member nickname=jiro")
    calls_two = fake.calls[before:]

    assert response_one.status_code == 200
    assert response_two.status_code == 200
    assert "taro" in fake.responses_by_url[url_one][0]["text"]
    assert "jiro" in fake.responses_by_url[url_two][0]["text"]
    assert {call.method for call in calls_one} >= {"auth.test", "users.info"}
    assert {call.method for call in calls_two} >= {"auth.test", "users.info"}
    assert {call.token for call in calls_one} == {TOKEN_ONE}
    assert {call.token for call in calls_two} == {TOKEN_TWO}
    assert identities(harness.ctx) == [(TEAM_ONE, "UTARO"), (TEAM_TWO, "UJIRO")]


def test_delivery_uses_installed_token(harness: SlackHarness) -> None:
    assert install(harness, "code-team2").status_code == 200
    harness.fake.add_channel("brainstorm", members=("UACME2",))
    partner = Actor("slack", TEAM_TWO, "UACME2")
    registration.register_partner(harness.ctx, partner, company="acme2 株式会社")
    spec = tasks.NewTask(menu="brainstorm", title="Names for the new store", deadline="2026/12/31")
    tasks.create_task(harness.ctx, partner, spec)
    before = len(harness.fake.calls)

    assert harness.deliver() >= 1

    delivered = harness.fake.calls[before:]
    posts = [call for call in delivered if call.method == "chat.postMessage"]
    assert posts, harness.fake.summary()
    assert [call.error for call in posts] == [None] * len(posts)
    assert {call.token for call in delivered} == {TOKEN_TWO}
    opening = harness.fake.channel_named("brainstorm").messages[0]
    assert "Names for the new store" in opening["text"]
    assert opening["team"] == TEAM_TWO


def test_delivery_to_uninstalled_workspace_fails_for_good(harness: SlackHarness) -> None:
    assert install(harness, "code-team2").status_code == 200

    with pytest.raises(PermanentDeliveryError, match=UNINSTALLED_TEAM):
        harness.delivery.installations.bot_token(UNINSTALLED_TEAM)


def test_command_from_uninstalled_workspace_not_processed(harness: SlackHarness) -> None:
    assert install(harness, "code-team2").status_code == 200
    before = len(harness.fake.calls)

    response, response_url = command(harness, UNINSTALLED_TEAM, "USTRANGER", "register member nickname=stranger")

    assert response.status_code == 200
    replies = harness.fake.responses_by_url[response_url]
    assert len(replies) == 1
    assert "reinstall this app" in replies[0]["text"]
    assert [call.method for call in harness.fake.calls[before:]] == []
    with harness.ctx.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
        assert session.scalar(select(func.count()).select_from(InboundRequest)) == 0
