"""Ocean freight: a forwarder's shipment milestones and container events, shaped like DCSA Track & Trace
2.2 events (`GET /events`), normalized to `TrackingEvent`.

Accepted: the bare DCSA event array, or a forwarder's wrapper `{"carrierCode": "MAEU", "events": [...]}`.
Each event has `eventID`, `eventType` (SHIPMENT / TRANSPORT / EQUIPMENT), `eventClassifierCode`
(ACT / PLN / EST: only ACTual events are milestones, plans and estimates are skipped), `eventDateTime`,
its type code (`shipmentEventTypeCode`, `transportEventTypeCode` ARRI / DEPA, `equipmentEventTypeCode`
LOAD / DISC / GTIN / GTOT / INSP ...), the place (`eventLocation.UNLocationCode` or
`transportCall.UNLocationCode`), `equipmentReference` and `documentReferences` (BKG / TRD).

Gate moves depend on the leg: a gate-in before the first LOAD is the pickup at origin, a gate-out
after the last DISC is the delivery run at destination, and a drop-off (DROP) after the last DISC is
the delivery to the consignee. An inspection (INSP) is reported as a customs hold; the forwarder's
optional `customsStatus` ("HOLD" / "RELEASED") on an event wins. Besides the DCSA shipment event
codes, the forwarder reports its own shipment milestones EXCP (an exception on the shipment) and
RETN (returned to the shipper).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import AwareTimestamp, WireModel, json_path, load_json, validate_wire, violations
from canonical.logistics import TrackingCode, TrackingEvent

TITLE = "invalid ocean tracking payload"
MAX_EVENTS = 2000
UNLOCODE = r"^[A-Z]{2}[A-Z2-9]{3}$"

C = TrackingCode
SHIPMENT_EVENTS: dict[str, TrackingCode] = {
    "RECE": C.CREATED,
    "CONF": C.CREATED,
    "EXCP": C.EXCEPTION,  # the forwarder's milestone codes beside DCSA's
    "RETN": C.RETURNED,
}
TRANSPORT_EVENTS: dict[str, TrackingCode] = {"DEPA": C.IN_TRANSIT, "ARRI": C.ARRIVED_HUB}
EQUIPMENT_EVENTS: dict[str, TrackingCode] = {
    "LOAD": C.IN_TRANSIT,
    "DISC": C.ARRIVED_HUB,
    "INSP": C.CUSTOMS_HOLD,
}
CUSTOMS_STATUS: dict[str, TrackingCode] = {"HOLD": C.CUSTOMS_HOLD, "RELEASED": C.CUSTOMS_CLEARED}


class Place(WireModel):
    location_name: str | None = Field(default=None, alias="locationName", max_length=100)
    un_location_code: str | None = Field(default=None, alias="UNLocationCode", pattern=UNLOCODE)


class TransportCall(WireModel):
    un_location_code: str | None = Field(default=None, alias="UNLocationCode", pattern=UNLOCODE)
    location: Place | None = None


class DocumentReference(WireModel):
    kind: str = Field(alias="documentReferenceType", min_length=1, max_length=8)
    value: str = Field(alias="documentReferenceValue", min_length=1, max_length=100)


class DcsaEvent(WireModel):
    event_id: str = Field(alias="eventID", min_length=1, max_length=100)
    event_type: Literal["SHIPMENT", "TRANSPORT", "EQUIPMENT"] = Field(alias="eventType")
    classifier: Literal["ACT", "PLN", "EST", "REQ"] = Field(alias="eventClassifierCode")
    event_date_time: AwareTimestamp = Field(alias="eventDateTime")
    shipment_code: str | None = Field(default=None, alias="shipmentEventTypeCode", max_length=8)
    transport_code: str | None = Field(default=None, alias="transportEventTypeCode", max_length=8)
    equipment_code: str | None = Field(default=None, alias="equipmentEventTypeCode", max_length=8)
    equipment_reference: str | None = Field(default=None, alias="equipmentReference", max_length=15)
    event_location: Place | None = Field(default=None, alias="eventLocation")
    transport_call: TransportCall | None = Field(default=None, alias="transportCall")
    document_references: list[DocumentReference] = Field(
        default_factory=list, alias="documentReferences", max_length=50
    )
    customs_status: Literal["HOLD", "RELEASED"] | None = Field(default=None, alias="customsStatus")

    @property
    def type_code(self) -> str | None:
        return {"SHIPMENT": self.shipment_code, "TRANSPORT": self.transport_code}.get(
            self.event_type, self.equipment_code
        )

    @property
    def place(self) -> tuple[str | None, str | None]:
        """(UN/LOCODE, name) of where the event happened."""
        call = self.transport_call
        locode = (self.event_location.un_location_code if self.event_location else None) or (
            call.un_location_code if call else None
        )
        name = self.event_location.location_name if self.event_location else None
        if name is None and call is not None and call.location is not None:
            name = call.location.location_name
        return locode, name

    def document(self, kind: str) -> str | None:
        return next((ref.value for ref in self.document_references if ref.kind == kind), None)


class ForwarderFeed(WireModel):
    carrier_code: str = Field(alias="carrierCode", min_length=2, max_length=10, pattern=r"^[A-Z0-9]+$")
    events: list[DcsaEvent] = Field(max_length=MAX_EVENTS)


EVENT_LIST = TypeAdapter(Annotated[list[DcsaEvent], Field(max_length=MAX_EVENTS)])


def _leg_code(event: DcsaEvent, first_load: datetime | None, last_disc: datetime | None) -> TrackingCode | None:
    code = event.type_code
    at = event.event_date_time
    if event.event_type == "SHIPMENT":
        return SHIPMENT_EVENTS.get(code or "")
    if event.event_type == "TRANSPORT":
        return TRANSPORT_EVENTS.get(code or "")
    if code == "GTIN" and (first_load is None or at <= first_load):
        return C.PICKED_UP
    if code == "GTOT" and last_disc is not None and at >= last_disc:
        return C.OUT_FOR_DELIVERY
    if code == "DROP" and last_disc is not None and at >= last_disc:
        return C.DELIVERED
    return EQUIPMENT_EVENTS.get(code or "")  # other gate moves (empty release / return) map to nothing


def _events(data: Any) -> tuple[str, list[DcsaEvent], tuple[str, ...]]:
    if isinstance(data, list):
        try:
            return "ocean", EVENT_LIST.validate_python(data), ()
        except PydanticValidationError as exc:
            raise RejectedInput(TITLE, violations(exc)) from None
    feed = validate_wire(ForwarderFeed, data, TITLE)
    return feed.carrier_code, feed.events, ("events",)


def parse_tracking(raw: bytes, *, shipment_id: str | None = None) -> list[TrackingEvent]:
    """Normalize DCSA events (actual ones only); raise RejectedInput naming the JSON path and rule.

    The tracking number is the transport document (TRD, the bill of lading), else the booking (BKG),
    else the container; each event keeps its container in `equipment_reference`.
    """
    carrier, wire, prefix = _events(load_json(raw, TITLE))
    actual = [(i, e) for i, e in enumerate(wire) if e.classifier == "ACT"]
    loads = [e.event_date_time for _, e in actual if e.equipment_code == "LOAD" and e.event_type == "EQUIPMENT"]
    discs = [e.event_date_time for _, e in actual if e.equipment_code == "DISC" and e.event_type == "EQUIPMENT"]
    first_load, last_disc = min(loads, default=None), max(discs, default=None)
    events: list[TrackingEvent] = []
    for i, event in actual:
        path: tuple[int | str, ...] = (*prefix, i)
        if event.type_code is None:
            field = f"{event.event_type.lower()}EventTypeCode"
            raise RejectedInput(TITLE, [Violation(json_path((*path, field)), "missing", f"{event.event_type} event")])
        reference = event.document("TRD") or event.document("BKG") or event.equipment_reference
        if reference is None:
            detail = "an event needs documentReferences (TRD / BKG) or an equipmentReference"
            raise RejectedInput(TITLE, [Violation(json_path((*path, "documentReferences")), "missing", detail)])
        code = CUSTOMS_STATUS[event.customs_status] if event.customs_status else _leg_code(event, first_load, last_disc)
        locode, name = event.place
        fields = {
            "shipment_id": shipment_id or reference,
            "carrier": carrier,
            "tracking_number": reference,
            "code": code,
            "unknown": code is None,
            "raw_code": f"{event.event_type}/{event.type_code}",
            "raw_description": name or "",
            "occurred_at": event.event_date_time,
            "location": {"city": name, "country": locode[:2], "unlocode": locode} if locode else None,
            "equipment_reference": event.equipment_reference,
            "source_event_id": event.event_id,
        }
        events.append(validate_wire(TrackingEvent, fields, TITLE, path))
    return events
