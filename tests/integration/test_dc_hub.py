"""The CBDC bridge through the hub, over real HTTP: `hub dc pay` publishes a demand that market makers
quote on, the dcbridge adapter accepts the best quote and anchors the settlement's proof in the
journal; `hub evidence verify` checks it; refusals end `rejected` and move no money."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import RunningHub


def pay(hub: RunningHub, *args: str, wait: str = "60") -> subprocess.CompletedProcess[str]:
    return hub.cli("dc", "pay", *args, "--wait", wait, "--json", timeout=90)


def balances(hub: RunningHub) -> dict[tuple[str, str], Decimal]:
    """Every wallet, through the hub's admin API (what `hub dc balances --json` prints)."""
    with hub.admin() as admin:
        rows = admin.get("/admin/dc/balances").json()
    return {(r["participant"], r["currency"]): Decimal(r["balance"]) for r in rows if r["account"] == "wallet"}


def totals(books: dict[tuple[str, str], Decimal]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for (_participant, currency), amount in books.items():
        out[currency] = out.get(currency, Decimal(0)) + amount
    return out


def wait_for(hub: RunningHub, message_id: str, status: str) -> dict[str, Any]:
    state = hub.wait_status(message_id, {status, "completed", "rejected", "dead_lettered"}, timeout=60)
    assert any(t["status"] == status for t in state["history"]), state
    return state


def test_dc_pay_settles_pvp_through_the_hub_with_a_proof(hub: RunningHub) -> None:
    before = balances(hub)
    done = pay(hub, "--from", "BANK-CN-A", "--to", "BANK-HK-A", "--amount", "1000", "--currency", "CNY",
               "--to-currency", "HKD")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "completed" and out["settlement_id"] == f"DEM-{out['id']}"
    settlement, proof = out["settlement"], out["proof"]
    assert settlement["kind"] == "pvp" and settlement["liquidity_provider"] == "LP-HK-A"  # the better of two quotes
    assert [s["step"] for s in out["steps"]][:2] == ["published", "quoted"]
    assert {"accepted", "settled", "proof"} <= {s["step"] for s in out["steps"]}
    assert proof["tx_id"] == out["settlement_id"] and proof["position"] <= proof["head_position"]
    after = balances(hub)
    counter = Decimal(settlement["legs"][1]["amount"])
    assert counter == (Decimal(1000) * Decimal(settlement["rate"])).quantize(Decimal("0.01"))
    assert after[("BANK-CN-A", "CNY")] == before[("BANK-CN-A", "CNY")] - 1000
    assert after[("BANK-HK-A", "HKD")] == before[("BANK-HK-A", "HKD")] + counter
    assert after[("LP-HK-A", "CNY")] == before[("LP-HK-A", "CNY")] + 1000
    assert totals(after) == totals(before)  # payments move CBDC between wallets, never create it

    by_message = hub.cli("evidence", "verify", out["id"])
    assert by_message.returncode == 0 and "verified" in by_message.stdout, by_message.stdout + by_message.stderr
    by_settlement = hub.cli("evidence", "verify", out["settlement_id"], "--json")
    assert by_settlement.returncode == 0, by_settlement.stderr
    verdict = json.loads(by_settlement.stdout)
    assert verdict["ok"] and {c["name"] for c in verdict["checks"]} == {
        "hub_journal", "bridge_proof", "transaction", "anchored_head", "bridge_head"}  # fmt: skip
    with hub.sandbox("dcbridge") as bridge:
        settled = [tx for tx in bridge.get("/_sandbox/received").json() if tx["tx_id"] == out["settlement_id"]]
    assert len(settled) == 1


def test_single_currency_demand_settles_without_a_quote(hub: RunningHub) -> None:
    done = pay(hub, "--from", "BANK-CN-A", "--to", "BANK-CN-B", "--amount", "12.34", "--currency", "CNY")
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["settlement"]["kind"] == "p2p" and "quoted" not in {s["step"] for s in out["steps"]}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--from", "BANK-XX-NOBODY", "--to", "BANK-HK-A", "--to-currency", "HKD"], "unknown_participant"),
        (["--from", "BANK-CN-A", "--to", "BANK-HK-A", "--amount", "2000000.01", "--to-currency", "HKD"],
         "limit_exceeded"),
        (["--from", "BANK-TH-A", "--to", "BANK-CN-B", "--amount", "600000"], "insufficient_funds"),
        (["--from", "BANK-CN-A", "--to", "BANK-HK-A", "--to-currency", "USD"], "unsupported_currency"),
        (["--from", "BANK-CN-A", "--to", "BANK-AE-S", "--to-currency", "AED"], "participant_sanctioned"),
        (["--from", "BANK-CN-A", "--to", "BANK-HK-X", "--to-currency", "HKD"], "participant_not_eligible"),
    ],
    ids=["unknown-participant", "over-limit", "insufficient-balance", "unsupported-currency", "sanctioned",
         "not-eligible"],
)  # fmt: skip
def test_business_refusals_end_rejected_and_move_no_money(hub: RunningHub, args: list[str], code: str) -> None:
    before = balances(hub)
    options = {"--amount": "100", "--currency": "CNY", **dict(zip(args[::2], args[1::2], strict=True))}
    done = pay(hub, *[x for kv in options.items() for x in kv])
    assert done.returncode == 1 and done.stdout, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "rejected" and code in out["reason"], out
    assert out["settlement_id"] is None
    assert balances(hub) == before
    with hub.admin() as admin:
        refused = admin.get(f"/admin/evidence/{out['id']}")
    assert refused.status_code == 409 and "no proof" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--amount", "abc"], "--amount"),
        (["--amount", "1.001"], "--amount"),
        (["--to", "BANK-CN-A"], "options"),
        (["--purpose", "a\u0007b"], "--purpose"),
    ],
    ids=["not-a-number", "three-decimals", "pays-itself", "control-char"],
)  # fmt: skip
def test_bad_cli_arguments_are_refused_before_anything_is_sent(hub: RunningHub, args: list[str], option: str) -> None:
    options = {"--from": "BANK-CN-A", "--to": "BANK-CN-B", "--amount": "10", "--currency": "CNY"}
    options |= dict(zip(args[::2], args[1::2], strict=True))
    done = hub.cli("dc", "pay", *[x for kv in options.items() for x in kv], "--wait", "1")
    assert done.returncode == 2 and done.stderr.startswith(option), done.stderr
    assert done.stdout == ""


def test_a_bilateral_transfer_through_a_correspondent_settles_with_a_proof(hub: RunningHub) -> None:
    body = {
        "type": "dc.transfer",
        "destination": "dcbridge",
        "payload": {"payer": "BANK-TH-A", "payee": "BANK-CN-B", "amount": "25.00", "currency": "CNY",
                    "correspondent": "BANK-HK-A"},
    }  # fmt: skip
    with hub.client() as client:
        accepted = client.post("/v1/messages", json=body)
    assert accepted.status_code == 202, accepted.text
    state = hub.wait_status(accepted.json()["id"], {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "completed", state
    delivered = next(t["detail"] for t in state["history"] if t["status"] == "delivered")
    assert delivered["settlement"]["kind"] == "transfer" and len(delivered["settlement"]["legs"]) == 2
    assert hub.cli("evidence", "verify", delivered["settlement_id"]).returncode == 0


def test_a_settlement_interrupted_between_legs_is_finished_by_the_retry_not_paid_twice(hub: RunningHub) -> None:
    with hub.sandbox("dcbridge") as bridge:
        bridge.post("/_sandbox/settlement", json={"fault": True})
        try:
            body = {
                "type": "dc.demand",
                "destination": "dcbridge",
                "payload": {"originator": "BANK-CN-B", "beneficiary": "BANK-AE-A", "amount": "10.00",
                            "source_currency": "CNY", "target_currency": "AED", "purpose": "goods"},
            }  # fmt: skip
            with hub.client() as client:
                message_id = client.post("/v1/messages", json=body).json()["id"]
            wait_for(hub, message_id, "retrying")
            assert bridge.get(f"/demands/{message_id}").json()["status"] == "accepted"
        finally:
            bridge.post("/_sandbox/settlement", json={})
        state = hub.wait_status(message_id, {"completed", "rejected", "dead_lettered"}, timeout=60)
        assert state["status"] == "completed", state
        settled = [tx for tx in bridge.get("/_sandbox/received").json() if tx["tx_id"] == f"DEM-{message_id}"]
    assert len(settled) == 1


def test_demand_payloads_are_validated_at_the_gateway_naming_the_field(hub: RunningHub) -> None:
    demand = {"originator": "BANK-CN-A", "beneficiary": "BANK-HK-A", "amount": "1.00", "source_currency": "CNY",
              "purpose": "goods"}  # fmt: skip
    cases = [
        ({**demand, "amount": "1.001"}, "amount"),
        ({**demand, "source_currency": "ZZZ"}, "source_currency"),
        ({**demand, "colour": "red"}, "colour"),
        ({**demand, "purpose": "p" * 5000}, "purpose"),
    ]
    with hub.client() as client:
        for payload, field in cases:
            refused = client.post(
                "/v1/messages", json={"type": "dc.demand", "destination": "dcbridge", "payload": payload}
            )
            assert refused.status_code in (400, 422), refused.text
            assert field in refused.text


def test_balances_list_every_wallet(hub: RunningHub) -> None:
    done = hub.cli("dc", "balances", "--json")
    rows = json.loads(done.stdout)
    assert {"participant", "currency", "balance"} <= set(rows[0])
    assert {r["account"] for r in rows} == {"wallet"}  # reserves only with --reserves
    assert ("LP-AE-A", "THB") in {(r["participant"], r["currency"]) for r in rows}
    text = hub.cli("dc", "balances")
    assert text.returncode == 0 and "BANK-CN-A" in text.stdout


def test_evidence_of_an_unknown_id_is_refused(hub: RunningHub) -> None:
    done = hub.cli("evidence", "verify", "DEM-no-such-demand")
    assert done.returncode == 1 and "no message or settlement" in done.stderr
