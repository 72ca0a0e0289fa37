"""Logistics carriers: tracking (polled and pushed), electronic waybills and overseas warehouses.

Three kinds, one wire format each (docs/logistics.md): `carrier-intl` (DHL Unified tracking JSON),
`carrier-domestic` (SF route queries), `carrier-ocean` (DCSA Track & Trace events). Every kind maps its
carrier's statuses to the one `TrackingCode` list through `canonical.carriers`.

What a caller may rely on:
- `track(number)` is a read: retried by the caller at will. A 429 raises `RateLimited` with the
  carrier's `Retry-After` in seconds; 5xx, timeouts and connection failures raise `TransientError`;
  an answer that cannot be read raises `PermanentError`.
- `render` / `send` carry `logistics.waybill` (POST /waybills, CEB505 / CEB511 fields) and
  `logistics.warehouse_outbound`; every call has `Idempotency-Key: <message id>`, which the carriers
  honour, so a resend after a lost answer creates nothing twice.
- `parse_reply` reads a tracking webhook (one shipment per push) into a `logistics.shipment` Envelope.

Settings (an adapter version in routes.yaml): `url`, `timeout_s`, `client_id` (sent as X-Client-Id,
what the carrier rate-limits by), `rate_per_s` and `burst` (the hub's own pace of tracking calls).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import quote

import httpx
from pydantic import Field

from adapters.base import (
    Outbound,
    PermanentError,
    Receipt,
    RejectedByPartner,
    TransientError,
    adapter_kind,
    protected,
)
from adapters.partner import HttpPartner, PartnerSettings
from canonical.carriers import express_domestic, express_intl, ocean
from canonical.carriers.warehouse import parse_stock
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation
from canonical.logistics import ElectronicWaybill, Shipment, TrackingEvent, WarehouseOutbound, WarehouseStock

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9]{1,40}$")
MAX_RETRY_AFTER_S = 3600.0
CARRIED_TYPES = frozenset({"logistics.waybill", "logistics.warehouse_outbound"})


class CarrierSettings(PartnerSettings):
    client_id: str = Field(default="tradehub", min_length=1, max_length=64)
    rate_per_s: float = Field(default=5.0, gt=0, le=1000)
    burst: int = Field(default=5, ge=1, le=1000)


class RateLimited(TransientError):
    """The carrier said 429: wait `retry_after_s` before the next call to it."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason, status=429)
        self.retry_after_s = retry_after_s


def retry_after(value: str | None, now: datetime | None = None, default: float = 1.0) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), within [0, 1 h]."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - (now or datetime.now(UTC))).total_seconds(), MAX_RETRY_AFTER_S))


class CarrierAdapter(HttpPartner):
    """The HTTP conversation is the payment networks' (timeouts, in-doubt calls, health); a subclass
    says how its carrier is asked about a tracking number and how the answer reads."""

    category: ClassVar[str] = "logistics"
    settings_model: ClassVar[type[PartnerSettings]] = CarrierSettings
    settings: CarrierSettings

    # -- what a carrier decides ---------------------------------------------------------------------

    def tracking_call(self, number: str) -> tuple[str, str, bytes | None]:
        """(method, path, body) of a tracking query."""
        raise NotImplementedError

    def parse_events(self, raw: bytes) -> list[TrackingEvent]:
        raise NotImplementedError

    # -- tracking -----------------------------------------------------------------------------------

    def shipment_id(self, number: str) -> str:
        """The hub's id of a shipment: `<adapter>:<tracking number>`."""
        return f"{self.ctx.name}:{number}"

    def check_number(self, number: str) -> None:
        if not TRACKING_NUMBER.match(number):
            raise PermanentError(f"{number[:80]!r} is not a tracking number (1-40 letters or digits)")

    def normalized(self, raw: bytes) -> list[TrackingEvent]:
        """The carrier's answer as events of the hub's shipments (`<adapter>:<number>`)."""
        events = self.parse_events(raw)
        return [e.model_copy(update={"shipment_id": self.shipment_id(e.tracking_number)}) for e in events]

    async def track(self, number: str) -> list[TrackingEvent]:
        """What the carrier says about `number` now, normalized (oldest first)."""
        self.check_number(number)
        method, path, body = self.tracking_call(number)
        headers = {"x-client-id": self.settings.client_id, "accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        response = await self.call(method, self.endpoint(path), body, headers, in_doubt=False)  # a read
        if response.status_code != 200:
            self.raise_refusal(response)
            raise PermanentError(f"{self.ctx.name} answered {response.status_code}", status=response.status_code)
        try:
            events = self.normalized(response.content)
        except RejectedInput as exc:
            raise PermanentError(f"{self.ctx.name} answered an unreadable tracking answer: {exc}") from None
        return sorted((e for e in events if e.tracking_number == number), key=TrackingEvent.sort_key)

    def raise_refusal(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            wait = retry_after(response.headers.get("retry-after"))
            raise RateLimited(f"{self.ctx.name} rate limit: retry after {wait:.0f} s", wait)
        super().raise_refusal(response)

    # -- waybills and warehouses --------------------------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        payload = envelope.payload
        if isinstance(payload, ElectronicWaybill):
            path, body = "/waybills", payload.model_dump(mode="json", by_alias=True)
        elif isinstance(payload, WarehouseOutbound):
            path, body = f"/warehouses/{quote(payload.warehouse_id, safe='')}/outbound", payload.model_dump(mode="json")
        else:
            raise PermanentError(f"{self.ctx.name} carries {', '.join(sorted(CARRIED_TYPES))}, not {envelope.type}")
        headers = {"content-type": "application/json", "idempotency-key": str(envelope.id)}
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.endpoint(path), json.dumps(body).encode(), headers)

    async def send(self, outbound: Outbound) -> Receipt:
        body, headers = protected(self.ctx, outbound)
        # A lost answer is in doubt; the resend carries the same Idempotency-Key, which the carrier honours.
        response = await self.call("POST", outbound.target, body, headers, in_doubt=True)
        if response.status_code == 200:
            try:
                answer = response.json()
                reference = str(answer.get("waybillNo") or answer.get("outboundNo") or "")
            except (ValueError, AttributeError):
                raise TransientError(f"{self.ctx.name} answered 200 without a readable answer") from None
            return Receipt(final=True, reference=reference, detail={"carrier": self.ctx.name, **answer})
        if response.status_code == 422:
            raise RejectedByPartner(f"{self.ctx.name} refused: {response.text[:300]}", status=422)
        self.raise_refusal(response)
        raise PermanentError(f"{self.ctx.name} answered {response.status_code}", status=response.status_code)

    async def stock(self, warehouse_id: str) -> WarehouseStock:
        """An overseas warehouse's stock now (a read)."""
        url = self.endpoint(f"/warehouses/{quote(warehouse_id, safe='')}/stock")
        response = await self.call("GET", url, None, {"x-client-id": self.settings.client_id}, in_doubt=False)
        if response.status_code != 200:
            self.raise_refusal(response)
            raise PermanentError(f"{self.ctx.name} answered {response.status_code}", status=response.status_code)
        try:
            return parse_stock(response.content)
        except RejectedInput as exc:
            raise PermanentError(f"{self.ctx.name} answered an unreadable stock answer: {exc}") from None

    # -- webhooks -----------------------------------------------------------------------------------

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        """A tracking push as a `logistics.shipment` Envelope; RejectedInput if it is not one."""
        events = self.normalized(raw)
        numbers = Counter(e.tracking_number for e in events)
        if len(numbers) != 1:
            detail = "no events" if not numbers else f"{len(numbers)} shipments (one per push)"
            raise RejectedInput(f"{self.ctx.name} tracking push", [Violation("$", "one_shipment", detail)])
        (number,) = numbers
        shipment = Shipment(
            shipment_id=self.shipment_id(number), carrier=events[0].carrier, tracking_number=number, timeline=events
        )
        key = headers.get("idempotency-key") or hashlib.sha256(raw).hexdigest()
        return Envelope(
            type="logistics.shipment",
            source=self.ctx.name,
            destination="hub",
            correlation_id=shipment.shipment_id,
            idempotency_key=f"push:{key}"[:256],
            payload=shipment,
        )


@adapter_kind("carrier-intl")
class IntlExpressAdapter(CarrierAdapter):
    """DHL Unified shaped tracking (`GET /track/shipments?trackingNumber=`); FedEx answers read too."""

    def tracking_call(self, number: str) -> tuple[str, str, bytes | None]:
        return "GET", f"/track/shipments?trackingNumber={number}", None

    def parse_events(self, raw: bytes) -> list[TrackingEvent]:
        return express_intl.parse_tracking(raw)


@adapter_kind("carrier-domestic")
class DomesticExpressAdapter(CarrierAdapter):
    """SF open platform shaped route queries (`POST /std/service`, EXP_RECE_SEARCH_ROUTES)."""

    def tracking_call(self, number: str) -> tuple[str, str, bytes | None]:
        call = {"serviceCode": "EXP_RECE_SEARCH_ROUTES", "msgData": json.dumps({"trackingNumber": [number]})}
        return "POST", "/std/service", json.dumps(call).encode()

    def parse_events(self, raw: bytes) -> list[TrackingEvent]:
        return express_domestic.parse_tracking(raw)


@adapter_kind("carrier-ocean")
class OceanForwarderAdapter(CarrierAdapter):
    """DCSA Track & Trace shaped events of a forwarder (`GET /v2/events?transportDocumentReference=`)."""

    def tracking_call(self, number: str) -> tuple[str, str, bytes | None]:
        return "GET", f"/v2/events?transportDocumentReference={number}", None

    def parse_events(self, raw: bytes) -> list[TrackingEvent]:
        return ocean.parse_tracking(raw)


__all__ = [
    "CarrierAdapter",
    "CarrierSettings",
    "DomesticExpressAdapter",
    "IntlExpressAdapter",
    "OceanForwarderAdapter",
    "RateLimited",
    "retry_after",
]
