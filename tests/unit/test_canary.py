"""Canary analysis as pure functions: the verdict on a candidate, and which versions are candidates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from routes.canary import CanaryPolicy, candidates, judge
from routes.config import Route
from store.metrics import VersionStats, p99

POLICY = CanaryPolicy()  # min 20 samples, +0.05 error rate, x2 p99


def stats(version: str, calls: int, failures: int = 0, p99_ms: float = 100.0) -> VersionStats:
    return VersionStats("factor-json", version, calls, failures, p99_ms)


def route(weights: dict[str, int], **extra: object) -> Route:
    return Route.model_validate({"name": "invoices", "adapter": "factor-json", "weights": weights, **extra})


def test_policy_defaults_match_the_documented_ones() -> None:
    assert POLICY.model_dump() == {
        "enabled": True,
        "interval_s": 5.0,
        "window_s": 60.0,
        "min_samples": 20,
        "max_error_rate_delta": 0.05,
        "max_p99_ratio": 2.0,
    }


def test_policy_refuses_unknown_keys_and_impossible_values() -> None:
    with pytest.raises(ValidationError):
        CanaryPolicy.model_validate({"min_sample": 5})
    with pytest.raises(ValidationError):
        CanaryPolicy.model_validate({"max_p99_ratio": 0.5})
    with pytest.raises(ValidationError):
        CanaryPolicy.model_validate({"interval_s": 0})


def test_too_few_candidate_samples_is_waiting_not_a_breach() -> None:
    verdict = judge(POLICY, stats("v1", 500), stats("v2", 7, failures=7, p99_ms=9000))
    assert not verdict.breach and verdict.reason == "waiting: 7 of 20 samples"


def test_no_candidate_calls_is_waiting() -> None:
    verdict = judge(POLICY, stats("v1", 500), None)
    assert not verdict.breach and verdict.reason == "waiting: 0 of 20 samples"


def test_error_rate_beyond_the_stable_one_plus_delta_is_a_breach() -> None:
    verdict = judge(POLICY, stats("v1", 100, failures=2), stats("v2", 20, failures=8))
    assert verdict.breach
    assert verdict.reason == "error rate 0.40 vs stable 0.02 exceeds +0.05"
    assert verdict.figures["candidate_error_rate"] == 0.4 and verdict.figures["stable_error_rate"] == 0.02


def test_error_rate_exactly_at_the_limit_is_no_breach() -> None:
    verdict = judge(POLICY, stats("v1", 100, failures=2), stats("v2", 100, failures=7))
    assert not verdict.breach, verdict.reason


def test_a_failing_partner_fails_both_versions_and_rolls_back_nothing() -> None:
    verdict = judge(POLICY, stats("v1", 200, failures=100), stats("v2", 20, failures=10))
    assert not verdict.breach, verdict.reason


def test_p99_beyond_the_ratio_is_a_breach() -> None:
    verdict = judge(POLICY, stats("v1", 100, p99_ms=100), stats("v2", 20, p99_ms=250))
    assert verdict.breach and verdict.reason == "p99 250 ms vs stable 100 ms exceeds x2"


def test_both_breaches_are_named() -> None:
    verdict = judge(POLICY, stats("v1", 100, p99_ms=100), stats("v2", 20, failures=20, p99_ms=250))
    assert verdict.breach and "error rate 1.00" in verdict.reason and "p99 250 ms" in verdict.reason


def test_p99_is_ignored_while_stable_has_too_few_samples() -> None:
    verdict = judge(POLICY, stats("v1", 19, p99_ms=10), stats("v2", 20, p99_ms=5000))
    assert not verdict.breach and "no stable baseline: 19 of 20 samples" in verdict.reason


def test_without_stable_data_the_error_rate_is_held_to_the_delta_alone() -> None:
    failing = judge(POLICY, None, stats("v2", 20, failures=4))
    assert failing.breach and failing.reason == "error rate 0.20 exceeds 0.05 (no stable baseline: 0 of 20 samples)"
    assert not judge(POLICY, None, stats("v2", 20, failures=1)).breach


def test_a_sub_millisecond_stable_p99_does_not_make_every_candidate_slow() -> None:
    assert not judge(POLICY, stats("v1", 100, p99_ms=0.2), stats("v2", 20, p99_ms=1.5)).breach


def test_both_within_thresholds_is_no_breach_and_says_so() -> None:
    verdict = judge(POLICY, stats("v1", 100, failures=1, p99_ms=100), stats("v2", 40, failures=1, p99_ms=150))
    assert not verdict.breach
    assert verdict.reason == "within thresholds: error rate 0.03 vs stable 0.01, p99 150 ms vs stable 100 ms"


def test_thresholds_come_from_the_policy() -> None:
    strict = CanaryPolicy(min_samples=5, max_error_rate_delta=0.0, max_p99_ratio=1.0)
    assert judge(strict, stats("v1", 10), stats("v2", 5, failures=1)).breach
    assert judge(strict, stats("v1", 10, p99_ms=100), stats("v2", 5, p99_ms=101)).breach


def test_p99_is_the_nearest_rank() -> None:
    assert p99([]) == 0.0
    assert p99([5.0]) == 5.0
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([float(i) for i in range(1, 201)]) == 198.0


def test_the_highest_weight_is_stable_and_other_weighted_versions_are_candidates() -> None:
    assert candidates(route({"v1": 90, "v2": 10})) == [("v1", "v2")]
    assert candidates(route({"v1": 10, "v2": 90})) == [("v2", "v1")]
    assert candidates(route({"v1": 80, "v3": 5, "v2": 15})) == [("v1", "v2"), ("v1", "v3")]


def test_a_version_without_weight_is_no_candidate() -> None:
    assert candidates(route({"v1": 100, "v2": 0})) == []
    assert candidates(route({"v1": 100})) == []


def test_on_a_tie_the_first_listed_version_is_stable() -> None:
    assert candidates(route({"v1": 50, "v2": 50})) == [("v1", "v2")]


def test_the_routes_own_stable_version_wins_over_weights() -> None:
    assert candidates(route({"v1": 30, "v2": 70}, stable="v1")) == [("v1", "v2")]
    assert candidates(route({"v1": 30, "v2": 60, "v3": 10}, stable="v3")) == [("v3", "v1"), ("v3", "v2")]
