"""The fan-out dispatcher against a fake chat target over real HTTP, on SQLite and PostgreSQL.

The target is ``bench.announcement_fanout.ChatTarget``: the standard library's ``ThreadingHTTPServer``
in a background thread on a free port of 127.0.0.1. It limits each channel to 1 message per second
with bursts of 3, and beyond that it responds with 429 and a Retry-After header. The standard library
server was chosen because it needs no extra dependency and keeps its own timestamps outside the event
loop under test. The benchmark runs the same server in its own process, so the tests and the benchmark
hold the dispatcher to the same rules. The sender posts with httpx, a test dependency. Most
dispatchers here do no pacing of their own (``per_destination_interval=0``), so that the target's 429
responses are what keeps them within the limit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from sqlalchemy import select

from adapters.console.session import SettableClock
from bench.announcement_fanout import (
    KIND,
    SCHEDULE,
    SLOT,
    ChatTarget,
    HttpChatSender,
    TargetEvent,
    TargetLimits,
    announcement_key,
    http_client,
)
from core.services.context import ServiceContext
from core.services.fanout import DispatchStats, OutboxDispatcher
from core.services.outbox import FAILURE_REPORT, OutboxItem, claim, enqueue
from core.storage.models import OutboxMessage

CHANNELS = ["slack:T1:C1", "slack:T1:C2", "discord:G1:C3", "discord:G1:C4"]
GONE = "slack:T1:CGONE"  # the target responds with 404 to posts to this channel
PARTS = (1, 2)
UNPACED = {"per_destination_interval": 0.0}


@pytest.fixture
def target() -> Iterator[ChatTarget]:
    with ChatTarget(TargetLimits(channel_rate=1.0, channel_burst=3), missing_channels={GONE}) as server:
        yield server


def enqueue_announcements(ctx: ServiceContext, channels: Sequence[str], per_channel: int = 1) -> list[str]:
    """Enqueue ``per_channel`` weekly announcements to each channel, slot by slot; return keys in outbox order."""
    keys = []
    with ctx.transaction() as session:
        for week in range(per_channel):
            slot = SLOT + timedelta(weeks=week)
            for channel in channels:
                key = announcement_key(channel, slot=slot)
                enqueue(session, key=key, kind=KIND, schedule=SCHEDULE, slot=slot.isoformat(), target=channel)
                keys.append(key)
    return keys


def dispatch(
    ctx: ServiceContext, target: ChatTarget, *, worker: str = "test-dispatcher", **options: Any
) -> DispatchStats:
    """Run one ``run_once`` of a dispatcher that posts to ``target``."""

    async def run() -> DispatchStats:
        async with http_client(target.url, 8) as client:
            dispatcher = OutboxDispatcher(ctx, HttpChatSender(client), kinds={KIND}, worker_id=worker, **options)
            return await dispatcher.run_once()

    return asyncio.run(run())


def accepted(events: Sequence[TargetEvent]) -> Counter[tuple[str, int]]:
    return Counter((event.delivery_key, event.part) for event in events if event.status == HTTPStatus.OK)


def expected_parts(keys: Sequence[str]) -> set[tuple[str, int]]:
    return {(key, part) for key in keys for part in PARTS}


def rows(ctx: ServiceContext) -> dict[str, OutboxMessage]:
    with ctx.transaction() as session:
        return {row.delivery_key: row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def test_fanout_under_rate_limits(any_ctx: ServiceContext, target: ChatTarget) -> None:
    """Four messages per channel against a burst of 3: each channel gets a 429, and everything still
    arrives once, in outbox order, with no request to a channel before its Retry-After has passed."""
    keys = enqueue_announcements(any_ctx, CHANNELS, per_channel=2)

    stats = dispatch(any_ctx, target, **UNPACED)

    events = sorted(target.events(), key=lambda event: event.at)
    counts = accepted(events)
    assert set(counts) == expected_parts(keys)
    assert max(counts.values()) == 1
    assert stats.sent == len(keys)
    assert all(row.delivered_at is not None for row in rows(any_ctx).values())

    for channel in CHANNELS:
        posted = [(e.delivery_key, e.part) for e in events if e.channel == channel and e.status == HTTPStatus.OK]
        in_outbox_order = [(key, part) for key in keys if key.endswith(channel) for part in PARTS]
        assert posted == in_outbox_order, channel

    limited = [event for event in events if event.status == HTTPStatus.TOO_MANY_REQUESTS]
    assert len(limited) == stats.rate_limited
    assert len(limited) >= len(CHANNELS)
    for rejection in limited:
        assert rejection.retry_after is not None
        later = [e for e in events if e.channel == rejection.channel and e.at > rejection.at]
        assert later, f"{rejection.delivery_key} part {rejection.part} was not sent again"
        assert later[0].at >= rejection.at + rejection.retry_after, rejection


def test_rate_limits_logged_as_summary(
    ctx: ServiceContext, target: ChatTarget, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue_announcements(ctx, CHANNELS, per_channel=2)

    # Without retries the run records the rate-limited items as failed attempts instead of waiting.
    with caplog.at_level(logging.INFO, logger="core.services.fanout"):
        stats = dispatch(ctx, target, max_rate_limit_retries=0, **UNPACED)

    summaries = [record for record in caplog.records if "rate-limit responses (429)" in record.getMessage()]
    assert stats.rate_limited == len(CHANNELS)
    assert len(summaries) == 1
    assert f"{stats.rate_limited} rate-limit responses" in summaries[0].getMessage()


def test_pacing_spaces_items_after_burst(ctx: ServiceContext) -> None:
    keys = enqueue_announcements(ctx, ["slack:T1:C1"], per_channel=4)

    with ChatTarget(TargetLimits(channel_rate=100.0, channel_burst=100)) as fast_target:
        dispatch(ctx, fast_target, per_destination_interval=0.15, per_destination_burst=2)
        events = fast_target.events()

    starts = {event.delivery_key: event.at for event in events if event.part == 1}
    first, second, third, fourth = (starts[key] for key in keys)
    assert second - first < 0.1  # the second item is within the burst
    assert third - first >= 0.12
    assert fourth - third >= 0.12
    assert all(event.status == HTTPStatus.OK for event in events)


def test_global_pacing_spaces_all_destinations(ctx: ServiceContext) -> None:
    keys = enqueue_announcements(ctx, CHANNELS)

    with ChatTarget(TargetLimits(channel_rate=100.0, channel_burst=100)) as fast_target:
        dispatch(ctx, fast_target, global_interval=0.15, **UNPACED)
        events = fast_target.events()

    starts = sorted(event.at for event in events if event.part == 1)
    assert len(starts) == len(keys)
    assert all(later - earlier >= 0.12 for earlier, later in itertools.pairwise(starts))


def test_global_rate_limit_holds_every_destination(ctx: ServiceContext) -> None:
    keys = enqueue_announcements(ctx, CHANNELS)

    # 8 messages against a limit of 4 across channels: the fifth is rejected for all channels at once.
    limits = TargetLimits(channel_rate=100.0, channel_burst=100, global_rate=4.0, global_burst=4)
    with ChatTarget(limits) as limited_target:
        stats = dispatch(ctx, limited_target, **UNPACED)
        events = sorted(limited_target.events(), key=lambda event: event.at)

    counts = accepted(events)
    global_rejections = [event for event in events if event.is_global]
    assert set(counts) == expected_parts(keys)
    assert max(counts.values()) == 1
    assert global_rejections
    assert stats.rate_limited == len(global_rejections)
    first = global_rejections[0]
    assert first.retry_after is not None
    later_accepted = [event for event in events if event.at > first.at and event.status == HTTPStatus.OK]
    assert later_accepted
    assert later_accepted[0].at >= first.at + first.retry_after


def test_permanent_failure_recorded_others_delivered(any_ctx: ServiceContext, target: ChatTarget) -> None:
    keys = enqueue_announcements(any_ctx, ["slack:T1:C1", GONE, "slack:T1:C2"])
    gone_key = announcement_key(GONE)

    stats = dispatch(any_ctx, target, **UNPACED)

    stored = rows(any_ctx)
    assert stats.failed_permanently == 1
    assert stats.sent == 2
    assert stored[gone_key].failed_at is not None
    assert stored[gone_key].last_error is not None
    assert stored[gone_key].last_error.startswith("PermanentDeliveryError: channel slack:T1:CGONE not found")
    assert stored[f"failed:{gone_key}"].kind == FAILURE_REPORT
    assert all(stored[key].delivered_at is not None for key in keys if key != gone_key)


def test_uncertain_item_already_delivered_not_resent(
    any_ctx: ServiceContext, target: ChatTarget, clock: SettableClock
) -> None:
    arrived, half_arrived = enqueue_announcements(any_ctx, ["slack:T1:C1", "slack:T1:C2"])
    claim(any_ctx, worker="crashed-worker", kinds={KIND}, lease=timedelta(minutes=2))
    # What the crashed worker posted before it died: all of one announcement, the text of the other.
    target.state.post("slack:T1:C1", arrived, 1)
    target.state.post("slack:T1:C1", arrived, 2)
    target.state.post("slack:T1:C2", half_arrived, 1)
    clock.advance("3m")

    stats = dispatch(any_ctx, target, **UNPACED)

    counts = accepted(target.events())
    assert set(counts) == expected_parts([arrived, half_arrived])
    assert max(counts.values()) == 1
    assert stats.already_delivered == 1
    assert stats.sent == 1
    assert all(row.delivered_at is not None for row in rows(any_ctx).values())


def test_two_dispatchers_deliver_each_row_once(any_ctx: ServiceContext, target: ChatTarget) -> None:
    channels = [f"slack:T1:D{number:02d}" for number in range(24)]
    keys = enqueue_announcements(any_ctx, channels)

    async def run_both() -> list[DispatchStats]:
        async with http_client(target.url, 8) as first_client, http_client(target.url, 8) as second_client:
            dispatchers = [
                OutboxDispatcher(
                    any_ctx, HttpChatSender(client), kinds={KIND}, worker_id=worker, batch=3, concurrency=4, **UNPACED
                )
                for worker, client in (("worker-a", first_client), ("worker-b", second_client))
            ]
            return list(await asyncio.gather(*(dispatcher.run_once() for dispatcher in dispatchers)))

    first, second = asyncio.run(run_both())

    counts = accepted(target.events())
    assert set(counts) == expected_parts(keys)
    assert max(counts.values()) == 1
    assert first.claimed + second.claimed == len(keys)
    assert first.claimed > 0
    assert second.claimed > 0


def test_rate_limited_past_max_retries_recorded(any_ctx: ServiceContext, target: ChatTarget) -> None:
    first, second = enqueue_announcements(any_ctx, ["slack:T1:C1"], per_channel=2)

    stats = dispatch(any_ctx, target, max_rate_limit_retries=0, **UNPACED)

    stored = rows(any_ctx)
    assert stats.rate_limited == 1
    assert stats.failed_temporarily == 1
    assert stored[first].delivered_at is not None
    assert stored[second].delivered_at is None
    assert stored[second].attempts == 1
    assert stored[second].not_before is not None
    assert stored[second].last_error is not None
    assert stored[second].last_error.startswith("RateLimited: rate limited on slack:T1:C1")


def test_lease_running_out_hands_back_lane(any_ctx: ServiceContext, target: ChatTarget) -> None:
    keys = enqueue_announcements(any_ctx, ["slack:T1:C1"], per_channel=2)

    # The 429 on the fourth message has Retry-After 1 s, longer than the sending part of a 0.5 s lease.
    stats = dispatch(any_ctx, target, lease=timedelta(seconds=0.5), **UNPACED)

    counts = accepted(target.events())
    assert stats.released >= 1
    assert set(counts) == expected_parts(keys)
    assert max(counts.values()) == 1
    assert all(row.delivered_at is not None for row in rows(any_ctx).values())


class StopAfterFirstSend:
    """Wraps a sender and sets ``stop`` once its first send has returned."""

    def __init__(self, sender: HttpChatSender, stop: asyncio.Event) -> None:
        self.sender = sender
        self.stop = stop

    def destination(self, item: OutboxItem) -> str:
        return self.sender.destination(item)

    async def send(self, item: OutboxItem) -> None:
        await self.sender.send(item)
        self.stop.set()

    async def was_delivered(self, item: OutboxItem) -> bool:
        return await self.sender.was_delivered(item)


def test_run_stop_hands_back_unsent_claims(any_ctx: ServiceContext, target: ChatTarget) -> None:
    enqueue_announcements(any_ctx, CHANNELS)

    async def run_until_stopped() -> None:
        stop = asyncio.Event()
        async with http_client(target.url, 1) as client:
            sender = StopAfterFirstSend(HttpChatSender(client), stop)
            dispatcher = OutboxDispatcher(any_ctx, sender, kinds={KIND}, worker_id="stopping", concurrency=1)
            await asyncio.wait_for(dispatcher.run(stop, idle_interval=0.1), timeout=10)

    asyncio.run(run_until_stopped())

    stored = list(rows(any_ctx).values())
    assert [row.delivered_at is not None for row in stored] == [True, False, False, False]
    assert [row.claimed_by for row in stored] == [None, None, None, None]
    assert [row.attempts for row in stored] == [1, 0, 0, 0]
