"""The CIPS and SWIFT adapters against the payment-network sandboxes, served in-process on loopback:
ACK and NAK, a refused connection, an in-doubt call and the enquiry that clears it, the possible-duplicate
resend, signed and encrypted calls, and the network's pushed answers read back into Envelopes."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import POSSIBLE_DUPLICATE, AdapterContext, InDoubtError, PermanentError, TransientError, build
from adapters.base import Protect
from adapters.partner import NetworkRefusal
from adapters.payments import PaymentNetworkAdapter
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from canonical.payments import CancellationResolution, CreditTransfer, PaymentReturn, StatusReport, StatusRequest
from sandbox.cips import Cips
from sandbox.http import Request, Response, serve
from sandbox.payments import PaymentNetwork
from sandbox.swift import Swift
from security import jose
from security.outbound import (
    CALLBACK_FILE,
    HUB_JWKS_FILE,
    PARTNER_JWKS_FILE,
    PartnerProtection,
    Protector,
    publish_jwks,
)
from tests.unit.test_payment_adapters_unit import cancellation, credit_transfer, original_of

# Participants of the CIPS sandbox's directory (SWIFT takes any BIC).
DEBTOR_BANK, CREDITOR_BANK = "EXAMCNSZXXX", "DEMOCNBJXXX"
NETWORK_BICS = {"cips": "CIPSCNSHXXX", "swift": "TRCKCHZZXXX"}
SIMULATORS: dict[str, type[PaymentNetwork]] = {"cips": Cips, "swift": Swift}
WAIT_S = 5.0


@dataclass
class Callbacks:
    """The hub's callback endpoint, as the network sees it: records every push."""

    pushed: asyncio.Queue[tuple[bytes, dict[str, str]]] = field(default_factory=asyncio.Queue)

    async def handle(self, req: Request) -> Response:
        await self.pushed.put((req.body, req.headers))
        return Response(202)

    async def next(self) -> tuple[bytes, dict[str, str]]:
        return await asyncio.wait_for(self.pushed.get(), WAIT_S)


@dataclass
class Network:
    kind: str
    simulator: PaymentNetwork
    url: str
    state: Path
    callbacks: Callbacks
    adapters: list[PaymentNetworkAdapter] = field(default_factory=list)

    def adapter(self, protect: Protect | None = None, **settings: Any) -> PaymentNetworkAdapter:
        config: dict[str, Any] = {"url": f"sandbox:{self.kind}", "timeout_s": 2} | settings
        if self.kind == "cips":
            config.setdefault("network_bic", NETWORK_BICS["cips"])
        ctx = AdapterContext(self.kind, "v1", config, self.resolve, protect=protect)
        adapter = build(self.kind, ctx)
        assert isinstance(adapter, PaymentNetworkAdapter)
        self.adapters.append(adapter)
        return adapter

    def resolve(self, url: str) -> str:
        return self.url if url == f"sandbox:{self.kind}" else url

    async def knob(self, name: str, spec: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=WAIT_S) as client:
            if spec is None:
                response = await client.get(f"/_sandbox/{name}")
            else:
                response = await client.post(f"/_sandbox/{name}", json=spec)
        assert response.status_code == 200, response.text
        return response.json()

    async def pushed(self, what: type[Any], adapter: PaymentNetworkAdapter) -> Envelope:
        """The next callback the network pushes, read by the adapter: it must carry a `what`."""
        body, headers = await self.callbacks.next()
        env = adapter.parse_reply(body, headers)
        assert isinstance(env.payload, what), env.type
        return env


def envelope(payload: CreditTransfer | Any, kind: str, **headers: str) -> Envelope:
    message_type = getattr(type(payload), "__message_type__", "")
    return Envelope(type=message_type, source="bank-a", destination=kind, headers=headers, payload=payload)


def payment() -> CreditTransfer:
    return credit_transfer(DEBTOR_BANK, CREDITOR_BANK)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_network(kind: str, state: Path) -> tuple[Network, list[Any]]:
    callbacks = Callbacks()
    hub = await serve(callbacks.handle, "127.0.0.1", 0)
    hub_url = f"http://127.0.0.1:{hub.sockets[0].getsockname()[1]}/v1/callbacks/{kind}"
    state.mkdir(parents=True, exist_ok=True)
    (state / CALLBACK_FILE).write_text(json.dumps({"url": hub_url, "cafile": None}))
    simulator = SIMULATORS[kind](kind, state)
    server = await serve(simulator.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    network = Network(kind, simulator, url, state, callbacks)
    await network.knob("settlement", {"delay_s": 0.05})
    return network, [hub, server]


async def stop_network(network: Network, servers: list[Any]) -> None:
    for adapter in network.adapters:
        await adapter.stop()
    await network.simulator.stop()  # also lets go of a swallowed request
    for server in servers:
        server.close()


@pytest.fixture(params=["cips", "swift"])
async def network(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Network]:
    running, servers = await start_network(request.param, tmp_path / request.param)
    yield running
    await stop_network(running, servers)


@pytest.fixture
async def swift(tmp_path: Path) -> AsyncIterator[Network]:
    running, servers = await start_network("swift", tmp_path / "swift")
    yield running
    await stop_network(running, servers)


@pytest.fixture
async def cips(tmp_path: Path) -> AsyncIterator[Network]:
    running, servers = await start_network("cips", tmp_path / "cips")
    yield running
    await stop_network(running, servers)


# --- the synchronous answer -----------------------------------------------------------------------------


async def test_an_accepted_payment_is_acknowledged_not_final(network: Network) -> None:
    adapter = network.adapter()
    ct = payment()
    receipt = await adapter.send(adapter.render(envelope(ct, network.kind)))
    assert receipt.final is False
    assert receipt.reference.startswith(network.kind.upper()[:4] if network.kind == "cips" else "SWFT")
    assert receipt.detail == {"channel": network.kind, "ack": "ACK", "duplicate": False, "uetr": ct.uetr}


async def test_a_refused_payment_is_permanent_with_the_iso_reason(cips: Network) -> None:
    adapter = cips.adapter()
    stranger = credit_transfer(DEBTOR_BANK, "NOTACNBJXXX")
    with pytest.raises(NetworkRefusal) as exc:
        await adapter.send(adapter.render(envelope(stranger, "cips")))
    assert exc.value.code == "RC01" and exc.value.status == 422
    assert exc.value.reason.startswith("cips refused: RC01 the instructed agent NOTACNBJXXX")
    assert isinstance(exc.value, PermanentError) and not exc.value.retryable


async def test_a_uetr_sent_again_without_the_flag_is_refused_am05_and_with_it_acked_as_duplicate(
    network: Network,
) -> None:
    adapter = network.adapter()
    ct = payment()
    first = await adapter.send(adapter.render(envelope(ct, network.kind)))
    with pytest.raises(NetworkRefusal) as exc:  # another message (another idempotency key), same UETR
        await adapter.send(adapter.render(envelope(ct, network.kind)))
    assert exc.value.code == "AM05"
    resend = await adapter.send(adapter.render(envelope(ct, network.kind, **{POSSIBLE_DUPLICATE: "true"})))
    assert (resend.reference, resend.detail["duplicate"]) == (first.reference, True)
    assert len([p for p in await network.knob("payments") if p["uetr"] == ct.uetr]) == 1


async def test_a_network_error_status_is_transient(network: Network) -> None:
    adapter = network.adapter()
    await network.knob("mode", {"mode": "error", "status": 503})
    with pytest.raises(TransientError) as exc:
        await adapter.send(adapter.render(envelope(payment(), network.kind)))
    assert exc.value.status == 503 and not isinstance(exc.value, InDoubtError)


async def test_a_refused_connection_is_transient_not_in_doubt(cips: Network) -> None:
    adapter = cips.adapter(url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError) as exc:
        await adapter.send(adapter.render(envelope(payment(), "cips")))
    assert not isinstance(exc.value, InDoubtError)
    assert not (await adapter.health()).ok


# --- in doubt, and the enquiry that clears it -------------------------------------------------------------


async def test_a_swallowed_payment_is_in_doubt_then_known_to_the_enquiry_and_resent_as_duplicate(
    network: Network,
) -> None:
    adapter = network.adapter(timeout_s=0.3)
    env = envelope(payment(), network.kind)
    await network.knob("swallow", {"count": 1})
    with pytest.raises(InDoubtError):
        await adapter.send(adapter.render(env))
    status = await adapter.enquire(env)  # type: ignore[attr-defined]
    assert status.known and status.status in ("delivered", "completed")
    resend = env.model_copy(update={"headers": {POSSIBLE_DUPLICATE: "true"}})
    receipt = await adapter.send(adapter.render(resend))  # same message, same key: the remembered ack
    [held] = [p for p in await network.knob("payments") if p["uetr"] == env.payload.uetr]
    assert receipt.reference == held["reference"]  # one payment, however often it was sent


async def test_a_dropped_connection_is_in_doubt_and_the_enquiry_then_clears_a_resend(cips: Network) -> None:
    adapter = cips.adapter()
    env = envelope(payment(), "cips")
    await cips.knob("mode", {"mode": "down"})
    with pytest.raises(InDoubtError):  # the request went out; whether it took effect, only CIPS knows
        await adapter.send(adapter.render(env))
    await cips.knob("mode", {"mode": "ok"})
    assert (await adapter.enquire(env)).known is False  # type: ignore[attr-defined]
    receipt = await adapter.send(adapter.render(env.model_copy(update={"headers": {POSSIBLE_DUPLICATE: "true"}})))
    assert receipt.detail["duplicate"] is False  # the first attempt never reached the network


async def test_the_enquiry_knows_nothing_of_a_payment_never_received(network: Network) -> None:
    status = await network.adapter().enquire(envelope(payment(), network.kind))  # type: ignore[attr-defined]
    assert status.known is False


async def test_the_enquiry_reports_settled_and_rejected_payments(network: Network) -> None:
    adapter = network.adapter()
    settled, rejected = envelope(payment(), network.kind), envelope(payment(), network.kind)
    await network.knob("script", {"uetr": rejected.payload.uetr, "outcome": "RJCT", "reason": "AC04"})
    for env in (settled, rejected):
        await adapter.send(adapter.render(env))
    reports = [await network.pushed(StatusReport, adapter) for _ in range(2)]  # both have settled now
    assert {r.correlation_id for r in reports} == {settled.payload.uetr, rejected.payload.uetr}
    done = await adapter.enquire(settled)  # type: ignore[attr-defined]
    refused = await adapter.enquire(rejected)  # type: ignore[attr-defined]
    assert (done.known, done.status) == (True, "completed")
    assert (refused.known, refused.status, refused.reason) == (True, "rejected", "AC04")


async def test_a_status_request_sent_by_an_institution_is_answered_at_once(network: Network) -> None:
    adapter = network.adapter()
    ct = payment()
    await adapter.send(adapter.render(envelope(ct, network.kind)))
    await network.pushed(StatusReport, adapter)  # settled
    request = StatusRequest(
        message_id=f"P028-{ct.uetr[:8]}",
        original=original_of(ct),
        instructing_agent=DEBTOR_BANK,
        instructed_agent=CREDITOR_BANK,
    )
    receipt = await adapter.send(adapter.render(envelope(request, network.kind)))
    assert receipt.final is True  # the answer is the status itself
    assert (receipt.detail["status"], receipt.detail["reason"]) == ("ACSC", "")


async def test_the_enquiry_fails_transiently_when_the_network_is_unreachable(cips: Network) -> None:
    adapter = cips.adapter(url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError):
        await adapter.enquire(envelope(payment(), "cips"))  # type: ignore[attr-defined]


# --- protection -------------------------------------------------------------------------------------------


async def test_payment_and_enquiry_are_signed_and_encrypted_for_the_network(tmp_path: Path) -> None:
    hub_key = jose.generate_key("Ed25519", "hub-requests-jose-1")
    state = tmp_path / "cips"
    publish_jwks(state / HUB_JWKS_FILE, [hub_key])  # as the hub does before it starts a sandbox
    network, servers = await start_network("cips", state)
    try:
        await network.knob("require_signature", {"required": True})
        partner_jwks = json.loads((state / PARTNER_JWKS_FILE).read_text())
        protection = PartnerProtection(encrypt=True, recipient="sandbox")
        adapter = network.adapter(protect=Protector.for_partner(protection, hub_key, partner_jwks).protect)
        env = envelope(payment(), "cips")
        receipt = await adapter.send(adapter.render(env))
        assert receipt.detail["ack"] == "ACK"
        assert (await adapter.enquire(env)).known  # type: ignore[attr-defined]
        calls = [c for c in await network.knob("received?all=1") if c["correlation_id"] == env.payload.uetr]
        assert len(calls) == 2
        assert all(c["signature"] == "valid" and c["encrypted"] for c in calls)
        unsigned = network.adapter()
        with pytest.raises(PermanentError, match="401"):
            await unsigned.send(unsigned.render(envelope(payment(), "cips")))
    finally:
        await stop_network(network, servers)


# --- the network's pushed answers -------------------------------------------------------------------------


async def test_pushed_answers_become_envelopes_correlated_by_uetr(network: Network) -> None:
    adapter = network.adapter()
    ct = payment()
    await adapter.send(adapter.render(envelope(ct, network.kind)))
    report = await network.pushed(StatusReport, adapter)
    network_bic = NETWORK_BICS[network.kind]
    assert (report.type, report.source, report.destination) == ("payment.status_report", network.kind, "hub")
    assert report.correlation_id == ct.uetr
    assert report.idempotency_key == f"{network_bic}:{report.payload.message_id}"
    assert report.payload.status.value == "ACSC"

    await network.knob("return", {"uetr": ct.uetr, "reason": "AC04"})
    returned = await network.pushed(PaymentReturn, adapter)
    assert (returned.type, returned.correlation_id) == ("payment.return", ct.uetr)

    await network.knob("statement", {"account": "SETTLEMENT-0001"})
    statement = await network.pushed(object, adapter)
    assert statement.type == "payment.account_statement"
    assert [e.uetr for e in statement.payload.entries] == [ct.uetr, ct.uetr]  # paid, and returned


async def test_a_cancellation_is_acked_and_resolved_by_a_pushed_camt029(network: Network) -> None:
    adapter = network.adapter()
    ct = payment()
    await network.knob("hold", {"uetr": ct.uetr})
    await adapter.send(adapter.render(envelope(ct, network.kind)))
    receipt = await adapter.send(adapter.render(envelope(cancellation(ct), network.kind)))
    assert receipt.final is False and receipt.detail["ack"] == "ACK"
    resolution = await network.pushed(CancellationResolution, adapter)
    assert resolution.correlation_id == ct.uetr
    assert resolution.payload.status.value == "CNCL"


async def test_a_forged_answer_is_rejected(cips: Network) -> None:
    adapter = cips.adapter()
    with pytest.raises(RejectedInput):
        adapter.parse_reply(b"<Envelope xmlns='urn:swift:xsd:envelope'><AppHdr/></Envelope>", {})


# --- SWIFT MT ---------------------------------------------------------------------------------------------


async def test_swift_mt_payment_goes_as_fin_and_its_mt199_status_comes_back(swift: Network) -> None:
    adapter = swift.adapter(format="mt")
    ct = payment()
    receipt = await adapter.send(adapter.render(envelope(ct, "swift")))
    assert receipt.reference.startswith("SWFT") and receipt.detail["uetr"] == ct.uetr
    [held] = [p for p in await swift.knob("payments") if p["uetr"] == ct.uetr]
    assert (held["syntax"], held["definition"]) == ("mt", "MT103")
    body, headers = await swift.callbacks.next()
    assert body.startswith(b"{1:") and b"{2:I199" in body
    report = adapter.parse_reply(body, headers)
    assert (report.type, report.correlation_id) == ("payment.status_report", ct.uetr)
    assert isinstance(report.payload, StatusReport) and report.payload.status.value == "ACSC"

    await swift.knob("return", {"uetr": ct.uetr, "reason": "AC04"})
    body, headers = await swift.callbacks.next()
    assert body.startswith(b"{1:")  # an MT103 with /RETN/
    returned = adapter.parse_reply(body, headers)
    assert (returned.type, returned.correlation_id) == ("payment.return", ct.uetr)


async def test_swift_mt_cancellation_goes_as_mt192_and_is_resolved_by_an_mt196(swift: Network) -> None:
    adapter = swift.adapter(format="mt")
    ct = payment()
    await swift.knob("hold", {"uetr": ct.uetr})
    await adapter.send(adapter.render(envelope(ct, "swift")))
    request = cancellation(ct).model_copy(update={"original_settlement_date": ct.settlement_date})
    receipt = await adapter.send(adapter.render(envelope(request, "swift")))
    assert receipt.detail["ack"] == "ACK"
    body, headers = await swift.callbacks.next()
    assert b"{2:I196" in body
    resolution = adapter.parse_reply(body, headers)
    assert (resolution.type, resolution.correlation_id) == ("payment.cancellation_resolution", ct.uetr)
    assert isinstance(resolution.payload, CancellationResolution) and resolution.payload.status.value == "CNCL"


async def test_swift_mt_resend_carries_pde_and_is_acked_as_duplicate(swift: Network) -> None:
    adapter = swift.adapter(format="mt")
    env = envelope(payment(), "swift")
    first = await adapter.send(adapter.render(env))
    again = envelope(env.payload, "swift", **{POSSIBLE_DUPLICATE: "true"})
    receipt = await adapter.send(adapter.render(again))
    assert (receipt.reference, receipt.detail["duplicate"]) == (first.reference, True)


async def test_health_asks_the_network(network: Network) -> None:
    health = await network.adapter().health()
    assert health.ok, health.detail
