"""Benchmark how fast the Slack adapter acknowledges slash commands, against a Bolt app that only acks.

Slack registers a timeout error when an app does not acknowledge a slash command within 3 seconds
(Bolt for Python documentation, "Acknowledging requests"), so ``adapters.slack.app.SlackBot``
acknowledges first and does the work afterwards. This benchmark sends bursts of concurrent signed
slash-command requests to two HTTP servers and times each request on the client, from sending it to
reading the HTTP 200 (the ack):

smarter
    The product's ``SlackBot`` as ``smarter-bot run`` builds it (``bots.slack_runner.build_slack``, with
    the delivery worker running), served by ``adapters.slack.server.http_application``. Its database is
    a fresh SQLite file with open tasks and registered members. Each command comes from another member
    and is ``/smarter task list`` unless ``--command`` sets another text. After the ack the bot records the
    request, calls users.info, runs the command and posts the reply to the command's response_url.
bare
    A Bolt ``AsyncApp`` whose only listener acks ``/smarter``, served by the same Bolt aiohttp server
    (``AsyncSlackAppServer``) with the same signing secret, request verification and single-team token.

The Slack Web API and the response URLs are a stub in its own process on 127.0.0.1. Each server runs in
its own process, and the benchmark's process only sends the requests. Every round sends one burst to
each server, alternating which goes first, and waits until the server has finished the work of its
burst before the next burst starts.

Run from the repository root::

    python -m bench.slack_ack --rounds 20 --concurrency 50

The benchmark starts its subprocesses itself, as ``python -m bench.slack_ack stub`` and ``... serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import hmac
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.server import EVENTS_PATH, freeze_startup_heap, http_application
from bench.report import describe_machine, format_table
from bots.settings import Settings
from bots.slack_runner import build_slack
from bots.wiring import build_context, slack_config
from core.domain.text import TOKYO
from core.services import registration, tasks
from core.services.context import Actor, ServiceContext
from core.services.outbox import claim, complete

__all__ = ["APPS", "AppResult", "Latency", "SlackAckReport", "main"]

APPS = ("smarter", "bare")
TARGET_RATIO = 1.2
SLACK_ACK_SECONDS = 3.0  # Slack's time limit for acknowledging a slash command
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]

# Credentials of the benchmark only: the servers and the stub accept them, and nothing reaches Slack.
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench"
TEAM = "T0BENCH"
PARTNER_USER = "UPARTNER"
COMMAND = "/smarter"
PENDING_PATH = "/bench/pending"  # added to both servers: how many of their asyncio tasks are still running
MENU_FIELDS: dict[str, dict[str, Any]] = {
    "brainstorm": {},
    "practice": {"work_types": ("research",)},
    "contest": {"copyright": "応募作品の著作権は応募者に帰属します"},
}

DRAIN_POLL_SECONDS = 0.01


def member_user(number: int) -> str:
    """Return the Slack user id of member ``number``; every command in a run comes from another member."""
    return f"U{number:07d}"


# The Slack Web API stub


class _StubState:
    """Counts of the stub's requests: Web API calls by method, and posts to response URLs by app."""

    def __init__(self) -> None:
        self.methods: collections.Counter[str] = collections.Counter()
        self.replies: collections.Counter[str] = collections.Counter()
        self.reply_urls: dict[str, set[str]] = collections.defaultdict(set)
        self.reply_texts: collections.Counter[str] = collections.Counter()

    def stats(self) -> dict[str, Any]:
        return {
            "methods": dict(self.methods),
            "replies": dict(self.replies),
            "reply_urls": {app: len(urls) for app, urls in self.reply_urls.items()},
            # The distinct reply texts, at most 5, so the benchmark can check the replies' content.
            "reply_texts": [text for text, _ in self.reply_texts.most_common(5)],
        }


def stub_application() -> web.Application:
    """Build the stub: ``/api/{method}`` returns Slack-style responses, ``POST /response/{app}/...`` records a reply."""
    state = _StubState()

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        state.methods[method] += 1
        if method == "auth.test":
            payload: dict[str, Any] = {
                "ok": True,
                "url": "https://bench.slack.com/",
                "team": "Bench",
                "user": "smarter",
                "team_id": TEAM,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "is_enterprise_install": False,
            }
        elif method == "users.info":
            form = await request.post()
            user_id = str(request.query.get("user") or form.get("user", ""))
            payload = {
                "ok": True,
                "user": {"id": user_id, "team_id": TEAM, "name": user_id.lower(), "locale": "ja-JP", "is_bot": False},
            }
        else:
            payload = {"ok": True}
        return web.json_response(payload)

    async def response_url(request: web.Request) -> web.Response:
        app = request.match_info["app"]
        body = await request.json()
        state.replies[app] += 1
        state.reply_urls[app].add(request.path)
        state.reply_texts[str(body.get("text", ""))] += 1
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state.stats())

    application = web.Application()
    application.add_routes(
        [
            web.route("*", "/api/{method}", api),
            web.post("/response/{app}/{rest:.+}", response_url),
            web.get("/stats", stats),
        ]
    )
    return application


# The two servers


def seed(ctx: ServiceContext, members: int, task_count: int) -> None:
    """Register one partner with ``task_count`` open tasks and ``members`` members, in the benchmark's workspace."""
    partner = Actor("slack", TEAM, PARTNER_USER)
    registration.register_partner(ctx, partner, company="Bench 株式会社")
    deadline = (ctx.now().astimezone(TOKYO) + timedelta(days=30)).strftime("%Y/%m/%d")
    menus = list(MENU_FIELDS)
    for number in range(1, task_count + 1):
        menu = menus[number % len(menus)]
        spec = tasks.NewTask(menu=menu, title=f"Bench task {number}", deadline=deadline, **MENU_FIELDS[menu])
        tasks.create_task(ctx, partner, spec)
    for number in range(members):
        registration.register_member(ctx, Actor("slack", TEAM, member_user(number)), nickname=f"member-{number}")
    # The tasks queued channel openings and announcements; mark them delivered so the worker stays idle.
    while items := claim(ctx, worker="bench-seed", limit=500):
        complete(ctx, [item.id for item in items])


def smarter_application(database_url: str, api_url: str, members: int, task_count: int) -> web.Application:
    """Build the product's Slack server on a new database, and start its delivery worker."""
    settings = Settings(
        database_url=database_url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=api_url,
    )
    config = slack_config(settings)
    assert config is not None
    ctx = build_context(settings)
    seed(ctx, members, task_count)
    bot, worker = build_slack(ctx, config)
    worker.start()
    return http_application(bot)


def bare_application(api_url: str) -> web.Application:
    """Build a Bolt app whose only listener acks the slash command, on Bolt's own aiohttp server."""
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
        logger=logging.getLogger("slack_bolt"),
    )

    @app.command(COMMAND)
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    server = AsyncSlackAppServer(port=3000, path=EVENTS_PATH, app=app, host="127.0.0.1")
    return server.web_app


def _pending_route(baseline: set[asyncio.Task[Any]]) -> web.RouteDef:
    """Return GET /bench/pending: the tasks started after the server did, other than connection handlers."""

    async def pending(request: web.Request) -> web.Response:
        current = asyncio.current_task()
        running = [
            task
            for task in asyncio.all_tasks()
            if task is not current
            and task not in baseline
            and getattr(task.get_coro(), "__qualname__", "") != "RequestHandler.start"
        ]
        return web.json_response({"pending": len(running)})

    return web.get(PENDING_PATH, pending)


async def _serve(application: web.Application, *, with_pending: bool) -> None:
    """Serve ``application`` on a free port of 127.0.0.1, print its URL, and run until SIGTERM or SIGINT."""
    baseline: set[asyncio.Task[Any]] = set()
    if with_pending:
        application.add_routes([_pending_route(baseline)])
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    # Both servers start as adapters.slack.server.serve does, with the startup heap frozen for the collector.
    freeze_startup_heap()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    baseline.update(asyncio.all_tasks())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"http://{host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_main(argv: Sequence[str]) -> None:
    """Serve one of the two apps until terminated, after printing its URL as the first line of stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack serve")
    parser.add_argument("--app", choices=APPS, required=True)
    parser.add_argument("--api-url", required=True, help="base URL of the Web API stub, ending in /api/")
    parser.add_argument("--database-url", help="smarter: the new database to create and seed")
    parser.add_argument("--members", type=int, default=0, help="smarter: members to register")
    parser.add_argument("--tasks", type=int, default=0, help="smarter: open tasks to create")
    options = parser.parse_args(argv)
    # The level and format that `smarter-bot run` sets by default, for both servers.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if options.app == "smarter":
        if not options.database_url:
            parser.error("--database-url is required with --app smarter")
        application = smarter_application(options.database_url, options.api_url, options.members, options.tasks)
    else:
        application = bare_application(options.api_url)
    asyncio.run(_serve(application, with_pending=True))


def stub_main(argv: Sequence[str]) -> None:
    """Serve the Web API stub until terminated, after printing its URL as the first line of stdout."""
    argparse.ArgumentParser(prog="python -m bench.slack_ack stub").parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(stub_application(), with_pending=False))


@dataclass(frozen=True, slots=True)
class Child:
    """A subprocess of the benchmark: the URL it serves and its process id."""

    url: str
    pid: int


@contextmanager
def child_process(*arguments: str) -> Iterator[Child]:
    """Start ``python -m bench.slack_ack ARGUMENTS``, yield its URL and pid, and stop it when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.slack_ack", *arguments], cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(
                f"bench.slack_ack {arguments[0]} did not start: it printed {url!r} (exit code {process.poll()})"
            )
        yield Child(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def thread_cpu_seconds(pid: int) -> tuple[float, float] | None:
    """Return the CPU seconds (user + system) of a process's main thread and of its other threads.

    Read from /proc, so None on systems without it. A thread that has ended no longer counts.
    """
    tasks_dir = Path(f"/proc/{pid}/task")
    if not tasks_dir.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    main = other = 0.0
    for task in tasks_dir.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended after the listing
        # After the bracketed command name, fields[0] is field 3 of proc(5), so utime (14) and stime (15) are 11, 12.
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        if task.name == str(pid):
            main += seconds
        else:
            other += seconds
    return main, other


# The load generator


@dataclass(frozen=True, slots=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None  # None when the request failed without a response
    seconds: float
    error: str | None = None


def signed_command(text: str, user_id: str, response_url: str, trigger_id: str) -> SignedRequest:
    """Encode a slash command as Slack posts it and sign it: HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    body = urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "bench",
            "channel_id": "CGENERAL",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": COMMAND,
            "text": text,
            "api_app_id": "A0BENCH",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    ).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return SignedRequest(body, headers)


async def send_burst(
    session: aiohttp.ClientSession, url: str, requests: Sequence[SignedRequest], timeout: float
) -> list[Outcome]:
    """Send all ``requests`` at once and time each from sending to reading the whole response."""

    async def send(request: SignedRequest) -> Outcome:
        started = time.perf_counter()
        try:
            async with session.post(
                url, data=request.body, headers=request.headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                await response.read()
                return Outcome(response.status, time.perf_counter() - started)
        except (aiohttp.ClientError, TimeoutError) as error:
            return Outcome(None, time.perf_counter() - started, type(error).__name__)

    return list(await asyncio.gather(*(send(request) for request in requests)))


# Results


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of request times, in milliseconds."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        if not seconds:
            raise ValueError("no timings to summarize")
        milliseconds = sorted(value * 1000 for value in seconds)
        # statistics.quantiles needs at least two values, so a single timing is every percentile.
        if len(milliseconds) > 1:
            percentiles = statistics.quantiles(milliseconds, n=100, method="inclusive")
        else:
            percentiles = milliseconds * 99
        return cls(
            count=len(milliseconds),
            p50_ms=statistics.median(milliseconds),
            p90_ms=percentiles[89],
            p99_ms=percentiles[98],
            max_ms=milliseconds[-1],
            mean_ms=statistics.fmean(milliseconds),
        )


@dataclass(frozen=True, slots=True)
class AppResult:
    app: str
    requests: int
    acknowledged: int  # responses with HTTP 200
    errors: dict[str, int]  # other statuses and client errors, by kind
    latency: Latency
    round_p50_ms: tuple[float, ...]
    work_ms: Latency | None  # per burst: from its first request until the server finished its work
    # Server CPU per request over the timed rounds, work after the ack included; None without /proc.
    main_thread_cpu_ms: float | None
    other_threads_cpu_ms: float | None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True, slots=True)
class SlackAckReport:
    rounds: int
    warmup_rounds: int
    concurrency: int
    command: str
    members: int
    tasks: int
    machine: dict[str, Any]
    apps: tuple[AppResult, ...]
    replies_expected: int  # smarter-bot commands sent, warm-up included: each must get one reply
    reply_urls: int  # distinct response URLs of smarter-bot commands that received a reply
    replies: int  # posts to those URLs
    replies_to_bare: int
    reply_texts: list[str]
    api_calls: dict[str, int]

    @property
    def p50_ratio(self) -> float:
        return self.app("smarter").latency.p50_ms / self.app("bare").latency.p50_ms

    @property
    def p99_ratio(self) -> float:
        return self.app("smarter").latency.p99_ms / self.app("bare").latency.p99_ms

    def app(self, name: str) -> AppResult:
        return next(result for result in self.apps if result.app == name)

    @property
    def complete(self) -> bool:
        """Every request got its 200, and every smarter-bot command got its reply after the ack."""
        return (
            all(result.error_count == 0 and result.acknowledged == result.requests for result in self.apps)
            and self.reply_urls == self.replies_expected
            and self.replies_to_bare == 0
        )

    @property
    def within_target(self) -> bool:
        return (
            self.p50_ratio <= TARGET_RATIO
            and self.p99_ratio <= TARGET_RATIO
            and self.app("smarter").latency.p99_ms < SLACK_ACK_SECONDS * 1000
        )


# The run


class _Recorder:
    """Outcomes of the timed rounds for one app."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.outcomes: list[Outcome] = []
        self.round_p50: list[float] = []
        self.work_seconds: list[float] = []
        self.cpu_before: tuple[float, float] | None = None
        self.cpu_after: tuple[float, float] | None = None

    def result(self) -> AppResult:
        errors: collections.Counter[str] = collections.Counter()
        for outcome in self.outcomes:
            if outcome.status != 200:
                errors[outcome.error or f"HTTP {outcome.status}"] += 1
        main_cpu = other_cpu = None
        if self.cpu_before is not None and self.cpu_after is not None and self.outcomes:
            main_cpu = (self.cpu_after[0] - self.cpu_before[0]) * 1000 / len(self.outcomes)
            other_cpu = (self.cpu_after[1] - self.cpu_before[1]) * 1000 / len(self.outcomes)
        return AppResult(
            app=self.app,
            requests=len(self.outcomes),
            acknowledged=sum(1 for outcome in self.outcomes if outcome.status == 200),
            errors=dict(errors),
            latency=Latency.of([outcome.seconds for outcome in self.outcomes]),
            round_p50_ms=tuple(self.round_p50),
            work_ms=Latency.of(self.work_seconds) if self.work_seconds else None,
            main_thread_cpu_ms=main_cpu,
            other_threads_cpu_ms=other_cpu,
        )


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        response.raise_for_status()
        return await response.json()  # type: ignore[no-any-return]


async def wait_for_work(
    session: aiohttp.ClientSession, server_url: str, stub_url: str, app: str, replies: int, timeout: float
) -> None:
    """Wait until the stub has ``replies`` replies from ``app`` and the server has no request task left running."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await _get_json(session, f"{stub_url}/stats")
        if stats["replies"].get(app, 0) >= replies:
            pending = (await _get_json(session, f"{server_url}{PENDING_PATH}"))["pending"]
            if pending == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the {app} server did not finish its work within {timeout:.0f} s: the stub received "
                f"{stats['replies'].get(app, 0)} of {replies} replies; stub stats {stats}"
            )
        await asyncio.sleep(DRAIN_POLL_SECONDS)


def burst_requests(options: argparse.Namespace, stub_url: str, app: str, burst: int) -> list[SignedRequest]:
    """Sign the commands of one burst: request ``index`` of burst ``burst`` comes from its own member.

    Both apps get the same user ids in the same positions. Each command has its own response URL and
    trigger id, which smarter-bot uses as the request id that makes a retried command run once.
    """
    requests = []
    for index in range(options.concurrency):
        number = burst * options.concurrency + index
        requests.append(
            signed_command(
                options.command,
                member_user(number),
                response_url=f"{stub_url}/response/{app}/{burst}/{index}",
                trigger_id=f"{number}.{burst}.{app}",
            )
        )
    return requests


async def run_rounds(
    options: argparse.Namespace, servers: dict[str, Child], stub_url: str
) -> tuple[dict[str, _Recorder], dict[str, Any], int]:
    """Send the warm-up and timed bursts to both servers in alternating order.

    Return the recorders, the stub's stats after the last burst, and the number of smarter-bot commands sent.
    """
    recorders = {app: _Recorder(app) for app in APPS}
    smarter_commands = 0
    # force_close: every request opens a new connection, as separate deliveries from Slack would.
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for burst in range(options.warmup_rounds + options.rounds):
            timed = burst >= options.warmup_rounds
            if burst == options.warmup_rounds:
                for app, recorder in recorders.items():
                    recorder.cpu_before = thread_cpu_seconds(servers[app].pid)
            order = APPS if burst % 2 == 0 else APPS[::-1]
            for app in order:
                requests = burst_requests(options, stub_url, app, burst)
                started = time.perf_counter()
                url = servers[app].url
                outcomes = await send_burst(session, f"{url}{EVENTS_PATH}", requests, options.timeout)
                if app == "smarter":
                    smarter_commands += len(requests)
                replies = smarter_commands if app == "smarter" else 0
                await wait_for_work(session, url, stub_url, app, replies, options.work_timeout)
                work_seconds = time.perf_counter() - started
                if not timed:
                    continue
                recorder = recorders[app]
                recorder.outcomes.extend(outcomes)
                recorder.round_p50.append(statistics.median(outcome.seconds * 1000 for outcome in outcomes))
                if app == "smarter":
                    recorder.work_seconds.append(work_seconds)
            if timed:
                print(f"round {burst - options.warmup_rounds + 1} of {options.rounds} done", flush=True)
        for app, recorder in recorders.items():
            recorder.cpu_after = thread_cpu_seconds(servers[app].pid)
        stats = await _get_json(session, f"{stub_url}/stats")
    return recorders, stats, smarter_commands


def _cpu_cell(milliseconds: float | None) -> str:
    return "n/a" if milliseconds is None else f"{milliseconds:.2f}"


def latency_table(report: SlackAckReport) -> str:
    """Format one row per app: requests, errors, time percentiles and server CPU per request."""
    rows = []
    for result in report.apps:
        latency = result.latency
        rows.append(
            (
                result.app,
                result.requests,
                result.acknowledged,
                result.error_count,
                f"{latency.p50_ms:.1f}",
                f"{latency.p90_ms:.1f}",
                f"{latency.p99_ms:.1f}",
                f"{latency.max_ms:.1f}",
                f"{min(result.round_p50_ms):.1f}-{max(result.round_p50_ms):.1f}",
                _cpu_cell(result.main_thread_cpu_ms),
                _cpu_cell(result.other_threads_cpu_ms),
            )
        )
    header = (
        "app",
        "requests",
        "HTTP 200",
        "errors",
        "p50",
        "p90",
        "p99",
        "max",
        "p50 per round",
        "CPU main thread",
        "CPU other threads",
    )
    return format_table(header, rows)


def ratio_table(report: SlackAckReport) -> str:
    rows = [
        ("p50", f"{report.p50_ratio:.2f}x", "yes" if report.p50_ratio <= TARGET_RATIO else "NO"),
        ("p99", f"{report.p99_ratio:.2f}x", "yes" if report.p99_ratio <= TARGET_RATIO else "NO"),
    ]
    return format_table(("ratio smarter/bare", "value", f"<= {TARGET_RATIO}x"), rows)


def print_report(report: SlackAckReport) -> None:
    print()
    print(
        f"`{COMMAND} {report.command}` in {report.rounds} rounds of {report.concurrency} concurrent requests per "
        f"app, after {report.warmup_rounds} warm-up round(s)"
    )
    print(
        "Times from sending to the HTTP response, in ms. "
        "Server CPU per request, in ms, including the work after the ack."
    )
    print(latency_table(report))
    print(ratio_table(report))

    work = report.app("smarter").work_ms
    if work is not None:
        print(
            f"smarter-bot burst from the first request to the last reply: p50 {work.p50_ms:.0f} ms, "
            f"max {work.max_ms:.0f} ms"
        )
    smarter_p99 = report.app("smarter").latency.p99_ms
    print(
        f"smarter-bot p99 {smarter_p99:.0f} ms against Slack's {SLACK_ACK_SECONDS * 1000:.0f} ms limit; "
        f"replies after the ack: {report.reply_urls} of {report.replies_expected} commands "
        f"({report.replies} posts); replies to the bare app: {report.replies_to_bare}"
    )
    print(f"Web API calls: {report.api_calls}")

    summary = {
        "benchmark": "slack_ack",
        **asdict(report),
        "p50_ratio": report.p50_ratio,
        "p99_ratio": report.p99_ratio,
        "complete": report.complete,
        "within_target": report.within_target,
    }
    print(json.dumps(summary, ensure_ascii=False))


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds, one burst per app each (default 20)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests sent at once per burst (default 50)")
    parser.add_argument("--warmup-rounds", type=int, default=1, help="untimed rounds before the timed ones (default 1)")
    parser.add_argument("--command", default="task list", help="text after /smarter (default: task list)")
    parser.add_argument("--tasks", type=int, default=10, help="open tasks in the smarter-bot database (default 10)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request fails (default 10)")
    parser.add_argument(
        "--work-timeout",
        type=float,
        default=120.0,
        help="seconds a server may take to finish the work of one burst (default 120)",
    )
    options = parser.parse_args(argv)
    if options.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {options.rounds}")
    if options.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, not {options.concurrency}")
    if options.warmup_rounds < 0:
        parser.error(f"--warmup-rounds must be at least 0, not {options.warmup_rounds}")
    if options.tasks < 0:
        parser.error(f"--tasks must be at least 0, not {options.tasks}")
    return options


def main(argv: Sequence[str] | None = None) -> SlackAckReport:
    """Run the benchmark with command-line ``argv``, print the tables and JSON line, and return the report."""
    options = parse_arguments(argv)
    # One member per position in the run's bursts, so every smarter-bot command comes from another member.
    members = (options.rounds + options.warmup_rounds) * options.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-slack-ack-") as scratch, ExitStack() as processes:
        stub_url = processes.enter_context(child_process("stub")).url
        api_url = f"{stub_url}/api/"
        database_url = f"sqlite:///{scratch}/smarter-bot.db"
        started = time.perf_counter()
        servers = {
            "smarter": processes.enter_context(
                child_process(
                    "serve",
                    "--app",
                    "smarter",
                    "--api-url",
                    api_url,
                    "--database-url",
                    database_url,
                    "--members",
                    str(members),
                    "--tasks",
                    str(options.tasks),
                )
            ),
            "bare": processes.enter_context(child_process("serve", "--app", "bare", "--api-url", api_url)),
        }
        print(
            f"servers started in {time.perf_counter() - started:.1f} s, with {members:,} members "
            f"and {options.tasks} tasks",
            flush=True,
        )
        recorders, stats, replies_expected = asyncio.run(run_rounds(options, servers, stub_url))

    report = SlackAckReport(
        rounds=options.rounds,
        warmup_rounds=options.warmup_rounds,
        concurrency=options.concurrency,
        command=options.command,
        members=members,
        tasks=options.tasks,
        machine=describe_machine(),
        apps=tuple(recorders[app].result() for app in APPS),
        replies_expected=replies_expected,
        reply_urls=stats["reply_urls"].get("smarter", 0),
        replies=stats["replies"].get("smarter", 0),
        replies_to_bare=stats["replies"].get("bare", 0),
        reply_texts=stats["reply_texts"],
        api_calls=stats["methods"],
    )
    print_report(report)
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve_main(sys.argv[2:])
    elif sys.argv[1:2] == ["stub"]:
        stub_main(sys.argv[2:])
    else:
        raise SystemExit(0 if main().complete else 1)
