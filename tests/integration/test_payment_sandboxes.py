"""The CIPS and SWIFT sandboxes on loopback, as the hub meets them: ACK / NAK, signed callbacks,
duplicates, status requests, cancellations, returns, statements, lost answers, restarts and FIN."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from canonical.iso20022 import BusinessHeader, Iso20022Message, parse, render
from canonical.money import Money
from canonical.payments import (
    AccountStatement,
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    OriginalReference,
    PaymentReturn,
    StatusReport,
    StatusRequest,
)
from canonical.swift_mt import SwiftMtCodec, parse_message
from canonical.swift_mt.codec import to_mt
from canonical.swift_mt.common import Mt196, Mt199
from sandbox.cips import Cips
from sandbox.http import Request, Response, serve
from sandbox.payments import PaymentNetwork
from sandbox.swift import Swift
from security import jose
from security.outbound import Protector, publish_jwks, read_jwks

SAMPLE = Path(__file__).resolve().parents[3] / "shared/data/iso20022/samples/pacs008_credit_transfer_sample.xml"
TEMPLATE = parse(SAMPLE.read_bytes())
HUB_BANK, COUNTERPARTY = "FNTXDE2X", "GLPBES2X"


# -- the hub's side: a callback inbox and messages built with the hub's codecs ----------------------


@dataclass
class Inbox:
    """The hub's callback endpoint: keeps every request it gets and answers 200."""

    got: asyncio.Queue[Request] = field(default_factory=asyncio.Queue)
    server: asyncio.Server | None = None
    port: int = 0

    async def handle(self, req: Request) -> Response:
        await self.got.put(req)
        return Response(200)

    async def open(self) -> None:
        self.server = await serve(self.handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def next(self) -> Request:
        return await asyncio.wait_for(self.got.get(), 5.0)

    async def nothing_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.got.get(), seconds)
            return False
        return True

    def point(self, state: Path) -> None:
        """Write the hub's callback file into a sandbox's state folder, as the hub does."""
        url = f"http://127.0.0.1:{self.port}/v1/callbacks/{state.name}"
        (state / "hub-callback.json").write_text(json.dumps({"url": url, "cafile": None}))


@dataclass
class Network:
    partner: PaymentNetwork
    server: asyncio.Server
    api: httpx.AsyncClient
    state: Path

    async def post(self, body: bytes, key: str | None = None, path: str = "/messages", **kw: Any) -> httpx.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex, "Content-Type": "application/xml"}
        return await self.api.post(path, content=body, headers=headers | kw.pop("headers", {}), **kw)

    async def knob(self, action: str, spec: dict[str, Any]) -> httpx.Response:
        response = await self.api.post(f"/_sandbox/{action}", json=spec)
        assert response.status_code == 200, response.text
        return response

    async def get(self, path: str) -> Any:
        response = await self.api.get(path)
        assert response.status_code == 200, response.text
        return response.json()


async def start(kind: type[PaymentNetwork], state: Path) -> Network:
    partner = kind(state.name, state)
    server = await serve(partner.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    network = Network(partner, server, httpx.AsyncClient(base_url=url, timeout=5, trust_env=False), state)
    await network.knob("settlement", {"delay_s": 0.05})
    return network


async def shut(network: Network) -> None:
    await network.api.aclose()
    network.server.close()
    await network.partner.stop()


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    await box.open()
    yield box
    if box.server is not None and box.server.is_serving():
        await box.close()


@contextlib.asynccontextmanager
async def running(kind: type[PaymentNetwork], state: Path, inbox: Inbox) -> AsyncIterator[Network]:
    """A sandbox with its state in `state` (whose name is the network's), calling back the hub's inbox."""
    state.mkdir()
    inbox.point(state)
    network = await start(kind, state)
    try:
        yield network
    finally:
        await shut(network)


@pytest.fixture
async def cips(tmp_path: Path, inbox: Inbox) -> AsyncIterator[Network]:
    async with running(Cips, tmp_path / "cips", inbox) as network:
        yield network


@pytest.fixture
async def swift(tmp_path: Path, inbox: Inbox) -> AsyncIterator[Network]:
    async with running(Swift, tmp_path / "swift", inbox) as network:
        yield network


def new_id() -> str:
    return "T" + uuid.uuid4().hex[:15].upper()


def transfer(
    currency: str = "CNY",
    *,
    uetr: str | None = None,
    day: date | None = None,
    instructed: str = COUNTERPARTY,
    duplicate: bool = False,
) -> tuple[CreditTransfer, BusinessHeader]:
    """A variant of the shared pacs.008 sample: its own UETR and ids, settling today in `currency`."""
    message_id = new_id()
    payload = TEMPLATE.payload.model_copy(
        update={
            "uetr": uetr or str(uuid.uuid4()),
            "message_id": message_id,
            "instruction_id": message_id,
            "settlement_amount": Money(currency=currency, amount=Decimal("750000")),
            "settlement_date": day or datetime.now(UTC).date(),
            "instructed_agent": instructed,
        }
    )
    header = TEMPLATE.header.model_copy(update={"business_message_id": message_id, "possible_duplicate": duplicate})
    assert isinstance(payload, CreditTransfer)
    return payload, header


def pacs008(currency: str = "CNY", **kw: Any) -> tuple[bytes, str]:
    payload, header = transfer(currency, **kw)
    return render(Iso20022Message(header, payload)), payload.uetr


def mx(payload: Any, definition: str) -> bytes:
    header = BusinessHeader(
        from_bic=HUB_BANK,
        to_bic=COUNTERPARTY,
        business_message_id=payload.message_id if hasattr(payload, "message_id") else payload.assignment_id,
        message_definition=definition,
        created_at=datetime.now(UTC),
    )
    return render(Iso20022Message(header, payload))


def original(uetr: str) -> OriginalReference:
    return OriginalReference(message_id="P008-ORIGINAL", message_type="pacs.008.001.08", uetr=uetr)


def pacs028(uetr: str) -> bytes:
    request = StatusRequest(
        message_id=new_id(), original=original(uetr), instructing_agent=HUB_BANK, instructed_agent=COUNTERPARTY
    )
    return mx(request, "pacs.028.001.05")


def cancellation(of: OriginalReference, amount: Money, day: date | None = None) -> CancellationRequest:
    """The hub asking the counterparty to cancel the payment `of`, sent twice (DUPL)."""
    return CancellationRequest(
        assignment_id=new_id(),
        assigner=HUB_BANK,
        assignee=COUNTERPARTY,
        case_id=new_id(),
        case_creator=HUB_BANK,
        original=of,
        original_settlement_amount=amount,
        original_settlement_date=day,
        reason_code="DUPL",
    )


def camt056(uetr: str) -> bytes:
    return mx(cancellation(original(uetr), Money(currency="CNY", amount=Decimal("750000"))), "camt.056.001.08")


def signed_by_network(req: Request, state: Path) -> dict[str, Any]:
    """The callback's protected header, verified against the network's published jwks.json."""
    keys = {k.kid: k for k in read_jwks(state / "jwks.json")}
    header = jose.verify_detached(req.headers["x-hub-signature"], req.body, keys.get, ("Ed25519",))
    assert isinstance(header["iat"], int) and 8 <= len(header["nonce"]) <= 128
    return header


async def next_payload(inbox: Inbox) -> Any:
    req = await inbox.next()
    assert req.headers["content-type"] == "application/xml"
    return parse(req.body).payload


async def settled(network: Network, inbox: Inbox, currency: str = "CNY") -> str:
    body, uetr = pacs008(currency)
    assert (await network.post(body)).status_code == 200
    report = await next_payload(inbox)
    assert isinstance(report, StatusReport) and report.status == "ACSC"
    return uetr


async def status_of(network: Network, uetr: str) -> StatusReport:
    """What a pacs.028 about `uetr` gets: a pacs.002 (XML) with the payment's current status."""
    answer = await network.post(pacs028(uetr))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/xml"
    report = parse(answer.content).payload
    assert isinstance(report, StatusReport) and report.original.uetr == uetr
    return report


def nak(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["ack"] == "NAK"
    return body["reason"], body["detail"]


# -- ACK, settlement and signed callbacks -------------------------------------------------------------


async def test_a_payment_is_acked_then_settled_with_a_signed_pacs002(cips: Network, inbox: Inbox) -> None:
    body, uetr = pacs008()
    response = await cips.post(body, key="hub-msg-1")
    answer = response.json()
    assert response.status_code == 200
    assert answer["ack"] == "ACK" and answer["uetr"] == uetr and answer["duplicate"] is False

    callback = await inbox.next()
    assert callback.path == "/v1/callbacks/cips" and callback.headers["content-type"] == "application/xml"
    header = signed_by_network(callback, cips.state)
    published = await cips.get("/_sandbox/jwks")
    assert header["kid"] in {k["kid"] for k in published["keys"]}
    report = parse(callback.body).payload
    assert isinstance(report, StatusReport)
    assert report.status == "ACSC" and report.original.uetr == uetr and report.reason_code is None

    [call] = await cips.get("/_sandbox/received")
    assert call["idempotency_key"] == "hub-msg-1" and call["correlation_id"] == uetr and call["effect"] == 1
    assert call["signature"] == "missing" and call["encrypted"] is False and uetr in call["body"]


async def test_a_scripted_payment_is_rejected_with_its_reason(swift: Network, inbox: Inbox) -> None:
    body, uetr = pacs008("EUR")
    await swift.knob("script", {"uetr": uetr, "outcome": "RJCT", "reason": "AC04"})
    assert (await swift.post(body)).status_code == 200
    report = await next_payload(inbox)
    assert report.status == "RJCT" and report.reason_code == "AC04" and report.original.uetr == uetr
    [payment] = await swift.get("/_sandbox/payments")
    assert payment["status"] == "RJCT" and payment["reason"] == "AC04"


# -- CIPS rules ---------------------------------------------------------------------------------------


async def test_cips_refuses_other_currencies_with_am03(cips: Network) -> None:
    reason, detail = nak(await cips.post(pacs008("EUR")[0]))
    assert reason == "AM03" and "EUR" in detail
    assert await cips.get("/_sandbox/received") == []


async def test_cips_refuses_agents_outside_its_directory_with_rc01(cips: Network) -> None:
    reason, detail = nak(await cips.post(pacs008(instructed="BANKFRPPXXX")[0]))
    assert reason == "RC01" and "BANKFRPPXXX" in detail
    directory = await cips.get("/_sandbox/participants")
    assert {"FNTXDE2XXXX", "GLPBES2XXXX"} <= {p["bic"] for p in directory}
    assert all(len(p["participant_id"]) == 11 for p in directory)
    await cips.knob("participants", {"bic": "BANKFRPPXXX", "name": "Demo Bank Paris"})
    assert (await cips.post(pacs008(instructed="BANKFRPPXXX")[0])).status_code == 200


async def test_cips_refuses_outside_its_hours_and_after_the_cutoff_with_tm01(cips: Network) -> None:
    window = {"timezone": "Asia/Shanghai", "opens": "08:30", "closes": "20:30", "cutoff": "17:00"}
    await cips.knob("hours", window)
    monday = date(2026, 11, 23)
    await cips.knob("clock", {"now": "2026-11-23T07:00:00+08:00"})
    assert nak(await cips.post(pacs008(day=monday)[0]))[0] == "TM01"
    await cips.knob("clock", {"now": "2026-11-23T18:00:00+08:00"})
    reason, detail = nak(await cips.post(pacs008(day=monday)[0]))
    assert reason == "TM01" and "cut-off" in detail
    assert (await cips.post(pacs008(day=monday + timedelta(days=1))[0])).status_code == 200
    await cips.knob("clock", {"now": "2026-11-23T10:00:00+08:00"})
    assert (await cips.post(pacs008(day=monday)[0])).status_code == 200


async def test_cips_refuses_a_settlement_date_before_its_business_date_with_dt01(cips: Network) -> None:
    await cips.knob("clock", {"now": "2026-11-23T10:00:00+00:00"})
    reason, detail = nak(await cips.post(pacs008(day=date(2026, 11, 22))[0]))
    assert reason == "DT01" and "2026-11-23" in detail


# -- duplicates -------------------------------------------------------------------------------------


async def test_the_same_idempotency_key_gets_the_same_answer_without_a_second_effect(
    cips: Network, inbox: Inbox
) -> None:
    body, uetr = pacs008()
    first = await cips.post(body, key="hub-msg-2")
    again = await cips.post(body, key="hub-msg-2")
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replay"] == "1"
    assert (await next_payload(inbox)).original.uetr == uetr
    assert await inbox.nothing_within(0.3)
    assert [c["idempotency_key"] for c in await cips.get("/_sandbox/received")] == ["hub-msg-2"]


async def test_a_known_uetr_without_the_duplicate_flag_is_refused_with_am05(cips: Network) -> None:
    payload, header = transfer()
    assert (await cips.post(render(Iso20022Message(header, payload)))).status_code == 200
    resend = render(Iso20022Message(header.model_copy(update={"business_message_id": new_id()}), payload))
    reason, detail = nak(await cips.post(resend))
    assert reason == "AM05" and payload.uetr in detail


async def test_a_possible_duplicate_gets_the_original_ack_without_a_second_effect(cips: Network) -> None:
    payload, header = transfer()
    first = (await cips.post(render(Iso20022Message(header, payload)))).json()
    resend = render(Iso20022Message(header.model_copy(update={"possible_duplicate": True}), payload))
    answer = (await cips.post(resend)).json()
    assert answer == first | {"duplicate": True}
    assert len(await cips.get("/_sandbox/payments")) == 1
    assert len(await cips.get("/_sandbox/received")) == 1


async def test_an_mt_resend_with_pde_gets_the_original_ack(swift: Network) -> None:
    payload, _ = transfer("USD")
    fin = to_mt(payload, HUB_BANK, COUNTERPARTY)[0].encode()
    pde = to_mt(payload, HUB_BANK, COUNTERPARTY, possible_duplicate=True)[0].encode()
    first = (await swift.post(fin, path="/fin")).json()
    assert (await swift.post(pde, path="/fin")).json() == first | {"duplicate": True}
    assert nak(await swift.post(fin, path="/fin"))[0] == "AM05"
    assert len(await swift.get("/_sandbox/received")) == 1


# -- status requests, cancellations, returns, statements ---------------------------------------------


async def test_a_status_request_reports_pending_then_settled_and_404_when_unknown(cips: Network, inbox: Inbox) -> None:
    body, uetr = pacs008()
    await cips.knob("hold", {"uetr": uetr})
    await cips.post(body)
    assert (await status_of(cips, uetr)).status == "ACSP"
    await cips.knob("hold", {"uetr": uetr, "release": True})
    assert (await next_payload(inbox)).status == "ACSC"
    assert (await status_of(cips, uetr)).status == "ACSC"
    unknown = await cips.post(pacs028(str(uuid.uuid4())))
    assert unknown.status_code == 404 and "uetr" in unknown.json()


async def test_a_cancellation_before_settlement_cancels_the_payment_for_good(cips: Network, inbox: Inbox) -> None:
    body, uetr = pacs008()
    await cips.knob("hold", {"uetr": uetr})
    await cips.post(body)
    answer = await cips.post(camt056(uetr))
    assert answer.status_code == 200 and answer.json()["ack"] == "ACK"
    resolution = await next_payload(inbox)
    assert isinstance(resolution, CancellationResolution)
    assert resolution.status == "CNCL" and resolution.original.uetr == uetr
    await cips.knob("hold", {"uetr": uetr, "release": True})
    assert await inbox.nothing_within(0.3)
    report = await status_of(cips, uetr)
    assert report.status == "RJCT" and report.reason_code == "DUPL"


async def test_a_cancellation_after_settlement_or_of_an_unknown_payment_is_refused(cips: Network, inbox: Inbox) -> None:
    uetr = await settled(cips, inbox)
    await cips.post(camt056(uetr))
    late = await next_payload(inbox)
    assert late.status == "RJCR" and late.reason_code == "CUST"
    await cips.post(camt056(str(uuid.uuid4())))
    unknown = await next_payload(inbox)
    assert unknown.status == "RJCR" and unknown.reason_code == "NOOR"


async def test_a_return_of_a_settled_payment_pushes_a_pacs004(cips: Network, inbox: Inbox) -> None:
    uetr = await settled(cips, inbox)
    await cips.knob("return", {"uetr": uetr, "reason": "AC04"})
    returned = await next_payload(inbox)
    assert isinstance(returned, PaymentReturn)
    assert returned.original.uetr == uetr and returned.reason_code == "AC04"
    assert returned.returned_amount == Money(currency="CNY", amount=Decimal("750000"))
    again = await cips.api.post("/_sandbox/return", json={"uetr": uetr})
    assert again.status_code == 409


async def test_a_statement_lists_the_days_settlements_and_the_extra_entries(cips: Network, inbox: Inbox) -> None:
    uetrs = [await settled(cips, inbox), await settled(cips, inbox)]
    extra = {"amount": "99.50", "credit_debit": "CRDT", "end_to_end_id": "UNMATCHED-1"}
    await cips.knob("statement", {"account": "CN-SETTLE-001", "extra_entries": [extra]})
    statement = await next_payload(inbox)
    assert isinstance(statement, AccountStatement)
    assert statement.account.other == "CN-SETTLE-001" and statement.account_currency == "CNY"
    debits = [e for e in statement.entries if e.credit_debit == "DBIT"]
    assert [e.uetr for e in debits] == uetrs and all(e.end_to_end_id for e in debits)
    [unmatched] = [e for e in statement.entries if e.credit_debit == "CRDT"]
    assert unmatched.end_to_end_id == "UNMATCHED-1" and unmatched.uetr is None
    opening, closing = statement.balance("OPBD"), statement.balance("CLBD")
    assert opening is not None and closing is not None
    assert opening.amount - closing.amount == Decimal("1500000") - Decimal("99.50")


# -- lost answers, outages, restarts ----------------------------------------------------------------


async def test_a_swallowed_payment_times_out_and_a_status_request_finds_it(cips: Network, inbox: Inbox) -> None:
    body, uetr = pacs008()
    await cips.knob("hold", {"uetr": uetr})
    await cips.knob("swallow", {"count": 1})
    with pytest.raises(httpx.ReadTimeout):
        await cips.post(body, timeout=0.5)
    assert (await status_of(cips, uetr)).status == "ACSP"
    [call] = await cips.get("/_sandbox/received")
    assert call["correlation_id"] == uetr and call["effect"] == 1
    await cips.knob("hold", {"uetr": uetr, "release": True})
    assert (await next_payload(inbox)).status == "ACSC"
    assert (await status_of(cips, uetr)).status == "ACSC"


async def test_down_mode_drops_the_connection_without_an_effect(cips: Network) -> None:
    await cips.knob("mode", {"mode": "down"})
    with pytest.raises(httpx.RemoteProtocolError):
        await cips.post(pacs008()[0])
    await cips.knob("mode", {"mode": "ok"})
    assert await cips.get("/_sandbox/payments") == []


async def test_callbacks_are_retried_until_the_hub_is_back(cips: Network, inbox: Inbox) -> None:
    await inbox.close()
    body, uetr = pacs008()
    await cips.post(body)
    await asyncio.sleep(0.8)
    [queued] = await cips.get("/_sandbox/callbacks")
    assert queued["delivered_at"] is None and queued["attempts"] >= 2 and queued["last_error"]
    await inbox.open()
    report = await next_payload(inbox)
    assert report.original.uetr == uetr
    [delivered] = await cips.get("/_sandbox/callbacks")
    assert delivered["delivered_at"] is not None


async def test_a_restart_keeps_the_payments_and_the_queued_callbacks(tmp_path: Path, inbox: Inbox) -> None:
    state = tmp_path / "cips"
    first = await start(Cips, state)  # no hub-callback.json yet: the callback waits
    body, uetr = pacs008()
    answer = (await first.post(body, key="hub-msg-3")).json()
    for _ in range(50):
        if [c["what"] for c in await first.get("/_sandbox/callbacks")] == ["status"]:
            break
        await asyncio.sleep(0.05)
    await shut(first)

    second = await start(Cips, state)
    try:
        [payment] = await second.get("/_sandbox/payments")
        assert payment["uetr"] == uetr and payment["status"] == "ACSC"
        assert (await second.post(body, key="hub-msg-3")).json() == answer
        inbox.point(state)
        report = await next_payload(inbox)
        assert report.original.uetr == uetr and report.status == "ACSC"
    finally:
        await shut(second)


# -- SWIFT FIN and the gpi tracker ------------------------------------------------------------------


async def test_an_mt103_on_fin_is_confirmed_by_a_signed_mt199_and_tracked_by_gpi(swift: Network, inbox: Inbox) -> None:
    payload, _ = transfer("USD")
    fin = to_mt(payload, HUB_BANK, COUNTERPARTY)[0].encode()
    answer = await swift.post(fin, path="/fin", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200 and answer.json()["uetr"] == payload.uetr

    callback = await inbox.next()
    assert callback.headers["content-type"] == "text/plain"
    signed_by_network(callback, swift.state)
    confirmation = parse_message(callback.body.decode("ascii"))
    assert isinstance(confirmation, Mt199)
    assert confirmation.header.uetr == payload.uetr and confirmation.related_reference == payload.instruction_id
    assert confirmation.narrative[1] == "//ACSC"
    report = SwiftMtCodec().decode(callback.body).payload  # the hub reads it as a pacs.002
    assert isinstance(report, StatusReport) and report.status == "ACSC" and report.original.uetr == payload.uetr

    tracked = await swift.get(f"/gpi/payments/{payload.uetr}/transactions")
    assert tracked["transaction_status"] == "ACCC" and tracked["uetr"] == payload.uetr
    assert [e["what"] for e in tracked["events"]] == ["received", "settled"]
    assert (await swift.api.get(f"/gpi/payments/{uuid.uuid4()}/transactions")).status_code == 404


async def test_mt_payments_get_their_rejection_and_their_return_in_fin(swift: Network, inbox: Inbox) -> None:
    codec = SwiftMtCodec()
    rejected, _ = transfer("USD")
    await swift.knob("script", {"uetr": rejected.uetr, "outcome": "RJCT", "reason": "AC04"})
    await swift.post(to_mt(rejected, HUB_BANK, COUNTERPARTY)[0].encode(), path="/fin")
    report = codec.decode((await inbox.next()).body).payload
    assert isinstance(report, StatusReport) and report.status == "RJCT" and report.reason_code == "AC04"

    paid, _ = transfer("USD")
    await swift.post(to_mt(paid, HUB_BANK, COUNTERPARTY)[0].encode(), path="/fin")
    assert codec.decode((await inbox.next()).body).payload.status == "ACSC"  # type: ignore[attr-defined]
    await swift.knob("return", {"uetr": paid.uetr, "reason": "AC04"})
    callback = await inbox.next()
    returned = codec.decode(callback.body).payload
    assert callback.headers["content-type"] == "text/plain" and isinstance(returned, PaymentReturn)
    assert returned.original.uetr == paid.uetr and returned.reason_code == "AC04"


async def test_an_mt192_is_answered_with_an_mt196(swift: Network, inbox: Inbox) -> None:
    payload, _ = transfer("USD")
    await swift.knob("hold", {"uetr": payload.uetr})
    await swift.post(to_mt(payload, HUB_BANK, COUNTERPARTY)[0].encode(), path="/fin")
    mt103 = OriginalReference(
        message_id=payload.message_id, message_type="MT103", instruction_id=payload.message_id, uetr=payload.uetr
    )
    request = cancellation(mt103, payload.settlement_amount, payload.settlement_date)
    assert (await swift.post(to_mt(request, HUB_BANK, COUNTERPARTY)[0].encode(), path="/fin")).status_code == 200
    callback = await inbox.next()
    answer = parse_message(callback.body.decode("ascii"))
    assert callback.headers["content-type"] == "text/plain" and isinstance(answer, Mt196)
    assert answer.answers[0].startswith("/CNCL/")


# -- hostile input and the hub's protection ---------------------------------------------------------


def _hostile(kind: str) -> bytes:
    sample = SAMPLE.read_bytes()
    match kind:
        case "malformed":
            return b"this is not XML"
        case "doctype_forbidden":
            return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><Envelope>&e;</Envelope>'
        case "too_large":
            return sample.replace(b"</Envelope>", b"<!--" + b"x" * 1_100_000 + b"--></Envelope>")
        case _:
            return sample.replace(b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08", b"urn:example:pacs.008")


@pytest.mark.parametrize("rule", ["malformed", "doctype_forbidden", "too_large", "wrong_namespace"])
async def test_hostile_input_gets_a_nak_naming_the_rule(cips: Network, rule: str) -> None:
    reason, detail = nak(await cips.post(_hostile(rule)))
    assert reason == "FF01" and rule in detail
    assert await cips.get("/_sandbox/payments") == []


async def test_the_hubs_protection_is_checked_like_any_partners(cips: Network) -> None:
    hub_key = jose.generate_key("Ed25519", "hub-test-key")
    publish_jwks(cips.state / "hub-jwks.json", [hub_key])
    await cips.knob("require_signature", {"required": True})
    assert (await cips.post(pacs008()[0])).status_code == 401

    body, uetr = pacs008()
    _, signature = Protector(hub_key).protect(body, "application/xml")
    assert (await cips.post(body, headers=signature)).status_code == 200
    garbled = await cips.post(b"not.a.jwe", headers={"Content-Type": "application/jose"})
    assert garbled.status_code == 400
    [call] = await cips.get("/_sandbox/received")
    assert call["correlation_id"] == uetr and call["signature"] == "valid" and call["signature_kid"] == "hub-test-key"
