"""The three carrier sandboxes on loopback as the hub's carrier adapters meet them: tracking in each
wire format normalized to the canonical codes, rate limits with Retry-After, signed webhook pushes,
electronic waybills, overseas warehouses, and outages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import AdapterContext, RejectedByPartner, TransientError
from adapters.carriers import (
    CarrierAdapter,
    DomesticExpressAdapter,
    IntlExpressAdapter,
    OceanForwarderAdapter,
    RateLimited,
    retry_after,
)
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from canonical.logistics import ElectronicWaybill, Shipment, TrackingCode, WarehouseOutbound
from sandbox.carriers import CarrierSandbox, DomesticExpress, IntlExpress, OceanForwarder, journey
from sandbox.http import serve

KINDS: dict[str, tuple[type[CarrierSandbox], type[CarrierAdapter]]] = {
    "intl": (IntlExpress, IntlExpressAdapter),
    "domestic": (DomesticExpress, DomesticExpressAdapter),
    "ocean": (OceanForwarder, OceanForwarderAdapter),
}


@dataclass
class Carrier:
    sandbox: CarrierSandbox
    adapter: CarrierAdapter
    url: str

    async def knob(self, action: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, trust_env=False) as c:
            r = await (c.post(f"/_sandbox/{action}", json=body) if body is not None else c.get(f"/_sandbox/{action}"))
            return r.json()


async def _carrier(kind: str, tmp: Path, **settings: Any) -> AsyncIterator[Carrier]:
    sandbox_cls, adapter_cls = KINDS[kind]
    sandbox = sandbox_cls(f"carrier-{kind}", tmp / kind)
    server = await serve(sandbox.handle)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    ctx = AdapterContext(f"carrier-{kind}", "v1", {"url": url, "timeout_s": 2, **settings}, lambda u: u)
    adapter = adapter_cls(ctx)
    try:
        yield Carrier(sandbox, adapter, url)
    finally:
        await adapter.stop()
        server.close()
        await sandbox.stop()


@pytest.fixture(params=sorted(KINDS))
async def carrier(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Carrier]:
    async for c in _carrier(request.param, tmp_path):
        yield c


def numbers_with(variant: int, count: int = 1) -> list[str]:
    """Tracking numbers whose synthetic journey has the given variant (see sandbox.carriers.journey)."""
    found = [f"T{i}" for i in range(2000) if hashlib.sha256(f"T{i}".encode()).digest()[1] % 8 == variant]
    return found[:count]


def expected(number: str, domestic: bool) -> list[str | None]:
    return [None if s.intent == "unknown" else s.intent for s in journey(number, domestic)]


@pytest.mark.parametrize("variant", [0, 1, 2, 3, 5], ids=["customs", "exception", "returned", "unknown", "plain"])
async def test_every_journey_normalizes_to_the_canonical_codes(carrier: Carrier, variant: int) -> None:
    (number,) = numbers_with(variant)
    events = await carrier.adapter.track(number)
    assert [e.code.value if e.code else None for e in events] == expected(number, carrier.sandbox.domestic)
    assert {e.shipment_id for e in events} == {f"{carrier.adapter.ctx.name}:{number}"}
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)


async def test_an_unknown_carrier_code_is_kept_raw_and_flagged(carrier: Carrier) -> None:
    (number,) = numbers_with(3)
    unknown = [e for e in await carrier.adapter.track(number) if e.unknown]
    assert len(unknown) == 1 and unknown[0].code is None and unknown[0].raw_code


async def test_the_same_number_always_gets_the_same_journey(carrier: Carrier) -> None:
    assert await carrier.adapter.track("ABC123") == await carrier.adapter.track("ABC123")


async def test_some_journeys_hold_in_customs_fail_or_return(carrier: Carrier) -> None:
    codes = {
        e.code for n in numbers_with(0) + numbers_with(1) + numbers_with(2) for e in await carrier.adapter.track(n)
    }
    assert {TrackingCode.CUSTOMS_HOLD, TrackingCode.EXCEPTION, TrackingCode.RETURNED} <= codes


async def test_a_client_over_its_rate_gets_429_with_retry_after(carrier: Carrier) -> None:
    await carrier.knob("rate_limit", {"per_s": 0.2, "burst": 1})
    await carrier.adapter.track("RATE1")
    with pytest.raises(RateLimited) as refused:
        await carrier.adapter.track("RATE1")
    assert refused.value.retry_after_s >= 1
    assert (await carrier.knob("stats"))["throttled"] == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert retry_after("7") == 7
    assert retry_after("Fri, 20 Nov 2026 10:00:30 GMT", now) == 30
    assert retry_after("999999") == 3600  # capped
    assert retry_after("soon", default=2) == 2 and retry_after(None) == 1


async def test_a_push_reads_as_one_shipment_envelope(carrier: Carrier) -> None:
    (number,) = numbers_with(0)
    body = carrier.sandbox.render_push(number, journey(number, carrier.sandbox.domestic)[:3])
    envelope = carrier.adapter.parse_reply(body, {"idempotency-key": "k1"})
    assert envelope.type == "logistics.shipment" and isinstance(envelope.payload, Shipment)
    assert envelope.correlation_id == f"{carrier.adapter.ctx.name}:{number}"
    assert len(envelope.payload.timeline) == 3
    assert Envelope.from_bytes(envelope.to_bytes()) == envelope


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[" * 5000 + b"]" * 5000,
        b'{"shipments": [{"id": "X", "events": [{"timestamp": "yesterday", "statusCode": "transit"}]}]}',
        b'{"apiResultCode": "A1000", "apiResultData": "{\\"success\\": true, \\"msgData\\": {\\"routeResps\\": 5}}"}',
        b'{"carrierCode": "MAEU", "events": [{"eventID": "1"}]}',
        b'{"shipments": []}',
        b'{"a": "' + b"x" * 2_000_000 + b'"}',
    ],
    ids=["empty", "text", "deep", "bad-time", "bad-type", "missing", "no-shipment", "oversized"],
)
async def test_hostile_or_malformed_pushes_are_refused(carrier: Carrier, body: bytes) -> None:
    with pytest.raises(RejectedInput):
        carrier.adapter.parse_reply(body, {})


async def test_a_push_about_two_shipments_is_refused(tmp_path: Path) -> None:
    async for c in _carrier("intl", tmp_path):
        one = json.loads(c.sandbox.render_push("A1", journey("A1")[:1]))
        two = json.loads(c.sandbox.render_push("B2", journey("B2")[:1]))
        with pytest.raises(RejectedInput, match="tracking push"):
            c.adapter.parse_reply(json.dumps({"shipments": one["shipments"] + two["shipments"]}).encode(), {})


def _waybill(**over: Any) -> ElectronicWaybill:
    fields: dict[str, Any] = {
        "direction": "import",
        "logisticsCode": "SF0001",
        "logisticsName": "顺丰速运",
        "logisticsNo": "SF1234567890",
        "orderNo": "ORD-1",
        "freight": Decimal("12.50"),
        "currency": "CNY",
        "weight": Decimal("1.2"),
        "goodsInfo": "cosmetics",
        "consignee": "张三",
        "consigneeAddress": "上海市黄浦区",
        "consigneeTelephone": "13800000000",
        **over,
    }
    return ElectronicWaybill.model_validate(fields)


async def test_a_waybill_is_created_once_whatever_the_resends(carrier: Carrier) -> None:
    envelope = Envelope(type="logistics.waybill", source="bank-a", destination="carrier", payload=_waybill())
    outbound = carrier.adapter.render(envelope)
    first = await carrier.adapter.send(outbound)
    again = await carrier.adapter.send(outbound)  # a resend after a lost answer: same Idempotency-Key
    assert first.final and first.reference and again.reference == first.reference
    assert (await carrier.knob("stats"))["waybills"] == 1


async def test_a_waybill_the_carrier_cannot_read_is_refused(carrier: Carrier) -> None:
    envelope = Envelope(type="logistics.waybill", source="bank-a", destination="carrier", payload=_waybill())
    outbound = carrier.adapter.render(envelope)
    broken = type(outbound)(outbound.message_id, outbound.target, b'{"logisticsNo": 5}', outbound.headers)
    with pytest.raises(RejectedByPartner):
        await carrier.adapter.send(broken)


async def test_warehouse_stock_and_outbound_orders(tmp_path: Path) -> None:
    async for c in _carrier("intl", tmp_path):
        stock = await c.adapter.stock("DE-FRA-01")
        level = stock.levels[0]
        order = WarehouseOutbound.model_validate(
            {
                "outbound_no": "OUT-1",
                "warehouse_id": "DE-FRA-01",
                "order_no": "ORD-9",
                "requested_at": "2026-11-20T10:00:00+00:00",
                "recipient": {
                    "name": "Erika Mustermann",
                    "telephone": "+49301234567",
                    "address_lines": ["Hauptstr. 1"],
                    "city": "Berlin",
                    "country": "DE",
                },
                "lines": [{"sku": level.sku, "quantity": level.available}],
            }
        )
        envelope = Envelope(type="logistics.warehouse_outbound", source="bank-a", destination="c", payload=order)
        assert (await c.adapter.send(c.adapter.render(envelope))).reference == "OUT-1"
        after = {lv.sku: lv for lv in (await c.adapter.stock("DE-FRA-01")).levels}
        assert after[level.sku].available == 0
        more = Envelope(
            type="logistics.warehouse_outbound",
            source="bank-a",
            destination="c",
            payload=order.model_copy(update={"outbound_no": "OUT-2"}),
        )
        with pytest.raises(RejectedByPartner, match="insufficient_stock"):
            await c.adapter.send(c.adapter.render(more))


async def test_a_carrier_that_is_down_is_a_transient_failure(carrier: Carrier) -> None:
    await carrier.knob("mode", {"mode": "down"})
    with pytest.raises(TransientError):
        await carrier.adapter.track("DOWN1")
    await carrier.knob("mode", {"mode": "error", "status": 503})
    with pytest.raises(TransientError):
        await carrier.adapter.track("DOWN1")


async def test_an_invalid_tracking_number_never_reaches_the_carrier(carrier: Carrier) -> None:
    from adapters.base import PermanentError

    for bad in ("", "x" * 41, "AB 12", "../etc", "A1?x=2"):
        with pytest.raises(PermanentError):
            await carrier.adapter.track(bad)
    assert (await carrier.knob("stats"))["tracking_calls"] == 0


@pytest.mark.parametrize(
    ("kind", "method", "path", "body"),
    [
        ("domestic", "POST", "/std/service", b"not json"),
        ("domestic", "POST", "/std/service", b'{"serviceCode": "EXP_RECE_SEARCH_ROUTES", "msgData": "[1"}'),
        ("domestic", "POST", "/std/service", b'{"serviceCode": "DROP_TABLES", "msgData": "{}"}'),
        ("intl", "GET", "/track/shipments", b""),
        ("intl", "GET", "/track/shipments?trackingNumber=" + "9" * 100, b""),
        ("ocean", "GET", "/v2/events?transportDocumentReference=%00%01", b""),
        ("intl", "POST", "/warehouses/../../etc/stock", b""),
    ],
    ids=["text", "broken-inner", "service", "no-number", "long-number", "control-chars", "traversal"],
)
async def test_the_sandboxes_refuse_malformed_queries_without_failing(
    tmp_path: Path, kind: str, method: str, path: str, body: bytes
) -> None:
    async for c in _carrier(kind, tmp_path):
        async with httpx.AsyncClient(base_url=c.url, trust_env=False) as client:
            r = await client.request(method, path, content=body)
            assert r.status_code in (400, 404), r.text
            assert (await client.get("/_sandbox/health")).status_code == 200
