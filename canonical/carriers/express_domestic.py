"""Domestic (Chinese) express tracking: an SF Express route query answer, normalized to `TrackingEvent`.

Shape followed: the SF open platform route query (EXP_RECE_SEARCH_ROUTES). The gateway answers
`{"apiResultCode": "A1000", "apiResultData": "<JSON text>"}`, and the inner document is
`{"success": true, "errorCode": "S0000", "msgData": {"routeResps": [{"mailNo", "routes": [{"acceptTime":
"2026-11-20 10:00:00", "acceptAddress": "深圳市", "remark": "顺丰速运 已收取快件", "opCode": "50"}]}]}}`.
The inner document alone is accepted too. ZTO / YTO answers carry the same four facts per route.

`acceptTime` is local time without offset: China Standard Time (UTC+8, no daylight saving since 1991).
Op codes are the ones SF publishes for route pushes; a remark that names customs (海关 / 清关) decides
customs holds and clearances whatever the code, because SF reports them under several codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import WireModel, china_time, json_path, load_json, validate_wire
from canonical.logistics import TrackingCode, TrackingEvent

TITLE = "invalid domestic express tracking payload"
CARRIER = "sf-express"
MAX_ROUTES = 1000

C = TrackingCode
SF_OP_CODES: dict[str, TrackingCode] = {
    "50": C.PICKED_UP,  # 顺丰已收件
    "54": C.PICKED_UP,  # 上门收件
    "30": C.IN_TRANSIT,  # 已装车, 准备发往下一站
    "36": C.IN_TRANSIT,  # 已装车 / 已发出
    "31": C.ARRIVED_HUB,  # 快件到达 (中转场 / 营业点)
    "44": C.OUT_FOR_DELIVERY,  # 正在派送途中
    "204": C.OUT_FOR_DELIVERY,  # 派件员已出发
    "80": C.DELIVERED,  # 已签收
    "8000": C.DELIVERED,  # 签收 (官网)
    "33": C.EXCEPTION,  # 派件异常
    "70": C.EXCEPTION,  # 派件不成功
    "99": C.RETURNED,  # 退回寄件人
}
CUSTOMS_REMARKS: tuple[tuple[str, TrackingCode], ...] = (
    ("海关查验", C.CUSTOMS_HOLD),
    ("海关扣留", C.CUSTOMS_HOLD),
    ("清关异常", C.CUSTOMS_HOLD),
    ("海关放行", C.CUSTOMS_CLEARED),
    ("清关完成", C.CUSTOMS_CLEARED),
)


ChinaTime = Annotated[datetime, BeforeValidator(china_time)]


class SfRoute(WireModel):
    accept_time: ChinaTime = Field(alias="acceptTime")
    accept_address: str | None = Field(default=None, alias="acceptAddress", max_length=200)
    remark: str = Field(default="", max_length=500)
    op_code: str = Field(alias="opCode", min_length=1, max_length=16, pattern=r"^[0-9A-Za-z]+$")


class SfRouteResp(WireModel):
    mail_no: str = Field(alias="mailNo", min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    routes: list[SfRoute] = Field(default_factory=list, max_length=MAX_ROUTES)


class SfMsgData(WireModel):
    route_resps: list[SfRouteResp] = Field(alias="routeResps", max_length=100)


class SfRouteAnswer(WireModel):
    success: bool
    error_code: str | None = Field(default=None, alias="errorCode", max_length=32)
    error_msg: str | None = Field(default=None, alias="errorMsg", max_length=500)
    msg_data: SfMsgData | None = Field(default=None, alias="msgData")


class SfGateway(WireModel):
    api_result_code: str = Field(alias="apiResultCode", max_length=16)
    api_error_msg: str | None = Field(default=None, alias="apiErrorMsg", max_length=500)
    api_result_data: str | dict[str, Any] | None = Field(default=None, alias="apiResultData")


def _code(route: SfRoute) -> TrackingCode | None:
    customs = next((code for phrase, code in CUSTOMS_REMARKS if phrase in route.remark), None)
    return customs or SF_OP_CODES.get(route.op_code)


def _answer(data: Any) -> tuple[Any, tuple[str, ...]]:
    """The inner route answer, unwrapped from the API gateway envelope if there is one."""
    if not (isinstance(data, dict) and "apiResultCode" in data):
        return data, ()
    gateway = validate_wire(SfGateway, data, TITLE)
    if gateway.api_result_code != "A1000":  # A1000: the gateway passed the call through
        detail = f"{gateway.api_result_code}: {gateway.api_error_msg or ''}".strip()
        raise RejectedInput("carrier refused the route query", [Violation("$.apiResultCode", "carrier_error", detail)])
    inner = gateway.api_result_data
    if isinstance(inner, str):
        inner = load_json(inner.encode(), TITLE)  # the same size and depth caps for the nested text
    return inner, ("apiResultData",)


def parse_tracking(raw: bytes, *, shipment_id: str | None = None) -> list[TrackingEvent]:
    """Normalize an SF route query answer; raise RejectedInput naming the JSON path and rule.

    A business error (`success: false`) is refused with rule `carrier_error` and SF's error code.
    """
    data, prefix = _answer(load_json(raw, TITLE))
    answer = validate_wire(SfRouteAnswer, data, TITLE, prefix)
    if not answer.success or answer.msg_data is None:
        detail = f"{answer.error_code or ''}: {answer.error_msg or ''}".strip(": ")
        where = json_path((*prefix, "success"))
        raise RejectedInput("carrier refused the route query", [Violation(where, "carrier_error", detail)])
    events: list[TrackingEvent] = []
    for r, resp in enumerate(answer.msg_data.route_resps):
        for i, route in enumerate(resp.routes):
            code = _code(route)
            fields = {
                "shipment_id": shipment_id or resp.mail_no,
                "carrier": CARRIER,
                "tracking_number": resp.mail_no,
                "code": code,
                "unknown": code is None,
                "raw_code": route.op_code,
                "raw_description": route.remark,
                "occurred_at": route.accept_time,
                "location": {"city": route.accept_address or None, "country": "CN"},
                "sequence": i,  # SF lists routes oldest first; breaks ties within one second
            }
            path: tuple[int | str, ...] = (*prefix, "msgData", "routeResps", r, "routes", i)
            events.append(validate_wire(TrackingEvent, fields, TITLE, path))
    return events
