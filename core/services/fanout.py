"""Concurrent outbox delivery to chat platforms: paced per destination and obeying 429 rate limits.

The dispatcher claims due outbox rows in batches and sends them through a platform-neutral ``Sender``.
Items that share a destination (the sender's rate-limit key, such as a channel) form a lane and are sent
one at a time in outbox order. Different lanes run concurrently, up to ``concurrency`` sends at once.

Rate limits:

- Each lane is paced by a token bucket: ``per_destination_burst`` items at once, then one item per
  ``per_destination_interval`` seconds. The pacing counts items, not messages, so for items that post
  several messages the platform's 429 responses do the rest.
- Optionally all lanes together are paced the same way (``global_interval``, ``global_burst``), for a
  platform whose limit across channels is known, such as Discord's 50 requests per second per bot.
  Without it the dispatcher finds that limit only through 429 responses.
- A 429 (``RateLimited``) puts the destination on hold for Retry-After seconds, or every destination when
  the limit is global. The item stays at the head of its lane and is sent again after the hold, in the
  same run. A 429 is not a failed attempt: only after ``max_rate_limit_retries`` 429 responses for one
  item in one run is it recorded with ``record_failure``, which counts the attempt and applies the
  outbox's retry backoff.
- A global 429 also halves the number of sends allowed in flight, which then grows by one per window of
  successful sends, as in TCP congestion control.
- No send starts in the last fifth of an item's lease. A lane whose head reaches that point (a long hold,
  or a long queue for one destination) is handed back unsent without counting an attempt. The next
  claim takes its items again in outbox order, and this dispatcher still keeps the hold.

Outcomes are written in batches: delivered ids with one ``complete`` call every ``FLUSH_INTERVAL`` seconds
or ``FLUSH_SIZE`` items. If the process dies before writing them, the items stay claimed until their lease
ends. The next claim then marks them ``uncertain``, and the dispatcher asks the target with
``Sender.was_delivered`` before sending, so a crash does not deliver an item twice. It asks the same for
an item whose earlier attempt failed, because a send that timed out may still have arrived.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from core.services.context import ServiceContext
from core.services.outbox import OutboxItem, PermanentDeliveryError, claim, complete, record_failure, release

__all__ = ["FLUSH_INTERVAL", "FLUSH_SIZE", "DispatchStats", "OutboxDispatcher", "RateLimited", "Sender"]

logger = logging.getLogger(__name__)

# Share of the lease in which a send may start. The rest leaves time for the send and the write of its
# outcome to finish before another worker may claim the item again.
SENDING_SHARE_OF_LEASE = 0.8
FLUSH_SIZE = 200  # outcomes that are written at once, without waiting for FLUSH_INTERVAL
FLUSH_INTERVAL = 0.25  # seconds between writes of outcomes
RATE_LIMIT_LOG_INTERVAL = 10.0  # seconds between summary lines about 429 responses
RECLAIM_PAUSE = 1.0  # seconds between claims that find nothing while claimed items are still in memory


class RateLimited(Exception):
    """Raised by a sender when the platform rejected a request with 429 Too Many Requests.

    ``retry_after`` is the wait in seconds that the platform asked for (the Retry-After header), and
    ``destination`` is the rate-limit key that was rejected. ``is_global`` is set when the limit covers
    every destination of the sender, such as Discord's global limit, so that all of them wait.
    """

    def __init__(self, destination: str, retry_after: float, *, is_global: bool = False) -> None:
        # A negative or NaN value from the platform means no wait.
        wait = float(retry_after) if retry_after > 0 else 0.0
        scope = "every destination (global limit)" if is_global else destination
        super().__init__(f"rate limited on {scope}; retry after {wait:g} s")
        self.destination = destination
        self.retry_after = wait
        self.is_global = is_global


class Sender(Protocol):
    """Delivers outbox items to one chat platform. The dispatcher calls it from one event loop."""

    def destination(self, item: OutboxItem) -> str:
        """Return the rate-limit key of ``item``, such as its channel. Items with one key go out in order."""

    async def send(self, item: OutboxItem) -> None:
        """Deliver ``item``.

        Raise ``RateLimited`` for a 429, ``PermanentDeliveryError`` when the target rejects the item for good,
        and any other exception for a temporary failure. After ``RateLimited`` the dispatcher calls ``send``
        again for the same item, so a sender that posts several messages per item must skip the messages
        that were already accepted. A send should time out well within a fifth of the dispatcher's lease.
        """

    async def was_delivered(self, item: OutboxItem) -> bool:
        """Return True when the target already has the whole of ``item``, looked up by its delivery key."""


@dataclass(slots=True)
class DispatchStats:
    """Counts of one ``run_once``, in items except ``rate_limited``."""

    claimed: int = 0  # an item handed back and claimed again in the same run counts twice
    sent: int = 0
    already_delivered: int = 0  # checked items that the target already had, completed without sending
    failed_temporarily: int = 0  # recorded with record_failure, so the outbox retries them after its backoff
    failed_permanently: int = 0
    released: int = 0  # handed back unsent because their lease was running out or the dispatcher stopped
    rate_limited: int = 0  # 429 responses


@dataclass(slots=True)
class _Claim:
    """A claimed item in memory."""

    item: OutboxItem
    deadline: float  # event-loop time after which no send of the item may start
    checked: bool = False  # was_delivered returned False in this run
    started: bool = False  # a send began in this run, so part of the item may have arrived
    attempted_at: float = 0.0  # event-loop time at which the latest lookup or send of the item began
    rate_limits: int = 0


class _Pacing:
    """A token bucket: ``burst`` sends at once, then one per ``interval`` seconds. Interval 0 never waits."""

    def __init__(self, interval: float, burst: int, now: float) -> None:
        self.interval = interval
        self.burst = burst
        self.tokens = float(burst)
        self.refilled_at = now

    def _refill(self, now: float) -> None:
        if self.interval > 0:
            self.tokens = min(float(self.burst), self.tokens + (now - self.refilled_at) / self.interval)
        self.refilled_at = now

    def ready_at(self, now: float) -> float:
        """Return the earliest event-loop time, ``now`` or later, at which a token is available."""
        self._refill(now)
        if self.interval <= 0 or self.tokens >= 1:
            return now
        return now + (1 - self.tokens) * self.interval

    def take(self, now: float) -> None:
        self._refill(now)
        if self.interval > 0:
            self.tokens -= 1

    def give_back(self) -> None:
        self.tokens = min(float(self.burst), self.tokens + 1)

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.interval <= 0 or self.tokens >= self.burst


class _Lane:
    """The claimed items of one destination in outbox order, with the destination's pacing and hold."""

    def __init__(self, destination: str, pacing: _Pacing) -> None:
        self.destination = destination
        self.claims: deque[_Claim] = deque()
        self.pacing = pacing
        self.hold_until = 0.0  # event-loop time at which a 429 hold on this destination ends
        self.busy = False  # a send or lookup of the head item is running
        self.queued = False  # the lane is in the dispatcher's ready heap

    def ready_at(self, now: float) -> float:
        """Return the earliest event-loop time at which the pacing and the hold allow the next send.

        A head item whose send already began took its token, so sending it again waits only for the hold.
        """
        if self.claims and self.claims[0].started:
            return max(now, self.hold_until)
        return max(self.pacing.ready_at(now), self.hold_until)

    def is_idle(self, now: float) -> bool:
        """Return True when a later run needs nothing from the lane: it has no items, no hold and a full bucket."""
        return not self.claims and not self.busy and self.hold_until <= now and self.pacing.is_full(now)


@dataclass(slots=True)
class _Outcomes:
    """Outcomes decided in memory and not yet written to the database."""

    delivered: list[int] = field(default_factory=list)
    failed: list[tuple[int, BaseException]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # never sent: the next claim takes them as new
    released_uncertain: list[int] = field(default_factory=list)  # may have arrived: the next claim checks them

    def __len__(self) -> int:
        return len(self.delivered) + len(self.failed) + len(self.released) + len(self.released_uncertain)

    def merge(self, other: _Outcomes) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.released += other.released
        self.released_uncertain += other.released_uncertain


@dataclass(slots=True)
class _RateLimitTally:
    """429 responses since the last summary line."""

    since: float
    responses: int = 0
    global_responses: int = 0
    destinations: set[str] = field(default_factory=set)
    longest_wait: float = 0.0


class OutboxDispatcher:
    """Deliver due outbox items of ``kinds`` through ``sender``, many destinations at once, each in order.

    ``worker_id`` names this dispatcher in the outbox's ``claimed_by`` column and must be unique among
    running processes (at most 64 characters). Claims lock rows with FOR UPDATE SKIP LOCKED on PostgreSQL
    and take the write lock on SQLite, so two processes never claim the same due row. See the module
    docstring for the rate-limit and crash rules.

    NOTE: Items of one destination keep their outbox order only within one dispatcher and while
    deliveries succeed. An item that fails temporarily waits for the outbox's backoff, so later items to
    the same destination can go before it, and two processes may each claim items of one destination.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        sender: Sender,
        *,
        kinds: Collection[str],
        worker_id: str,
        concurrency: int = 32,
        batch: int = 200,
        lease: timedelta = timedelta(minutes=2),
        per_destination_interval: float = 1.0,
        per_destination_burst: int = 3,
        global_interval: float = 0.0,
        global_burst: int = 1,
        max_rate_limit_retries: int = 10,
    ) -> None:
        _require(concurrency >= 1, f"concurrency must be at least 1, not {concurrency}")
        _require(batch >= 1, f"batch must be at least 1, not {batch}")
        _require(lease > timedelta(0), f"lease must be positive, not {lease}")
        _require(
            per_destination_interval >= 0, f"per_destination_interval must be >= 0, not {per_destination_interval}"
        )
        _require(per_destination_burst >= 1, f"per_destination_burst must be at least 1, not {per_destination_burst}")
        _require(global_interval >= 0, f"global_interval must be >= 0, not {global_interval}")
        _require(global_burst >= 1, f"global_burst must be at least 1, not {global_burst}")
        _require(max_rate_limit_retries >= 0, f"max_rate_limit_retries must be >= 0, not {max_rate_limit_retries}")
        _require(0 < len(worker_id) <= 64, f"worker_id must have 1 to 64 characters, not {worker_id!r}")
        self.ctx = ctx
        self.sender = sender
        self.kinds = frozenset(kinds)
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.batch = batch
        self.lease = lease
        self.per_destination_interval = per_destination_interval
        self.per_destination_burst = per_destination_burst
        self.max_rate_limit_retries = max_rate_limit_retries

        # Kept between runs: the pacing and 429 hold times of destinations, and outcomes whose write failed.
        self._lanes: dict[str, _Lane] = {}
        self._global_hold_until = 0.0
        self._global_pacing = _Pacing(global_interval, global_burst, 0.0)
        # Sends allowed in flight: ``concurrency`` until a global 429, then adapted (see _on_rate_limited).
        self._window = float(concurrency)
        self._window_cut_at = float("-inf")
        self._outcomes = _Outcomes()
        self._stop: asyncio.Event | None = None
        self._running = False

        # State of the current run, set up by run_once.
        self._stats = DispatchStats()
        self._claims: dict[int, _Claim] = {}
        self._ready: list[tuple[float, int, str]] = []  # (earliest start, head item id, destination)
        self._claiming = False
        self._claim_error: Exception | None = None
        self._in_flight = 0
        self._changed = asyncio.Event()
        self._flush_requested = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._finished = asyncio.Event()
        self._tally = _RateLimitTally(since=0.0)

    async def run(self, stop: asyncio.Event, idle_interval: float = 1.0) -> None:
        """Deliver due items until ``stop`` is set, checking for new ones every ``idle_interval`` seconds.

        When ``stop`` is set, sends in progress finish and unsent claims are handed back before it returns.
        """
        logger.info(
            "outbox dispatcher %s started: kinds %s, concurrency %d, batch %d, lease %s",
            self.worker_id,
            ", ".join(sorted(self.kinds)),
            self.concurrency,
            self.batch,
            self.lease,
        )
        self._stop = stop
        watcher = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception:
                    # The database may be unreachable for a while, and the next run tries again.
                    logger.error(
                        "outbox dispatcher %s: run failed, next run in %.1f s",
                        self.worker_id,
                        idle_interval,
                        exc_info=True,
                    )
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_interval)
        finally:
            watcher.cancel()
            self._stop = None
            logger.info("outbox dispatcher %s stopped", self.worker_id)

    async def run_once(self) -> DispatchStats:
        """Claim due items in batches until none is left, deliver them, write the outcomes and return counts.

        Raises the error of a failed claim after the items claimed before it are delivered.
        """
        if self._running:
            raise RuntimeError(f"outbox dispatcher {self.worker_id} is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._start_run(started)
        try:
            await self._flush()  # outcomes of an earlier run whose write failed
            async with asyncio.TaskGroup() as group:
                group.create_task(self._claim_batches())
                group.create_task(self._write_outcomes_periodically())
                group.create_task(self._dispatch(group))
        finally:
            self._running = False
            self._prune_lanes(loop.time())
            self._log_rate_limits(loop.time(), force=True)

        stats = self._stats
        if stats.claimed:
            logger.info("outbox dispatcher %s: %s in %.1f s", self.worker_id, stats, loop.time() - started)
        if self._claim_error is not None:
            raise self._claim_error
        return stats

    def _start_run(self, now: float) -> None:
        self._stats = DispatchStats()
        self._claims = {}
        self._ready = []
        self._claiming = True
        self._claim_error = None
        self._changed = asyncio.Event()
        self._flush_requested = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._finished = asyncio.Event()
        self._in_flight = 0
        self._tally = _RateLimitTally(since=now)
        for lane in self._lanes.values():
            # Items left by a cancelled run stay claimed in the database until their lease ends.
            lane.claims.clear()
            lane.busy = False
            lane.queued = False

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._changed.set()

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _wait_for_change(self, timeout: float | None = None) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # Claiming

    async def _claim_batches(self) -> None:
        """Claim a batch whenever at most half a batch of claimed items is left, until nothing is due.

        The last claim comes after every item in memory is decided and written, because an item handed
        back becomes due again. While items are still in memory, a claim that found nothing is repeated
        at most once per ``RECLAIM_PAUSE`` seconds.
        """
        loop = asyncio.get_running_loop()
        low_water = self.batch // 2
        found_nothing_at: float | None = None
        try:
            while not self._stopping():
                self._changed.clear()
                backlog = len(self._claims)
                if backlog > low_water:
                    await self._wait_for_change()
                    continue
                if backlog and found_nothing_at is not None:
                    pause_left = found_nothing_at + RECLAIM_PAUSE - loop.time()
                    if pause_left > 0:
                        await self._wait_for_change(pause_left)
                        continue
                if not backlog:
                    await self._flush()

                claimed_at = loop.time()
                items = await asyncio.to_thread(
                    claim, self.ctx, worker=self.worker_id, kinds=self.kinds, limit=self.batch, lease=self.lease
                )
                if items:
                    deadline = claimed_at + self.lease.total_seconds() * SENDING_SHARE_OF_LEASE
                    self._add_claims(items, deadline, loop.time())
                    found_nothing_at = None
                elif not backlog and not self._claims:
                    break  # nothing was in memory, so nothing was handed back while this claim ran
                else:
                    found_nothing_at = loop.time()
        except Exception as error:
            logger.error(
                "outbox dispatcher %s: claiming failed, so the run ends after the %d items claimed before",
                self.worker_id,
                len(self._claims),
                exc_info=True,
            )
            self._claim_error = error
        finally:
            self._claiming = False
            self._changed.set()

    def _add_claims(self, items: list[OutboxItem], deadline: float, now: float) -> None:
        for item in items:
            known = self._claims.get(item.id)
            if known is not None:
                # The lease of an item still waiting here ran out and this worker claimed it again.
                known.deadline = deadline
                continue
            try:
                destination = self.sender.destination(item)
            except Exception as error:
                logger.error("delivery %s has no destination, so it fails for good: %r", item.delivery_key, error)
                self._stats.claimed += 1
                self._stats.failed_permanently += 1
                failure = PermanentDeliveryError(f"no destination for {item.delivery_key}: {error!r}")
                self._outcomes.failed.append((item.id, failure))
                continue
            lane = self._lanes.get(destination)
            if lane is None:
                pacing = _Pacing(self.per_destination_interval, self.per_destination_burst, now)
                lane = _Lane(destination, pacing)
                self._lanes[destination] = lane
            claim_ = _Claim(item, deadline)
            self._claims[item.id] = claim_
            _insert_in_id_order(lane, claim_)
            self._stats.claimed += 1
            if not lane.busy and not lane.queued:
                self._queue(lane, now)
        self._changed.set()

    # Scheduling

    def _queue(self, lane: _Lane, now: float) -> None:
        head = lane.claims[0]
        start = min(lane.ready_at(now), head.deadline)
        heapq.heappush(self._ready, (start, head.item.id, lane.destination))
        lane.queued = True

    async def _dispatch(self, group: asyncio.TaskGroup) -> None:
        """Start a delivery for each lane whose turn has come, at most ``concurrency`` at once."""
        while True:
            await self._wait_for_free_slot()
            lane = await self._next_lane()
            if lane is None:
                break
            lane.busy = True
            self._in_flight += 1
            group.create_task(self._serve(lane))
        self._finished.set()
        self._flush_requested.set()

    async def _wait_for_free_slot(self) -> None:
        while True:
            self._changed.clear()
            if self._in_flight < int(self._window):
                return
            await self._wait_for_change()

    async def _next_lane(self) -> _Lane | None:
        """Wait for the next lane that may send, or return None when nothing is claimed and no claim is coming."""
        loop = asyncio.get_running_loop()
        while True:
            self._changed.clear()
            if self._stopping():
                self._hand_back_queued_lanes()
            timeout: float | None = None
            if self._ready:
                start, _, destination = self._ready[0]
                lane = self._lanes[destination]
                now = loop.time()
                # The global hold and pacing delay the lane, but not past the point where its lease ends.
                global_start = max(self._global_hold_until, self._global_pacing.ready_at(now))
                start = min(max(start, global_start), lane.claims[0].deadline)
                if start <= now:
                    heapq.heappop(self._ready)
                    lane.queued = False
                    # Taken here rather than in the send, so that lanes popped together do not share a token.
                    self._global_pacing.take(now)
                    return lane
                timeout = start - now
            elif not self._claiming and not self._claims:
                return None
            await self._wait_for_change(timeout)

    def _hand_back_queued_lanes(self) -> None:
        count = 0
        while self._ready:
            _, _, destination = heapq.heappop(self._ready)
            lane = self._lanes[destination]
            lane.queued = False
            count += self._hand_back(lane)
        if count:
            logger.info("outbox dispatcher %s: stopping, handing back %d unsent items", self.worker_id, count)

    # Delivery

    async def _serve(self, lane: _Lane) -> None:
        """Deliver the head item of ``lane``, or hand the lane back if the head's lease is running out."""
        loop = asyncio.get_running_loop()
        try:
            now = loop.time()
            if now >= lane.claims[0].deadline:
                count = self._hand_back(lane)
                logger.info(
                    "outbox dispatcher %s: handing back %d unsent items for %s because their lease is running out",
                    self.worker_id,
                    count,
                    lane.destination,
                )
            elif lane.ready_at(now) <= now and self._global_hold_until <= now:
                await self._deliver(lane, lane.claims[0])
        finally:
            lane.busy = False
            if lane.claims:
                self._queue(lane, loop.time())
            self._in_flight -= 1
            self._changed.set()

    async def _deliver(self, lane: _Lane, claim_: _Claim) -> None:
        item = claim_.item
        loop = asyncio.get_running_loop()
        claim_.attempted_at = loop.time()
        try:
            # An earlier attempt may have arrived: a crashed worker's, or one that timed out after sending.
            if (item.uncertain or item.attempts > 0) and not claim_.checked:
                if await self.sender.was_delivered(item):
                    self._finish(lane, claim_, delivered=True, sent=False)
                    return
                claim_.checked = True
            if not claim_.started:
                lane.pacing.take(loop.time())
                claim_.started = True
            await self.sender.send(item)
        except RateLimited as limit:
            self._on_rate_limited(lane, claim_, limit, loop.time())
        except Exception as error:
            # PermanentDeliveryError fails the item for good, and anything else is retried after the backoff.
            # record_failure logs the error with the delivery key when the outcome is written.
            self._fail(lane, claim_, error)
        else:
            self._window = min(float(self.concurrency), self._window + 1 / self._window)
            self._finish(lane, claim_, delivered=True, sent=True)

    def _on_rate_limited(self, lane: _Lane, claim_: _Claim, limit: RateLimited, now: float) -> None:
        self._stats.rate_limited += 1
        self._tally.responses += 1
        self._tally.destinations.add(limit.destination)
        self._tally.longest_wait = max(self._tally.longest_wait, limit.retry_after)
        hold_until = now + limit.retry_after
        if limit.is_global:
            self._tally.global_responses += 1
            self._global_hold_until = max(self._global_hold_until, hold_until)
            # Requests still in flight when the hold began get 429 responses as well, and each one extends
            # the hold. Halving the sends in flight once per hold, and growing them by one per window of
            # successful sends, leaves fewer requests in flight when the next hold begins.
            if claim_.attempted_at > self._window_cut_at:
                self._window = max(1.0, self._window / 2)
                self._window_cut_at = now
        else:
            lane.hold_until = max(lane.hold_until, hold_until)
            named = self._lanes.get(limit.destination)
            if named is not None and named is not lane:
                named.hold_until = max(named.hold_until, hold_until)

        claim_.rate_limits += 1
        if claim_.rate_limits > self.max_rate_limit_retries:
            logger.warning(
                "delivery %s to %s was rate limited %d times in this run, recording a failed attempt",
                claim_.item.delivery_key,
                lane.destination,
                claim_.rate_limits,
            )
            self._fail(lane, claim_, limit)

    def _fail(self, lane: _Lane, claim_: _Claim, error: Exception) -> None:
        if isinstance(error, PermanentDeliveryError):
            self._stats.failed_permanently += 1
        else:
            self._stats.failed_temporarily += 1
        self._outcomes.failed.append((claim_.item.id, error))
        self._finish(lane, claim_, delivered=False, sent=False)

    def _finish(self, lane: _Lane, claim_: _Claim, *, delivered: bool, sent: bool) -> None:
        """Remove the decided head item from memory. Its outcome waits in ``_outcomes`` for the next write."""
        lane.claims.popleft()
        del self._claims[claim_.item.id]
        if delivered:
            self._outcomes.delivered.append(claim_.item.id)
            if sent:
                self._stats.sent += 1
            else:
                self._stats.already_delivered += 1
        if len(self._outcomes) >= FLUSH_SIZE:
            self._flush_requested.set()

    def _hand_back(self, lane: _Lane) -> int:
        """Give back every claimed item of ``lane`` unsent, so that the next claim takes them in order.

        Return how many items were given back.
        """
        count = len(lane.claims)
        if lane.claims and lane.claims[0].started:
            # The head's token paid for a send that did not finish, so its next claim may use it again.
            lane.pacing.give_back()
        while lane.claims:
            claim_ = lane.claims.popleft()
            del self._claims[claim_.item.id]
            if claim_.started or (claim_.item.uncertain and not claim_.checked):
                self._outcomes.released_uncertain.append(claim_.item.id)
            else:
                self._outcomes.released.append(claim_.item.id)
        self._stats.released += count
        return count

    # Writing outcomes

    async def _write_outcomes_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._finished.is_set():
            self._flush_requested.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._flush_requested.wait(), FLUSH_INTERVAL)
            await self._flush()
            self._log_rate_limits(loop.time())
        await self._flush()

    async def _flush(self) -> None:
        """Write the outcomes decided so far, or keep them for the next write if the database fails.

        Writes run one at a time, so when this returns, every outcome decided before the call is stored
        unless the write failed. The claimer relies on that to see handed-back items.
        """
        async with self._flush_lock:
            outcomes, self._outcomes = self._outcomes, _Outcomes()
            if not len(outcomes):
                return
            try:
                await asyncio.to_thread(self._write_outcomes, outcomes)
            except Exception:
                logger.error(
                    "outbox dispatcher %s: writing %d outcomes failed, retrying at the next write",
                    self.worker_id,
                    len(outcomes),
                    exc_info=True,
                )
                outcomes.merge(self._outcomes)
                self._outcomes = outcomes

    def _write_outcomes(self, outcomes: _Outcomes) -> None:
        """Write ``outcomes`` in a worker thread, removing each part once it is stored."""
        if outcomes.delivered:
            updated = complete(self.ctx, outcomes.delivered)
            if updated < len(outcomes.delivered):
                # This happens when their lease ran out before this write and another worker completed them.
                logger.warning(
                    "outbox dispatcher %s: %d of %d delivered items were already marked delivered",
                    self.worker_id,
                    len(outcomes.delivered) - updated,
                    len(outcomes.delivered),
                )
            outcomes.delivered = []
        while outcomes.failed:
            item_id, error = outcomes.failed[0]
            record_failure(self.ctx, item_id, error)
            outcomes.failed.pop(0)
        if outcomes.released or outcomes.released_uncertain:
            release(self.ctx, worker=self.worker_id, ids=outcomes.released)
            release(self.ctx, worker=self.worker_id, ids=outcomes.released_uncertain, uncertain=True)
            outcomes.released = []
            outcomes.released_uncertain = []

    # Housekeeping

    def _log_rate_limits(self, now: float, *, force: bool = False) -> None:
        """Log one summary line of the 429 responses since the last one, instead of one line per response."""
        tally = self._tally
        if not tally.responses or (not force and now - tally.since < RATE_LIMIT_LOG_INTERVAL):
            return
        logger.info(
            "outbox dispatcher %s: %d rate-limit responses (429) for %d destinations, %d of them global, "
            "in the last %.0f s (longest Retry-After %.1f s). The items wait and are sent again",
            self.worker_id,
            tally.responses,
            len(tally.destinations),
            tally.global_responses,
            now - tally.since,
            tally.longest_wait,
        )
        self._tally = _RateLimitTally(since=now)

    def _prune_lanes(self, now: float) -> None:
        idle = [destination for destination, lane in self._lanes.items() if lane.is_idle(now)]
        for destination in idle:
            del self._lanes[destination]


def _insert_in_id_order(lane: _Lane, claim_: _Claim) -> None:
    """Append ``claim_`` to the lane, or insert it before later items that were claimed earlier."""
    claims = lane.claims
    position = len(claims)
    first_movable = 1 if lane.busy else 0  # the head is being sent and stays first
    while position > first_movable and claims[position - 1].item.id > claim_.item.id:
        position -= 1
    claims.insert(position, claim_)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
