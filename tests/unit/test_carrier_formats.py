"""Carrier formats added with the carrier adapters: the forwarder's own ocean milestones (container
drop-off, exception, return) and overseas-warehouse stock answers, with malformed and hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canonical.carriers import ocean
from canonical.carriers.warehouse import parse_stock
from canonical.errors import RejectedInput
from canonical.logistics import TrackingCode as C


def _event(event_id: str, kind: str, code: str, at: str, **extra: Any) -> dict[str, Any]:
    field = {"SHIPMENT": "shipmentEventTypeCode", "EQUIPMENT": "equipmentEventTypeCode"}[kind]
    return {
        "eventID": event_id,
        "eventType": kind,
        "eventClassifierCode": "ACT",
        "eventDateTime": at,
        field: code,
        "eventLocation": {"locationName": "Hamburg", "UNLocationCode": "DEHAM"},
        "documentReferences": [{"documentReferenceType": "TRD", "documentReferenceValue": "MAEU261120009"}],
        **extra,
    }


def test_ocean_drop_off_after_discharge_is_the_delivery() -> None:
    events = [
        _event("d1", "EQUIPMENT", "DROP", "2026-11-01T08:00:00Z", equipmentReference="MSKU1234565"),  # at origin
        _event("d2", "EQUIPMENT", "LOAD", "2026-11-02T08:00:00Z", equipmentReference="MSKU1234565"),
        _event("d3", "EQUIPMENT", "DISC", "2026-11-20T08:00:00Z", equipmentReference="MSKU1234565"),
        _event("d4", "SHIPMENT", "EXCP", "2026-11-20T12:00:00Z"),
        _event("d5", "EQUIPMENT", "GTOT", "2026-11-21T08:00:00Z", equipmentReference="MSKU1234565"),
        _event("d6", "EQUIPMENT", "DROP", "2026-11-21T15:00:00Z", equipmentReference="MSKU1234565"),
    ]
    codes = {
        e.source_event_id: e.code
        for e in ocean.parse_tracking(json.dumps({"carrierCode": "MAEU", "events": events}).encode())
    }
    assert codes == {
        "d1": None,  # a drop-off before the first load is the shipper's, not a delivery
        "d2": C.IN_TRANSIT,
        "d3": C.ARRIVED_HUB,
        "d4": C.EXCEPTION,
        "d5": C.OUT_FOR_DELIVERY,
        "d6": C.DELIVERED,
    }


def test_ocean_return_milestone() -> None:
    body = json.dumps([_event("r1", "SHIPMENT", "RETN", "2026-11-22T08:00:00+01:00")]).encode()
    (event,) = ocean.parse_tracking(body)
    assert event.code is C.RETURNED and event.raw_code == "SHIPMENT/RETN"


STOCK = {
    "warehouseCode": "DE-FRA-01",
    "country": "DE",
    "asOf": "2026-11-20T10:00:00+01:00",
    "items": [
        {"sku": "SKU-001", "qtyOnHand": 120, "qtyReserved": 5, "qtyInbound": 40},
        {"sku": "SKU-002", "qtyOnHand": 0},
    ],
}


def test_warehouse_stock_normalizes() -> None:
    stock = parse_stock(json.dumps(STOCK).encode())
    assert stock.warehouse_id == "DE-FRA-01" and stock.country == "DE"
    assert [(lv.sku, lv.available, lv.inbound) for lv in stock.levels] == [("SKU-001", 115, 40), ("SKU-002", 0, 0)]


@pytest.mark.parametrize(
    ("change", "rule_path"),
    [
        ({"items": []}, "$.items"),
        ({"asOf": "2026-11-20 10:00"}, "$.asOf"),
        ({"country": "Germany"}, "$.country"),
        ({"items": [{"sku": "SKU-001", "qtyOnHand": "12"}]}, "$.items[0].qtyOnHand"),
        ({"items": [{"sku": "SKU-001", "qtyOnHand": -1}]}, "$.items[0].qtyOnHand"),
        ({"items": [{"sku": "A", "qtyOnHand": 1, "qtyReserved": 2}]}, "$"),
        ({"items": [{"sku": "A", "qtyOnHand": 1}, {"sku": "A", "qtyOnHand": 2}]}, "$"),
    ],
    ids=["empty", "naive-time", "country", "string-qty", "negative", "over-reserved", "duplicate-sku"],
)
def test_malformed_stock_is_refused_naming_the_path(change: dict[str, Any], rule_path: str) -> None:
    with pytest.raises(RejectedInput) as refused:
        parse_stock(json.dumps(STOCK | change).encode())
    assert any(v.loc.startswith(rule_path) for v in refused.value.violations), refused.value.violations


@pytest.mark.parametrize(
    "body", [b"", b"\xff\xfe", b"[" * 100 + b"]" * 100, b'{"items": "' + b"x" * 2_000_000 + b'"}', b"null"]
)
def test_hostile_stock_answers_are_refused(body: bytes) -> None:
    with pytest.raises(RejectedInput):
        parse_stock(body)
