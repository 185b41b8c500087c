"""Benchmark the fan-out of one ranking announcement to many channels through the outbox.

One ``ranking.announcement`` outbox row per channel is delivered by ``core.services.fanout.OutboxDispatcher``
to a fake chat target, which posts each announcement as two messages (the ranking text, then the chart
image). The target runs in its own process and rate-limits like a chat platform: per channel a token
bucket (1 message per second, bursts of 3), and optionally one bucket for all channels. Beyond a limit it
responds with 429 and a Retry-After header in whole seconds, rounded up.

Two runs per database:

uninterrupted
    The dispatcher runs in this process until the outbox is empty. The time is compared with the
    rate-limit floor: the shortest time in which the target's limits accept every message.
killed and restarted
    A dispatcher runs in a subprocess and is killed with SIGKILL once about half of the messages were
    accepted. A second subprocess then delivers the rest, including the first one's claimed items after
    their lease ends, which it checks with the target before sending.

Both runs must end with every message accepted exactly once (no duplicates, no drops).

Run from the repository root::

    python -m bench.announcement_fanout --channels 1000 --backend both

The fake target and the HTTP sender are also used by ``tests/test_fanout.py``. The benchmark starts
its subprocesses itself, as ``python -m bench.announcement_fanout serve`` and ``... dispatch``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine, func, select, text

from bench.dataset import BACKENDS, DEFAULT_POSTGRES_URL, fresh_database
from bench.report import database_version, describe_machine, format_table
from core.domain.text import TOKYO
from core.services.context import ServiceContext
from core.services.fanout import DispatchStats, OutboxDispatcher, RateLimited
from core.services.outbox import OutboxItem, PermanentDeliveryError, enqueue
from core.storage.db import create_db_engine, create_session_factory
from core.storage.models import OutboxMessage

__all__ = [
    "KIND",
    "AnnouncementFanoutReport",
    "ChatTarget",
    "HttpChatSender",
    "TargetEvent",
    "TargetLimits",
    "announcement_key",
    "main",
]

KIND = "ranking.announcement"
SCHEDULE = "weekly"
SLOT = datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO)
PLATFORM = "slack"
WORKSPACE = "T0BENCH"
TARGET_PERCENT = 90.0
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
KILL_POLL_INTERVAL = 0.02  # seconds between reads of the target's accepted count before the kill
CHILD_TIMEOUT = 900.0  # seconds a dispatcher subprocess may run before the benchmark gives up


def announcement_key(channel: str, *, schedule: str = SCHEDULE, slot: datetime = SLOT) -> str:
    """Return the delivery key of the announcement of ``schedule`` at ``slot`` to ``channel``."""
    return f"announce:{schedule}:{slot:%Y%m%dT%H%M}:{channel}"


def channel_refs(count: int) -> list[str]:
    return [f"{PLATFORM}:{WORKSPACE}:C{number:06d}" for number in range(1, count + 1)]


# The fake chat target


@dataclass(frozen=True, slots=True)
class TargetLimits:
    """Posting limits of the fake target, in messages per second and messages per burst."""

    channel_rate: float = 1.0
    channel_burst: int = 3
    global_rate: float | None = None  # None: no limit across channels
    global_burst: int = 1

    def floor_seconds(self, channels: int, messages_per_channel: int) -> float:
        """Return the shortest time in which these limits accept ``messages_per_channel`` on each channel.

        Every bucket starts full, so a channel needs (messages - burst) / rate seconds, and all channels
        together need (all messages - global burst) / global rate. The larger one is the floor.
        """
        channel_floor = max(0, messages_per_channel - self.channel_burst) / self.channel_rate
        if self.global_rate is None:
            return channel_floor
        global_floor = max(0, channels * messages_per_channel - self.global_burst) / self.global_rate
        return max(channel_floor, global_floor)


class _TokenBucket:
    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.refilled_at = now

    def wait(self, now: float) -> float:
        """Return the seconds until one token is available (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class TargetEvent:
    """One post request as the target handled it; ``at`` is the target's ``time.monotonic()``."""

    at: float
    channel: str
    delivery_key: str
    part: int
    status: int  # 200 accepted, 429 rate limited, 404 unknown channel
    retry_after: int | None = None
    is_global: bool = False


class _TargetState:
    """Buckets, accepted messages and the request log of the fake target, shared by its handler threads."""

    def __init__(self, limits: TargetLimits, missing_channels: Collection[str]) -> None:
        self.limits = limits
        self.missing_channels = frozenset(missing_channels)
        self.lock = threading.Lock()
        self.events: list[TargetEvent] = []
        self.accepted_parts: dict[tuple[str, str], set[int]] = {}  # (channel, delivery key) -> parts
        self.accepted_count = 0
        self._channels: dict[str, _TokenBucket] = {}
        self._global: _TokenBucket | None = None
        if limits.global_rate is not None:
            self._global = _TokenBucket(limits.global_rate, limits.global_burst, time.monotonic())

    def post(self, channel: str, delivery_key: str, part: int) -> TargetEvent:
        with self.lock:
            now = time.monotonic()
            if channel in self.missing_channels:
                event = TargetEvent(now, channel, delivery_key, part, HTTPStatus.NOT_FOUND)
                self.events.append(event)
                return event
            bucket = self._channels.get(channel)
            if bucket is None:
                bucket = _TokenBucket(self.limits.channel_rate, self.limits.channel_burst, now)
                self._channels[channel] = bucket
            channel_wait = bucket.wait(now)
            global_wait = self._global.wait(now) if self._global is not None else 0.0
            if channel_wait > 0 or global_wait > 0:
                is_global = global_wait > channel_wait
                # Retry-After carries whole seconds (RFC 9110 delay-seconds), rounded up.
                retry_after = max(1, math.ceil(max(channel_wait, global_wait)))
                event = TargetEvent(
                    now, channel, delivery_key, part, HTTPStatus.TOO_MANY_REQUESTS, retry_after, is_global
                )
                self.events.append(event)
                return event

            bucket.tokens -= 1
            if self._global is not None:
                self._global.tokens -= 1
            self.accepted_parts.setdefault((channel, delivery_key), set()).add(part)
            self.accepted_count += 1
            event = TargetEvent(now, channel, delivery_key, part, HTTPStatus.OK)
            self.events.append(event)
            return event

    def parts(self, channel: str, delivery_key: str) -> list[int]:
        with self.lock:
            return sorted(self.accepted_parts.get((channel, delivery_key), ()))

    def snapshot(self) -> list[TargetEvent]:
        with self.lock:
            return list(self.events)


class _TargetHandler(BaseHTTPRequestHandler):
    """The target's HTTP API.

    ``POST /messages`` with ``{"channel", "delivery_key", "part", "text"}`` posts one message.
    ``GET /history?channel=…&delivery_key=…`` returns the parts of that delivery the channel holds, as
    reading a channel's history for the metadata of its messages would. ``GET /events`` returns every
    post request, ``GET /stats`` the number of accepted messages.
    """

    protocol_version = "HTTP/1.1"  # keep-alive, so the client does not open a connection per message
    server: _TargetServer

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/messages":
            self._reply(HTTPStatus.NOT_FOUND, {"ok": False, "error": "unknown_method"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            channel, delivery_key, part = str(body["channel"]), str(body["delivery_key"]), int(body["part"])
        except (ValueError, KeyError, TypeError) as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"invalid_request: {error}"})
            return

        event = self.server.state.post(channel, delivery_key, part)
        if event.status == HTTPStatus.TOO_MANY_REQUESTS:
            reply = {"ok": False, "error": "ratelimited", "global": event.is_global}
            self._reply(event.status, reply, {"Retry-After": str(event.retry_after)})
        elif event.status == HTTPStatus.NOT_FOUND:
            self._reply(event.status, {"ok": False, "error": "channel_not_found"})
        else:
            self._reply(event.status, {"ok": True})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/history":
            query = parse_qs(url.query)
            channel, delivery_key = query.get("channel", [""])[0], query.get("delivery_key", [""])[0]
            self._reply(HTTPStatus.OK, {"ok": True, "parts": state.parts(channel, delivery_key)})
        elif url.path == "/events":
            self._reply(HTTPStatus.OK, {"ok": True, "events": [asdict(event) for event in state.snapshot()]})
        elif url.path == "/stats":
            with state.lock:
                self._reply(HTTPStatus.OK, {"ok": True, "accepted": state.accepted_count})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"ok": False, "error": "unknown_method"})

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the request log off stderr; the target records requests in its state instead."""


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog of 5 resets connections when a client opens dozens at once.
    request_queue_size = 256

    def __init__(self, state: _TargetState) -> None:
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a client that went away mid-request, as a killed dispatcher does; report other errors."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ChatTarget:
    """The fake chat target on a free port of 127.0.0.1, served by a background thread of this process.

    Use it as a context manager; ``url`` is its base URL and ``events()`` the requests it handled.
    Posts to channels in ``missing_channels`` get 404, as posts to a removed channel would.
    """

    def __init__(self, limits: TargetLimits, missing_channels: Collection[str] = ()) -> None:
        self.state = _TargetState(limits, missing_channels)
        self._server = _TargetServer(self.state)
        # A short poll interval lets shutdown() return quickly when a test ends.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="chat-target", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ChatTarget:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def events(self) -> list[TargetEvent]:
        return self.state.snapshot()


# The sender


class HttpChatSender:
    """A ``Sender`` that posts each announcement to the fake target as ``messages`` messages in order.

    Each message carries the delivery key and its part number, so ``was_delivered`` can read which parts
    a channel already holds. Parts accepted once are not posted again: after a 429 the dispatcher sends
    the item again, and only the missing parts go out.
    """

    def __init__(self, client: httpx.AsyncClient, *, messages: int = 2) -> None:
        self.client = client
        self.messages = messages
        self._accepted: dict[str, set[int]] = {}  # delivery key -> parts accepted, for items not yet complete

    def destination(self, item: OutboxItem) -> str:
        return str(item.payload["target"])

    async def send(self, item: OutboxItem) -> None:
        channel = self.destination(item)
        accepted = self._accepted.setdefault(item.delivery_key, set())
        for part in range(1, self.messages + 1):
            if part in accepted:
                continue
            body = {
                "channel": channel,
                "delivery_key": item.delivery_key,
                "part": part,
                "text": _message_text(item, part),
            }
            response = await self.client.post("/messages", json=body)
            if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
                retry_after = float(response.headers.get("Retry-After", "1"))
                raise RateLimited(channel, retry_after, is_global=bool(response.json().get("global")))
            if response.status_code == HTTPStatus.NOT_FOUND:
                raise PermanentDeliveryError(f"channel {channel} not found for delivery {item.delivery_key}")
            response.raise_for_status()
            accepted.add(part)
        del self._accepted[item.delivery_key]

    async def was_delivered(self, item: OutboxItem) -> bool:
        params = {"channel": self.destination(item), "delivery_key": item.delivery_key}
        response = await self.client.get("/history", params=params)
        response.raise_for_status()
        parts = {int(part) for part in response.json()["parts"]}
        self._accepted[item.delivery_key] = parts
        return parts >= set(range(1, self.messages + 1))


def _message_text(item: OutboxItem, part: int) -> str:
    if part == 1:
        return f"{item.payload['schedule']} ranking for {item.payload['slot']}"
    return f"chart image {part - 1} of {item.delivery_key}"


def http_client(url: str, concurrency: int) -> httpx.AsyncClient:
    """Return a client for the target with one keep-alive connection per concurrent send."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0), limits=limits)


# Benchmark runs


@dataclass(frozen=True, slots=True)
class DeliveryCheck:
    """Counts of accepted messages and outbox rows after a run, for the exactly-once check."""

    expected_messages: int
    accepted_messages: int
    duplicates: int  # accepted messages beyond the first of each (delivery key, part)
    drops: int  # expected (delivery key, part) pairs that never arrived
    rate_limited: int  # 429 answers
    rows_delivered: int
    rows_failed: int
    rows_pending: int

    @property
    def exactly_once(self) -> bool:
        return self.duplicates == 0 and self.drops == 0 and self.rows_failed == 0 and self.rows_pending == 0


@dataclass(frozen=True, slots=True)
class FanoutRun:
    name: str
    seconds: float
    floor_seconds: float
    check: DeliveryCheck
    killed_after_seconds: float | None = None
    accepted_before_kill: int | None = None
    stats: dict[str, int] = field(default_factory=dict)  # DispatchStats of the (last) dispatcher

    @property
    def messages_per_second(self) -> float:
        return self.check.accepted_messages / self.seconds

    @property
    def percent_of_allowed(self) -> float | None:
        """The floor as a percentage of the measured time, or None when the limits allow all at once."""
        return 100 * self.floor_seconds / self.seconds if self.floor_seconds > 0 else None


@dataclass(frozen=True, slots=True)
class BackendResult:
    backend: str
    database: str
    runs: tuple[FanoutRun, ...]


@dataclass(frozen=True, slots=True)
class AnnouncementFanoutReport:
    channels: int
    messages: int
    limits: TargetLimits
    concurrency: int
    batch: int
    lease_seconds: float
    machine: dict[str, Any]
    backends: tuple[BackendResult, ...]

    @property
    def exactly_once(self) -> bool:
        return all(run.check.exactly_once for backend in self.backends for run in backend.runs)


def enqueue_announcement(ctx: ServiceContext, channels: Sequence[str]) -> list[str]:
    """Write one announcement row per channel in one transaction, as the scheduler does, and return the keys."""
    keys = []
    with ctx.transaction() as session:
        for channel in channels:
            key = announcement_key(channel)
            enqueue(session, key=key, kind=KIND, schedule=SCHEDULE, slot=SLOT.isoformat(), target=channel)
            keys.append(key)
    return keys


def pending_rows(ctx: ServiceContext) -> int:
    with ctx.transaction() as session:
        statement = select(func.count()).where(
            OutboxMessage.kind == KIND, OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)
        )
        return int(session.scalar(statement) or 0)


def dispatcher_for(
    ctx: ServiceContext, sender: HttpChatSender, options: argparse.Namespace, worker: str, *, paced: bool = False
) -> OutboxDispatcher:
    """Build the dispatcher with pacing that matches the target's per-channel limit for multi-message items.

    ``paced`` also paces all channels together to the target's limit across channels: one item every
    messages / rate seconds and no burst, so that the target's bucket stays full and absorbs the jitter
    between the two processes.
    """
    global_interval = options.messages / options.global_rate if paced else 0.0
    return OutboxDispatcher(
        ctx,
        sender,
        kinds={KIND},
        worker_id=worker,
        concurrency=options.concurrency,
        batch=options.batch,
        lease=timedelta(seconds=options.lease),
        per_destination_interval=options.messages / options.channel_rate,
        per_destination_burst=max(1, options.channel_burst // options.messages),
        global_interval=global_interval,
    )


async def deliver_all(
    ctx: ServiceContext, target_url: str, options: argparse.Namespace, worker: str, *, paced: bool = False
) -> DispatchStats:
    """Run the dispatcher until no announcement row is pending, and return the summed counts of its runs.

    Rows claimed by a dead worker become due only when their lease ends, so a run that finds nothing due
    is followed by another after a short pause.
    """
    total = DispatchStats()
    async with http_client(target_url, options.concurrency) as client:
        sender = HttpChatSender(client, messages=options.messages)
        dispatcher = dispatcher_for(ctx, sender, options, worker, paced=paced)
        while True:
            stats = await dispatcher.run_once()
            for name in DispatchStats.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if not await asyncio.to_thread(pending_rows, ctx):
                return total
            await asyncio.sleep(0.2)


def check_delivery(
    ctx: ServiceContext, events: Sequence[TargetEvent], keys: Collection[str], messages: int
) -> DeliveryCheck:
    accepted = Counter((event.delivery_key, event.part) for event in events if event.status == HTTPStatus.OK)
    expected = {(key, part) for key in keys for part in range(1, messages + 1)}
    with ctx.transaction() as session:
        statement = select(
            func.count().filter(OutboxMessage.delivered_at.is_not(None)),
            func.count().filter(OutboxMessage.failed_at.is_not(None)),
            func.count().filter(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)),
        ).where(OutboxMessage.kind == KIND)
        delivered, failed, pending = session.execute(statement).one()
    return DeliveryCheck(
        expected_messages=len(expected),
        accepted_messages=sum(accepted.values()),
        duplicates=sum(count - 1 for count in accepted.values()),
        drops=len(expected - set(accepted)),
        rate_limited=sum(1 for event in events if event.status == HTTPStatus.TOO_MANY_REQUESTS),
        rows_delivered=int(delivered),
        rows_failed=int(failed),
        rows_pending=int(pending),
    )


def limits_of(options: argparse.Namespace) -> TargetLimits:
    global_rate = options.global_rate or None
    return TargetLimits(
        channel_rate=options.channel_rate,
        channel_burst=options.channel_burst,
        global_rate=global_rate,
        global_burst=options.global_burst or max(1, int(options.global_rate)),
    )


def _module_command(role: str, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "bench.announcement_fanout", role, *arguments]


@contextmanager
def target_process(options: argparse.Namespace) -> Iterator[str]:
    """Start the fake target in its own process, yield its URL, and stop it when the block ends."""
    limits = limits_of(options)
    arguments = ["--channel-rate", str(limits.channel_rate), "--channel-burst", str(limits.channel_burst)]
    if limits.global_rate is not None:
        arguments += ["--global-rate", str(limits.global_rate), "--global-burst", str(limits.global_burst)]
    process = subprocess.Popen(
        _module_command("serve", *arguments), cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake target did not start: it printed {url!r} (exit code {process.poll()})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch_events(url: str) -> list[TargetEvent]:
    response = httpx.get(f"{url}/events", timeout=30)
    response.raise_for_status()
    return [TargetEvent(**event) for event in response.json()["events"]]


def fetch_accepted(url: str) -> int:
    response = httpx.get(f"{url}/stats", timeout=10)
    response.raise_for_status()
    return int(response.json()["accepted"])


def database_arguments(engine: Engine) -> list[str]:
    """Return the ``dispatch`` arguments that reach the database behind ``engine`` from a subprocess."""
    arguments = ["--database-url", engine.url.render_as_string(hide_password=False)]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            arguments += ["--schema", str(connection.execute(text("SELECT current_schema()")).scalar_one())]
    return arguments


def dispatch_arguments(options: argparse.Namespace) -> list[str]:
    return [
        "--messages",
        str(options.messages),
        "--channel-rate",
        str(options.channel_rate),
        "--channel-burst",
        str(options.channel_burst),
        "--concurrency",
        str(options.concurrency),
        "--batch",
        str(options.batch),
        "--lease",
        str(options.lease),
    ]


def run_uninterrupted(
    ctx: ServiceContext, target_url: str, options: argparse.Namespace, keys: list[str], floor: float, *, paced: bool
) -> FanoutRun:
    started = time.perf_counter()
    stats = asyncio.run(deliver_all(ctx, target_url, options, "bench-dispatcher", paced=paced))
    seconds = time.perf_counter() - started
    check = check_delivery(ctx, fetch_events(target_url), keys, options.messages)
    name = "uninterrupted, paced" if paced else "uninterrupted"
    return FanoutRun(name, seconds, floor, check, stats=asdict(stats))


def run_killed_and_restarted(
    ctx: ServiceContext, engine: Engine, target_url: str, options: argparse.Namespace, keys: list[str], floor: float
) -> FanoutRun:
    """Kill a dispatcher subprocess with SIGKILL after ``--kill-after`` of the messages, then restart it."""
    common = [*database_arguments(engine), "--target", target_url, *dispatch_arguments(options)]
    kill_at = math.ceil(options.kill_after * len(keys) * options.messages)
    started = time.perf_counter()
    first = subprocess.Popen(_module_command("dispatch", *common, "--worker", "bench-first"), cwd=REPOSITORY_ROOT)
    try:
        while (accepted := fetch_accepted(target_url)) < kill_at and first.poll() is None:
            time.sleep(KILL_POLL_INTERVAL)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=CHILD_TIMEOUT)
    killed_after = time.perf_counter() - started
    if first.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the first dispatcher ended before the kill, with exit code {first.returncode}")

    second = subprocess.run(
        _module_command("dispatch", *common, "--worker", "bench-restarted"),
        cwd=REPOSITORY_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    seconds = time.perf_counter() - started
    stats = json.loads(second.stdout.strip().splitlines()[-1])
    check = check_delivery(ctx, fetch_events(target_url), keys, options.messages)
    return FanoutRun("killed and restarted", seconds, floor, check, killed_after, accepted, stats)


def run_backend(backend: str, options: argparse.Namespace) -> BackendResult:
    """Measure each run on a fresh database of ``backend``, against a fresh target process.

    The paced run is left out when the target has no limit across channels.
    """
    floor = limits_of(options).floor_seconds(options.channels, options.messages)
    channels = channel_refs(options.channels)
    names = ["uninterrupted", "uninterrupted, paced", "killed and restarted"]
    if not options.global_rate:
        names.remove("uninterrupted, paced")
    runs = []
    database = ""
    for name in names:
        with fresh_database(backend, options.postgres_url) as engine, target_process(options) as target_url:
            database = database_version(engine)
            ctx = ServiceContext(session_factory=create_session_factory(engine), rubrics={})
            keys = enqueue_announcement(ctx, channels)
            if name == "killed and restarted":
                run = run_killed_and_restarted(ctx, engine, target_url, options, keys, floor)
            else:
                run = run_uninterrupted(ctx, target_url, options, keys, floor, paced=name.endswith("paced"))
        print(f"{backend}: {name} run took {run.seconds:.1f} s", flush=True)
        runs.append(run)
    return BackendResult(backend=backend, database=database, runs=tuple(runs))


def _target_mark(run: FanoutRun) -> str:
    """Return whether an uninterrupted run reached the target share of the allowed rate.

    The killed run includes two process starts and the wait for the lease, so the target does not apply.
    """
    percent = run.percent_of_allowed
    if run.killed_after_seconds is not None or percent is None:
        return "-"
    return "yes" if percent >= TARGET_PERCENT else "NO"


def print_report(report: AnnouncementFanoutReport) -> None:
    rows = []
    for backend in report.backends:
        for run in backend.runs:
            percent = run.percent_of_allowed
            rows.append(
                (
                    backend.backend,
                    run.name,
                    f"{run.seconds:.1f}",
                    f"{run.floor_seconds:.1f}",
                    f"{run.messages_per_second:.1f}",
                    "n/a" if percent is None else f"{percent:.1f}",
                    _target_mark(run),
                    run.check.rate_limited,
                    run.check.duplicates,
                    run.check.drops,
                    "yes" if run.check.exactly_once else "NO",
                )
            )
    limits = report.limits
    global_limit = (
        f"{limits.global_rate:g} messages/s across channels, burst {limits.global_burst}"
        if limits.global_rate is not None
        else "no limit across channels"
    )
    print()
    print(
        f"Announcement to {report.channels:,} channels, {report.messages} messages each; target limits: "
        f"{limits.channel_rate:g} message/s per channel, burst {limits.channel_burst}; {global_limit}"
    )
    print(
        f"Dispatcher: concurrency {report.concurrency}, batch {report.batch}, lease {report.lease_seconds:g} s; "
        f"% of allowed = floor / time"
    )
    header = (
        "backend",
        "run",
        "seconds",
        "floor s",
        "msg/s",
        "% of allowed",
        f">= {TARGET_PERCENT:.0f} %",
        "429s",
        "duplicates",
        "drops",
        "once",
    )
    print(format_table(header, rows))
    for backend in report.backends:
        for run in backend.runs:
            if run.killed_after_seconds is not None:
                print(
                    f"{backend.backend}: killed after {run.killed_after_seconds:.1f} s with "
                    f"{run.accepted_before_kill:,} messages accepted; the restarted dispatcher: {run.stats}"
                )
    print(json.dumps({"benchmark": "announcement_fanout", **asdict(report), "exactly_once": report.exactly_once}))


# Command line


def _add_dispatcher_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2, help="messages per announcement (default 2)")
    parser.add_argument("--channel-rate", type=float, default=1.0, help="target: messages/s per channel (default 1)")
    parser.add_argument("--channel-burst", type=int, default=3, help="target: burst per channel (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="dispatcher: sends at once (default 32)")
    parser.add_argument("--batch", type=int, default=200, help="dispatcher: items per claim (default 200)")
    parser.add_argument("--lease", type=float, default=30.0, help="dispatcher: claim lease in seconds (default 30)")


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.announcement_fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1000, help="announcement channels (default 1000)")
    _add_dispatcher_options(parser)
    parser.add_argument(
        "--global-rate",
        type=float,
        default=50.0,
        help="target: messages/s across all channels, 0 for none (default 50, Discord's documented global limit)",
    )
    parser.add_argument(
        "--global-burst", type=int, default=0, help="target: burst across channels (default: one second's worth)"
    )
    parser.add_argument(
        "--kill-after", type=float, default=0.5, help="share of the messages accepted before the kill (default 0.5)"
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both", help="database to run on")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL database, in which each run uses a new schema"
    )
    options = parser.parse_args(argv)
    if options.channels < 1:
        parser.error(f"--channels must be at least 1, not {options.channels}")
    if options.messages < 1:
        parser.error(f"--messages must be at least 1, not {options.messages}")
    if not 0 < options.kill_after < 1:
        parser.error(f"--kill-after must be between 0 and 1, not {options.kill_after}")
    if options.channel_rate <= 0 or options.global_rate < 0:
        parser.error("--channel-rate must be positive and --global-rate at least 0")
    return options


def main(argv: Sequence[str] | None = None) -> AnnouncementFanoutReport:
    """Run the benchmark with command-line ``argv``, print the table and JSON line, and return the report."""
    options = parse_arguments(argv)
    backends = BACKENDS if options.backend == "both" else (options.backend,)
    results = tuple(run_backend(backend, options) for backend in backends)
    report = AnnouncementFanoutReport(
        channels=options.channels,
        messages=options.messages,
        limits=limits_of(options),
        concurrency=options.concurrency,
        batch=options.batch,
        lease_seconds=options.lease,
        machine=describe_machine(),
        backends=results,
    )
    print_report(report)
    return report


def serve_main(argv: Sequence[str]) -> None:
    """Serve the fake target until terminated, after printing its URL as the first line of stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.announcement_fanout serve")
    parser.add_argument("--channel-rate", type=float, default=1.0)
    parser.add_argument("--channel-burst", type=int, default=3)
    parser.add_argument("--global-rate", type=float, default=None)
    parser.add_argument("--global-burst", type=int, default=1)
    options = parser.parse_args(argv)
    limits = TargetLimits(options.channel_rate, options.channel_burst, options.global_rate, options.global_burst)
    server = _TargetServer(_TargetState(limits, ()))
    host, port = server.server_address[:2]
    print(f"http://{host!s}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


def dispatch_main(argv: Sequence[str]) -> None:
    """Deliver every pending announcement row as worker ``--worker``, then print the counts as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.announcement_fanout dispatch")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema", help="PostgreSQL schema of the benchmark tables")
    parser.add_argument("--target", required=True, help="base URL of the fake target")
    parser.add_argument("--worker", required=True, help="worker id in the outbox's claimed_by column")
    _add_dispatcher_options(parser)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    engine_options: dict[str, Any] = {}
    if options.schema:
        engine_options["connect_args"] = {"options": f"-csearch_path={options.schema}"}
    engine = create_db_engine(options.database_url, **engine_options)
    try:
        ctx = ServiceContext(session_factory=create_session_factory(engine), rubrics={})
        stats = asyncio.run(deliver_all(ctx, options.target, options, options.worker))
    finally:
        engine.dispose()
    print(json.dumps(asdict(stats)), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve_main(sys.argv[2:])
    elif sys.argv[1:2] == ["dispatch"]:
        dispatch_main(sys.argv[2:])
    else:
        raise SystemExit(0 if main().exactly_once else 1)
