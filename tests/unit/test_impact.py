"""Impact assessment: routing decisions replayed under the config in force and a proposed one."""

from __future__ import annotations

from typing import Any

from routes.config import RoutingConfig
from routes.impact import NO_ROUTE, ImpactReport, Move, impact
from routes.rules import bucket, replay_draw
from tests.unit.test_rules import ADAPTERS, invoice

MESSAGES = [invoice(correlation_id=f"tx-{n:04d}") for n in range(1000)]


def routing(*routes: dict[str, Any]) -> RoutingConfig:
    return RoutingConfig.parse({"adapters": ADAPTERS, "routes": list(routes)})


def cips(weights: dict[str, int], **route: Any) -> RoutingConfig:
    return routing({"name": "pay", "adapter": "cips", "weights": weights, **route})


def test_a_100_0_to_50_50_change_moves_the_upper_half_of_the_buckets() -> None:
    report = impact(cips({"v1": 100, "v2": 0}), cips({"v1": 50, "v2": 50}), MESSAGES)
    moving = sum(1 for env in MESSAGES if bucket(env.correlation_id) >= 50)
    assert 440 <= moving <= 560  # half of 1,000 within 4 binomial sd (sd = 15.8 messages)
    assert report.total == 1000 and report.unchanged == 1000 - moving
    assert report.moved == [Move("pay", "cips@v1", "cips@v2", moving)]
    assert report.before == {"cips@v1": 1000} and report.after == {"cips@v1": 1000 - moving, "cips@v2": moving}
    assert report.share("cips@v2") == (0.0, moving / 1000)


def test_the_report_as_json_names_moves_and_shares() -> None:
    report = ImpactReport(4, 1, [Move("pay", "cips@v1", "cips@v2", 3)], {"cips@v1": 4}, {"cips@v1": 1, "cips@v2": 3})
    assert report.as_json() == {
        "total": 4,
        "unchanged": 1,
        "moved": [{"route": "pay", "from": "cips@v1", "to": "cips@v2", "count": 3}],
        "shares": {
            "cips@v1": {"before": 1.0, "after": 0.25, "count_before": 4, "count_after": 1},
            "cips@v2": {"before": 0.0, "after": 0.75, "count_before": 0, "count_after": 3},
        },
        "shadow": {},
    }


def test_non_sticky_routes_are_replayed_by_a_hash_of_the_message_id() -> None:
    old, new = cips({"v1": 90, "v2": 10}, sticky=False), cips({"v1": 80, "v2": 20}, sticky=False)
    first, second = impact(old, new, MESSAGES), impact(old, new, MESSAGES)
    assert first == second
    moving = sum(1 for env in MESSAGES if 80 <= replay_draw(env) < 90)
    assert first.moved == [Move("pay", "cips@v1", "cips@v2", moving)]


def test_a_pinned_tenant_does_not_move_with_the_weights() -> None:
    pinned = [invoice(correlation_id=f"tx-{n:04d}", tenant="acme") for n in range(100)]
    pins = {"tenant": {"acme": "v1"}}
    report = impact(cips({"v1": 100}, pins=pins), cips({"v2": 100}, pins=pins), [*pinned, *MESSAGES[:100]])
    assert report.unchanged == 100 and report.moved == [Move("pay", "cips@v1", "cips@v2", 100)]


def test_messages_no_route_takes_any_more_are_reported_as_such() -> None:
    old = routing(
        {"name": "pay", "adapter": "cips", "match": {"tenant": "acme"}},
        {"name": "rest", "adapter": "factor-json"},
    )
    new = routing({"name": "pay", "adapter": "cips", "match": {"tenant": "acme"}})
    report = impact(old, new, [invoice(tenant="acme"), invoice(), invoice()])
    assert report.moved == [Move("rest", "factor-json@v1", NO_ROUTE, 2)]
    assert report.after == {"cips@v1": 1, NO_ROUTE: 2}


def test_an_unchanged_config_moves_nothing_and_new_shadow_copies_are_counted() -> None:
    report = impact(cips({"v1": 100}), cips({"v1": 100}, shadow="v2"), MESSAGES[:10])
    assert report.moved == [] and report.unchanged == 10
    assert report.as_json()["shadow"] == {"cips@v2": {"before": 0, "after": 10}}


def test_no_messages_give_an_empty_report() -> None:
    report = impact(cips({"v1": 100}), cips({"v2": 100}), [])
    assert (report.total, report.moved, report.share("cips@v1")) == (0, [], (0.0, 0.0))
