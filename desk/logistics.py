"""Shipments and their normalized tracking timelines: webhook pushes and polling, merged once.

What a caller may rely on:
- `ShipmentBook.merge` adds a carrier's events to a shipment (created if new): duplicates (same carrier
  event id, or same code + time + place) are dropped, the timeline is ordered by event time, and the
  current status is the latest mapped event's, so a late older event never moves a shipment backwards.
  Each new event is published once, from the journal's outbox in the same transaction, on
  `hub.evt.logistics.tracking_event.<code>` (`unknown` for a carrier code the hub does not map).
- A shipment is final (delivered or returned) and no longer polled; unknown codes never change status.
- `TrackingPoller` asks carriers about shipments not yet final, one instance at a time (leader lease),
  at each carrier's pace (its adapter's `rate_per_s` / `burst`), and waits what a carrier's 429
  `Retry-After` says before calling that carrier again; a carrier whose breaker is open is not called.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from adapters.base import PermanentError, TransientError
from adapters.carriers import CarrierAdapter, RateLimited
from canonical.envelope import Envelope
from canonical.logistics import Shipment, TrackingCode, TrackingEvent, merge_events
from desk.calendar import utc_now
from routes.lease import LeaderLease, cancel, every
from routes.retry import CircuitBreaker
from routes.settings import LogisticsTuning
from security.access import RateLimit, RateLimiter
from store import Store
from store.journal import Batch, MessageView
from store.schema import ShipmentEventRow, ShipmentRow

if TYPE_CHECKING:  # routes.pipeline imports the desk: a type only here
    from routes.pipeline import Lane

log = logging.getLogger("hub.logistics")
FINAL_CODES = frozenset({TrackingCode.DELIVERED, TrackingCode.RETURNED})
MAX_TIMELINE = 10_000
Clock = Callable[[], datetime]
T = TypeVar("T")


def status_digest(event: TrackingEvent) -> str:
    code, at, place = event.status_key()
    return hashlib.sha256(json.dumps([code, at.isoformat(), list(place)]).encode()).hexdigest()


def code_name(event: TrackingEvent) -> str:
    return event.code.value if event.code is not None else "unknown"


@dataclass(frozen=True)
class ShipmentState:
    """A shipment as the hub knows it: its row and its timeline (oldest first)."""

    id: str
    carrier: str
    tracking_number: str
    owner: str | None
    status: str | None
    final: bool
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_error: str | None
    updated_at: datetime
    timeline: list[TrackingEvent] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "shipment_id": self.id,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "status": self.status,
            "final": self.final,
            "events": len(self.timeline),
            "next_poll_at": self.next_poll_at.isoformat() if self.next_poll_at else None,
            "last_polled_at": self.last_polled_at.isoformat() if self.last_polled_at else None,
            "last_error": self.last_error,
            "updated_at": self.updated_at.isoformat(),
            "timeline": [e.model_dump(mode="json", exclude={"shipment_id"}) for e in self.timeline],
        }


class ShipmentBook:
    """The shipments table and their events, over the journal's database."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store, self.clock = store, clock
        self._lock = store.engine.dialect.name == "postgresql"

    async def register(self, shipment_id: str, carrier: str, number: str, owner: str | None = None) -> bool:
        """Track a shipment (polled from now on); True if it was new. A known one keeps its owner, unless
        it had none (a webhook created it)."""
        now = self.clock()

        async def op(batch: Batch) -> bool:
            row = await batch.s.get(ShipmentRow, shipment_id, with_for_update=self._lock)
            if row is not None:
                if row.owner is None and owner is not None:
                    row.owner = owner
                if not row.final and row.next_poll_at is None:
                    row.next_poll_at = now
                return False
            batch.s.add(_new_row(shipment_id, carrier, number, owner, now, poll_at=now))
            return True

        return await self._retry(op)

    async def merge(
        self, shipment_id: str, carrier: str, number: str, events: Iterable[TrackingEvent], via: str
    ) -> list[TrackingEvent]:
        """Add `events` to the shipment's timeline; returns those that were new (oldest first)."""
        incoming = [e for e in events if e.shipment_id == shipment_id]
        now = self.clock()

        async def op(batch: Batch) -> list[TrackingEvent]:
            s = batch.s
            row = await s.get(ShipmentRow, shipment_id, with_for_update=self._lock)
            if row is None:
                row = _new_row(shipment_id, carrier, number, None, now, poll_at=None)  # pushed, not registered
                s.add(row)
            stored = (
                await s.execute(select(ShipmentEventRow).where(ShipmentEventRow.shipment_id == shipment_id))
            ).scalars()
            existing = [TrackingEvent.model_validate_json(r.event) for r in stored]
            known = {status_digest(e) for e in existing}
            merged = merge_events(existing, incoming)
            fresh = [e for e in merged if status_digest(e) not in known][: max(0, MAX_TIMELINE - len(existing))]
            for event in fresh:
                digest = status_digest(event)
                s.add(
                    ShipmentEventRow(
                        shipment_id=shipment_id,
                        status_key=digest,
                        source_key=f"{event.carrier}:{event.source_event_id}"[:200] if event.source_event_id else None,
                        occurred_at=event.occurred_at,
                        code=event.code.value if event.code else None,
                        event=event.model_dump_json(),
                        created_at=now,
                    )
                )
                data = {**event.model_dump(mode="json"), "via": via}
                batch.event(f"hub.evt.logistics.tracking_event.{code_name(event)}", f"{shipment_id}:{digest}", data)
            if fresh:
                kept = known | {status_digest(e) for e in fresh}
                timeline = [e for e in merged if status_digest(e) in kept]
                current = Shipment(
                    shipment_id=shipment_id, carrier=carrier, tracking_number=number, timeline=timeline
                ).current_status
                row.status = current.value if current else None
                row.final = current in FINAL_CODES
                row.events = len(timeline)
                if row.final:
                    row.next_poll_at = None
                row.updated_at = now
            return fresh

        return await self._retry(op)

    async def polled(self, shipment_id: str, next_poll_at: datetime | None, error: str | None) -> None:
        """Note a poll (or a poll put off): when to ask again, and what went wrong, if anything."""
        now = self.clock()

        async def op(batch: Batch) -> None:
            await batch.s.execute(
                update(ShipmentRow)
                .where(ShipmentRow.id == shipment_id, ShipmentRow.final.is_(False))
                .values(next_poll_at=next_poll_at, last_polled_at=now, last_error=error[:2000] if error else None)
            )

        await self.store.transaction(op)

    async def due(self, limit: int) -> list[tuple[str, str, str]]:
        """(id, carrier, tracking number) of shipments whose next poll is due, the longest waiting first."""
        query = (
            select(ShipmentRow.id, ShipmentRow.carrier, ShipmentRow.tracking_number)
            .where(ShipmentRow.final.is_(False), ShipmentRow.next_poll_at <= self.clock())
            .order_by(ShipmentRow.next_poll_at)
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in await conn.execute(query)]

    async def get(self, shipment_id: str) -> ShipmentState | None:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).first()
            if row is None:
                return None
            events = await conn.execute(
                select(ShipmentEventRow.event).where(ShipmentEventRow.shipment_id == shipment_id)
            )
            timeline = sorted((TrackingEvent.model_validate_json(e[0]) for e in events), key=TrackingEvent.sort_key)
        r = row._mapping
        return ShipmentState(
            r["id"],
            r["carrier"],
            r["tracking_number"],
            r["owner"],
            r["status"],
            bool(r["final"]),
            _aware(r["next_poll_at"]),
            _aware(r["last_polled_at"]),
            r["last_error"],
            _aware(r["updated_at"]),
            timeline,
        )

    async def _retry(self, op: Callable[[Batch], Awaitable[T]]) -> T:
        try:
            result: T = await self.store.transaction(op)
        except IntegrityError:  # another hub instance created the same shipment a moment ago
            result = await self.store.transaction(op)
        return result


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite: no offset


def _new_row(
    shipment_id: str, carrier: str, number: str, owner: str | None, now: datetime, poll_at: datetime | None
) -> ShipmentRow:
    return ShipmentRow(
        id=shipment_id,
        carrier=carrier,
        tracking_number=number,
        owner=owner,
        status=None,
        final=False,
        events=0,
        next_poll_at=poll_at,
        created_at=now,
        updated_at=now,
    )


async def apply_tracking(store: Store, answer: Envelope, view: MessageView, channel: str) -> list[str]:
    """A carrier's tracking push (a `logistics.shipment` answer, journalled as `view`): merged into the
    shipment's timeline; returns the codes of the events that were new."""
    shipment = answer.payload
    assert isinstance(shipment, Shipment)
    new = await ShipmentBook(store).merge(
        shipment.shipment_id, channel, shipment.tracking_number, shipment.timeline, via=f"webhook:{view.id}"
    )
    return [code_name(e) for e in new]


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did: the new events, or why the carrier was not (successfully) asked."""

    new: list[TrackingEvent] = field(default_factory=list)
    error: str | None = None
    retry_after_s: float | None = None  # the carrier (429) or the hub's pace said: not before this

    def as_json(self) -> dict[str, Any]:
        return {
            "new_events": len(self.new),
            "error": self.error,
            "retry_after_s": round(self.retry_after_s, 3) if self.retry_after_s is not None else None,
        }


Carriers = Callable[[], Mapping[str, tuple[CarrierAdapter, CircuitBreaker]]]


class TrackingPoller:
    """Polls the carriers about shipments not yet final (see the module docstring)."""

    def __init__(
        self,
        book: ShipmentBook,
        carriers: Carriers,
        tuning: LogisticsTuning,
        lease: LeaderLease | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book, self.carriers, self.tuning, self.lease = book, carriers, tuning, lease
        self._monotonic = monotonic
        self._pace = RateLimiter(monotonic)
        self._blocked_until: dict[str, float] = {}  # carrier -> monotonic time its Retry-After ends
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        leads = self.lease.held if self.lease is not None else _always
        self._task = every("carrier-polling", self.tuning.round_interval_s, leads, self.run_once)

    async def stop(self) -> None:
        await cancel(self._task)
        if self.lease is not None:
            await self.lease.release()

    def wait_s(self, carrier: str) -> float:
        """How long before `carrier` may be called again after a 429 (0: now)."""
        return max(0.0, self._blocked_until.get(carrier, 0.0) - self._monotonic())

    async def run_once(self) -> dict[str, int]:
        """One round over the shipments due; returns the number of new events per shipment polled."""
        found: dict[str, int] = {}
        for shipment_id, carrier, number in await self.book.due(self.tuning.round_limit):
            outcome = await self.poll(shipment_id, carrier, number)
            found[shipment_id] = len(outcome.new)
        return found

    async def poll(self, shipment_id: str, carrier: str, number: str) -> PollOutcome:
        """Ask the carrier about one shipment now, if its pace, Retry-After and breaker allow."""
        now = self.book.clock()
        entry = self.carriers().get(carrier)
        if entry is None:
            outcome = PollOutcome(error=f"no running carrier adapter {carrier!r}")
            await self.book.polled(shipment_id, now + timedelta(seconds=self.tuning.poll_interval_s), outcome.error)
            return outcome
        adapter, breaker = entry
        wait = self.wait_s(carrier)
        if wait == 0:
            settings = adapter.settings
            allowed, wait = self._pace.take(carrier, RateLimit(per_second=settings.rate_per_s, burst=settings.burst))
            wait = 0.0 if allowed else wait
        if wait > 0:  # not an error: the shipment is asked about as soon as the carrier may be called
            await self.book.polled(shipment_id, now + timedelta(seconds=wait), None)
            return PollOutcome(retry_after_s=wait)
        if breaker.allows() == 0:
            outcome = PollOutcome(error=f"{carrier}: circuit open", retry_after_s=breaker.wait_s())
            await self.book.polled(shipment_id, now + timedelta(seconds=max(1.0, breaker.wait_s())), outcome.error)
            return outcome
        breaker.started()
        try:
            events = await adapter.track(number)
        except RateLimited as exc:
            breaker.success()  # the carrier answered: it is up, we were too fast for it
            self._blocked_until[carrier] = self._monotonic() + exc.retry_after_s
            await self.book.polled(shipment_id, now + timedelta(seconds=exc.retry_after_s), exc.reason)
            return PollOutcome(error=exc.reason, retry_after_s=exc.retry_after_s)
        except TransientError as exc:
            breaker.failure()
            await self.book.polled(shipment_id, now + timedelta(seconds=self.tuning.error_backoff_s), exc.reason)
            return PollOutcome(error=exc.reason)
        except PermanentError as exc:
            breaker.success()
            await self.book.polled(shipment_id, now + timedelta(seconds=self.tuning.poll_interval_s), exc.reason)
            return PollOutcome(error=exc.reason)
        breaker.success()
        new = await self.book.merge(shipment_id, carrier, number, events, via="poll")
        await self.book.polled(shipment_id, now + timedelta(seconds=self.tuning.poll_interval_s), None)
        return PollOutcome(new=new)

    async def track_now(self, carrier: str, number: str, owner: str | None = None) -> tuple[str, PollOutcome]:
        """Register a shipment and ask its carrier now (within the carrier's pace); returns its id."""
        entry = self.carriers().get(carrier)
        if entry is None:
            raise LookupError(f"no carrier adapter {carrier!r}; carriers: {', '.join(sorted(self.carriers()))}")
        adapter, _breaker = entry
        adapter.check_number(number)
        shipment_id = adapter.shipment_id(number)
        await self.book.register(shipment_id, carrier, number, owner)
        return shipment_id, await self.poll(shipment_id, carrier, number)


async def _always() -> bool:
    return True


A = TypeVar("A")


def adapter_lanes(lanes: Mapping[tuple[str, str], Lane], kind: type[A]) -> dict[str, tuple[A, CircuitBreaker]]:
    """The running adapters of one class by adapter name, each with its lane's breaker (the last
    version wins when an adapter runs several)."""
    return {name: (lane.adapter, lane.breaker) for (name, _v), lane in lanes.items() if isinstance(lane.adapter, kind)}
