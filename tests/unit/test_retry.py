"""Backoff delays and the circuit breaker."""

from __future__ import annotations

from routes.config import BreakerPolicy, RetryPolicy
from routes.retry import BreakerState, CircuitBreaker, backoff_delay


def test_backoff_grows_until_the_cap_even_with_worst_case_jitter() -> None:
    policy = RetryPolicy(base_delay_s=0.5, factor=2, max_delay_s=4, jitter=0.2)
    high = [backoff_delay(policy, n, rand=lambda: 0.0) for n in range(1, 6)]
    low = [backoff_delay(policy, n, rand=lambda: 1.0) for n in range(1, 6)]
    assert high == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert all(low[i] < high[i + 1] for i in range(3))  # a jittered step is still shorter than the next


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_then_half_opens_for_one_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3, reset_after_s=10), clock)
    for _ in range(2):
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allows() > 1
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and breaker.allows() == 0
    assert breaker.wait_s() == 10
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allows() == 1
    breaker.started()
    assert breaker.allows() == 0  # one probe at a time
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 20
    breaker.started()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allows() > 1
