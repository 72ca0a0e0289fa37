"""Payments on the HTTP API: the networks' asynchronous answers and a payment's status by UETR.

`POST /v1/callbacks/{adapter}`: a network (or any partner adapter) pushes an answer, signed with its
key (`X-Hub-Signature`, verified against the keys configured for that adapter); the adapter reads
it, and the desk journals it and moves what it is about. `GET /v1/payments/{uetr}`: the payment,
its channel, its history and every answer about it, to the institution that sent it or an operator;
`?track=true` also asks the network now (pacs.028 / tracker).
"""

# Annotations stay evaluated (no `from __future__ import annotations`): FastAPI must resolve the
# route's `Depends(reader)`, which lives in a local scope.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from adapters.base import AdapterError, PaymentChannel
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation
from desk import PAYMENT_TYPES
from desk.answers import apply_answer
from desk.customs import NotYetKnown
from gateway.ingress import read_body
from gateway.problems import Problem
from gateway.services import Services
from routes.outbox import NOTIFICATION
from routes.pipeline import Lane
from security.institutions import Institution
from security.signatures import HEADER as SIGNATURE_HEADER
from security.signatures import SignatureRefused, verify_request
from store.journal import MessageView

PARTNER_PREFIX = "partner-"  # callers' ids in the replay guard: never an institution's


def payments_router(services: Services, reader: Callable[..., Awaitable[Institution | None]]) -> APIRouter:
    router = APIRouter(tags=["payments"])
    s = services
    Reader = Annotated[Institution | None, Depends(reader)]

    def lane_of(adapter: str) -> Lane:
        lanes = [lane for (name, _v), lane in s.pipeline.lanes.items() if name == adapter]
        if not lanes:
            raise Problem(404, "unknown-adapter", "No such adapter", f"no running adapter {adapter!r}")
        stable = [r.stable_version for r in s.pipeline.routing.routes if r.adapter == adapter]
        return next((lane for lane in lanes if lane.version in stable), lanes[0])

    async def verify_partner(adapter: str, request: Request, body: bytes) -> None:
        assert s.nonces is not None, "the hub opens the nonce guard before serving"
        caller = PARTNER_PREFIX + adapter
        try:
            await verify_request(
                request.headers.get(SIGNATURE_HEADER), body, caller, {caller: s.partner_keys(adapter)}, s.nonces, True
            )
        except SignatureRefused as exc:
            violation = Violation(SIGNATURE_HEADER, exc.rule, exc.detail)
            status = 409 if exc.rule == "replayed" else 401
            raise Problem(
                status, exc.rule.replace("_", "-"), "Callback signature refused", exc.detail, [violation]
            ) from None

    @router.post("/v1/callbacks/{adapter}")
    async def callback(adapter: str, request: Request) -> dict[str, Any]:
        lane = lane_of(adapter)
        body = await read_body(request, s.tuning.gateway.max_body_bytes)
        await verify_partner(adapter, request, body)
        try:
            answer = lane.adapter.parse_reply(body, dict(request.headers))
        except RejectedInput as exc:
            detail = "; ".join(map(str, exc.violations)) or str(exc)
            raise Problem(400, "invalid-answer", "Answer not readable", detail, exc.violations) from None
        try:
            outcome = await apply_answer(s.store, answer, adapter)
        except NotYetKnown as exc:  # journalled, applied on the partner's next try
            raise Problem(
                503, "not-yet-known", "Answer about a message still on its way", str(exc), retry_after="1"
            ) from None
        return outcome.as_json()

    @router.get("/v1/payments/{uetr}")
    async def payment(uetr: str, caller: Reader, track: Annotated[bool, Query()] = False) -> dict[str, Any]:
        views = [
            v for v in await s.store.by_correlation([uetr]) if caller is None or caller.id in (v.source, v.destination)
        ]
        payments = [v for v in views if v.type in PAYMENT_TYPES]
        if not payments:
            raise Problem(404, "not-found", "No such payment", f"no payment with UETR {uetr} visible to the caller")
        main = payments[-1]
        history = await s.store.history(main.id)
        out: dict[str, Any] = {
            "uetr": uetr,
            **_summary(main),
            "history": [
                {"status": t.status, "at": t.at.isoformat(), "actor": t.actor, "detail": t.detail} for t in history
            ],
            "related": [_summary(v) for v in views if v.id != main.id and v.type != NOTIFICATION],
        }
        if track:
            out["network"] = await _track(s, main)
        return out

    return router


def _summary(view: MessageView) -> dict[str, Any]:
    keys = ("id", "type", "status", "source", "destination", "adapter", "version", "created_at", "updated_at")
    data = view.as_json()
    return {("channel" if k == "adapter" else k): data[k] for k in keys}


async def _track(s: Services, view: MessageView) -> dict[str, Any]:
    """What the payment's network says now (not journalled: the status enquiries of the desk are)."""
    lane = s.pipeline.lanes.get((view.adapter or "", view.version or ""))
    if lane is None or not isinstance(lane.adapter, PaymentChannel):
        return {"available": False, "detail": "the payment has not reached a network that can be asked"}
    try:
        status = await lane.adapter.enquire(Envelope.from_bytes(view.envelope))
    except AdapterError as exc:
        return {"available": False, "detail": exc.reason}
    return {
        "available": True,
        "known": status.known,
        "status": status.status,
        "reason": status.reason,
        "detail": status.detail,
    }
