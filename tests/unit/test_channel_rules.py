"""What the journal's attempts say about a payment, and when the breaker keeps it off its channel: a
payment that failed on a channel never becomes that channel's half-open probe (so it can fail over)."""

from __future__ import annotations

from adapters.base import AdapterContext, build
from routes.channels import CallHistory, breaker_reason
from routes.config import AdapterConfig, BreakerPolicy
from routes.pipeline import Lane
from routes.retry import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_history_tells_sent_in_doubt_and_where_it_failed() -> None:
    assert CallHistory.of([]) == CallHistory(sent=False, in_doubt=False, failed_on=frozenset())
    refused = CallHistory.of([("cips", "v1", "transient"), ("cips", "v1", "transient")])
    assert not refused.sent and not refused.in_doubt and refused.failed_here("cips")
    doubt = CallHistory.of([("cips", "v1", "in_doubt"), ("cips", "v1", "transient")])
    assert doubt.sent and doubt.in_doubt  # a refused resend does not settle the doubt
    settled = CallHistory.of([("cips", "v1", "in_doubt"), ("cips", "v1", "ok")])
    assert settled.sent and not settled.in_doubt
    assert CallHistory.of([("cips", "v1", None)]) == CallHistory(sent=False, in_doubt=False, failed_on=frozenset())


def lane(clock: Clock) -> Lane:
    config = AdapterConfig.model_validate(
        {"kind": "cips", "versions": {"v1": {"url": "http://127.0.0.1:9", "network_bic": "CIPSCNSHXXX"}}}
    )
    adapter = build("cips", AdapterContext("cips", "v1", config.versions["v1"].model_dump(), str))
    return Lane(
        "cips", "v1", adapter, config, CircuitBreaker(BreakerPolicy(failure_threshold=2, reset_after_s=10), clock)
    )


def test_the_half_open_probe_is_a_payment_that_never_failed_on_the_channel() -> None:
    clock = Clock()
    cips = lane(clock)
    failed_here = CallHistory.of([("cips", "v1", "transient")])
    fresh = CallHistory.of([])
    assert breaker_reason(cips, failed_here) is None  # closed: it is retried here
    cips.breaker.failure()
    cips.breaker.failure()
    assert breaker_reason(cips, fresh) == "the channel's circuit breaker is open"
    clock.now = 11  # half-open
    assert breaker_reason(cips, fresh) is None  # the probe
    assert "already failed on it" in (breaker_reason(cips, failed_here) or "")
    assert breaker_reason(cips, CallHistory.of([("swift", "v1", "transient")])) is None
