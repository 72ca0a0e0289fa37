"""The digital-currency messages, the dcbridge adapter's rendering and reading, and the evidence checks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.base import AdapterContext, PermanentError, RejectedByPartner, TransientError
from adapters.dcbridge import DcBridgeAdapter, best_quote, record_of
from canonical.dc import BilateralTransfer, PaymentDemand, Proof
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from security.evidence import GENESIS, check_settlement, link


def adapter() -> DcBridgeAdapter:
    ctx = AdapterContext("dcbridge", "v1", {"url": "sandbox:dcbridge"}, lambda url: "http://127.0.0.1:9")
    return DcBridgeAdapter(ctx)


DEMAND = {
    "originator": "BANK-CN-A",
    "beneficiary": "BANK-HK-A",
    "amount": "1000.50",
    "source_currency": "CNY",
    "target_currency": "HKD",
    "purpose": "payment for goods",
    "trade_reference": "LC-2026-0042",
}


def envelope(payload: dict[str, Any], type_: str = "dc.demand") -> Envelope:
    return Envelope(type=type_, source="bank-a", destination="dcbridge", payload=payload)


# -- canonical models -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"amount": "1.001"}, "amount", "currency_decimals"),
        ({"amount": "0"}, "amount", "greater_than"),
        ({"amount": "-1"}, "amount", "greater_than"),
        ({"amount": "1000000000000.01"}, "amount", "less_than_equal"),
        ({"source_currency": "ZZZ"}, "source_currency", "value_error"),
        ({"source_currency": "cny"}, "source_currency", "string_pattern_mismatch"),
        ({"originator": "../etc"}, "originator", "participant_id"),
        ({"beneficiary": "BANK-CN-A"}, "", "same_participant"),
        ({"purpose": "a\nb"}, "purpose", "printable_text"),
        ({"purpose": "x" * 141}, "purpose", "string_too_long"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
)
def test_a_bad_demand_is_refused_naming_the_field(changes: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PaymentDemand.model_validate({**DEMAND, **changes})
    errors = refused.value.errors()
    assert any(e["type"] == rule and (not field or e["loc"][:1] == (field,)) for e in errors), errors


def test_a_transfer_needs_three_different_parties() -> None:
    with pytest.raises(ValidationError, match=r"same_participant|must all differ"):
        BilateralTransfer.model_validate(
            {"payer": "A", "payee": "B", "amount": "1", "currency": "CNY", "correspondent": "A"}
        )


def test_a_proof_whose_head_lies_before_the_transaction_is_refused() -> None:
    with pytest.raises(ValidationError, match="before the transaction"):
        Proof(tx_id="T", position=5, prev_hash="0" * 64, tx_hash="1" * 64, head_position=4, chain_head="2" * 64)


# -- rendering --------------------------------------------------------------------------------------


def test_a_demand_renders_as_the_bridges_request_keyed_by_the_message_id() -> None:
    env = envelope(DEMAND)
    out = adapter().render(env)
    body = json.loads(out.body)
    assert out.target == "http://127.0.0.1:9/demands" and out.headers["idempotency-key"] == str(env.id)
    assert body == {
        "demand_id": str(env.id),
        "from": "BANK-CN-A",
        "amount": "1000.50",
        "source_currency": "CNY",
        "target_currency": "HKD",
        "beneficiary": "BANK-HK-A",
        "purpose": "payment for goods",
        "trade_reference": "LC-2026-0042",
    }
    assert adapter().render(env).body == out.body  # a retry publishes the very same demand


def test_a_single_currency_demand_targets_its_own_currency_and_keeps_its_own_id() -> None:
    payload = {k: v for k, v in DEMAND.items() if k != "target_currency"} | {"demand_id": "D-42", "amount": "1E+3"}
    body = json.loads(adapter().render(envelope(payload)).body)
    assert (body["demand_id"], body["target_currency"], body["amount"]) == ("D-42", "CNY", "1000")


def test_a_transfer_renders_with_its_correspondent() -> None:
    payload = {"payer": "BANK-TH-A", "payee": "BANK-CN-B", "amount": "25", "currency": "CNY", "correspondent": "X"}
    env = envelope(payload, "dc.transfer")
    out = adapter().render(env)
    assert out.target.endswith("/transfers")
    assert json.loads(out.body) == {"transfer_id": str(env.id), "from": "BANK-TH-A", "to": "BANK-CN-B",
                                    "amount": "25", "currency": "CNY", "correspondent": "X"}  # fmt: skip


def test_other_message_types_are_not_carried() -> None:
    record = Envelope(type="dc.acceptance", source="x", destination="y",
                      payload={"demand_id": "D", "accepted_at": "2026-01-01T00:00:00Z"})  # fmt: skip
    with pytest.raises(PermanentError, match=r"carries dc\.demand"):
        adapter().render(record)


# -- the bridge's answers ---------------------------------------------------------------------------


class Answer:
    """Just what `refusal` reads of an httpx.Response."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status_code, self.content, self.text = status, body, body.decode(errors="replace")


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (422, "insufficient_funds", RejectedByPartner),
        (422, "limit_exceeded", RejectedByPartner),
        (422, "quote_expired", RejectedByPartner),
        (400, "unsupported_currency", RejectedByPartner),
        (409, "demand_expired", RejectedByPartner),
        (409, "idempotency_conflict", PermanentError),
        (400, "invalid_field", PermanentError),
        (503, "simulated_outage", TransientError),
        (500, "storage_error", TransientError),
        (429, "", TransientError),
    ],
)
def test_refusals_map_to_the_error_contract_with_the_bridges_code(status: int, code: str, error: type) -> None:
    found = adapter().refusal(Answer(status, json.dumps({"error": code, "detail": "why"}).encode()))  # type: ignore[arg-type]
    assert type(found) is error and (code or str(status)) in found.reason


@pytest.mark.parametrize(
    "raw",
    [b"<html>busy</html>", b"[1,2]", b'{"error": 1, "error": 2}', b"{" * 5000, b"\xff\xfe", b"x" * 200_000],
    ids=["html", "array", "duplicate-key", "deep", "not-utf8", "oversized"],
)
def test_an_unreadable_refusal_is_still_an_error_of_the_contract(raw: bytes) -> None:
    assert isinstance(adapter().refusal(Answer(422, raw)), RejectedByPartner)  # type: ignore[arg-type]
    assert isinstance(adapter().refusal(Answer(502, raw)), TransientError)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[]", b'"text"', b"{" * 100 + b"}" * 100, b'{"a": NaN}', b'{"a": 1, "a": 1}',
     b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}'],
    ids=["empty", "null", "array", "string", "deep", "nan", "duplicate-key", "oversized"],
)  # fmt: skip
def test_hostile_bridge_answers_are_errors_never_crashes(raw: bytes) -> None:
    with pytest.raises((TransientError, PermanentError)):
        adapter().read_answer(raw, "answer")


def chain(*bodies: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries as the bridge serves them (GET /chain), hashed like its chain.py."""
    entries, prev = [], GENESIS
    for position, body in enumerate(bodies, 1):
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        digest = link(prev, canonical.encode())
        entries.append({"position": position, "tx_id": body["tx_id"], "canonical": canonical, "prev_hash": prev,
                        "hash": digest})  # fmt: skip
        prev = digest
    return entries


PVP = {
    "tx_id": "DEM-D1",
    "type": "pvp",
    "settled_at": "2026-11-23T10:00:00+00:00",
    "legs": [{"payer": "BANK-CN-A", "payee": "LP-HK-A", "currency": "CNY", "amount": "1000.00"},
             {"payer": "LP-HK-A", "payee": "BANK-HK-A", "currency": "HKD", "amount": "1083.37"}],
    "movements": [],
    "reference": {"demand_id": "D1", "quote_id": "Q1", "rate": "1.083372", "liquidity_provider": "LP-HK-A"},
}  # fmt: skip


def proof_of(entries: list[dict[str, Any]], position: int, head: int) -> dict[str, Any]:
    entry = entries[position - 1]
    return {"tx_id": entry["tx_id"], "position": position, "prev_hash": entry["prev_hash"], "tx_hash": entry["hash"],
            "head_position": head, "chain_head": entries[head - 1]["hash"]}  # fmt: skip


def test_a_bridge_record_reads_into_the_canonical_record_and_envelope() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP)
    raw = json.dumps({"transaction": PVP, "proof": proof_of(entries, 2, 2)}).encode()
    env = adapter().parse_reply(raw, {})
    assert env.type == "dc.record" and env.correlation_id == "D1" and env.source == "dcbridge"
    record = env.payload
    assert record.settlement.rate == Decimal("1.083372") and record.settlement.legs[1].amount == Decimal("1083.37")
    assert record_of(PVP, proof_of(entries, 2, 2)).proof.position == 2


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"proof": {}}, "$.transaction"),
        ({"transaction": PVP}, "$.proof"),
        ({"transaction": {**PVP, "legs": []}, "proof": None}, "$.proof"),
        ({"transaction": {**PVP, "legs": "all"}, "proof": {"tx_id": "x"}}, "$.transaction.legs"),
        ({"transaction": {**PVP, "type": "opening"}, "proof": {"tx_id": "x"}}, "kind"),
        ({"transaction": {**PVP, "reference": ["x"]}, "proof": {}}, "$.transaction.reference"),
        ({"transaction": PVP, "proof": {"tx_id": "DEM-D1", "position": 1, "prev_hash": "zz"}}, "$.proof.prev_hash"),
    ],
    ids=["no-transaction", "no-proof", "null-proof", "legs-not-a-list", "not-a-settlement", "bad-reference",
         "bad-hash"],
)  # fmt: skip
def test_a_malformed_record_is_refused_naming_the_field(answer: dict[str, Any], where: str) -> None:
    with pytest.raises(RejectedInput) as refused:
        adapter().parse_reply(json.dumps(answer).encode(), {})
    assert where in str(refused.value)


@pytest.mark.parametrize(
    "raw", [b"{" * 1000, b"[]", b"\xff", b'{"transaction": {}, "transaction": {}}', b"0" * 300_000]
)
def test_hostile_records_are_refused(raw: bytes) -> None:
    with pytest.raises(RejectedInput):
        adapter().parse_reply(raw, {})


def test_the_best_live_quote_is_the_highest_rate() -> None:
    quotes = [
        {"quote_id": "A", "rate": "1.08", "expired": False},
        {"quote_id": "B", "rate": "1.09", "expired": True},
        {"quote_id": "C", "rate": "1.085", "expired": False},
        {"quote_id": "D", "rate": "NaN", "expired": False},
        {"quote_id": "E", "rate": "lots", "expired": False},
        {"rate": "9", "expired": False},
        "junk",
    ]
    assert best_quote(quotes) == quotes[2]
    assert best_quote([]) is None and best_quote("nope") is None


# -- evidence ---------------------------------------------------------------------------------------


def evidence(entries: list[dict[str, Any]], anchored: dict[str, Any]) -> dict[str, bool]:
    head = {"head_position": len(entries), "chain_head": entries[-1]["hash"]}
    current = proof_of(entries, anchored["position"], len(entries))
    found = check_settlement(anchored, current, entries[anchored["position"] - 1 :], head)
    return {c.name: c.ok for c in found}


LATER = [{"tx_id": f"TRF-{n}", "type": "transfer", "n": n} for n in range(3)]


def test_a_proof_verifies_against_its_anchored_head_and_the_current_head() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP, LATER[0])
    anchored = proof_of(entries, 2, 3)
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP, *LATER)  # the chain grew since
    assert evidence(entries, anchored) == dict.fromkeys(
        ("bridge_proof", "transaction", "anchored_head", "bridge_head"), True
    )


def test_a_tampered_anchored_copy_is_named() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP, *LATER)
    anchored = proof_of(entries, 2, 3) | {"tx_hash": "ab" * 32}
    verdict = evidence(entries, anchored)
    assert not verdict["bridge_proof"] and not verdict["transaction"] and verdict["bridge_head"]


def test_a_proof_that_does_not_lead_to_its_head_fails() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP, *LATER)
    anchored = proof_of(entries, 2, 3) | {"chain_head": "cd" * 32}
    verdict = evidence(entries, anchored)
    assert verdict["transaction"] and not verdict["anchored_head"]


def test_a_rewritten_bridge_chain_is_detected() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP, *LATER)
    anchored = proof_of(entries, 2, 4)
    rewritten = chain({"tx_id": "OPEN-X", "type": "opening"}, {**PVP, "legs": PVP["legs"][:1]}, *LATER)
    verdict = evidence(rewritten, anchored)
    assert not verdict["transaction"] and not verdict["anchored_head"] and not verdict["bridge_proof"]
    edited_later = [dict(e) for e in entries]
    edited_later[3]["canonical"] = edited_later[3]["canonical"].replace('"n":1', '"n":7')
    verdict = evidence(edited_later, anchored)
    assert verdict["transaction"] and not verdict["anchored_head"] and not verdict["bridge_head"]


def test_a_missing_transaction_is_named() -> None:
    entries = chain({"tx_id": "OPEN-X", "type": "opening"}, PVP)
    anchored = proof_of(entries, 2, 2)
    found = check_settlement(anchored, anchored, [], {"head_position": 2, "chain_head": entries[-1]["hash"]})
    assert [(c.name, c.ok) for c in found] == [("bridge_proof", True), ("transaction", False)]
