"""Routing rules and version selection."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from canonical import Envelope, RejectedInput, parse_envelope
from routes.config import RoutingConfig
from routes.rules import PIN_HEADER, bucket, decide, money_of

ADAPTERS = {
    "factor-json": {"kind": "http-json", "versions": {"v1": {"url": "x"}, "v2": {"url": "y"}}},
    "big-json": {"kind": "http-json", "versions": {"v1": {"url": "z"}}},
}


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
    assert decide(cfg, invoice("2000000.00")).route == "big"  # type: ignore[union-attr]
    assert decide(cfg, invoice("2000000.00", "USD")).route == "rest"  # type: ignore[union-attr]
    assert decide(cfg, invoice("10.00")).adapter == "factor-json"  # type: ignore[union-attr]


def test_no_rule_matches_gives_none() -> None:
    cfg = config([{"name": "only-tenant-b", "match": {"tenant": "b"}, "adapter": "factor-json"}])
    assert decide(cfg, invoice()) is None


def test_header_condition_and_destination() -> None:
    cfg = config(
        [{"name": "h", "match": {"header": {"x-lane": "fast"}, "destination": "factor-json"}, "adapter": "big-json"}]
    )
    assert decide(cfg, invoice(headers={"x-lane": "fast"})) is not None
    assert decide(cfg, invoice(headers={"x-lane": "slow"})) is None


def test_sticky_split_keeps_a_correlation_on_one_version_and_follows_weights() -> None:
    cfg = config([{"name": "r", "adapter": "factor-json", "weights": {"v1": 90, "v2": 10}}])
    versions = Counter()
    for _ in range(2000):
        cid = str(uuid.uuid4())
        picked = {decide(cfg, invoice(correlation_id=cid)).version for _ in range(3)}  # type: ignore[union-attr]
        assert len(picked) == 1
        versions[picked.pop()] += 1
    assert 140 <= versions["v2"] <= 270  # 10 % of 2000 = 200, about 4.7 standard deviations either side


def test_header_pin_wins_over_weights() -> None:
    cfg = config([{"name": "r", "adapter": "factor-json", "weights": {"v1": 100, "v2": 0}}])
    decision = decide(cfg, invoice(headers={PIN_HEADER: "v2"}))
    assert decision is not None and decision.version == "v2" and "pinned" in decision.reason


def test_bucket_is_stable_and_in_range() -> None:
    assert bucket("abc") == bucket("abc") and 0 <= bucket("abc") < 100


def test_money_of_finds_the_payload_amount() -> None:
    money = money_of(invoice("12.50").payload)
    assert money is not None and money.amount == Decimal("12.50")


@pytest.mark.parametrize(
    ("routes", "loc"),
    [
        ([{"name": "r", "adapter": "nope"}], "routes.0.adapter"),
        ([{"name": "r", "adapter": "factor-json", "weights": {"v9": 100}}], "routes.0.weights"),
        ([{"name": "r", "adapter": "factor-json", "weights": {"v1": 50}}], "routes.0"),
        ([{"name": "r", "adapter": "factor-json"}, {"name": "r", "adapter": "big-json"}], "routes.1.name"),
    ],
)
def test_invalid_routing_config_is_refused_with_the_path(routes: list[dict[str, Any]], loc: str) -> None:
    with pytest.raises(RejectedInput) as info:
        config(routes)
    assert loc in str(info.value)


def test_unknown_sandbox_kind_is_refused() -> None:
    with pytest.raises(RejectedInput) as info:
        RoutingConfig.parse({"adapters": ADAPTERS, "sandboxes": {"x": "nonesuch"}})
    assert "unknown sandbox kind 'nonesuch'" in str(info.value)
