"""Logistics: carrier formats normalize to the canonical codes; hostile input is refused by path and rule;
timelines merge without duplicates, in time order, whatever order events arrive in."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical.carriers import PARSERS, express_domestic, express_intl, ocean
from canonical.errors import RejectedInput
from canonical.logistics import (
    ElectronicWaybill,
    Shipment,
    TrackingCode,
    TrackingEvent,
    WarehouseOutbound,
    WarehouseStock,
    merge_events,
)
from canonical.registry import payload_model
from canonical.sensitive import sensitive_paths

C = TrackingCode

DHL = {
    "shipments": [
        {
            "id": "1234567890",
            "service": "express",
            "status": {
                "timestamp": "2026-11-22T10:15:00+01:00",
                "statusCode": "delivered",
                "status": "Delivered",
                "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
            },
            "events": [
                {
                    "timestamp": "2026-11-22T10:15:00+01:00",
                    "statusCode": "delivered",
                    "status": "Delivered",
                    "description": "Delivered - Signed for by: J DE VRIES",
                    "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
                },
                {
                    "timestamp": "2026-11-22T07:40:00+01:00",
                    "statusCode": "transit",
                    "status": "With delivery courier",
                    "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
                },
                {
                    "timestamp": "2026-11-21T18:02:00+01:00",
                    "statusCode": "transit",
                    "status": "Clearance processing complete at AMSTERDAM - NETHERLANDS",
                    "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
                },
                {
                    "timestamp": "2026-11-21T09:30:00+01:00",
                    "statusCode": "transit",
                    "status": "Clearance delay - Import",
                    "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
                },
                {
                    "timestamp": "2026-11-21T06:10:00+01:00",
                    "statusCode": "transit",
                    "status": "Arrived at DHL Sort Facility AMSTERDAM - NETHERLANDS",
                    "location": {"address": {"addressLocality": "AMSTERDAM - NETHERLANDS", "countryCode": "NL"}},
                },
                {
                    "timestamp": "2026-11-20T22:45:00+08:00",
                    "statusCode": "transit",
                    "status": "Departed Facility in HONG KONG - HONG KONG SAR, CHINA",
                    "location": {"address": {"addressLocality": "HONG KONG", "countryCode": "HK"}},
                },
                {
                    "timestamp": "2026-11-20T15:05:00+08:00",
                    "statusCode": "transit",
                    "status": "Shipment picked up",
                    "location": {"address": {"addressLocality": "SHENZHEN - CHINA", "countryCode": "CN"}},
                },
                {
                    "timestamp": "2026-11-20T09:00:00+08:00",
                    "statusCode": "pre-transit",
                    "status": "Shipment information received",
                },
                {"timestamp": "2026-11-20T09:01:00+08:00", "statusCode": "unknown", "status": "Status not available"},
            ],
        }
    ]
}

FEDEX = {
    "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
    "output": {
        "completeTrackResults": [
            {
                "trackingNumber": "794843185271",
                "trackResults": [
                    {
                        "scanEvents": [
                            {
                                "date": "2026-11-21T13:20:00-05:00",
                                "eventType": "DL",
                                "eventDescription": "Delivered",
                                "scanLocation": {"city": "NEW YORK", "countryCode": "US"},
                            },
                            {
                                "date": "2026-11-21T08:01:00-05:00",
                                "eventType": "OD",
                                "eventDescription": "On FedEx vehicle for delivery",
                                "scanLocation": {"city": "NEW YORK", "countryCode": "US"},
                            },
                            {
                                "date": "2026-11-20T19:00:00-05:00",
                                "eventType": "CC",
                                "eventDescription": "International shipment release - Import",
                                "scanLocation": {"city": "MEMPHIS", "countryCode": "US"},
                            },
                            {
                                "date": "2026-11-19T10:00:00+08:00",
                                "eventType": "PU",
                                "eventDescription": "Picked up",
                                "scanLocation": {"city": "GUANGZHOU", "countryCode": "CN"},
                            },
                            {
                                "date": "2026-11-19T11:00:00+08:00",
                                "eventType": "ZZ",
                                "eventDescription": "Something new",
                                "scanLocation": {"city": "GUANGZHOU", "countryCode": "CN"},
                            },
                        ]
                    }
                ],
            }
        ]
    },
}

SF_INNER = {
    "success": True,
    "errorCode": "S0000",
    "errorMsg": None,
    "msgData": {
        "routeResps": [
            {
                "mailNo": "SF1234567890123",
                "routes": [
                    {
                        "acceptTime": "2026-11-20 10:00:00",
                        "acceptAddress": "深圳市",
                        "remark": "顺丰速运 已收取快件",
                        "opCode": "50",
                    },
                    {
                        "acceptTime": "2026-11-20 18:30:00",
                        "acceptAddress": "深圳市",
                        "remark": "快件已发车",
                        "opCode": "36",
                    },
                    {
                        "acceptTime": "2026-11-21 02:10:00",
                        "acceptAddress": "上海市",
                        "remark": "快件到达 【上海青浦中转场】",
                        "opCode": "31",
                    },
                    {
                        "acceptTime": "2026-11-21 05:00:00",
                        "acceptAddress": "上海市",
                        "remark": "海关查验中",
                        "opCode": "607",
                    },
                    {
                        "acceptTime": "2026-11-21 09:00:00",
                        "acceptAddress": "上海市",
                        "remark": "海关放行",
                        "opCode": "607",
                    },
                    {
                        "acceptTime": "2026-11-21 09:30:00",
                        "acceptAddress": "上海市",
                        "remark": "快件派送中",
                        "opCode": "44",
                    },
                    {
                        "acceptTime": "2026-11-21 12:00:00",
                        "acceptAddress": "上海市",
                        "remark": "已签收, 感谢使用顺丰",
                        "opCode": "80",
                    },
                    {
                        "acceptTime": "2026-11-21 12:05:00",
                        "acceptAddress": "上海市",
                        "remark": "回单已上传",
                        "opCode": "9999",
                    },
                ],
            }
        ]
    },
}
SF = {"apiResultCode": "A1000", "apiErrorMsg": "", "apiResultData": json.dumps(SF_INNER, ensure_ascii=False)}


def dcsa(event_id: str, kind: str, code: str, at: str, locode: str, **extra: Any) -> dict[str, Any]:
    field = {"EQUIPMENT": "equipmentEventTypeCode", "TRANSPORT": "transportEventTypeCode"}.get(
        kind, "shipmentEventTypeCode"
    )
    event: dict[str, Any] = {
        "eventID": event_id,
        "eventType": kind,
        "eventClassifierCode": extra.pop("classifier", "ACT"),
        "eventDateTime": at,
        "eventCreatedDateTime": at,
        field: code,
        "documentReferences": [
            {"documentReferenceType": "BKG", "documentReferenceValue": "BKG2611200"},
            {"documentReferenceType": "TRD", "documentReferenceValue": "MAEU261120001"},
        ],
    }
    if kind == "TRANSPORT":
        event["transportCall"] = {"UNLocationCode": locode, "modeOfTransport": "VESSEL"}
    else:
        event["eventLocation"] = {"UNLocationCode": locode}
    if kind == "EQUIPMENT":
        event["equipmentReference"] = "MSKU1234565"
        event["emptyIndicatorCode"] = "LADEN"
    return event | extra


OCEAN = {
    "carrierCode": "MAEU",
    "events": [
        dcsa("e1", "SHIPMENT", "CONF", "2026-10-01T09:00:00+08:00", "CNSZX"),
        dcsa("e2", "EQUIPMENT", "GTOT", "2026-10-02T08:00:00+08:00", "CNYTN", emptyIndicatorCode="EMPTY"),
        dcsa("e3", "EQUIPMENT", "GTIN", "2026-10-03T14:00:00+08:00", "CNYTN"),
        dcsa("e4", "EQUIPMENT", "LOAD", "2026-10-05T03:00:00+08:00", "CNYTN"),
        dcsa("e5", "TRANSPORT", "DEPA", "2026-10-05T20:00:00+08:00", "CNYTN"),
        dcsa("e6", "TRANSPORT", "ARRI", "2026-11-02T06:00:00+01:00", "NLRTM", classifier="EST"),
        dcsa("e7", "TRANSPORT", "ARRI", "2026-11-03T06:00:00+01:00", "NLRTM"),
        dcsa("e8", "EQUIPMENT", "DISC", "2026-11-03T15:00:00+01:00", "NLRTM"),
        dcsa("e9", "EQUIPMENT", "INSP", "2026-11-04T10:00:00+01:00", "NLRTM"),
        dcsa("e10", "EQUIPMENT", "DISC", "2026-11-04T11:00:00+01:00", "NLRTM", customsStatus="RELEASED"),
        dcsa("e11", "EQUIPMENT", "GTOT", "2026-11-05T07:00:00+01:00", "NLRTM"),
    ],
}


def raw(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def codes(events: list[TrackingEvent]) -> list[TrackingCode | None]:
    return [e.code for e in merge_events([], events)]


def rejected(parse: Any, body: bytes) -> list[tuple[str, str]]:
    with pytest.raises(RejectedInput) as info:
        parse(body)
    return [(v.loc, v.rule) for v in info.value.violations]


# --- carriers -------------------------------------------------------------------------------------------


def test_dhl_events_normalize_to_canonical_codes() -> None:
    events = express_intl.parse_tracking(raw(DHL))
    assert codes(events) == [
        C.CREATED,
        None,
        C.PICKED_UP,
        C.IN_TRANSIT,
        C.ARRIVED_HUB,
        C.CUSTOMS_HOLD,
        C.CUSTOMS_CLEARED,
        C.OUT_FOR_DELIVERY,
        C.DELIVERED,
    ]
    delivered = next(e for e in events if e.code is C.DELIVERED)
    assert delivered.carrier == "dhl-express" and delivered.tracking_number == "1234567890"
    assert delivered.location is not None and delivered.location.country == "NL"
    assert delivered.occurred_at.utcoffset() == timedelta(hours=1)


def test_unknown_code_is_kept_raw_and_flagged() -> None:
    dhl_unknown = next(e for e in express_intl.parse_tracking(raw(DHL)) if e.unknown)
    assert (dhl_unknown.code, dhl_unknown.raw_code, dhl_unknown.raw_description) == (
        None,
        "unknown",
        "Status not available",
    )
    fedex_unknown = next(e for e in express_intl.parse_tracking(raw(FEDEX)) if e.unknown)
    assert (fedex_unknown.raw_code, fedex_unknown.raw_description) == ("ZZ", "Something new")
    sf_unknown = [e for e in express_domestic.parse_tracking(raw(SF)) if e.unknown]
    assert [(e.raw_code, e.raw_description) for e in sf_unknown] == [("9999", "回单已上传")]


def test_fedex_scan_events_normalize() -> None:
    events = express_intl.parse_tracking(raw(FEDEX), shipment_id="SHP-1")
    assert codes(events) == [C.PICKED_UP, None, C.CUSTOMS_CLEARED, C.OUT_FOR_DELIVERY, C.DELIVERED]
    assert {e.shipment_id for e in events} == {"SHP-1"} and {e.carrier for e in events} == {"fedex"}


def test_sf_routes_normalize_with_china_time() -> None:
    events = express_domestic.parse_tracking(raw(SF))
    assert codes(events) == [
        C.PICKED_UP,
        C.IN_TRANSIT,
        C.ARRIVED_HUB,
        C.CUSTOMS_HOLD,
        C.CUSTOMS_CLEARED,
        C.OUT_FOR_DELIVERY,
        C.DELIVERED,
        None,
    ]
    first = events[0]
    assert first.occurred_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert first.location is not None and (first.location.city, first.location.country) == ("深圳市", "CN")


def test_sf_inner_answer_is_accepted_without_gateway_wrapper() -> None:
    assert len(express_domestic.parse_tracking(raw(SF_INNER))) == 8


def test_sf_business_error_is_refused_with_its_code() -> None:
    refused = {"success": False, "errorCode": "8152", "errorMsg": "运单号不存在", "msgData": None}
    assert rejected(express_domestic.parse_tracking, raw(refused)) == [("$.success", "carrier_error")]
    gateway = {"apiResultCode": "A1001", "apiErrorMsg": "校验码错误"}
    assert rejected(express_domestic.parse_tracking, raw(gateway)) == [("$.apiResultCode", "carrier_error")]


def test_ocean_milestones_map_by_leg() -> None:
    events = ocean.parse_tracking(raw(OCEAN))
    by_id = {e.source_event_id: e.code for e in events}
    assert by_id == {
        "e1": C.CREATED,
        "e2": None,  # empty container released to the shipper: no canonical status
        "e3": C.PICKED_UP,
        "e4": C.IN_TRANSIT,
        "e5": C.IN_TRANSIT,
        "e7": C.ARRIVED_HUB,  # e6 is an estimate, not a milestone
        "e8": C.ARRIVED_HUB,
        "e9": C.CUSTOMS_HOLD,
        "e10": C.CUSTOMS_CLEARED,
        "e11": C.OUT_FOR_DELIVERY,
    }
    load = next(e for e in events if e.source_event_id == "e4")
    assert (load.carrier, load.tracking_number, load.equipment_reference) == ("MAEU", "MAEU261120001", "MSKU1234565")
    assert load.location is not None and (load.location.country, load.location.unlocode) == ("CN", "CNYTN")


def test_ocean_accepts_bare_dcsa_array() -> None:
    events = ocean.parse_tracking(raw(OCEAN["events"]))
    assert {e.carrier for e in events} == {"ocean"} and len(events) == 10


def test_ocean_event_without_type_code_names_the_field() -> None:
    event = dcsa("x", "TRANSPORT", "ARRI", "2026-11-03T06:00:00+01:00", "NLRTM")
    del event["transportEventTypeCode"]
    assert rejected(ocean.parse_tracking, raw([event])) == [("$[0].transportEventTypeCode", "missing")]


@pytest.mark.parametrize(
    ("parser", "body", "expected"),
    [
        ("express_intl", b'{"shipments": [', ("$", "json_syntax")),
        ("express_intl", b"\xff\xfe{}", ("$", "utf8")),
        ("express_intl", b'{"shipments": [], "shipments": []}', ("$", "duplicate_key")),
        ("express_intl", b'{"shipments": [{"id": NaN}]}', ("$", "non_finite_number")),
        ("express_intl", b"[1, 2]", ("$", "model_type")),
        ("express_intl", b'{"shipments": ' + b"9" * 5000 + b"}", ("$", "json_number")),
        ("express_intl", b'{"shipments": []}', ("$.shipments", "too_short")),
        ("express_intl", b'{"shipments": [{"id": 1234567890}]}', ("$.shipments[0].id", "string_type")),
        ("express_domestic", b'{"success": "true", "msgData": null}', ("$.success", "bool_type")),
        ("ocean", b'{"carrierCode": "MAEU", "events": {}}', ("$.events", "list_type")),
    ],
)
def test_malformed_or_wrongly_typed_input_is_refused_by_path_and_rule(
    parser: str, body: bytes, expected: tuple[str, str]
) -> None:
    assert expected in rejected(PARSERS[parser], body)


def test_wrong_timestamps_are_refused_at_their_path() -> None:
    dhl = json.loads(json.dumps(DHL))
    dhl["shipments"][0]["events"][2]["timestamp"] = "2026-11-22T07:40:00"  # no offset: ambiguous
    assert rejected(express_intl.parse_tracking, raw(dhl)) == [
        ("$.shipments[0].events[2].timestamp", "timestamp_offset")
    ]
    sf = json.loads(json.dumps(SF_INNER))
    sf["msgData"]["routeResps"][0]["routes"][1]["acceptTime"] = "2026/11/20 18:30"
    assert rejected(express_domestic.parse_tracking, raw(sf)) == [
        ("$.msgData.routeResps[0].routes[1].acceptTime", "timestamp_format")
    ]
    sf_wrapped = {"apiResultCode": "A1000", "apiResultData": json.dumps(sf)}
    assert rejected(express_domestic.parse_tracking, raw(sf_wrapped)) == [
        ("$.apiResultData.msgData.routeResps[0].routes[1].acceptTime", "timestamp_format")
    ]


def test_bad_country_and_locode_are_refused() -> None:
    dhl = json.loads(json.dumps(DHL))
    dhl["shipments"][0]["events"][0]["location"]["address"]["countryCode"] = "Netherlands"
    assert rejected(express_intl.parse_tracking, raw(dhl)) == [
        ("$.shipments[0].events[0].location.address.countryCode", "string_pattern_mismatch")
    ]
    event = dcsa("x", "EQUIPMENT", "LOAD", "2026-10-05T03:00:00+08:00", "cnytn")
    assert rejected(ocean.parse_tracking, raw([event])) == [
        ("$[0].eventLocation.UNLocationCode", "string_pattern_mismatch")
    ]


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_deeply_nested_input_is_refused_before_parsing(parser: str) -> None:
    hostile = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert rejected(PARSERS[parser], hostile) == [("$", "max_depth")]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    dhl = json.loads(json.dumps(DHL))
    dhl["shipments"][0]["events"][0]["description"] = "[[[[{{{{" * 40 + '\\"'
    assert len(express_intl.parse_tracking(raw(dhl))) == 9


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_oversized_input_is_refused(parser: str) -> None:
    huge = b'{"pad": "' + b"x" * 2_000_000 + b'"}'
    assert rejected(PARSERS[parser], huge) == [("$", "max_bytes")]


def test_too_many_events_is_refused() -> None:
    dhl = {"shipments": [{"id": "1", "events": [DHL["shipments"][0]["events"][1]] * 1001}]}
    assert rejected(express_intl.parse_tracking, raw(dhl)) == [("$.shipments[0].events", "too_long")]


# --- timeline -------------------------------------------------------------------------------------------


def test_duplicates_and_out_of_order_events_merge() -> None:
    first_poll = express_domestic.parse_tracking(raw(SF))[:4]
    second_poll = express_domestic.parse_tracking(raw(SF))  # repeats the first four, adds four
    shuffled = second_poll[::-1]
    timeline = merge_events(first_poll, shuffled)
    assert [e.occurred_at for e in timeline] == sorted(e.occurred_at for e in second_poll)
    assert len(timeline) == 8


def test_same_source_event_id_is_a_duplicate_even_if_corrected() -> None:
    events = ocean.parse_tracking(raw(OCEAN))
    corrected = events[3].model_copy(update={"occurred_at": events[3].occurred_at + timedelta(minutes=5)})
    merged = merge_events(events, [corrected])
    assert merged == merge_events([], events) and corrected not in merged


def test_same_code_time_and_place_from_two_feeds_is_one_event() -> None:
    dhl = express_intl.parse_tracking(raw(DHL))
    offset = timezone(timedelta(hours=-5))
    # The same delivery reported through a second feed, in another time zone: still one event.
    echo = dhl[0].model_copy(update={"occurred_at": dhl[0].occurred_at.astimezone(offset), "raw_description": "DL"})
    assert len(merge_events(dhl, [echo])) == len(merge_events([], dhl))


def test_shipment_current_status_ignores_unknown_events() -> None:
    events = express_domestic.parse_tracking(raw(SF))
    shipment = Shipment(shipment_id="SF1234567890123", carrier="sf-express", tracking_number="SF1234567890123")
    shipment = shipment.with_events(reversed(events))
    assert shipment.current_status is C.DELIVERED  # the later 9999 route maps to nothing
    assert shipment.timeline[-1].unknown
    assert Shipment(shipment_id="x", carrier="sf", tracking_number="x").current_status is None


def test_shipment_refuses_events_of_another_shipment() -> None:
    events = express_domestic.parse_tracking(raw(SF), shipment_id="SHP-9")
    with pytest.raises(ValidationError, match="timeline_shipment"):
        Shipment(shipment_id="SHP-1", carrier="sf-express", tracking_number="SF1234567890123", timeline=events)


def test_unknown_flag_must_match_missing_code() -> None:
    event = express_domestic.parse_tracking(raw(SF))[0]
    with pytest.raises(ValidationError, match="unknown_flag"):
        TrackingEvent.model_validate(event.model_dump() | {"unknown": True})


BASE = datetime(2026, 11, 20, tzinfo=UTC)
tracking_events = st.builds(
    lambda code, minutes, city, source, carrier: TrackingEvent(
        shipment_id="S1",
        carrier=carrier,
        tracking_number="T1",
        code=code,
        unknown=code is None,
        raw_code=code.value if code else "X9",
        occurred_at=BASE + timedelta(minutes=minutes),
        location={"city": city, "country": "CN"},
        source_event_id=source,
    ),
    st.sampled_from([*TrackingCode, None]),
    st.integers(0, 5),
    st.sampled_from(["深圳", "上海"]),
    st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    st.sampled_from(["sf", "dhl"]),
)


@given(st.lists(tracking_events, max_size=12), st.lists(tracking_events, max_size=12), st.randoms())
def test_merge_is_idempotent_and_order_independent(
    timeline: list[TrackingEvent], new: list[TrackingEvent], rnd: random.Random
) -> None:
    merged = merge_events(timeline, new)
    assert merge_events(merged, new) == merged
    assert merge_events(merged, []) == merged
    assert merge_events(rnd.sample(timeline, len(timeline)), rnd.sample(new, len(new))) == merged
    assert [e.occurred_at for e in merged] == sorted(e.occurred_at for e in merged)


# --- registered payloads --------------------------------------------------------------------------------


def test_logistics_message_types_are_registered() -> None:
    for name, model in {
        "logistics.tracking_event": TrackingEvent,
        "logistics.shipment": Shipment,
        "logistics.waybill": ElectronicWaybill,
        "logistics.warehouse_stock": WarehouseStock,
        "logistics.warehouse_outbound": WarehouseOutbound,
    }.items():
        assert payload_model(name) is model


WAYBILL = {
    "direction": "import",
    "logisticsCode": "1105910159",
    "logisticsName": "顺丰速运",
    "logisticsNo": "SF1234567890123",
    "orderNo": "ORDER20261120001",
    "freight": "25.00",
    "insuredFee": "0",
    "currency": "CNY",
    "weight": "1.25",
    "packNo": 1,
    "goodsInfo": "护肤品",
    "consignee": "张三",
    "consigneeAddress": "上海市浦东新区世纪大道100号",
    "consigneeTelephone": "13800000000",
}


def test_waybill_accepts_ceb_names_and_declares_consignee_sensitive() -> None:
    waybill = ElectronicWaybill.model_validate(WAYBILL)
    assert waybill.freight == Decimal("25.00") and waybill.logistics_no == "SF1234567890123"
    assert {"consignee", "consignee_address", "consignee_telephone"} <= set(sensitive_paths(ElectronicWaybill))


def test_import_waybill_needs_its_order() -> None:
    with pytest.raises(ValidationError, match="order_no_required"):
        ElectronicWaybill.model_validate({k: v for k, v in WAYBILL.items() if k != "orderNo"})
    with pytest.raises(ValidationError, match="currency_decimals"):
        ElectronicWaybill.model_validate(WAYBILL | {"currency": "JPY", "freight": "25.50"})


def test_warehouse_messages_validate_stock_and_lines() -> None:
    stock = WarehouseStock.model_validate(
        {
            "warehouse_id": "DE-FRA-01",
            "country": "DE",
            "as_of": "2026-11-20T08:00:00+01:00",
            "levels": [{"sku": "SKU-001", "on_hand": 120, "reserved": 20, "inbound": 50}],
        }
    )
    assert stock.levels[0].available == 100
    with pytest.raises(ValidationError, match="reserved_exceeds_on_hand"):
        WarehouseStock.model_validate(
            stock.model_dump() | {"levels": [{"sku": "SKU-001", "on_hand": 1, "reserved": 2}]}
        )
    outbound = {
        "outbound_no": "OB-1",
        "warehouse_id": "DE-FRA-01",
        "order_no": "ORDER20261120001",
        "requested_at": "2026-11-20T08:00:00+01:00",
        "recipient": {
            "name": "Max Mustermann",
            "telephone": "+49 30 1234567",
            "address_lines": ["Unter den Linden 1"],
            "city": "Berlin",
            "country": "DE",
        },
        "lines": [{"sku": "SKU-001", "quantity": 2}, {"sku": "SKU-001", "quantity": 1}],
    }
    with pytest.raises(ValidationError, match="duplicate_sku"):
        WarehouseOutbound.model_validate(outbound)
    assert "recipient.name" in sensitive_paths(WarehouseOutbound)
