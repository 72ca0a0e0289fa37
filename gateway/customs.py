"""Customs on the HTTP API: an order's three-document set, its inventory and what customs answered.

`GET /v1/customs/orders/{orderNo}`: the set (status, what is missing, each mismatch with personal
values masked, the inventory the hub filed) and every declared document of the order with its
receipts and its message's status; to an institution that sent one of the documents, or an operator.
"""

# Annotations stay evaluated (no `from __future__ import annotations`): FastAPI must resolve the
# route's `Depends(reader)`, which lives in a local scope.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from gateway.problems import Problem
from gateway.services import Services
from security.institutions import Institution
from store.customs import CustomsSets


def customs_router(services: Services, reader: Callable[..., Awaitable[Institution | None]]) -> APIRouter:
    router = APIRouter(tags=["customs"])
    sets = CustomsSets(services.store)
    Reader = Annotated[Institution | None, Depends(reader)]

    @router.get("/v1/customs/orders/{order_no}")
    async def customs_order(
        order_no: Annotated[str, Path(min_length=1, max_length=60)], caller: Reader
    ) -> dict[str, Any]:
        found = await sets.get(order_no)
        if found is None or (caller is not None and caller.id not in {d.source for d in found.documents}):
            raise Problem(404, "not-found", "No such order", f"no customs set for order {order_no} visible to you")
        out = found.as_json()
        for doc in out["documents"]:
            view = await services.store.message(doc["message_id"])
            doc["message_status"] = view.status if view else None
        if found.inventory_id:
            view = await services.store.message(found.inventory_id)
            out["inventory"] = {"message_id": found.inventory_id, "status": view.status if view else "filing"}
        return out

    return router
