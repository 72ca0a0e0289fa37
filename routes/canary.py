"""Canary analysis: a candidate adapter version that does worse than the route's stable version is
rolled back automatically.

What a caller may rely on:
- `judge(policy, stable, candidate)` is pure. It never finds a breach before the candidate made
  `min_samples` calls in the window. Then it is a breach when the candidate's error rate exceeds
  the stable version's by more than `max_error_rate_delta` (against 0.0 when the stable version has
  fewer than `min_samples` calls: a failing candidate is withdrawn even without a baseline), or when
  the candidate's p99 latency exceeds `max_p99_ratio` times the stable version's (only when the
  stable version has `min_samples` calls; a stable p99 below 1 ms counts as 1 ms). The reason names
  each breached figure and its threshold; the figures are JSON values for the audit log.
- `candidates(route)` gives (stable, candidate) pairs: the stable version is `route.stable_version`
  (`stable`, else the version with the highest weight, the first listed on a tie), the one a
  rollback returns all traffic to; candidates are the other versions with a weight above 0.
- `CanaryAnalysis.run_once()` judges every candidate of every route over the last `window_s` and
  awaits `rollback(route, candidate, reason, figures)` once for each breach. `rollback` must return
  only once the candidate is withdrawn, and raise otherwise; a raise is logged and the next round
  judges again. After a rollback, the same candidate on the same route is judged only on calls that
  finished after it, so routes that have not caught up with the rollback yet are not rolled back
  twice, and a candidate put back by an operator starts with a clean window.
- `start()` runs a round every `interval_s` on the instance that holds the leader lease; an error
  in a round is logged and the next round runs. `policy` may be replaced at any time (live config);
  the next round uses it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from routes.lease import cancel, every

if TYPE_CHECKING:
    # Types only: routes/config.py imports CanaryPolicy from here, and loading config (the CLI
    # validating routes.yaml) must neither import itself back nor the database stack.
    from routes.config import Route
    from store import Store
    from store.metrics import Stats, VersionStats

log = logging.getLogger("hub.canary")

Figures = dict[str, str | int | float | None]
RollbackFn = Callable[[str, str, str, Figures], Awaitable[None]]
Clock = Callable[[], datetime]
MIN_P99_MS = 1.0  # below the resolution of the journal's timestamps in practice: no ratio over noise
_EPSILON = 1e-9  # rates like 0.07 - 0.02 must not breach a 0.05 limit by a rounding error


class CanaryPolicy(BaseModel):
    """Thresholds of canary analysis; the `canary:` section of routes.yaml."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    interval_s: float = Field(default=5.0, gt=0, le=3600, description="seconds between two rounds")
    window_s: float = Field(default=60.0, gt=0, le=86400, description="each round judges the calls of this window")
    min_samples: int = Field(default=20, ge=1, description="calls of the candidate before it is judged")
    max_error_rate_delta: float = Field(
        default=0.05, ge=0, le=1, description="how far the candidate's error rate may exceed the stable one's"
    )
    max_p99_ratio: float = Field(
        default=2.0, ge=1, description="how many times the stable version's p99 latency the candidate's may be"
    )


@dataclass(frozen=True)
class Verdict:
    breach: bool
    reason: str
    figures: Figures = field(default_factory=dict)


@dataclass(frozen=True)
class Rollback:
    """A candidate withdrawn by one round of canary analysis."""

    route: str
    adapter: str
    stable: str
    candidate: str
    reason: str
    figures: Figures


def judge(policy: CanaryPolicy, stable: VersionStats | None, candidate: VersionStats | None) -> Verdict:
    """Whether `candidate` breaches `policy` compared with `stable` (None: no calls in the window)."""
    cand_calls = candidate.calls if candidate else 0
    stable_calls = stable.calls if stable else 0
    figures: Figures = {
        "candidate_calls": cand_calls,
        "candidate_error_rate": candidate.error_rate if candidate else None,
        "candidate_p99_ms": candidate.p99_ms if candidate else None,
        "stable_calls": stable_calls,
        "stable_error_rate": stable.error_rate if stable else None,
        "stable_p99_ms": stable.p99_ms if stable else None,
        "min_samples": policy.min_samples,
        "max_error_rate_delta": policy.max_error_rate_delta,
        "max_p99_ratio": policy.max_p99_ratio,
    }
    if candidate is None or cand_calls < policy.min_samples:
        return Verdict(False, f"waiting: {cand_calls} of {policy.min_samples} samples", figures)
    baseline = stable is not None and stable_calls >= policy.min_samples
    breaches: list[str] = []
    stable_rate = stable.error_rate if stable is not None and baseline else 0.0
    if candidate.error_rate - stable_rate > policy.max_error_rate_delta + _EPSILON:
        if baseline:
            breaches.append(
                f"error rate {candidate.error_rate:.2f} vs stable {stable_rate:.2f} "
                f"exceeds +{policy.max_error_rate_delta:.2f}"
            )
        else:
            breaches.append(
                f"error rate {candidate.error_rate:.2f} exceeds {policy.max_error_rate_delta:.2f} "
                f"(no stable baseline: {stable_calls} of {policy.min_samples} samples)"
            )
    if stable is not None and baseline:
        limit = policy.max_p99_ratio * max(stable.p99_ms, MIN_P99_MS)
        if candidate.p99_ms > limit:
            breaches.append(
                f"p99 {candidate.p99_ms:.0f} ms vs stable {stable.p99_ms:.0f} ms exceeds x{policy.max_p99_ratio:g}"
            )
    if breaches:
        return Verdict(True, "; ".join(breaches), figures)
    if stable is not None and baseline:
        versus = f"vs stable {stable_rate:.2f}, p99 {candidate.p99_ms:.0f} ms vs stable {stable.p99_ms:.0f} ms"
    else:
        versus = f"(no stable baseline: {stable_calls} of {policy.min_samples} samples)"
    return Verdict(False, f"within thresholds: error rate {candidate.error_rate:.2f} {versus}", figures)


def _version_number(version: str) -> int:
    found = re.fullmatch(r"v(\d+)", version)
    return int(found.group(1)) if found else 0


def candidates(route: Route) -> list[tuple[str, str]]:
    """(stable, candidate) for every version of the route other than the stable one with weight > 0,
    in version order."""
    stable = route.stable_version  # the one a rollback (routes/gray.py) sends everything back to
    others = [v for v, w in route.weights.items() if v != stable and w > 0]
    return [(stable, v) for v in sorted(others, key=lambda v: (_version_number(v), v))]


def _now() -> datetime:
    return datetime.now(UTC)


class CanaryAnalysis:
    """The periodic controller that rolls back misbehaving candidates (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        routes: Callable[[], list[Route]],
        rollback: RollbackFn,
        leader: Callable[[], Awaitable[bool]],
        policy: CanaryPolicy | None = None,
        clock: Clock = _now,
    ) -> None:
        self.store, self.routes, self.rollback, self.leader = store, routes, rollback, leader
        self.policy = policy or CanaryPolicy()
        self.clock = clock
        self._rolled_back: dict[tuple[str, str], datetime] = {}  # (route, candidate) -> when
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run rounds in the background until `stop()`; a second call while running does nothing."""
        if self._task is None or self._task.done():
            self._task = every("canary-analysis", self.policy.interval_s, self._leads, self.run_once)

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _leads(self) -> bool:
        return self.policy.enabled and await self.leader()

    async def run_once(self) -> list[Rollback]:
        """One round, whoever holds the lease: judge every candidate, roll back each breach, and
        return the rollbacks that went through. Nothing is read when no route has a candidate."""
        policy = self.policy
        if not policy.enabled:
            return []
        from store.metrics import attempt_stats  # here, not at the top: see the TYPE_CHECKING imports

        now = self.clock()
        window_start = now - timedelta(seconds=policy.window_s)
        self._rolled_back = {k: at for k, at in self._rolled_back.items() if at > window_start}
        pairs = [(route, stable, cand) for route in self.routes() for stable, cand in candidates(route)]
        stats: dict[str, Stats] = {}
        for adapter in sorted({route.adapter for route, _, _ in pairs}):
            stats[adapter] = await attempt_stats(self.store, window_start, adapter)
        done: list[Rollback] = []
        for route, stable, cand in pairs:
            seen = stats[route.adapter]
            since = self._rolled_back.get((route.name, cand))
            if since is not None:  # only what the candidate did after its last rollback
                seen = await attempt_stats(self.store, since, route.adapter)
            verdict = judge(policy, seen.get((route.adapter, stable)), seen.get((route.adapter, cand)))
            if not verdict.breach:
                log.debug("canary %s %s@%s: %s", route.name, route.adapter, cand, verdict.reason)
                continue
            figures: Figures = {"adapter": route.adapter, "stable": stable, "candidate": cand, **verdict.figures}
            figures["window_s"] = policy.window_s
            result = Rollback(route.name, route.adapter, stable, cand, verdict.reason, figures)
            try:
                await self.rollback(route.name, cand, verdict.reason, result.figures)
            except Exception:  # one route's failed rollback must not stop the others; judged again next round
                log.exception("canary: rolling back %s@%s on route %s failed", route.adapter, cand, route.name)
                continue
            self._rolled_back[(route.name, cand)] = self.clock()
            log.warning("canary: rolled back %s@%s on route %s: %s", route.adapter, cand, route.name, verdict.reason)
            done.append(result)
        return done
