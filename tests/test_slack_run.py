"""`smarter-bot run` with Slack settings: the real process serves Slack over HTTP, and bad settings stop it early."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from bots.cli import main
from core.storage.models import OutboxMessage, Person
from tests.slack.fake import FakeSlack
from tests.slack.signing import sign, slash_command_body

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "run-test-signing-secret-4f1c"
BOT_TOKEN = "xoxb-test"
TEAM = "T0001"
USERS = {"UHANAKO": {"name": "hanako", "locale": "en-US"}}
START_TIMEOUT = 30  # seconds: a cold start imports Bolt, SQLAlchemy and Alembic and migrates a new database
STOP_TIMEOUT = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(**settings: str) -> dict[str, str]:
    """Return this process's environment without any SMARTER_ variable, plus ``settings``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SMARTER_")}
    environment.update(settings)
    return environment


class BotProcess:
    """`python -m bots.cli run` as a child process, with its output in files so that no pipe fills up."""

    def __init__(self, tmp_path: Path, environment: dict[str, str]) -> None:
        self.stdout_path = tmp_path / "stdout.txt"
        self.stderr_path = tmp_path / "stderr.txt"
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "--log-level", "INFO", "run"],
                cwd=tmp_path,  # no .env file there
                env={**environment, "PYTHONPATH": str(PROJECT_ROOT)},
                stdout=stdout,
                stderr=stderr,
            )

    @property
    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode} on start:\n{self.output}")
            try:
                if httpx.get(url, timeout=1).text == "ok":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"GET {url} did not return ok within {START_TIMEOUT} s:\n{self.output}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(users=USERS) as server:
        yield server


@pytest.fixture
def bot(tmp_path: Path, fake: FakeSlack) -> Iterator[tuple[BotProcess, str, Path]]:
    """The bot process on a free port; yields it, its base URL and its SQLite file."""
    port = free_port()
    database = tmp_path / "smarter-bot.db"
    environment = clean_environment(
        SMARTER_SLACK_BOT_TOKEN=BOT_TOKEN,
        SMARTER_SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SMARTER_SLACK_API_URL=fake.base_url,
        SMARTER_SLACK_HTTP_HOST="127.0.0.1",
        SMARTER_SLACK_HTTP_PORT=str(port),
        SMARTER_DATABASE_URL=f"sqlite:///{database}",
        SMARTER_ANNOUNCEMENT_CHANNELS=f"slack:{TEAM}:C0ANNOUNCE",
    )
    process = BotProcess(tmp_path, environment)
    try:
        yield process, f"http://127.0.0.1:{port}", database
    finally:
        process.kill()


def send_command(
    base_url: str, fake: FakeSlack, text: str, trigger_id: str, user_id: str = "UHANAKO"
) -> tuple[httpx.Response, str]:
    response_url = fake.response_url()
    body = slash_command_body(
        command="/smarter",
        text=text,
        user_id=user_id,
        team_id=TEAM,
        channel_id="CGENERAL",
        response_url=response_url,
        trigger_id=trigger_id,
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body, int(time.time()))}
    return httpx.post(f"{base_url}/slack/events", content=body, headers=headers, timeout=10), response_url


def test_run_serves_slack_until_sigterm(bot: tuple[BotProcess, str, Path], fake: FakeSlack) -> None:
    process, base_url, database = bot
    process.wait_healthy(f"{base_url}/healthz")

    registered, register_url = send_command(base_url, fake, "register member nickname=hanako", "1.1.run")
    helped, help_url = send_command(base_url, fake, "help", "2.1.run")
    fake.wait_for(lambda: bool(fake.responses_by_url[register_url]) and bool(fake.responses_by_url[help_url]), 10)
    process.process.send_signal(signal.SIGTERM)
    returncode = process.process.wait(STOP_TIMEOUT)

    assert registered.status_code == 200
    assert helped.status_code == 200
    assert "hanako" in fake.responses_by_url[register_url][0]["text"]
    assert "register" in fake.responses_by_url[help_url][0]["text"]
    assert returncode == 0, process.output
    assert "Slack adapter stopped" in process.output
    assert BOT_TOKEN not in process.output
    assert SIGNING_SECRET not in process.output
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert list(connection.scalars(select(Person.display_name))) == ["hanako"]
    engine.dispose()


def test_run_rejects_bad_signature(bot: tuple[BotProcess, str, Path], fake: FakeSlack) -> None:
    process, base_url, _ = bot
    process.wait_healthy(f"{base_url}/healthz")
    body = slash_command_body(
        command="/smarter",
        text="help",
        user_id="UHANAKO",
        team_id=TEAM,
        channel_id="CGENERAL",
        response_url=fake.response_url(),
        trigger_id="3.1.run",
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign("wrong-secret", body, int(time.time()))}

    response = httpx.post(f"{base_url}/slack/events", content=body, headers=headers, timeout=10)

    assert response.status_code == 401
    assert fake.calls == []
    assert fake.responses == []


# Settings in BAD_SETTINGS that are no secret, so an error may show their values.
PUBLIC_SETTINGS = frozenset({"SMARTER_SLACK_CLIENT_ID", "SMARTER_SLACK_HTTP_PORT"})
BAD_SETTINGS = [
    pytest.param(
        {"SMARTER_SLACK_BOT_TOKEN": "not-a-token-7c1d", "SMARTER_SLACK_SIGNING_SECRET": "sig-7c1d"},
        "slack_bot_token",
        id="bot-token-prefix",
    ),
    pytest.param(
        {"SMARTER_SLACK_CLIENT_ID": "1111.2222", "SMARTER_SLACK_SIGNING_SECRET": "sig-9a2b"},
        "slack_client_secret",
        id="client-id-without-secret",
    ),
    pytest.param(
        {"SMARTER_SLACK_CLIENT_SECRET": "client-secret-5e6f", "SMARTER_SLACK_SIGNING_SECRET": "sig-5e6f"},
        "slack_client_id",
        id="client-secret-without-id",
    ),
    pytest.param(
        {"SMARTER_SLACK_CLIENT_ID": "1111.2222", "SMARTER_SLACK_CLIENT_SECRET": "client-secret-3d4c"},
        "slack_signing_secret",
        id="oauth-without-signing-secret",
    ),
    pytest.param({"SMARTER_SLACK_BOT_TOKEN": "xoxb-http-8b8b"}, "slack_signing_secret", id="http-without-secret"),
    pytest.param(
        {"SMARTER_SLACK_APP_TOKEN": "xoxb-wrong-kind-2a2a", "SMARTER_SLACK_BOT_TOKEN": "xoxb-socket-2a2a"},
        "slack_app_token",
        id="app-token-prefix",
    ),
    pytest.param({"SMARTER_SLACK_APP_TOKEN": "xapp-alone-6f6f"}, "slack_bot_token", id="app-token-without-bot"),
    pytest.param(
        {"SMARTER_SLACK_BOT_TOKEN": "xoxb-port-1e1e", "SMARTER_SLACK_SIGNING_SECRET": "sig-1e1e"}
        | {"SMARTER_SLACK_HTTP_PORT": "70000"},
        "slack_http_port",
        id="port-out-of-range",
    ),
]


@pytest.mark.parametrize(("settings", "field"), BAD_SETTINGS)
def test_run_bad_slack_setting_exits_2(
    settings: dict[str, str],
    field: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [name for name in os.environ if name.startswith("SMARTER_")]:
        monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMARTER_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.chdir(tmp_path)

    status = main(["run"])

    output = capsys.readouterr()
    assert status == 2
    assert output.out == ""
    assert "error: invalid setting" in output.err
    assert field in output.err
    assert "Traceback" not in output.err
    secrets = [value for name, value in settings.items() if name not in PUBLIC_SETTINGS]
    for secret in secrets:
        assert secret not in output.err
    assert not (tmp_path / "unused.db").exists()


def test_run_process_bad_token_exits_2(tmp_path: Path) -> None:
    environment = clean_environment(
        SMARTER_SLACK_BOT_TOKEN="not-a-token-0b0b",
        SMARTER_SLACK_SIGNING_SECRET="sig-0b0b",
        SMARTER_DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
        PYTHONPATH=str(PROJECT_ROOT),
    )

    finished = subprocess.run(
        [sys.executable, "-m", "bots.cli", "run"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    assert finished.returncode == 2
    assert "slack_bot_token" in finished.stderr
    assert "not-a-token-0b0b" not in finished.stderr + finished.stdout
    assert "sig-0b0b" not in finished.stderr + finished.stdout


def test_run_port_in_use_exits_2(tmp_path: Path, fake: FakeSlack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = clean_environment(
            SMARTER_SLACK_BOT_TOKEN=BOT_TOKEN,
            SMARTER_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SMARTER_SLACK_API_URL=fake.base_url,
            SMARTER_SLACK_HTTP_HOST="127.0.0.1",
            SMARTER_SLACK_HTTP_PORT=str(port),
            SMARTER_DATABASE_URL=f"sqlite:///{tmp_path / 'smarter-bot.db'}",
        )
        process = BotProcess(tmp_path, environment)
        try:
            returncode = process.process.wait(STOP_TIMEOUT)
        finally:
            process.kill()

    assert returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in process.output
    assert "scheduler" not in process.output.lower()


def test_sigterm_finishes_acknowledged_work(bot: tuple[BotProcess, str, Path], fake: FakeSlack) -> None:
    process, base_url, _ = bot
    process.wait_healthy(f"{base_url}/healthz")

    # Sent at once, so that most of the work after the acks is still queued when SIGTERM arrives.
    with ThreadPoolExecutor(max_workers=20) as pool:
        sent = list(pool.map(lambda number: send_command(base_url, fake, "ranking", f"{number}.1.drain"), range(20)))
    process.process.send_signal(signal.SIGTERM)
    returncode = process.process.wait(STOP_TIMEOUT)

    assert [response.status_code for response, _ in sent] == [200] * 20
    assert returncode == 0, process.output
    for _, response_url in sent:
        assert len(fake.responses_by_url[response_url]) == 1, process.output


def test_sigterm_delivers_what_acked_work_queued(bot: tuple[BotProcess, str, Path], fake: FakeSlack) -> None:
    process, base_url, database = bot
    process.wait_healthy(f"{base_url}/healthz")
    members = [f"UMEMBER{number}" for number in range(20)]
    for user_id in ["UPARTNER", *members]:
        fake.add_user(user_id, name=user_id.lower())
    setup = [
        ("UPARTNER", "register partner company=acme"),
        ("UPARTNER", "task new practice title=survey deadline=2027/06/30 types=research"),
        *((user_id, f"register member nickname=なかま{number}") for number, user_id in enumerate(members)),
    ]
    for number, (user_id, text) in enumerate(setup):
        _, response_url = send_command(base_url, fake, text, f"s{number}.1.queue", user_id)
        fake.wait_for(lambda url=response_url: bool(fake.responses_by_url[url]), 10)
    fake.wait_for(lambda: len(fake.calls_to("conversations.create")) == 1, 10)

    # Each join queues an invitation and a note in the task channel; SIGTERM comes right after the acks.
    with ThreadPoolExecutor(max_workers=20) as pool:
        joins = list(
            pool.map(
                lambda pair: send_command(base_url, fake, "join T1", f"j{pair[0]}.1.queue", pair[1]),
                enumerate(members),
            )
        )
    process.process.send_signal(signal.SIGTERM)
    returncode = process.process.wait(STOP_TIMEOUT + 15)

    assert [response.status_code for response, _ in joins] == [200] * 20
    assert returncode == 0, process.output
    channel = fake.channel_named("t1-survey")
    assert set(members) <= channel.members, process.output
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        pending = connection.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
        )
    engine.dispose()
    assert pending == 0
