"""Logistics payloads: carrier tracking events, shipments with their timeline, electronic waybills
and overseas-warehouse messages (format-neutral; carrier wire formats live in `canonical.carriers`).

Every carrier status is normalized to one `TrackingCode`; a status that maps to none is kept with its
raw code, `code=None` and `unknown=True`, never dropped. Consignee and recipient identity is Sensitive.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from canonical.money import CurrencyCode, check_decimals
from canonical.registry import message_type
from canonical.sensitive import Sensitive

PERSONAL = Sensitive()
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2
UnLocode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")]  # UN/LOCODE, e.g. CNSHA
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Kilograms = Annotated[Decimal, Field(gt=0, max_digits=19, decimal_places=5)]
Fee = Annotated[Decimal, Field(ge=0, max_digits=19, decimal_places=5)]


def _broken(rule: str, detail: str) -> PydanticCustomError:
    return PydanticCustomError(rule, "{detail}", {"detail": detail})


class TrackingCode(StrEnum):
    """The hub's one list of shipment statuses; every carrier code maps to one of these or to none."""

    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    ARRIVED_HUB = "arrived_hub"
    CUSTOMS_HOLD = "customs_hold"
    CUSTOMS_CLEARED = "customs_cleared"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Model):
    """Where an event happened; the UN/LOCODE, when known, must be in `country`."""

    city: Text | None = None
    country: Country
    unlocode: UnLocode | None = None

    @model_validator(mode="after")
    def _locode_in_country(self) -> Location:
        if self.unlocode is not None and self.unlocode[:2] != self.country:
            raise _broken("unlocode_country", f"{self.unlocode} is not in {self.country}")
        return self


@message_type("logistics.tracking_event")
class TrackingEvent(_Model):
    """One carrier scan or milestone, normalized. `source_event_id` (the carrier's id) serves dedup."""

    shipment_id: Identifier
    carrier: Identifier
    tracking_number: Identifier
    code: TrackingCode | None
    unknown: bool = False
    raw_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    raw_description: Annotated[str, StringConstraints(max_length=500)] = ""
    occurred_at: AwareDatetime
    location: Location | None = None
    equipment_reference: Identifier | None = None  # container (ISO 6346) or piece the event is about
    source_event_id: Identifier | None = None
    sequence: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _unknown_iff_unmapped(self) -> TrackingEvent:
        if self.unknown != (self.code is None):
            raise _broken("unknown_flag", "unknown must be true exactly when code is null")
        return self

    def place_key(self) -> tuple[str, str, str]:
        loc = self.location
        return ("", "", "") if loc is None else (loc.country, loc.unlocode or "", (loc.city or "").casefold())

    def status_key(self) -> tuple[str, datetime, tuple[str, str, str]]:
        """Same status at the same instant and place: the same event, whoever reported it."""
        return (self.code.value if self.code else f"raw:{self.raw_code}", self.occurred_at, self.place_key())

    def sort_key(self) -> tuple[datetime, int, str]:
        # A total order, so that merging never depends on the order events arrived in.
        return (self.occurred_at, -1 if self.sequence is None else self.sequence, self.model_dump_json())


def _duplicates(a: TrackingEvent, b: TrackingEvent) -> bool:
    same_source = a.source_event_id is not None and a.carrier == b.carrier and a.source_event_id == b.source_event_id
    return same_source or a.status_key() == b.status_key()


def merge_events(timeline: Iterable[TrackingEvent], new_events: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """The timeline with `new_events` added: duplicates dropped, ordered by `occurred_at`.

    Duplicates are the same carrier + source event id, or the same code + time + place. What is already
    on the timeline wins over a new duplicate; otherwise the earliest in `TrackingEvent.sort_key` wins.
    The result does not depend on the order of either argument, and merging the same events twice
    changes nothing.
    """
    existing = sorted(timeline, key=TrackingEvent.sort_key)
    incoming = sorted(new_events, key=TrackingEvent.sort_key)
    kept: list[TrackingEvent] = []
    by_source: set[tuple[str, str]] = set()
    by_status: set[tuple[str, datetime, tuple[str, str, str]]] = set()
    for event in (*existing, *incoming):
        source = (event.carrier, event.source_event_id) if event.source_event_id is not None else None
        if (source is not None and source in by_source) or event.status_key() in by_status:
            continue
        kept.append(event)
        if source is not None:
            by_source.add(source)
        by_status.add(event.status_key())
    return sorted(kept, key=TrackingEvent.sort_key)


@message_type("logistics.shipment")
class Shipment(_Model):
    """A shipment and its normalized timeline (oldest first)."""

    shipment_id: Identifier
    carrier: Identifier
    tracking_number: Identifier
    origin: Location | None = None
    destination: Location | None = None
    timeline: list[TrackingEvent] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _events_of_this_shipment(self) -> Shipment:
        for i, event in enumerate(self.timeline):
            if event.shipment_id != self.shipment_id:
                raise _broken("timeline_shipment", f"timeline[{i}] belongs to shipment {event.shipment_id}")
        return self

    @property
    def current_status(self) -> TrackingCode | None:
        """The code of the latest mapped event; unknown events never change the status."""
        mapped = [e for e in self.timeline if e.code is not None]
        return max(mapped, key=TrackingEvent.sort_key).code if mapped else None

    def with_events(self, new_events: Iterable[TrackingEvent]) -> Shipment:
        return self.model_copy(update={"timeline": merge_events(self.timeline, new_events)})


class _CebNamed(_Model):
    # Field names follow the CEB elements (logisticsCode ...), so partners may send either spelling.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


@message_type("logistics.waybill")
class ElectronicWaybill(_CebNamed):
    """An electronic waybill creation request (the fields of CEB511 import / CEB505 export waybills).

    Amounts are in `currency` (ISO 4217; the CEB codec maps it to the customs code, e.g. CNY -> 142).
    The import waybill needs the order it ships (`orderNo`); consignee identity is Sensitive.
    """

    direction: Literal["import", "export"]
    logistics_code: Annotated[str, StringConstraints(min_length=1, max_length=18)]
    logistics_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    logistics_no: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    order_no: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    freight: Fee
    insured_fee: Fee = Decimal(0)
    currency: CurrencyCode
    weight: Kilograms  # gross, kg
    pack_no: int = Field(default=1, ge=1, le=999_999_999)
    goods_info: Text
    consignee: Annotated[Text, PERSONAL]
    consignee_address: Annotated[Text, PERSONAL]
    consignee_telephone: Annotated[str, StringConstraints(min_length=1, max_length=50), PERSONAL]
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ElectronicWaybill:
        if self.direction == "import" and self.order_no is None:
            raise _broken("order_no_required", "an import waybill (CEB511) names the order it ships")
        if self.direction == "export" and len(self.logistics_no) > 32:
            raise _broken("logistics_no_length", "an export waybill (CEB505) logisticsNo has at most 32 chars")
        try:
            check_decimals(self.freight, self.currency)
            check_decimals(self.insured_fee, self.currency)
        except ValueError as exc:
            raise _broken("currency_decimals", str(exc)) from None
        return self


class StockLevel(_Model):
    sku: Sku
    on_hand: int = Field(ge=0)
    reserved: int = Field(default=0, ge=0)  # allocated to outbound orders not yet shipped
    inbound: int = Field(default=0, ge=0)  # on the way to the warehouse

    @model_validator(mode="after")
    def _reserved_within_stock(self) -> StockLevel:
        if self.reserved > self.on_hand:
            raise _broken("reserved_exceeds_on_hand", f"{self.sku}: reserved {self.reserved} > on hand {self.on_hand}")
        return self

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def _unique_skus(skus: Iterable[str]) -> None:
    seen: set[str] = set()
    for sku in skus:
        if sku in seen:
            raise _broken("duplicate_sku", f"{sku} appears twice")
        seen.add(sku)


@message_type("logistics.warehouse_stock")
class WarehouseStock(_Model):
    """Stock levels of one overseas warehouse at one instant (a full snapshot, one line per SKU)."""

    warehouse_id: Identifier
    country: Country
    as_of: AwareDatetime
    levels: list[StockLevel] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> WarehouseStock:
        _unique_skus(level.sku for level in self.levels)
        return self


class OutboundLine(_Model):
    sku: Sku
    quantity: int = Field(gt=0, le=1_000_000)


class Recipient(_Model):
    name: Annotated[Text, PERSONAL]
    telephone: Annotated[str, StringConstraints(min_length=1, max_length=50), PERSONAL]
    address_lines: Annotated[list[Text], Field(min_length=1, max_length=3), PERSONAL]
    city: Text
    post_code: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    country: Country


@message_type("logistics.warehouse_outbound")
class WarehouseOutbound(_Model):
    """An outbound order: ship these SKUs from an overseas warehouse to a recipient."""

    outbound_no: Identifier
    warehouse_id: Identifier
    order_no: Annotated[str, StringConstraints(min_length=1, max_length=60)]  # the platform's order
    requested_at: AwareDatetime
    ship_by: AwareDatetime | None = None
    carrier: Identifier | None = None
    service_level: Literal["economy", "standard", "express"] = "standard"
    recipient: Recipient
    lines: list[OutboundLine] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> WarehouseOutbound:
        _unique_skus(line.sku for line in self.lines)
        if self.ship_by is not None and self.ship_by < self.requested_at:
            raise _broken("ship_by_before_request", "ship_by is earlier than requested_at")
        return self
