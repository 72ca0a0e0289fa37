"""International express tracking: the DHL Shipment Tracking - Unified API response, and FedEx Track API
scan events, normalized to `TrackingEvent`.

Shapes followed (public documentation of each API):

- DHL Unified (`GET /track/shipments`): `{"shipments": [{"id", "service", "status", "events": [...]}]}`;
  each event `{"timestamp", "statusCode", "status", "description", "location": {"address":
  {"addressLocality", "countryCode"}}}`. `statusCode` is one of pre-transit / transit / delivered /
  failure / unknown; `transit` is refined from the event's `status` / `description` text (DHL's
  event texts, e.g. "Arrived at Delivery Facility", "With delivery courier", "Clearance event").
- FedEx Track v1 (`POST /track/v1/trackingnumbers`): `{"output": {"completeTrackResults":
  [{"trackingNumber", "trackResults": [{"scanEvents": [{"date", "eventType", "eventDescription",
  "scanLocation": {"city", "countryCode"}}]}]}]}}` with FedEx two-letter event types (PU, IT, AR, OD,
  DL, DE, RS, CD, CC ...). UPS activity codes use the same letters for the cases listed here.

DHL events carry no id, so duplicates are found by code + time + place (see `merge_events`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from canonical.jsonwire import AwareTimestamp, WireModel, load_json, validate_wire
from canonical.logistics import TrackingCode, TrackingEvent

TITLE = "invalid express tracking payload"
MAX_SHIPMENTS = 100
MAX_EVENTS = 1000

C = TrackingCode
DHL_STATUS: dict[str, TrackingCode | None] = {
    "pre-transit": C.CREATED,
    "transit": C.IN_TRANSIT,
    "delivered": C.DELIVERED,
    "failure": C.EXCEPTION,
    "unknown": None,
}
# DHL event texts that say more than "transit"; first match wins, so customs holds precede clearance.
DHL_TRANSIT_TEXT: tuple[tuple[str, TrackingCode], ...] = (
    ("clearance delay", C.CUSTOMS_HOLD),
    ("held by customs", C.CUSTOMS_HOLD),
    ("customs status updated", C.CUSTOMS_HOLD),
    ("clearance processing complete", C.CUSTOMS_CLEARED),
    ("customs clearance complete", C.CUSTOMS_CLEARED),
    ("returned to shipper", C.RETURNED),
    ("with delivery courier", C.OUT_FOR_DELIVERY),
    ("out for delivery", C.OUT_FOR_DELIVERY),
    ("picked up", C.PICKED_UP),
    ("arrived at", C.ARRIVED_HUB),
)
# FedEx Track API `eventType` (UPS activity status letters agree on these).
FEDEX_EVENT: dict[str, TrackingCode] = {
    "OC": C.CREATED,
    "PU": C.PICKED_UP,
    "PX": C.PICKED_UP,
    "IT": C.IN_TRANSIT,
    "IX": C.IN_TRANSIT,
    "DP": C.IN_TRANSIT,
    "LO": C.IN_TRANSIT,
    "PF": C.IN_TRANSIT,
    "AR": C.ARRIVED_HUB,
    "AF": C.ARRIVED_HUB,
    "FD": C.ARRIVED_HUB,
    "SF": C.ARRIVED_HUB,
    "CD": C.CUSTOMS_HOLD,
    "CC": C.CUSTOMS_CLEARED,
    "OD": C.OUT_FOR_DELIVERY,
    "DL": C.DELIVERED,
    "DE": C.EXCEPTION,
    "DD": C.EXCEPTION,
    "SE": C.EXCEPTION,
    "CA": C.EXCEPTION,
    "RS": C.RETURNED,
}


# --- DHL Unified ---------------------------------------------------------------------------------------


class DhlAddress(WireModel):
    address_locality: str | None = Field(default=None, alias="addressLocality", max_length=200)
    country_code: str | None = Field(default=None, alias="countryCode", pattern=r"^[A-Z]{2}$")


class DhlLocation(WireModel):
    address: DhlAddress | None = None


class DhlEvent(WireModel):
    timestamp: AwareTimestamp
    status_code: str = Field(alias="statusCode", min_length=1, max_length=64)
    status: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=500)
    location: DhlLocation | None = None


class DhlShipment(WireModel):
    id: str = Field(min_length=1, max_length=64)
    service: str | None = Field(default=None, max_length=64)
    status: DhlEvent | None = None
    events: list[DhlEvent] = Field(default_factory=list, max_length=MAX_EVENTS)


class DhlTracking(WireModel):
    shipments: list[DhlShipment] = Field(min_length=1, max_length=MAX_SHIPMENTS)


def _dhl_code(event: DhlEvent) -> TrackingCode | None:
    code = DHL_STATUS.get(event.status_code)
    if code is C.IN_TRANSIT:
        text = f"{event.status or ''} {event.description or ''}".casefold()
        return next((mapped for phrase, mapped in DHL_TRANSIT_TEXT if phrase in text), code)
    return code


def _location(city: str | None, country: str | None) -> dict[str, Any] | None:
    return None if country is None else {"city": city or None, "country": country}


def _dhl(data: Any, shipment_id: str | None) -> list[TrackingEvent]:
    wire = validate_wire(DhlTracking, data, TITLE)
    events: list[TrackingEvent] = []
    for s, shipment in enumerate(wire.shipments):
        carrier = f"dhl-{shipment.service}" if shipment.service else "dhl"
        # The summary `status` repeats the latest event: it only counts when the events are left out.
        scans = shipment.events or ([shipment.status] if shipment.status else [])
        for e, scan in enumerate(scans):
            address = scan.location.address if scan.location else None
            code = _dhl_code(scan)
            in_list = e < len(shipment.events)
            path: tuple[int | str, ...] = ("shipments", s, "events", e) if in_list else ("shipments", s, "status")
            fields = {
                "shipment_id": shipment_id or shipment.id,
                "carrier": carrier,
                "tracking_number": shipment.id,
                "code": code,
                "unknown": code is None,
                "raw_code": scan.status_code,
                "raw_description": " - ".join(t for t in (scan.status, scan.description) if t),
                "occurred_at": scan.timestamp,
                "location": _location(address.address_locality, address.country_code) if address else None,
            }
            events.append(validate_wire(TrackingEvent, fields, TITLE, path))
    return events


# --- FedEx Track v1 ------------------------------------------------------------------------------------


class FedexScanLocation(WireModel):
    city: str | None = Field(default=None, max_length=200)
    country_code: str | None = Field(default=None, alias="countryCode", pattern=r"^[A-Z]{2}$")


class FedexScanEvent(WireModel):
    date: AwareTimestamp
    event_type: str = Field(alias="eventType", min_length=1, max_length=8)
    event_description: str | None = Field(default=None, alias="eventDescription", max_length=500)
    scan_location: FedexScanLocation | None = Field(default=None, alias="scanLocation")


class FedexTrackResult(WireModel):
    scan_events: list[FedexScanEvent] = Field(default_factory=list, alias="scanEvents", max_length=MAX_EVENTS)


class FedexCompleteResult(WireModel):
    tracking_number: str = Field(alias="trackingNumber", min_length=1, max_length=64)
    track_results: list[FedexTrackResult] = Field(alias="trackResults", min_length=1, max_length=10)


class FedexOutput(WireModel):
    complete_track_results: list[FedexCompleteResult] = Field(
        alias="completeTrackResults", min_length=1, max_length=MAX_SHIPMENTS
    )


class FedexTracking(WireModel):
    output: FedexOutput


def _fedex(data: Any, shipment_id: str | None) -> list[TrackingEvent]:
    wire = validate_wire(FedexTracking, data, TITLE)
    events: list[TrackingEvent] = []
    for c, complete in enumerate(wire.output.complete_track_results):
        for r, result in enumerate(complete.track_results):
            for e, scan in enumerate(result.scan_events):
                code = FEDEX_EVENT.get(scan.event_type)
                where = scan.scan_location
                fields = {
                    "shipment_id": shipment_id or complete.tracking_number,
                    "carrier": "fedex",
                    "tracking_number": complete.tracking_number,
                    "code": code,
                    "unknown": code is None,
                    "raw_code": scan.event_type,
                    "raw_description": scan.event_description or "",
                    "occurred_at": scan.date,
                    "location": _location(where.city, where.country_code) if where else None,
                }
                path = ("output", "completeTrackResults", c, "trackResults", r, "scanEvents", e)
                events.append(validate_wire(TrackingEvent, fields, TITLE, path))
    return events


def parse_tracking(raw: bytes, *, shipment_id: str | None = None) -> list[TrackingEvent]:
    """Normalize a DHL Unified or FedEx Track response; raise RejectedInput naming the JSON path and rule.

    `shipment_id` is the hub's id of the shipment; by default the carrier's tracking number.
    """
    data = load_json(raw, TITLE)
    if isinstance(data, dict) and "output" in data:
        return _fedex(data, shipment_id)
    return _dhl(data, shipment_id)  # anything else must be the DHL shape, and is refused as it
