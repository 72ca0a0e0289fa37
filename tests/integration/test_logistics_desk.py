"""Shipment timelines and carrier polling on a real journal (SQLite and PostgreSQL), against the carrier
sandboxes on loopback: dedup, out-of-order events, no regression, events on the outbox, the carriers'
rate limits and Retry-After, the breaker. Time is moved, never slept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import AdapterContext
from adapters.carriers import IntlExpressAdapter
from canonical.logistics import TrackingCode, TrackingEvent
from desk.logistics import ShipmentBook, TrackingPoller
from routes.config import BreakerPolicy
from routes.retry import BreakerState, CircuitBreaker
from routes.settings import LogisticsTuning
from sandbox.carriers import IntlExpress, journey
from sandbox.http import serve
from store import Store

CARRIER = "carrier-intl"


class Clocks:
    """The book's wall clock and the poller's monotonic clock, moved together by the tests."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


class Rig:
    def __init__(self, store: Store, sandbox: IntlExpress, url: str, **settings: Any) -> None:
        self.clocks = Clocks()
        self.sandbox, self.url = sandbox, url
        ctx = AdapterContext(CARRIER, "v1", {"url": url, "timeout_s": 2, **settings}, lambda u: u)
        self.adapter = IntlExpressAdapter(ctx)
        self.breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, reset_after_s=30), self.clocks.monotonic)
        self.book = ShipmentBook(store, self.clocks.now)
        tuning = LogisticsTuning(poll_interval_s=300, error_backoff_s=60)
        self.poller = TrackingPoller(
            self.book, lambda: {CARRIER: (self.adapter, self.breaker)}, tuning, None, self.clocks.monotonic
        )

    async def knob(self, action: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, trust_env=False) as c:
            r = await (c.post(f"/_sandbox/{action}", json=body) if body is not None else c.get(f"/_sandbox/{action}"))
            return r.json()

    def events(self, number: str, steps: slice = slice(None)) -> list[TrackingEvent]:
        raw = self.sandbox.render_tracking(number, journey(number)[steps])
        return sorted(self.adapter.normalized(raw), key=TrackingEvent.sort_key)  # DHL lists the newest first


async def _rig(store: Store, tmp: Path, **settings: Any) -> AsyncIterator[Rig]:
    sandbox = IntlExpress(CARRIER, tmp / "carrier")
    server = await serve(sandbox.handle)
    rig = Rig(store, sandbox, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", **settings)
    try:
        yield rig
    finally:
        await rig.adapter.stop()
        server.close()
        await sandbox.stop()


@pytest.fixture
async def rig(store: Store, tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(store, tmp_path, rate_per_s=100, burst=100):
        yield r


async def _tracking_events(store: Store) -> list[dict[str, Any]]:
    rows = await store.pending_events(10_000)
    return [
        json.loads(data) | {"subject": subject} for _seq, subject, _id, data in rows if ".tracking_event." in subject
    ]


async def test_merging_drops_duplicates_and_orders_by_event_time(rig: Rig, store: Store) -> None:
    sid = f"{CARRIER}:ABC123"
    everything = rig.events("ABC123")
    first = await rig.book.merge(sid, CARRIER, "ABC123", list(reversed(everything[:4])), via="test")
    assert [e.code for e in first] == [e.code for e in everything[:4]]
    second = await rig.book.merge(sid, CARRIER, "ABC123", everything + everything[:2], via="test")
    assert second == everything[4:]
    state = await rig.book.get(sid)
    assert state is not None and state.timeline == everything
    assert state.status == TrackingCode.DELIVERED and state.final
    assert await rig.book.merge(sid, CARRIER, "ABC123", everything, via="test") == []
    published = await _tracking_events(store)
    assert len(published) == len(everything)
    assert published[-1]["subject"] == "hub.evt.logistics.tracking_event.delivered"


async def test_a_late_older_event_never_moves_the_status_back(rig: Rig) -> None:
    sid = f"{CARRIER}:LATE1"
    events = rig.events("LATE1")
    await rig.book.merge(sid, CARRIER, "LATE1", events[:5], via="test")
    before = (await rig.book.get(sid)).status  # type: ignore[union-attr]
    stray = events[1].model_copy(
        update={"raw_description": "rescan", "occurred_at": events[1].occurred_at + timedelta(minutes=1)}
    )
    assert await rig.book.merge(sid, CARRIER, "LATE1", [stray], via="test") == [stray]
    state = await rig.book.get(sid)
    assert state is not None and state.status == before and state.timeline[2] == stray


async def test_an_unknown_code_is_kept_but_never_changes_the_status(rig: Rig) -> None:
    number = next(f"T{i}" for i in range(500) if any(s.intent == "unknown" for s in journey(f"T{i}")))
    events = rig.events(number)
    cut = next(i for i, e in enumerate(events) if e.unknown) + 1
    await rig.book.merge(f"{CARRIER}:{number}", CARRIER, number, events[:cut], via="test")
    state = await rig.book.get(f"{CARRIER}:{number}")
    assert state is not None and state.timeline[-1].unknown and state.status == events[cut - 2].code


async def test_polling_takes_what_is_new_and_stops_at_a_final_status(rig: Rig) -> None:
    await rig.knob("progress", {"tracking_number": "POLL1", "visible": 3})
    sid, outcome = await rig.poller.track_now(CARRIER, "POLL1")
    assert len(outcome.new) == 3 and outcome.error is None
    assert await rig.poller.run_once() == {}  # next poll not due yet
    await rig.knob("progress", {"tracking_number": "POLL1", "visible": 99})
    rig.clocks.advance(301)
    assert await rig.poller.run_once() == {sid: len(journey("POLL1")) - 3}
    state = await rig.book.get(sid)
    assert state is not None and state.final and state.next_poll_at is None
    rig.clocks.advance(10_000)
    assert await rig.book.due(100) == []


async def test_polling_waits_out_the_carriers_retry_after(rig: Rig) -> None:
    await rig.knob("rate_limit", {"per_s": 0.01, "burst": 1})  # the carrier's Retry-After: 100 s
    for number in ("RA1", "RA2", "RA3"):
        await rig.book.register(f"{CARRIER}:{number}", CARRIER, number)
    await rig.poller.run_once()
    stats = await rig.knob("stats")
    assert (stats["tracking_calls"], stats["throttled"]) == (1, 1)  # the third is not even tried
    assert rig.poller.wait_s(CARRIER) >= 99
    await rig.poller.run_once()
    assert (await rig.knob("stats"))["throttled"] == 1  # nothing due before the Retry-After ends
    await rig.knob("rate_limit", {"per_s": 50, "burst": 50})
    rig.clocks.advance(101)
    polled = await rig.poller.run_once()
    assert polled == {f"{CARRIER}:RA2": len(journey("RA2")), f"{CARRIER}:RA3": len(journey("RA3"))}


async def test_polling_keeps_the_hubs_own_pace_per_carrier(store: Store, tmp_path: Path) -> None:
    async for r in _rig(store, tmp_path, rate_per_s=1, burst=1):
        for number in ("P1", "P2"):
            await r.book.register(f"{CARRIER}:{number}", CARRIER, number)
        await r.poller.run_once()
        stats = await r.knob("stats")
        assert (stats["tracking_calls"], stats["throttled"]) == (1, 0)
        put_off = await r.book.get(f"{CARRIER}:P2")
        assert put_off is not None and not put_off.timeline and put_off.last_error is None
        r.clocks.advance(1.5)
        await r.poller.run_once()
        assert (await r.knob("stats"))["tracking_calls"] == 2


async def test_a_carrier_that_is_down_opens_its_breaker_which_closes_again(rig: Rig) -> None:
    await rig.knob("mode", {"mode": "down"})
    for number in ("BR1", "BR2", "BR3"):
        await rig.book.register(f"{CARRIER}:{number}", CARRIER, number)
    await rig.poller.run_once()
    assert rig.breaker.state is BreakerState.OPEN
    third = await rig.book.get(f"{CARRIER}:BR3")
    assert third is not None and "circuit open" in (third.last_error or "")
    await rig.knob("mode", {"mode": "ok"})
    rig.clocks.advance(61)
    assert rig.breaker.state is BreakerState.HALF_OPEN
    polled = await rig.poller.run_once()
    assert rig.breaker.state is BreakerState.CLOSED and sum(polled.values()) > 0
