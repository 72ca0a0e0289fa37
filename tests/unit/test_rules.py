"""Routing rules and gray-release version selection: weights, stickiness, pins, shadow, validation."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from canonical import Envelope, RejectedInput, parse_envelope
from routes.config import Route, RoutingConfig, validate_routes
from routes.rules import PIN_HEADER, Decision, Draw, bucket, decide, layout, money_of, random_draw, replay_draw

ADAPTERS = {
    "factor-json": {"kind": "http-json", "versions": {"v1": {"url": "x"}, "v2": {"url": "y"}}},
    "big-json": {"kind": "http-json", "versions": {"v1": {"url": "z"}}},
    "cips": {"kind": "http-json", "versions": {f"v{n}": {"url": f"c{n}"} for n in range(1, 5)}},
}
RUNNING = RoutingConfig.parse({"adapters": ADAPTERS}).adapters  # what a running hub validates against


def config(routes: list[dict[str, Any]]) -> RoutingConfig:
    return RoutingConfig.parse({"adapters": ADAPTERS, "routes": routes})


def invoice(amount: str = "100.00", currency: str = "EUR", **env: Any) -> Envelope:
    payload = {
        "invoice_no": "I-1",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "seller": {"name": "S", "country": "CN"},
        "buyer": {"name": "B", "country": "DE"},
        "total": {"currency": currency, "amount": amount},
    }
    return parse_envelope(
        {"type": "trade.invoice", "source": "bank-a", "destination": "factor-json", "payload": payload, **env}
    )


def routed(cfg: RoutingConfig, env: Envelope, draw: Draw = random_draw) -> Decision:
    decision = decide(cfg, env, draw)
    assert decision is not None
    return decision


def split(weights: dict[str, int], **route: Any) -> RoutingConfig:
    return config([{"name": "r", "adapter": "factor-json", "weights": weights, **route}])


# Deterministic ids, so every run checks the same 2,000 messages (sha256 spreads them like a fair draw).
CORRELATIONS = [f"tx-{n:04d}" for n in range(2000)]
ENVELOPES = [invoice(correlation_id=cid) for cid in CORRELATIONS]


def test_first_matching_rule_wins_with_amount_and_currency_conditions() -> None:
    cfg = config(
        [
            {
                "name": "big",
                "match": {"type": "trade.*", "currency": "EUR", "amount_min": "1000000"},
                "adapter": "big-json",
            },
            {"name": "rest", "match": {"type": "trade.invoice"}, "adapter": "factor-json", "weights": {"v1": 100}},
        ]
    )
    assert routed(cfg, invoice("2000000.00")).route == "big"
    assert routed(cfg, invoice("2000000.00", "USD")).route == "rest"
    assert routed(cfg, invoice("10.00")).adapter == "factor-json"


def test_no_rule_matches_gives_none() -> None:
    cfg = config([{"name": "only-tenant-b", "match": {"tenant": "b"}, "adapter": "factor-json"}])
    assert decide(cfg, invoice()) is None


def test_header_condition_and_destination() -> None:
    cfg = config(
        [{"name": "h", "match": {"header": {"x-lane": "fast"}, "destination": "factor-json"}, "adapter": "big-json"}]
    )
    assert decide(cfg, invoice(headers={"x-lane": "fast"})) is not None
    assert decide(cfg, invoice(headers={"x-lane": "slow"})) is None


@pytest.mark.parametrize("sticky", [True, False])
def test_a_90_10_split_over_2000_messages_lands_within_tolerance(sticky: bool) -> None:
    cfg = split({"v1": 90, "v2": 10}, sticky=sticky)
    # Non-sticky routes draw per message; the replay draw (a hash of the message id) keeps the test repeatable.
    versions = Counter(routed(cfg, env, replay_draw).version for env in ENVELOPES)
    share = {version: n / len(ENVELOPES) for version, n in versions.items()}
    # Binomial sd for n=2000, p=0.1 is sqrt(0.1 * 0.9 / 2000) = 0.67 points: +-3 points is over 4 sd.
    assert abs(share.get("v2", 0) - 0.10) <= 0.03, share
    assert set(share) == {"v1", "v2"}


def test_a_correlation_id_always_gets_the_same_version() -> None:
    cfg = split({"v1": 50, "v2": 50})
    for cid in CORRELATIONS[:20]:
        # 100 different messages of one transaction, with the live random draw that a sticky route ignores.
        picked = {routed(cfg, invoice(correlation_id=cid)).version for _ in range(100)}
        assert picked == {"v1" if bucket(cid) < 50 else "v2"}, cid


def test_moving_weight_from_90_10_to_80_20_moves_exactly_the_buckets_80_to_89() -> None:
    before, after = split({"v1": 90, "v2": 10}), split({"v1": 80, "v2": 20})
    moved = {}
    for env in ENVELOPES:
        was, will = routed(before, env).version, routed(after, env).version
        if was != will:
            moved[env.correlation_id] = (was, will)
    expected = {cid for cid in CORRELATIONS if 80 <= bucket(cid) < 90}
    assert set(moved) == expected and set(moved.values()) == {("v1", "v2")}


def test_the_layout_puts_older_versions_first_and_skips_versions_without_weight() -> None:
    assert layout({"v10": 20, "v2": 30, "v1": 50, "v3": 0}) == [("v1", 0, 50), ("v2", 50, 80), ("v10", 80, 100)]


@pytest.mark.parametrize(
    ("env", "version", "reason"),
    [
        ({"headers": {PIN_HEADER: "v4"}, "tenant": "acme"}, "v4", f"pinned by header {PIN_HEADER}: v4"),
        ({"tenant": "acme"}, "v3", "pinned by institution bank-a"),
        ({"tenant": "acme", "source": "bank-b"}, "v2", "pinned by tenant acme"),
        ({"tenant": "other", "source": "bank-b"}, "v1", "sticky bucket"),
        ({"headers": {PIN_HEADER: "beta"}}, "v2", f"pinned by header {PIN_HEADER}: beta"),
        ({"headers": {PIN_HEADER: "v9"}, "source": "bank-b"}, "v1", "sticky bucket"),  # names no version: no pin
    ],
)
def test_pins_win_over_weights_header_first_then_institution_then_tenant(
    env: dict[str, Any], version: str, reason: str
) -> None:
    pins = {"header": {"beta": "v2"}, "institution": {"bank-a": "v3"}, "tenant": {"acme": "v2"}}
    cfg = config([{"name": "r", "adapter": "cips", "weights": {"v1": 100}, "pins": pins}])
    decision = routed(cfg, invoice(**env))
    assert decision.version == version and decision.reason.startswith(reason), decision


def test_a_pin_to_a_withdrawn_version_is_passed_over() -> None:
    pins = {"institution": {"bank-a": "v2"}}
    cfg = config([{"name": "r", "adapter": "cips", "weights": {"v1": 100}, "pins": pins, "withdrawn": ["v2"]}])
    decision = routed(cfg, invoice())
    assert decision.version == "v1"
    assert decision.reason.endswith("ignored: pinned by institution bank-a to withdrawn v2"), decision.reason


def test_the_shadow_version_is_reported_unless_the_message_goes_to_it() -> None:
    cfg = config([{"name": "r", "adapter": "cips", "weights": {"v1": 100}, "shadow": "v2"}])
    decision = routed(cfg, invoice())
    assert (decision.version, decision.shadow) == ("v1", "v2")
    assert decision.as_json()["shadow"] == "v2"
    pinned = routed(cfg, invoice(headers={PIN_HEADER: "v2"}))
    assert (pinned.version, pinned.shadow) == ("v2", None) and "shadow" not in pinned.as_json()


def test_the_stable_version_is_the_heaviest_unless_named() -> None:
    assert Route(name="r", adapter="a", weights={"v1": 10, "v2": 90}).stable_version == "v2"
    assert Route(name="r", adapter="a", weights={"v1": 50, "v2": 50}).stable_version == "v1"  # a tie: first listed
    assert Route(name="r", adapter="a", weights={"v1": 10, "v2": 90}, stable="v1").stable_version == "v1"


def test_giving_a_withdrawn_version_weight_reinstates_it() -> None:
    route = Route(name="r", adapter="a", weights={"v1": 90, "v2": 10, "v3": 0}, withdrawn=["v2", "v3"])
    assert route.withdrawn == ["v3"]


def test_routes_as_stored_in_the_kv_validate_back_to_the_same_routes() -> None:
    routes = [
        Route(name="a", adapter="cips", weights={"v1": 90, "v2": 10}, stable="v1", shadow="v3"),
        Route.model_validate({"name": "b", "adapter": "cips", "pins": {"tenant": {"acme": "v2"}}}),
    ]
    stored = [r.model_dump(mode="json", exclude_defaults=True) for r in routes]
    assert validate_routes(stored, RUNNING) == routes


def violations(routes: Any) -> set[tuple[str, str]]:
    with pytest.raises(RejectedInput) as info:
        validate_routes(routes, RUNNING)
    return {(v.loc, v.rule) for v in info.value.violations}


R = {"name": "r", "adapter": "cips"}


@pytest.mark.parametrize(
    ("routes", "loc", "rule"),
    [
        ([{**R, "weights": {"v1": 90, "v2": 30}}], "routes.0.weights", "weights_sum"),
        ([{**R, "weights": {"v1": 110, "v2": -10}}], "routes.0.weights.v2", "weight_negative"),
        ([{**R, "adapter": "nope"}], "routes.0.adapter", "unknown_adapter"),
        ([{**R, "weights": {"v9": 100}}], "routes.0.weights.v9", "unknown_version"),
        ([{**R, "stable": "v9"}], "routes.0.stable", "unknown_version"),
        ([{**R, "weights": {"v1": 100}, "stable": "v2"}], "routes.0.stable", "stable_without_weight"),
        ([{**R, "shadow": "v9"}], "routes.0.shadow", "unknown_version"),
        ([{**R, "withdrawn": ["v9"]}], "routes.0.withdrawn.0", "unknown_version"),
        (
            [{**R, "name": "a"}, {**R, "name": "b"}, {**R, "name": "c", "pins": {"tenant": {"acme": "v9"}}}],
            "routes.2.pins.tenant.acme",
            "unknown_version",
        ),
        ([{**R, "pins": {"institution": {"bank.a": "v9"}}}], 'routes.0.pins.institution."bank.a"', "unknown_version"),
        ([{**R, "pins": {"header": {"beta": "v9"}}}], "routes.0.pins.header.beta", "unknown_version"),
        ([R, {**R, "adapter": "factor-json"}], "routes.1.name", "duplicate_name"),
        ([{**R, "match": {"type": "trade"}}], "routes.0.match.type", "bad_expression"),
        ([{**R, "match": {"type": "trade.[ab]"}}], "routes.0.match.type", "bad_expression"),
        ([{**R, "match": {"currency": "eur"}}], "routes.0.match.currency", "bad_expression"),
        ([{**R, "match": {"amount_min": "10", "amount_max": "5"}}], "routes.0.match.amount_max", "bad_expression"),
        ({"name": "r"}, "routes", "list_type"),
    ],
)
def test_invalid_routes_are_refused_with_the_path_and_rule(routes: Any, loc: str, rule: str) -> None:
    assert (loc, rule) in violations(routes)


def test_every_broken_reference_is_reported_at_once() -> None:
    routes = [{**R, "adapter": "nope"}, {**R, "weights": {"v9": 100}, "shadow": "v8"}]
    assert violations(routes) == {
        ("routes.0.adapter", "unknown_adapter"),
        ("routes.1.name", "duplicate_name"),
        ("routes.1.weights.v9", "unknown_version"),
        ("routes.1.shadow", "unknown_version"),
    }


def test_a_config_file_is_validated_by_the_same_rules() -> None:
    with pytest.raises(RejectedInput) as info:
        config([{**R, "pins": {"tenant": {"acme": "v9"}}}])
    assert [(v.loc, v.rule) for v in info.value.violations] == [("routes.0.pins.tenant.acme", "unknown_version")]
    assert "unknown version v9 of adapter cips" in str(info.value)


def test_header_pin_wins_over_a_weight_of_zero() -> None:
    decision = routed(split({"v1": 100, "v2": 0}), invoice(headers={PIN_HEADER: "v2"}))
    assert decision.version == "v2" and "pinned" in decision.reason


def test_draws_stay_in_range_and_the_replay_draw_is_stable() -> None:
    env = invoice()
    assert bucket("abc") == bucket("abc") and 0 <= bucket("abc") < 100
    assert replay_draw(env) == replay_draw(env) == bucket(str(env.id))
    assert all(0 <= random_draw(env) < 100 for _ in range(200))


def test_money_of_finds_the_payload_amount() -> None:
    money = money_of(invoice("12.50").payload)
    assert money is not None and money.amount == Decimal("12.50")


def test_unknown_sandbox_kind_is_refused() -> None:
    with pytest.raises(RejectedInput) as info:
        RoutingConfig.parse({"adapters": ADAPTERS, "sandboxes": {"x": "nonesuch"}})
    assert "unknown sandbox kind 'nonesuch'" in str(info.value)
