"""A fake Socket Mode endpoint: the WebSocket that apps.connections.open sends an app to.

An aiohttp server on a free 127.0.0.1 port, in its own thread and event loop. Each URL it issues carries a
single-use ticket, as Slack's do. A connection is greeted with a hello message. Tests then push envelopes with
`send` and read the acknowledgements the app sends back with `wait_for_ack`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["Ack", "Connection", "SocketModeServer"]

logger = logging.getLogger(__name__)

LINK_PATH = "/link/"


@dataclass(frozen=True)
class Ack:
    """One message the app sent back over the WebSocket, with the time.monotonic() it arrived."""

    message: dict[str, Any]
    at: float

    @property
    def envelope_id(self) -> str | None:
        return self.message.get("envelope_id")

    @property
    def payload(self) -> dict[str, Any] | None:
        return self.message.get("payload")


@dataclass
class Connection:
    """One WebSocket connection from the app and what happened on it."""

    ticket: str
    socket: web.WebSocketResponse
    opened_at: float
    closed: threading.Event = field(default_factory=threading.Event)
    close_code: int | None = None


class SocketModeServer:
    """Serve Socket Mode connections until `stop()`; use as a context manager."""

    def __init__(self, *, app_id: str = "A0001") -> None:
        self.app_id = app_id
        self.connections: list[Connection] = []
        self.acks: list[Ack] = []
        self.sent: dict[str, float] = {}  # envelope id -> time.monotonic() when it was sent
        self.rejected_tickets: list[str] = []
        self._tickets: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-socket-mode", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        self._thread.start()
        self._call(self._start())
        logger.info("Fake Socket Mode server listening on port %d", self.port)
        return self

    async def _start(self) -> None:
        application = web.Application()
        application.add_routes([web.get(LINK_PATH, self._accept), web.get(LINK_PATH.rstrip("/"), self._accept)])
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the bound socket has the free port the OS chose
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._runner is not None:
            self._call(self._runner.cleanup())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        logger.info("Fake Socket Mode server stopped")

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # --- connections -----------------------------------------------------------------------------

    def issue_url(self) -> str:
        """Return a WebSocket URL with a fresh ticket, as apps.connections.open does; each ticket connects once."""
        with self._lock:
            ticket = f"ticket-{next(self._ids)}"
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
            if not valid:
                self.rejected_tickets.append(ticket)
        if not valid:
            return web.Response(status=401, text="invalid or used ticket")

        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        connection = Connection(ticket, socket, time.monotonic())
        with self._changed:
            self.connections.append(connection)
            self._changed.notify_all()
        await socket.send_json(self._hello())
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self._record_ack(message.data)
        connection.close_code = socket.close_code
        with self._changed:
            connection.closed.set()
            self._changed.notify_all()
        return socket

    def _hello(self) -> dict[str, Any]:
        with self._lock:
            open_connections = sum(1 for connection in self.connections if not connection.closed.is_set())
        return {
            "type": "hello",
            "num_connections": open_connections,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }

    def _record_ack(self, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            message = {"invalid_json": data}
        with self._changed:
            self.acks.append(Ack(message, time.monotonic()))
            self._changed.notify_all()

    def wait_connected(self, count: int = 1, timeout: float = 5) -> Connection:
        """Wait until ``count`` connections have opened; return the latest one."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.connections) >= count, timeout):
                raise AssertionError(f"{len(self.connections)} Socket Mode connection(s) opened, expected {count}")
            return self.connections[-1]

    @property
    def current(self) -> Connection:
        """Return the latest connection that is still open."""
        with self._lock:
            for connection in reversed(self.connections):
                if not connection.closed.is_set():
                    return connection
        raise AssertionError("no Socket Mode connection is open")

    # --- envelopes -------------------------------------------------------------------------------

    def envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, Any]:
        """Build an envelope of ``kind`` (events_api, slash_commands or interactive) with a new envelope id."""
        envelope: dict[str, Any] = {
            "envelope_id": f"env-{next(self._ids):04d}",
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        return envelope

    def send(self, envelope: dict[str, Any]) -> str:
        """Send ``envelope`` on the open connection; return its envelope id."""
        connection = self.current
        with self._lock:
            self.sent[envelope["envelope_id"]] = time.monotonic()
        self._call(connection.socket.send_json(envelope))
        return str(envelope["envelope_id"])

    def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send a disconnect message on the open connection, as Slack does before it closes a connection."""
        connection = self.current
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        self._call(connection.socket.send_json(message))

    def wait_for_ack(self, envelope_id: str, timeout: float = 3) -> Ack:
        """Wait until the app acknowledges ``envelope_id``; raise AssertionError after ``timeout`` seconds."""

        def found() -> Ack | None:
            return next((ack for ack in self.acks if ack.envelope_id == envelope_id), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no acknowledgement of {envelope_id} within {timeout} s; got {self.acks}")
            ack = found()
        assert ack is not None
        return ack

    def acks_for(self, envelope_id: str) -> list[Ack]:
        with self._lock:
            return [ack for ack in self.acks if ack.envelope_id == envelope_id]
