"""The customs adapter against the single-window sandbox, served in-process on loopback: declarations
accepted and their receipts pushed back signed and in order, scripted refusals, duplicates, invalid and
hostile XML, XML signatures of both suites (and a tampered body), a partner that is down, and receipts
read back into Envelopes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import AdapterContext, InDoubtError, Receipt, TransientError, build
from adapters.base import Protect
from adapters.customs import CustomsAdapter, PartnerRefusal
from canonical.ceb.codec import parse, render
from canonical.customs import CebMessage, CustomsReceipt, ReturnEntry
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from sandbox.customs import SingleWindow
from sandbox.http import serve
from security import jose
from security.outbound import (
    CALLBACK_FILE,
    HUB_JWKS_FILE,
    PARTNER_JWKS_FILE,
    Protector,
    open_protected,
    publish_jwks,
    read_jwks,
    sandbox_recipient,
)
from tests.integration.test_payment_adapters import Callbacks, Network, closed_port
from tests.unit.test_ceb import export_order

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "customs-ceb" / "samples"
WAIT_S = 5.0
HUB_P256 = jose.generate_key("P-256", "hub-p256")
HUB_SM2 = jose.generate_key("SM2", "hub-sm2")
HUB_ED25519 = jose.generate_key("Ed25519", "hub-ed25519")


def document_key(suite: str) -> jose.Signer:
    """The hub's document-signing key of a suite, as the hub hands it to the adapter."""
    return HUB_SM2.signer("SM2") if suite == "sm" else HUB_P256.signer("ES256")


def declaration(name: str) -> CebMessage:
    payload = parse((SAMPLES / f"{name}Message.xml").read_bytes())
    assert isinstance(payload, CebMessage)
    return payload


def envelope(payload: CebMessage) -> Envelope:
    kind = str(getattr(type(payload), "__message_type__", ""))
    return Envelope(type=kind, source="shop-a", destination="customs", payload=payload)


class Window(Network):
    """The single window as the payment tests drive a network (knobs, callbacks), with customs adapters."""

    def adapter(self, protect: Protect | None = None, **settings: Any) -> CustomsAdapter:
        signature = str(settings.get("signature", "xmldsig-ecdsa"))
        config = {"url": "sandbox:customs", "timeout_s": 1.0, "signature": signature} | settings
        context = AdapterContext("customs", "v1", config, self.resolve, protect=protect, document_signer=document_key)
        adapter = build("customs", context)
        assert isinstance(adapter, CustomsAdapter)
        self.adapters.append(adapter)
        return adapter

    async def post(self, body: bytes) -> httpx.Response:
        async with httpx.AsyncClient(trust_env=False, timeout=WAIT_S) as client:
            return await client.post(self.url + "/ceb", content=body, headers={"content-type": "application/xml"})

    async def receipts(self, count: int) -> list[CustomsReceipt]:
        """The next `count` pushes, each checked for the single window's valid X-Hub-Signature."""
        keys = read_jwks(self.state / PARTNER_JWKS_FILE)
        out = []
        for _ in range(count):
            body, headers = await self.callbacks.next()
            opened = open_protected(body, headers, keys, None)
            assert opened.signature == "valid", opened.detail
            receipt = parse(body)
            assert isinstance(receipt, CustomsReceipt)
            out.append(receipt)
        return out


@pytest.fixture
async def window(tmp_path: Path) -> AsyncIterator[Window]:
    hub = Callbacks()
    hub_server = await serve(hub.handle, "127.0.0.1", 0)
    state = tmp_path / "customs"
    state.mkdir()
    port = hub_server.sockets[0].getsockname()[1]
    (state / CALLBACK_FILE).write_text(json.dumps({"url": f"http://127.0.0.1:{port}/v1/callbacks/customs"}))
    publish_jwks(state / HUB_JWKS_FILE, [HUB_P256.public(), HUB_SM2.public(), HUB_ED25519.public()])
    sandbox = SingleWindow("customs", state)
    server = await serve(sandbox.handle, "127.0.0.1", 0)
    running = Window("customs", sandbox, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", state, hub)
    await running.knob("delay", {"delay_s": 0.05})
    yield running
    for adapter in running.adapters:
        await adapter.stop()
    await running.simulator.stop()
    server.close()
    hub_server.close()


def statuses(receipts: list[CustomsReceipt]) -> list[str]:
    return [r.returns[0].return_status for r in receipts]


async def test_inventory_is_accepted_then_declared_checked_and_released_in_order(window: Window) -> None:
    adapter = window.adapter()
    payload = declaration("CEB621")
    receipt = await adapter.send(adapter.render(envelope(payload)))
    assert receipt == Receipt(False, payload.guid, {"channel": "customs", "guid": payload.guid})
    pushed = await window.receipts(3)
    assert [r.message for r in pushed] == ["CEB622"] * 3
    assert statuses(pushed) == ["2", "120", "399"]
    assert pushed[0].returns[0].cop_no == "NBBH20160308005"
    assert pushed[2].returns[0].invt_no  # released: customs numbered the inventory
    [declared] = await window.knob("declarations")
    assert declared["xml_signature"] == "valid", declared


@pytest.mark.parametrize(("name", "answer"), [("CEB311", "CEB312"), ("CEB411", "CEB412"), ("CEB511", "CEB512")])
async def test_order_payment_and_waybill_are_declared_then_taken_in(window: Window, name: str, answer: str) -> None:
    adapter = window.adapter()
    await adapter.send(adapter.render(envelope(declaration(name))))
    pushed, taken_in = await window.receipts(2)
    assert (pushed.message, statuses([pushed, taken_in])) == (answer, ["2", "120"])
    env = adapter.parse_reply(render(pushed), {})
    assert env.type == "customs.receipt" and env.source == "customs" and env.destination == "hub"
    assert env.idempotency_key == f"chinaport:{answer}:{pushed.guid}"
    assert env.correlation_id == (pushed.returns[0].order_no or pushed.returns[0].business_key)


async def test_scripted_logic_failure_and_rejection(window: Window) -> None:
    adapter = window.adapter()
    await window.knob("script", {"copNo": "NBBH20160308005", "outcome": "logic_fail", "reason": "税号不符"})
    await adapter.send(adapter.render(envelope(declaration("CEB621"))))
    failed = await window.receipts(2)
    assert statuses(failed) == ["2", "-1"] and "税号不符" in failed[1].returns[0].return_info
    await window.knob("reset", {})
    await window.knob("delay", {"delay_s": 0.05})
    await window.knob("script", {"copNo": "NBBH20160308005", "outcome": "reject", "reason": "查验不符"})
    await adapter.send(adapter.render(envelope(declaration("CEB621"))))
    rejected = await window.receipts(3)
    assert statuses(rejected) == ["2", "120", "100"] and "查验不符" in rejected[2].returns[0].return_info


async def test_duplicate_declaration_gets_the_remembered_answer_without_a_second_effect(window: Window) -> None:
    adapter = window.adapter()
    outbound = adapter.render(envelope(declaration("CEB311")))
    first = await adapter.send(outbound)
    assert len(await window.receipts(2)) == 2
    again = await adapter.send(outbound)  # same idempotency key
    other_key = await window.post(outbound.body)  # same guid, no key
    assert again == first and other_key.status_code == 200
    assert other_key.headers.get("idempotent-replay") == "1"
    assert len(await window.knob("declarations")) == 1
    await asyncio.sleep(0.3)
    assert window.callbacks.pushed.empty()


async def test_invalid_ceb_is_refused_naming_the_element(window: Window) -> None:
    body = (SAMPLES / "CEB311Message.xml").read_bytes().replace(b"<ceb:orderNo>", b"<ceb:orderNo>" + b"X" * 70, 1)
    response = await window.post(body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["loc"].endswith("/orderNo") and problem["rule"] == "xsd:maxLength", problem


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
        b"<a>" * 200 + b"</a>" * 200,
        b"<a>" + b"x" * (3 * 1024 * 1024) + b"</a>",
    ],
    ids=["entities", "doctype", "deep", "oversize"],
)
async def test_hostile_xml_is_refused(window: Window, body: bytes) -> None:
    response = await window.post(body)
    assert response.status_code == 422, response.text
    assert response.json()["accepted"] is False
    assert await window.knob("declarations") == []


async def test_a_refused_declaration_is_a_rejection_by_the_partner(window: Window) -> None:
    adapter = window.adapter(signature="none")
    outbound = adapter.render(envelope(declaration("CEB311")))
    broken = outbound.body.replace(b"<ceb:orderNo>", b"<ceb:orderNo>" + b"X" * 70, 1)
    with pytest.raises(PartnerRefusal) as refused:
        await adapter.send(type(outbound)(outbound.message_id, outbound.target, broken, outbound.headers))
    assert refused.value.loc.endswith("/orderNo") and refused.value.rule == "xsd:maxLength"


@pytest.mark.parametrize("signature", ["xmldsig-ecdsa", "xmldsig-sm2"])
async def test_xml_signature_of_both_suites_verifies_and_a_tampered_body_does_not(
    window: Window, signature: str
) -> None:
    adapter = window.adapter(signature=signature)
    good = adapter.render(envelope(declaration("CEB621")))
    await adapter.send(good)
    order = adapter.render(envelope(declaration("CEB311")))
    tampered = order.body.replace(b"<ceb:goodsValue>", b"<ceb:goodsValue>1", 1)
    assert tampered != order.body
    assert (await window.post(tampered)).status_code == 200
    verdicts = {d["message"]: d for d in await window.knob("declarations")}
    assert verdicts["CEB621Message"]["xml_signature"] == "valid", verdicts
    assert verdicts["CEB311Message"]["xml_signature"] == "invalid"
    assert "digest" in verdicts["CEB311Message"]["xml_signature_detail"].lower()


async def test_unsigned_declaration_is_recorded_as_missing(window: Window) -> None:
    adapter = window.adapter(signature="none")
    await adapter.send(adapter.render(envelope(declaration("CEB411"))))
    [declared] = await window.knob("declarations")
    assert declared["xml_signature"] == "missing"


async def test_partner_down_or_unreachable(window: Window) -> None:
    adapter = window.adapter()
    outbound = adapter.render(envelope(declaration("CEB311")))
    await window.knob("mode", {"mode": "down"})
    with pytest.raises(InDoubtError):
        await adapter.send(outbound)  # the request went out, no answer came back
    await window.knob("mode", {"mode": "error", "status": 503})
    with pytest.raises(TransientError) as busy:
        await adapter.send(outbound)
    assert busy.value.status == 503 and not isinstance(busy.value, InDoubtError)
    unreachable = window.adapter(url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError) as refused:
        await unreachable.send(unreachable.render(envelope(declaration("CEB311"))))
    assert not isinstance(refused.value, InDoubtError)


def test_parse_reply_of_every_receipt_kind_and_of_garbage() -> None:
    adapter = CustomsAdapter(AdapterContext("customs", "v1", {"url": "sandbox:customs", "signature": "none"}, str))
    for name in ("CEB312", "CEB622", "CEB304", "CEB604"):
        env = adapter.parse_reply((SAMPLES / f"{name}Message.xml").read_bytes(), {})
        receipt = env.payload
        assert isinstance(receipt, CustomsReceipt) and receipt.message == name
        first = receipt.returns[0]
        assert env.correlation_id == (first.order_no or first.cop_no or first.business_key)
        assert env.idempotency_key == f"chinaport:{name}:{receipt.guid}"
    entry = {"guid": "4CDE1CFD-EDED-46B1-946C-B8022E42FC94", "return_time": "20260101120000000"}
    for name, extra in (
        ("CEB412", {"pay_code": "P1", "pay_transaction_id": "T1"}),
        ("CEB512", {"logistics_code": "C1", "logistics_no": "L1"}),
    ):
        built = CustomsReceipt(
            message=name,  # type: ignore[arg-type]
            guid=entry["guid"],
            returns=[ReturnEntry.model_validate(entry | extra | {"return_status": "2", "return_info": "ok"})],
        )
        assert adapter.parse_reply(render(built), {}).correlation_id in ("T1", "L1")
    with pytest.raises(RejectedInput):
        adapter.parse_reply(b"not xml at all", {})
    with pytest.raises(RejectedInput):
        adapter.parse_reply((SAMPLES / "CEB311Message.xml").read_bytes(), {})  # a declaration, not a receipt


async def test_pending_receipts_survive_a_restart_of_the_single_window(window: Window) -> None:
    adapter = window.adapter()
    await window.knob("delay", {"delay_s": 0.5})
    await adapter.send(adapter.render(envelope(declaration("CEB311"))))
    await window.simulator.stop()  # before the receipt is due
    window.simulator = SingleWindow("customs", window.state)  # same state folder: a restarted sandbox
    server = await serve(window.simulator.handle, "127.0.0.1", 0)
    try:
        window.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        assert len(await window.knob("declarations")) == 1  # the first request starts the worker again
        pushed, _taken_in = await window.receipts(2)
        assert pushed.message == "CEB312"
        assert (await window.post(render(declaration("CEB311")))).headers.get("idempotent-replay") == "1"
    finally:
        server.close()


async def test_declaration_signed_and_encrypted_by_the_hub_protection_too(window: Window) -> None:
    jwks = json.loads((window.state / PARTNER_JWKS_FILE).read_text())
    protector = Protector(HUB_ED25519, sandbox_recipient(jwks, "jose"))
    adapter = window.adapter(protector.protect)
    await adapter.send(adapter.render(envelope(declaration("CEB621"))))
    [call] = await window.knob("received")
    assert (call["signature"], call["encrypted"]) == ("valid", True)
    [declared] = await window.knob("declarations")
    assert declared["xml_signature"] == "valid"
    assert statuses(await window.receipts(3)) == ["2", "120", "399"]


async def test_export_order_gets_a_ceb304_receipt(window: Window) -> None:
    adapter = window.adapter(signature="xmldsig-sm2")
    await adapter.send(adapter.render(envelope(export_order())))
    pushed, taken_in = await window.receipts(2)
    assert (pushed.message, statuses([pushed, taken_in])) == ("CEB304", ["2", "120"])
    assert adapter.parse_reply(render(pushed), {}).correlation_id == "EX-1"
    [declared] = await window.knob("declarations")
    assert declared["xml_signature"] == "valid"
