"""Overseas-warehouse stock answers of the carriers' fulfilment APIs, normalized to `WarehouseStock`.

Shape (the common shape of 3PL / overseas-warehouse inventory APIs, e.g. 4PX, Winit, ShipBob):
`{"warehouseCode": "DE-FRA-01", "country": "DE", "asOf": "2026-11-20T10:00:00+01:00",
"items": [{"sku": "SKU-001", "qtyOnHand": 120, "qtyReserved": 5, "qtyInbound": 40}]}`.
"""

from __future__ import annotations

from pydantic import Field

from canonical.jsonwire import AwareTimestamp, WireModel, load_json, validate_wire
from canonical.logistics import WarehouseStock

TITLE = "invalid warehouse stock answer"
MAX_ITEMS = 10_000


class StockItem(WireModel):
    sku: str = Field(min_length=1, max_length=64)
    qty_on_hand: int = Field(alias="qtyOnHand", ge=0)
    qty_reserved: int = Field(default=0, alias="qtyReserved", ge=0)
    qty_inbound: int = Field(default=0, alias="qtyInbound", ge=0)


class StockAnswer(WireModel):
    warehouse_code: str = Field(alias="warehouseCode", min_length=1, max_length=64)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    as_of: AwareTimestamp = Field(alias="asOf")
    items: list[StockItem] = Field(min_length=1, max_length=MAX_ITEMS)


def parse_stock(raw: bytes) -> WarehouseStock:
    """Normalize a warehouse stock answer; raise RejectedInput naming the JSON path and rule."""
    wire = validate_wire(StockAnswer, load_json(raw, TITLE), TITLE)
    fields = {
        "warehouse_id": wire.warehouse_code,
        "country": wire.country,
        "as_of": wire.as_of,
        "levels": [
            {"sku": i.sku, "on_hand": i.qty_on_hand, "reserved": i.qty_reserved, "inbound": i.qty_inbound}
            for i in wire.items
        ],
    }
    return validate_wire(WarehouseStock, fields, TITLE)
