"""The CBDC bridge sandbox as a real process on loopback: payments, PvP demands, refusals, crash safety."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from sandbox.dcbridge import proves_inclusion

ROOT = Path(__file__).resolve().parents[2]
UNIQUE = itertools.count()


@dataclass
class RunningBridge:
    proc: subprocess.Popen[bytes]
    url: str
    state: Path
    log: IO[bytes]

    def client(self, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)


def start_bridge(state: Path) -> RunningBridge:
    log = open(state.parent / f"{state.name}.log", "ab")  # the child's stderr; closed by stop()
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "sandbox", "bridge1", "--kind", "dcbridge", "--state", str(state), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        log.close()
        raise RuntimeError(f"bridge did not start: {(state.parent / f'{state.name}.log').read_text()[-2000:]}")
    return RunningBridge(proc, f"http://127.0.0.1:{json.loads(line)['port']}", state, log)


def stop(bridge: RunningBridge) -> None:
    if bridge.proc.poll() is None:
        bridge.proc.terminate()
        bridge.proc.wait(10)
    assert bridge.proc.stdout is not None
    bridge.proc.stdout.close()
    bridge.log.close()


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[RunningBridge]:
    running = start_bridge(tmp_path / "bridge")
    yield running
    stop(running)


@pytest.fixture
def api(bridge: RunningBridge) -> Iterator[httpx.Client]:
    with bridge.client() as client:
        yield client


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One bridge for the tests that only read or are refused, so they need no fresh books."""
    running = start_bridge(tmp_path_factory.mktemp("shared") / "bridge")
    with running.client() as client:
        yield client
    stop(running)


def demand(demand_id: str = "D1", **changes: Any) -> dict[str, Any]:
    body = {
        "demand_id": demand_id,
        "from": "BANK-CN-A",
        "amount": "1000.00",
        "source_currency": "CNY",
        "target_currency": "HKD",
        "beneficiary": "BANK-HK-A",
        "purpose": "payment for goods",
        "trade_reference": "LC-2024-0042",
    }
    return {**body, **changes}


def quote(quote_id: str = "Q1", **changes: Any) -> dict[str, Any]:
    return {"quote_id": quote_id, "bank": "BANK-AE-A", "rate": "1.0850", "valid_for_s": 30, **changes}


def wallet(api: httpx.Client, participant: str, currency: str) -> Decimal:
    return Decimal(api.get("/balances").json()["balances"][participant]["wallet"][currency])


def totals(api: httpx.Client) -> dict[str, Decimal]:
    """CBDC outstanding per currency: payments move it between wallets and never create it."""
    out: dict[str, Decimal] = {}
    for accounts in api.get("/balances").json()["balances"].values():
        for currency, amount in accounts.get("wallet", {}).items():
            out[currency] = out.get(currency, Decimal(0)) + Decimal(amount)
    return out


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["detail"], body


def test_p2p_ecny_transfer_moves_funds_once(api: httpx.Client) -> None:
    body = {"transfer_id": "T1", "from": "BANK-CN-A", "to": "BANK-CN-B", "amount": "250.75", "currency": "CNY"}
    first = api.post("/transfers", json=body)
    assert first.status_code == 201, first.text
    assert wallet(api, "BANK-CN-B", "CNY") == Decimal("5000250.75")
    again = api.post("/transfers", json=body)
    assert again.status_code == 200 and again.json()["tx_id"] == first.json()["tx_id"]
    assert wallet(api, "BANK-CN-B", "CNY") == Decimal("5000250.75")
    assert_refused(api.post("/transfers", json={**body, "amount": "1.00"}), 409, "idempotency_conflict")


def test_transfer_through_a_correspondent_settles_both_hops(api: httpx.Client) -> None:
    body = {"transfer_id": "T2", "from": "BANK-TH-A", "to": "BANK-CN-B", "amount": "10.00", "currency": "CNY"}
    assert api.post("/transfers", json={**body, "correspondent": "BANK-HK-A"}).status_code == 201
    legs = api.get("/transactions/TRF-T2").json()["legs"]
    assert [(g["payer"], g["payee"]) for g in legs] == [("BANK-TH-A", "BANK-HK-A"), ("BANK-HK-A", "BANK-CN-B")]
    assert wallet(api, "BANK-HK-A", "CNY") == Decimal("1000000.00")


def test_a_central_bank_issues_and_redeems_its_own_cbdc_only(api: httpx.Client) -> None:
    body = {"issue_id": "I1", "central_bank": "BOT", "participant": "BANK-TH-A", "currency": "THB",
            "amount": "1000.00", "operation": "issue"}  # fmt: skip
    assert api.post("/issuance", json=body).status_code == 201
    assert api.post("/issuance", json=body).status_code == 200  # a repeat issues nothing more
    assert wallet(api, "BANK-TH-A", "THB") == Decimal("50001000.00")
    redeem = {**body, "issue_id": "I2", "operation": "redeem", "amount": "400.00"}
    assert api.post("/issuance", json=redeem).json()["tx_id"] == "ISS-I2"
    assert wallet(api, "BANK-TH-A", "THB") == Decimal("50000600.00")
    assert_refused(api.post("/issuance", json={**body, "issue_id": "I3", "central_bank": "PBOC"}), 422, "not_issuer")
    assert api.get("/chain/verify").json()["ok"]


def test_pvp_demand_settles_with_a_proof_that_verifies_against_the_head(api: httpx.Client) -> None:
    before = totals(api)
    published = api.post("/demands", json=demand())
    assert published.status_code == 201 and published.json()["status"] == "published"
    assert api.post("/demands/D1/quotes", json=quote()).status_code == 201
    assert api.get("/demands/D1").json()["status"] == "quoted"
    accepted = api.post("/demands/D1/accept", json={"quote_id": "Q1"})
    assert accepted.status_code == 200, accepted.text
    view = api.get("/demands/D1").json()
    assert view["status"] == "settled" and view["accepted_quote"] == "Q1"
    assert wallet(api, "BANK-CN-A", "CNY") == Decimal("9999000.00")
    assert wallet(api, "BANK-HK-A", "HKD") == Decimal("10001085.00")
    assert totals(api) == before

    proof, head = view["proof"], api.get("/chain/head").json()
    assert (proof["chain_head"], proof["head_position"]) == (head["chain_head"], head["head_position"])
    entries = api.get("/chain", params={"from": proof["position"]}).json()["entries"]
    assert entries[0]["tx_id"] == "DEM-D1"
    assert proves_inclusion(proof, entries[0]["canonical"], [e["canonical"] for e in entries[1:]])
    assert api.get("/chain/verify").json()["ok"]
    received = api.get("/_sandbox/received").json()
    assert [tx["tx_id"] for tx in received] == ["DEM-D1"] and received[0]["type"] == "pvp"


def test_single_currency_demand_settles_without_a_quote(api: httpx.Client) -> None:
    body = demand("D2", target_currency="CNY", beneficiary="BANK-CN-B")
    assert api.post("/demands", json=body).status_code == 201
    settled = api.post("/demands/D2/accept", json={}).json()
    assert settled["status"] == "settled" and settled["proof"]["tx_id"] == "DEM-D2"


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"from": "BANK-XX-NOBODY"}, 422, "unknown_participant"),
        ({"beneficiary": "BANK-AE-S", "target_currency": "AED"}, 422, "participant_sanctioned"),
        ({"beneficiary": "BANK-HK-X"}, 422, "participant_not_eligible"),
        ({"amount": "2000000.01"}, 422, "limit_exceeded"),
        ({"beneficiary": "BANK-CN-B"}, 422, "currency_mismatch"),
        ({"beneficiary": "BANK-CN-A"}, 422, "same_participant"),
        ({"target_currency": "USD"}, 422, "unsupported_currency"),
        ({"amount": "1.001"}, 400, "invalid_amount"),
        ({"amount": "-5.00"}, 400, "invalid_amount"),
        ({"amount": "0.00"}, 400, "invalid_amount"),
        ({"amount": 1000}, 400, "invalid_amount"),
        ({"amount": "99999999999999"}, 400, "invalid_amount"),
    ],
)
def test_a_demand_is_refused_with_its_reason(
    shared_api: httpx.Client, changes: dict[str, Any], status: int, code: str
) -> None:
    api, demand_id = shared_api, f"DX-{next(UNIQUE)}"
    assert_refused(api.post("/demands", json=demand(demand_id, **changes)), status, code)
    shown = api.get(f"/demands/{demand_id}")
    if status == 422 and code != "unsupported_currency":  # a refused demand is on record with its reason
        assert shown.json()["status"] == "rejected" and shown.json()["reason"]["error"] == code
    else:  # malformed input never becomes a demand
        assert_refused(shown, 404, "unknown_demand")


def test_insufficient_funds_refuses_the_payment(api: httpx.Client) -> None:
    limit = {"central_bank": "PBOC", "participant": "BANK-CN-B", "currency": "CNY"}
    assert_refused(
        api.post("/limits", json={**limit, "central_bank": "HKMA", "max_single": "1.00", "daily_outflow": "1.00"}),
        422,
        "not_issuer",
    )
    raised = api.post("/limits", json={**limit, "max_single": "9000000.00", "daily_outflow": "9000000.00"})
    assert raised.json()["limits"]["CNY"]["max_single"] == "9000000.00"
    body = {"transfer_id": "T3", "from": "BANK-CN-B", "to": "BANK-CN-A", "amount": "6000000.00", "currency": "CNY"}
    assert_refused(api.post("/transfers", json=body), 422, "insufficient_funds")
    assert wallet(api, "BANK-CN-B", "CNY") == Decimal("5000000.00")


def test_a_participant_sanctioned_later_can_no_longer_pay(api: httpx.Client) -> None:
    assert api.post("/_sandbox/participants/BANK-CN-B", json={"sanctioned": True}).json()["sanctioned"] is True
    body = {"transfer_id": "T4", "from": "BANK-CN-B", "to": "BANK-CN-A", "amount": "1.00", "currency": "CNY"}
    assert_refused(api.post("/transfers", json=body), 422, "participant_sanctioned")
    banks = {p["id"]: p for p in api.get("/participants").json()["participants"]}
    assert banks["BANK-CN-B"]["sanctioned"] and banks["PBOC"]["issues"] == "CNY"
    assert banks["BANK-CN-A"]["limits"]["CNY"]["set_by"] == "PBOC"


def test_demands_are_idempotent_on_their_id(api: httpx.Client) -> None:
    first = api.post("/demands", json=demand())
    again = api.post("/demands", json=demand())
    assert again.status_code == 200 and again.json()["demand_id"] == first.json()["demand_id"]
    assert_refused(api.post("/demands", json=demand(amount="1000.01")), 409, "idempotency_conflict")
    refused = demand("D9", **{"from": "BANK-AE-S", "source_currency": "AED"})
    assert_refused(api.post("/demands", json=refused), 422, "participant_sanctioned")
    assert_refused(api.post("/demands", json=refused), 422, "participant_sanctioned")


def test_accepting_twice_settles_once(api: httpx.Client) -> None:
    api.post("/demands", json=demand())
    api.post("/demands/D1/quotes", json=quote())
    api.post("/demands/D1/quotes", json=quote("Q2", bank="BANK-HK-A"))  # a party cannot quote
    first = api.post("/demands/D1/accept", json={"quote_id": "Q1"}).json()
    again = api.post("/demands/D1/accept", json={"quote_id": "Q1"})
    assert again.status_code == 200 and again.json()["tx_id"] == first["tx_id"]
    assert wallet(api, "BANK-CN-A", "CNY") == Decimal("9999000.00")
    assert_refused(api.post("/demands/D1/accept", json={"quote_id": "Q2"}), 409, "demand_not_open")


def test_a_party_to_the_demand_cannot_quote_on_it(api: httpx.Client) -> None:
    api.post("/demands", json=demand())
    assert_refused(api.post("/demands/D1/quotes", json=quote(bank="BANK-HK-A")), 422, "quote_not_allowed")


def test_an_expired_quote_cannot_be_accepted(api: httpx.Client) -> None:
    api.post("/demands", json=demand())
    api.post("/demands/D1/quotes", json=quote(valid_for_s=30))
    api.post("/_sandbox/clock", json={"advance_s": 31})
    assert_refused(api.post("/demands/D1/accept", json={"quote_id": "Q1"}), 422, "quote_expired")
    view = api.get("/demands/D1").json()
    assert view["status"] == "quoted" and view["quotes"][0]["expired"] is True
    api.post("/demands/D1/quotes", json=quote("Q2", valid_for_s=30))
    assert api.post("/demands/D1/accept", json={"quote_id": "Q2"}).json()["status"] == "settled"


def test_an_unanswered_demand_expires(api: httpx.Client) -> None:
    api.post("/demands", json=demand(valid_for_s=60))
    api.post("/_sandbox/clock", json={"advance_s": 61})
    assert api.get("/demands/D1").json()["status"] == "expired"
    assert_refused(api.post("/demands/D1/quotes", json=quote()), 409, "demand_expired")


@pytest.mark.parametrize(
    ("path", "content", "status", "code"),
    [
        ("/demands", b"{not json", 400, "invalid_json"),
        ("/demands", b"[]", 400, "invalid_json"),
        ("/demands", b'{"demand_id": NaN}', 400, "invalid_json"),
        ("/demands", b"{" + b'"a":' * 20_000 + b"1" + b"}" * 20_000, 413, "payload_too_large"),
        ("/demands", b"[" * 20_000 + b"]" * 20_000, 400, "invalid_json"),
        ("/demands", json.dumps({**demand(), "extra": 1}).encode(), 400, "invalid_field"),
        ("/demands", json.dumps({**demand(), "purpose": "x" * 141}).encode(), 400, "invalid_field"),
        ("/demands", json.dumps({**demand(), "purpose": "a\u0000b"}).encode(), 400, "invalid_field"),
        ("/demands", json.dumps({**demand(), "demand_id": "../../etc/passwd"}).encode(), 400, "invalid_field"),
        ("/demands", json.dumps({**demand(), "from": ["BANK-CN-A"]}).encode(), 400, "invalid_field"),
        ("/demands", json.dumps({k: v for k, v in demand().items() if k != "from"}).encode(), 400, "invalid_field"),
        ("/transfers", json.dumps({"transfer_id": "T", "from": "A", "to": "B", "amount": 5.0}).encode(), 400,
         "invalid_field"),
        ("/demands/D1/quotes", json.dumps(quote()).encode(), 404, "unknown_demand"),
        ("/nowhere", b"{}", 404, "not_found"),
    ],
    ids=["syntax", "array", "nan", "oversized", "deep-nesting", "unknown-field", "long-text", "control-char",
         "path-id", "wrong-type", "missing-field", "number-amount", "unknown-demand", "unknown-path"],
)  # fmt: skip
def test_bad_input_is_refused_clearly(
    shared_api: httpx.Client, path: str, content: bytes, status: int, code: str
) -> None:
    assert_refused(shared_api.post(path, content=content), status, code)


def test_bad_quotes_are_refused(api: httpx.Client) -> None:
    api.post("/demands", json=demand())
    assert_refused(api.post("/demands/D1/quotes", json=quote(valid_for_s=True)), 400, "invalid_field")
    assert_refused(api.post("/demands/D1/quotes", json=quote(rate="-1")), 400, "invalid_rate")
    assert_refused(api.post("/demands/D1/quotes", json=quote(rate=1.08)), 400, "invalid_field")
    assert_refused(api.post("/demands/D1/accept", json={"quote_id": "NOPE"}), 422, "unknown_quote")


def test_outage_modes(api: httpx.Client) -> None:
    api.post("/_sandbox/mode", json={"mode": "error", "status": 503})
    assert_refused(api.get("/balances"), 503, "simulated_outage")
    api.post("/_sandbox/mode", json={"mode": "down"})
    with pytest.raises(httpx.TransportError):
        api.get("/balances")
    assert_refused(api.post("/_sandbox/mode", json={"mode": "sideways"}), 400, "invalid_field")
    api.post("/_sandbox/mode", json={"mode": "ok"})
    assert api.get("/balances").status_code == 200


def test_a_fault_between_the_legs_leaves_nothing_and_a_retry_settles(api: httpx.Client) -> None:
    api.post("/demands", json=demand())
    api.post("/demands/D1/quotes", json=quote())
    api.post("/_sandbox/settlement", json={"fault": True})
    assert_refused(api.post("/demands/D1/accept", json={"quote_id": "Q1"}), 503, "settlement_interrupted")
    assert api.get("/demands/D1").json()["status"] == "accepted"
    assert wallet(api, "BANK-CN-A", "CNY") == Decimal("10000000.00")
    assert wallet(api, "BANK-AE-A", "CNY") == Decimal("500000.00")
    api.post("/_sandbox/settlement", json={})
    assert api.post("/demands/D1/accept", json={"quote_id": "Q1"}).json()["status"] == "settled"


def test_killed_while_settling_then_restarted_books_are_consistent(tmp_path: Path) -> None:
    bridge = start_bridge(tmp_path / "bridge")
    try:
        with bridge.client() as api:
            before = totals(api)
            api.post("/demands", json=demand())
            api.post("/demands/D1/quotes", json=quote())
            api.post("/_sandbox/settlement", json={"delay_s": 30})

            def accept() -> None:
                with bridge.client(timeout=40) as late, pytest.raises(httpx.TransportError):
                    late.post("/demands/D1/accept", json={"quote_id": "Q1"})

            caller = threading.Thread(target=accept)
            caller.start()
            deadline = time.monotonic() + 10
            while not api.get("/_sandbox/health").json()["settling"]:  # first leg done, transaction open
                assert time.monotonic() < deadline
                time.sleep(0.02)
            bridge.proc.kill()
            bridge.proc.wait(10)
            caller.join(10)
    finally:
        stop(bridge)

    restarted = start_bridge(tmp_path / "bridge")
    try:
        with restarted.client() as api:
            assert api.get("/_sandbox/health").json()["resumed"] == ["D1"]
            assert api.get("/chain/verify").json()["ok"]
            assert totals(api) == before
            assert api.get("/demands/D1").json()["status"] == "settled"
            assert wallet(api, "BANK-CN-A", "CNY") == Decimal("9999000.00")
            assert wallet(api, "BANK-AE-A", "HKD") == Decimal("1998915.00")
            assert [tx["tx_id"] for tx in api.get("/_sandbox/received").json()] == ["DEM-D1"]
    finally:
        stop(restarted)


def test_parallel_http_payments_never_double_spend(api: httpx.Client, bridge: RunningBridge) -> None:
    before = totals(api)

    def pay(n: int) -> int:
        body = {"transfer_id": f"PAR-{n % 20}", "from": "BANK-CN-B", "to": "BANK-CN-A", "amount": "400000.00",
                "currency": "CNY"}  # fmt: skip
        with bridge.client(timeout=60) as own:
            return own.post("/transfers", json=body).status_code

    # 24 calls on 8 connections: 20 different transfers, 4 of them sent twice at the same time.
    results: list[int] = []
    threads = [threading.Thread(target=lambda n=n: results.append(pay(n))) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # 5,000,000.00 CNY in the wallet, 400,000.00 a payment: twelve settle, whoever wins the races.
    settled = [tx for tx in api.get("/_sandbox/received").json() if tx["tx_id"].startswith("TRF-PAR-")]
    assert len(settled) == 12 and len({tx["tx_id"] for tx in settled}) == 12
    assert wallet(api, "BANK-CN-B", "CNY") == Decimal("200000.00")
    assert set(results) <= {200, 201, 422} and results.count(201) == 12
    assert totals(api) == before
    assert api.get("/chain/verify").json()["ok"]


def test_market_makers_quote_on_new_cross_currency_demands_until_stopped(api: httpx.Client) -> None:
    api.post("/demands", json=demand("MM1"))
    deadline = time.monotonic() + 20
    while len(quotes := api.get("/demands/MM1").json()["quotes"]) < 2:
        assert time.monotonic() < deadline, "no market maker quoted"
        time.sleep(0.05)
    assert {q["bank"] for q in quotes} == {"LP-HK-A", "LP-AE-A"}
    by_bank = {q["bank"]: Decimal(q["rate"]) for q in quotes}
    assert by_bank["LP-HK-A"] == Decimal("1.083372") and by_bank["LP-HK-A"] > by_bank["LP-AE-A"]
    best = next(q for q in quotes if q["bank"] == "LP-HK-A")
    assert api.post("/demands/MM1/accept", json={"quote_id": best["quote_id"]}).json()["status"] == "settled"
    assert wallet(api, "BANK-HK-A", "HKD") == Decimal("10001083.37")

    assert api.post("/_sandbox/market", json={"quoting": False}).json()["market"]["quoting"] is False
    api.post("/demands", json=demand("MM2"))
    api.post("/demands", json=demand("MM3", target_currency="CNY", beneficiary="BANK-CN-B"))
    assert api.post("/demands/MM3/accept", json={}).json()["status"] == "settled"  # no quote for one currency
    api.post("/demands", json=demand("MM4"))  # published after MM2: once MM4 is seen unquoted, so was MM2
    assert api.get("/demands/MM2").json()["quotes"] == [] and api.get("/demands/MM4").json()["quotes"] == []
    assert_refused(api.post("/_sandbox/market", json={"quoting": "no"}), 400, "invalid_field")
    assert_refused(api.post("/_sandbox/market", json={"delay_s": 0}), 400, "invalid_field")
