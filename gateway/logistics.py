"""Shipments on the HTTP API: the normalized tracking timeline, and tracking on demand.

`GET /v1/shipments/{id}` (id `<carrier>:<tracking number>`): the timeline, to the institution that
registered the shipment or an operator. `POST /v1/shipments` registers a shipment for polling and asks
its carrier now. `POST /admin/shipments/track` does the same for an operator (`hub track`);
`GET /admin/warehouses/{carrier}/{warehouse}/stock` reads an overseas warehouse's stock now.
Carrier webhooks arrive at `POST /v1/callbacks/{carrier}` (gateway/payments.py, desk/logistics.py).
"""

# Annotations stay evaluated (no `from __future__ import annotations`): FastAPI must resolve the
# routes' `Depends`, which live in a local scope.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from adapters.base import PermanentError, TransientError
from desk.logistics import ShipmentState, TrackingPoller
from gateway.admin import OperatorAuth, operator_check
from gateway.problems import Problem
from gateway.services import Services
from security.institutions import Institution
from security.rbac import Permission, Principal


class TrackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carrier: str = Field(min_length=1, max_length=40, description="the carrier adapter, e.g. carrier-intl")
    tracking_number: str = Field(min_length=1, max_length=40)


def logistics_router(
    services: Services, reader: Callable[..., Awaitable[Institution | None]], auth: OperatorAuth
) -> APIRouter:
    router = APIRouter(tags=["logistics"])
    Reader = Annotated[Institution | None, Depends(reader)]
    requires = operator_check(auth)

    def poller() -> TrackingPoller:
        found = services.extra.get("logistics")
        if not isinstance(found, TrackingPoller):
            raise Problem(503, "unavailable", "Tracking unavailable", "the hub runs without carrier tracking")
        return found

    async def track(body: TrackRequest, owner: str | None) -> dict[str, Any]:
        try:
            shipment_id, outcome = await poller().track_now(body.carrier, body.tracking_number, owner)
        except LookupError as exc:
            raise Problem(404, "unknown-carrier", "No such carrier", str(exc)) from None
        except PermanentError as exc:
            raise Problem(422, "invalid-tracking-number", "Invalid tracking number", exc.reason) from None
        state = await poller().book.get(shipment_id)
        assert state is not None
        return {**state.as_json(), "poll": outcome.as_json()}

    @router.get("/v1/shipments/{shipment_id}")
    async def shipment(shipment_id: str, caller: Reader) -> dict[str, Any]:
        state = await poller().book.get(shipment_id)
        if state is None or not _visible(state, caller):
            raise Problem(404, "not-found", "No such shipment", f"no shipment {shipment_id} visible to the caller")
        return state.as_json()

    @router.post("/v1/shipments")
    async def register(body: TrackRequest, caller: Reader) -> dict[str, Any]:
        return await track(body, caller.id if caller is not None else None)

    @router.get("/admin/warehouses/{carrier}/{warehouse_id}/stock")
    async def stock(
        carrier: str, warehouse_id: str, _p: Principal = requires(Permission.MESSAGES_READ)
    ) -> dict[str, Any]:
        entry = poller().carriers().get(carrier)
        if entry is None:
            raise Problem(404, "unknown-carrier", "No such carrier", f"no carrier adapter {carrier!r}")
        try:
            found = await entry[0].stock(warehouse_id)
        except TransientError as exc:
            raise Problem(503, "carrier-unavailable", "Carrier unavailable", exc.reason) from None
        except PermanentError as exc:
            raise Problem(502, "carrier-error", "Carrier answer refused", exc.reason) from None
        return found.model_dump(mode="json")

    @router.post("/admin/shipments/track")
    async def track_now(body: TrackRequest, _p: Principal = requires(Permission.MESSAGES_READ)) -> dict[str, Any]:
        return await track(body, None)

    return router


def _visible(state: ShipmentState, caller: Institution | None) -> bool:
    return caller is None or state.owner == caller.id
