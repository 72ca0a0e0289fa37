"""Figures over journalled partner calls, and canary analysis over them, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from canonical import Envelope, parse_envelope
from routes.canary import CanaryAnalysis, CanaryPolicy, Figures
from routes.config import Route
from routes.pipeline import scope_of
from store import Store
from store.metrics import attempt_stats
from store.schema import AttemptRow

ADAPTER = "factor-json"


def envelope() -> Envelope:
    return parse_envelope(
        {
            "type": "trade.invoice",
            "source": "bank-a",
            "destination": ADAPTER,
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": {
                "invoice_no": f"C-{uuid.uuid4().hex[:8]}",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "seller": {"name": "S", "country": "CN", "contact_email": "a@b.example"},
                "buyer": {"name": "B", "country": "DE"},
                "total": {"currency": "EUR", "amount": "10.00"},
            },
        }
    )


async def call(store: Store, version: str, outcome: str) -> None:
    """One message delivered through one partner call, journalled as the pipeline does."""
    env = envelope()
    await store.ensure(env, scope_of(env))
    mid = str(env.id)
    await store.record(mid, "routed", adapter=ADAPTER, version=version)
    started = datetime.now(UTC)
    await store.begin_attempt(mid, ADAPTER, version)
    await store.finish_attempt(mid, ADAPTER, version, started, outcome, None if outcome == "ok" else "503")


async def calls(store: Store, version: str, ok: int, failed: int) -> None:
    await asyncio.gather(*(call(store, version, "ok") for _ in range(ok)))
    await asyncio.gather(*(call(store, version, "transient") for _ in range(failed)))


def split(v2: int = 10) -> Route:
    return Route(name="invoices", adapter=ADAPTER, weights={"v1": 100 - v2, "v2": v2})


class Rollbacks:
    """Stands in for the hub's rollback: records what it was asked to withdraw."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, Figures]] = []

    async def __call__(self, route: str, candidate: str, reason: str, figures: Figures) -> None:
        self.asked.append((route, candidate, reason, figures))


async def leader() -> bool:
    return True


async def test_stats_count_failures_and_p99_per_version_within_the_window(store: Store) -> None:
    now = datetime.now(UTC)
    since = now - timedelta(seconds=60)

    def row(version: str, latency_ms: int, outcome: str, age_s: float = 1, adapter: str = ADAPTER) -> AttemptRow:
        finished = now - timedelta(seconds=age_s)
        return AttemptRow(
            message_id=str(uuid.uuid4()),
            n=1,
            adapter=adapter,
            version=version,
            started_at=finished - timedelta(milliseconds=latency_ms),
            finished_at=finished,
            outcome=outcome,
        )

    rows = [row("v1", ms, "ok") for ms in range(1, 101)]
    rows += [row("v2", 40, outcome) for outcome in ("ok", "ok", "transient", "permanent", "in_doubt")]
    rows += [row("v1", 5000, "transient", age_s=120)]  # before the window
    rows += [row("v1", 10, "permanent", adapter="cips")]  # another adapter
    async with async_sessionmaker(store.engine)() as s, s.begin():
        s.add_all(rows)

    figures = await attempt_stats(store, since, ADAPTER)
    assert set(figures) == {(ADAPTER, "v1"), (ADAPTER, "v2")}
    v1, v2 = figures[(ADAPTER, "v1")], figures[(ADAPTER, "v2")]
    assert (v1.calls, v1.failures, v1.error_rate) == (100, 0, 0.0)
    assert abs(v1.p99_ms - 99) < 0.01
    assert (v2.calls, v2.failures, v2.error_rate) == (5, 3, 0.6)
    assert abs(v2.p99_ms - 40) < 0.01
    everything = await attempt_stats(store, since)
    assert everything[("cips", "v1")].failures == 1 and len(everything) == 3


async def test_no_attempts_give_no_figures(store: Store) -> None:
    assert await attempt_stats(store, datetime.now(UTC) - timedelta(seconds=60)) == {}


async def test_a_half_failing_candidate_is_rolled_back_once(store: Store) -> None:
    await calls(store, "v1", ok=40, failed=0)
    await calls(store, "v2", ok=10, failed=10)
    rollbacks = Rollbacks()
    live = [split(v2=10)]
    analysis = CanaryAnalysis(store, lambda: live, rollbacks, leader, CanaryPolicy(min_samples=20))

    done = await analysis.run_once()

    assert len(rollbacks.asked) == 1
    route, candidate, reason, figures = rollbacks.asked[0]
    assert (route, candidate) == ("invoices", "v2")
    assert reason.startswith("error rate 0.50 vs stable 0.00 exceeds +0.05"), reason
    assert figures["candidate_calls"] == 20 and figures["stable"] == "v1" and figures["adapter"] == ADAPTER
    assert [(r.route, r.candidate, r.reason) for r in done] == [("invoices", "v2", reason)]

    # The routes have not caught up with the rollback yet: the same calls do not roll it back again.
    assert await analysis.run_once() == []
    # They have: v2 has no weight and is no candidate any more.
    live[:] = [split(v2=0)]
    assert await analysis.run_once() == []
    assert len(rollbacks.asked) == 1


async def test_too_few_candidate_samples_roll_back_nothing(store: Store) -> None:
    await calls(store, "v1", ok=40, failed=0)
    await calls(store, "v2", ok=0, failed=7)
    rollbacks = Rollbacks()
    analysis = CanaryAnalysis(store, lambda: [split(v2=10)], rollbacks, leader, CanaryPolicy(min_samples=20))

    assert await analysis.run_once() == []
    assert rollbacks.asked == []


async def test_a_disabled_policy_rolls_back_nothing(store: Store) -> None:
    await calls(store, "v2", ok=0, failed=20)
    rollbacks = Rollbacks()
    policy = CanaryPolicy(enabled=False)
    analysis = CanaryAnalysis(store, lambda: [split(v2=10)], rollbacks, leader, policy)

    assert await analysis.run_once() == []
    assert rollbacks.asked == []


async def test_a_failed_rollback_is_tried_again_next_round(store: Store) -> None:
    await calls(store, "v1", ok=20, failed=0)
    await calls(store, "v2", ok=0, failed=20)
    asked: list[str] = []

    async def refused(route: str, candidate: str, reason: str, figures: Figures) -> None:
        asked.append(candidate)
        raise RuntimeError("the routes changed meanwhile")

    analysis = CanaryAnalysis(store, lambda: [split(v2=10)], refused, leader, CanaryPolicy())

    assert await analysis.run_once() == []
    assert await analysis.run_once() == []
    assert asked == ["v2", "v2"]


async def test_the_running_controller_rolls_back_only_while_it_leads(store: Store) -> None:
    await calls(store, "v1", ok=20, failed=0)
    await calls(store, "v2", ok=0, failed=20)
    rollbacks = Rollbacks()
    rounds_without_lease, rolled_back = asyncio.Event(), asyncio.Event()
    asked_lead: list[bool] = []
    leading = False

    async def lease() -> bool:
        asked_lead.append(leading)
        if len(asked_lead) >= 3:
            rounds_without_lease.set()
        return leading

    async def rollback(route: str, candidate: str, reason: str, figures: Figures) -> None:
        await rollbacks(route, candidate, reason, figures)
        rolled_back.set()

    analysis = CanaryAnalysis(store, lambda: [split(v2=10)], rollback, lease, CanaryPolicy(interval_s=0.05))
    analysis.start()
    try:
        async with asyncio.timeout(20):
            await rounds_without_lease.wait()
            assert rollbacks.asked == []  # rounds without the lease judge nothing
            leading = True
            await rolled_back.wait()
    finally:
        await analysis.stop()
    assert [(r, c) for r, c, _, _ in rollbacks.asked] == [("invoices", "v2")]
