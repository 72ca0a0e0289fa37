"""Figures over the journalled partner calls (the `attempts` table), for canary analysis.

What a caller may rely on:
- `attempt_stats(store, since, adapter=None)` counts the attempts that finished at or after `since`
  (one row per partner call, written by `Store.finish_attempt`), per (adapter, version); an
  (adapter, version) with no such attempt is absent from the result.
- `failures` counts the outcomes `transient`, `permanent` and `in_doubt` (a timeout is a failure
  too); `ok` and any other outcome count only as calls.
- `p99_ms` is the nearest-rank 99th percentile of `finished_at - started_at` in milliseconds
  (the smallest latency that at least 99 % of the calls did not exceed); a latency below zero
  (clocks of two hosts) counts as 0.
- Works on every database the Store supports; one read, no transaction held open, nothing written.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from store.journal import Store
from store.schema import AttemptRow

FAILURES = frozenset({"transient", "permanent", "in_doubt"})
Stats = dict[tuple[str, str], "VersionStats"]  # by (adapter, version)


@dataclass(frozen=True)
class VersionStats:
    """The partner calls of one adapter version over a window."""

    adapter: str
    version: str
    calls: int
    failures: int
    p99_ms: float

    @property
    def error_rate(self) -> float:
        """failures / calls, 0.0 without calls."""
        return self.failures / self.calls if self.calls else 0.0


def p99(latencies_ms: list[float]) -> float:
    """Nearest-rank 99th percentile; 0.0 for no values."""
    if not latencies_ms:
        return 0.0
    ordered = sorted(latencies_ms)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the hub writes is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def attempt_stats(store: Store, since: datetime, adapter: str | None = None) -> Stats:
    """Calls, failures and p99 latency per (adapter, version) of the attempts finished at or after
    `since` (an aware datetime; a naive one is taken as UTC), of one adapter or of all."""
    # The raw rows, not SQL aggregates: a latency percentile has no portable SQL between SQLite and
    # PostgreSQL, and a window holds a few thousand rows at most.
    query = select(
        AttemptRow.adapter, AttemptRow.version, AttemptRow.outcome, AttemptRow.started_at, AttemptRow.finished_at
    ).where(AttemptRow.finished_at.is_not(None), AttemptRow.finished_at >= _utc(since))
    if adapter is not None:
        query = query.where(AttemptRow.adapter == adapter)
    latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
    failures: dict[tuple[str, str], int] = defaultdict(int)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    for name, version, outcome, started_at, finished_at in rows:
        if finished_at is None:  # excluded by the query; this tells the type checker
            continue
        key = (name, version)
        latencies[key].append(max(0.0, (_utc(finished_at) - _utc(started_at)).total_seconds() * 1000))
        failures[key] += outcome in FAILURES
    return {
        key: VersionStats(key[0], key[1], len(values), failures[key], p99(values)) for key, values in latencies.items()
    }
