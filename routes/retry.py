"""Retry delays and the circuit breaker: the one implementation every adapter worker uses."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import StrEnum

from routes.config import BreakerPolicy, RetryPolicy


def backoff_delay(policy: RetryPolicy, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before attempt `attempt + 1`. The jitter only shortens a step by up to `jitter`, so with
    factor 2 and jitter < 0.5 successive delays still grow."""
    raw = min(policy.max_delay_s, policy.base_delay_s * policy.factor ** max(0, attempt - 1))
    return raw * (1 - policy.jitter * rand())


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive transient failures; after `reset_after_s` lets one
    probe through (half-open); a success closes it, a failure opens it again."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.policy.reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def wait_s(self) -> float:
        """How long until a call may be tried (0 when closed or a probe is due)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.policy.reset_after_s - (self._clock() - self._opened_at))

    def allows(self) -> int:
        """How many calls may start now: all when closed, one probe when half-open, none when open."""
        state = self.state
        if state is BreakerState.CLOSED:
            return 1 << 30
        if state is BreakerState.HALF_OPEN and not self._probing:
            return 1
        return 0

    def started(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._probing = True

    def success(self) -> None:
        self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self.policy.failure_threshold:
            self._opened_at = self._clock()
