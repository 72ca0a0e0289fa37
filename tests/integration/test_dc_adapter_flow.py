"""The dcbridge adapter against a real bridge process on loopback (no hub): the multilateral flow,
retries that continue the same demand, a demand accepted elsewhere, no quotes, outages, refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.base import AdapterContext, InDoubtError, RejectedByPartner, TransientError
from adapters.dcbridge import DcBridgeAdapter
from canonical.envelope import Envelope
from security.evidence import check_settlement
from tests.integration.test_dcbridge_sandbox import RunningBridge, start_bridge, stop


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[RunningBridge]:
    running = start_bridge(tmp_path / "bridge")
    yield running
    stop(running)


@pytest.fixture
async def knobs(bridge: RunningBridge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=10, trust_env=False) as client:
        yield client


def adapter_for(bridge: RunningBridge, timeout_s: float = 5.0) -> DcBridgeAdapter:
    settings = {"url": "sandbox:dcbridge", "timeout_s": timeout_s, "poll_s": 0.05}
    return DcBridgeAdapter(AdapterContext("dcbridge", "v1", settings, lambda _url: bridge.url))


@pytest.fixture
async def adapter(bridge: RunningBridge) -> AsyncIterator[DcBridgeAdapter]:
    found = adapter_for(bridge)
    yield found
    await found.stop()


def demand(**changes: str) -> Envelope:
    payload = {"originator": "BANK-CN-A", "beneficiary": "BANK-HK-A", "amount": "1000", "source_currency": "CNY",
               "target_currency": "HKD", "purpose": "goods", **changes}  # fmt: skip
    return Envelope(type="dc.demand", source="bank-a", destination="dcbridge", payload=payload)


async def settled(knobs: httpx.AsyncClient) -> list[str]:
    return [tx["tx_id"] for tx in (await knobs.get("/_sandbox/received")).json()]


async def test_the_flow_settles_on_the_best_quote_and_a_resend_settles_nothing_more(
    adapter: DcBridgeAdapter, knobs: httpx.AsyncClient
) -> None:
    env = demand()
    outbound = adapter.render(env)
    receipt = await adapter.send(outbound)
    assert receipt.final and receipt.reference == f"DEM-{env.id}"
    assert receipt.detail["settlement"]["liquidity_provider"] == "LP-HK-A"
    again = await adapter.send(outbound)  # a redelivery after a crash: the bridge answers the settled demand
    assert (
        again.reference == receipt.reference and again.detail["proof"]["tx_hash"] == receipt.detail["proof"]["tx_hash"]
    )
    assert await settled(knobs) == [receipt.reference]
    proof = receipt.detail["proof"]
    current, entries, head = await adapter.chain_evidence(proof["tx_id"], proof["position"])
    assert all(c.ok for c in check_settlement(proof, current, entries, head))
    books = await adapter.balances()
    assert {"participant": "LP-HK-A", "account": "wallet", "currency": "CNY", "balance": "20001000.00"} in books


async def test_a_demand_accepted_elsewhere_is_reported_not_paid_again(
    adapter: DcBridgeAdapter, knobs: httpx.AsyncClient
) -> None:
    env = demand()
    outbound = adapter.render(env)
    body = json.loads(outbound.body)
    await knobs.post("/_sandbox/market", json={"quoting": False})
    assert (await knobs.post("/demands", json=body)).status_code == 201
    quote = {"quote_id": "Q-DIRECT", "bank": "BANK-AE-A", "rate": "1.08", "valid_for_s": 30}
    await knobs.post(f"/demands/{env.id}/quotes", json=quote)
    accepted = await knobs.post(f"/demands/{env.id}/accept", json={"quote_id": "Q-DIRECT"})
    assert accepted.json()["status"] == "settled"
    receipt = await adapter.send(outbound)
    assert receipt.detail["settlement"]["liquidity_provider"] == "BANK-AE-A"
    assert await settled(knobs) == [f"DEM-{env.id}"]


async def test_no_quote_within_the_budget_is_worth_a_retry(bridge: RunningBridge, knobs: httpx.AsyncClient) -> None:
    await knobs.post("/_sandbox/market", json={"quoting": False})
    quick = adapter_for(bridge, timeout_s=0.5)
    try:
        with pytest.raises(TransientError, match="no quote"):
            await quick.send(quick.render(demand()))
    finally:
        await quick.stop()
    assert await settled(knobs) == []


async def test_a_lost_answer_is_in_doubt_and_the_retry_continues_the_same_demand(
    bridge: RunningBridge, knobs: httpx.AsyncClient
) -> None:
    impatient = adapter_for(bridge, timeout_s=0.5)
    env = demand()
    try:
        await knobs.post("/_sandbox/mode", json={"mode": "slow", "delay_s": 1.5})
        with pytest.raises(InDoubtError):
            await impatient.send(impatient.render(env))
        await knobs.post("/_sandbox/mode", json={"mode": "ok"})
        receipt = await adapter_for(bridge).send(impatient.render(env))
    finally:
        await impatient.stop()
    assert await settled(knobs) == [receipt.reference]


async def test_outages_are_transient(adapter: DcBridgeAdapter, knobs: httpx.AsyncClient) -> None:
    await knobs.post("/_sandbox/mode", json={"mode": "error", "status": 503})
    with pytest.raises(TransientError, match="simulated_outage"):
        await adapter.send(adapter.render(demand()))
    assert not (await adapter.health()).ok
    await knobs.post("/_sandbox/mode", json={"mode": "down"})
    with pytest.raises(TransientError):
        await adapter.balances()
    await knobs.post("/_sandbox/mode", json={"mode": "ok"})
    assert (await adapter.health()).ok


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"originator": "BANK-TH-A", "amount": "600000"}, "insufficient_funds"),  # it holds 500,000 CNY
        ({"beneficiary": "BANK-HK-X"}, "participant_not_eligible"),
        ({"target_currency": "EUR"}, "unsupported_currency"),
        ({"amount": "1.5", "target_currency": "CNY", "beneficiary": "BANK-CN-B", "originator": "BANK-AE-S"},
         "participant_sanctioned"),
    ],
)  # fmt: skip
async def test_business_refusals_carry_the_bridges_code(
    adapter: DcBridgeAdapter, knobs: httpx.AsyncClient, changes: dict[str, str], code: str
) -> None:
    before = (await knobs.get("/balances")).json()
    with pytest.raises(RejectedByPartner) as refused:
        await adapter.send(adapter.render(demand(**changes)))
    assert refused.value.reason.startswith(code)
    assert (await knobs.get("/balances")).json() == before
