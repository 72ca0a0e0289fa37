"""Digital currency on the admin API: the bridge's balances and a settlement's evidence.

`GET /admin/dc/balances`: every account on the CBDC bridge, asked through the dcbridge adapter (so it
works against a real bridge as against the sandbox). `GET /admin/evidence/{id}` (a hub message id, or
a settlement id such as `DEM-<demand id>`): the proof anchored in the hub journal when the settlement
completed, checked against the journal's own hash chains and against the bridge's chain now. Both
need `messages.read`.
"""

# Annotations stay evaluated (no `from __future__ import annotations`): FastAPI must resolve the
# routes' dependencies, which live in a local scope.
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import ValidationError

from adapters.base import AdapterError, PermanentError
from adapters.dcbridge import DcBridgeAdapter
from canonical.dc import Proof
from gateway.admin import OperatorAuth, operator_check
from gateway.problems import Problem
from gateway.services import Services
from security.evidence import Check, check_settlement
from security.rbac import Permission, Principal
from store.journal import MessageView

SETTLEMENT_PREFIXES = ("DEM-", "TRF-")  # the bridge's tx ids: DEM-<demand id>, TRF-<transfer id>


def digital_currency_router(services: Services, auth: OperatorAuth) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["digital-currency"])
    s = services

    Reader = Annotated[Principal, operator_check(auth)(Permission.MESSAGES_READ)]

    def bridge(adapter: str | None = None, version: str | None = None) -> DcBridgeAdapter:
        lanes = [
            lane
            for (name, v), lane in s.pipeline.lanes.items()
            if isinstance(lane.adapter, DcBridgeAdapter) and (adapter is None or (name, v) == (adapter, version))
        ]
        if not lanes:
            raise Problem(404, "no-bridge", "No CBDC bridge", "no running adapter of kind dcbridge")
        stable = {(r.adapter, r.stable_version) for r in s.pipeline.routing.routes}
        lane = next((lane for lane in lanes if (lane.name, lane.version) in stable), lanes[0])
        assert isinstance(lane.adapter, DcBridgeAdapter)
        return lane.adapter

    @router.get("/dc/balances")
    async def balances(_p: Reader) -> list[dict[str, Any]]:
        try:
            return await bridge().balances()
        except AdapterError as exc:
            raise Problem(502, "bridge-unavailable", "The bridge did not answer", exc.reason) from None

    async def find(ident: str) -> MessageView | None:
        view = await s.store.message(ident) if len(ident) <= 64 else None
        if view is None and ident.startswith(SETTLEMENT_PREFIXES):
            key = ident[4:]
            view = await s.store.message(key) or next(
                (v for v in reversed(await s.store.by_correlation([key])) if v.type.startswith("dc.")), None
            )
        return view

    @router.get("/evidence/{ident}")
    async def evidence(ident: str, _p: Reader) -> dict[str, Any]:
        view = await find(ident)
        if view is None:
            raise Problem(404, "not-found", "No such settlement", f"no message or settlement {ident[:80]}")
        anchored = next(
            (
                t.detail
                for t in reversed(await s.store.history(view.id))
                if t.status == "delivered" and "proof" in t.detail
            ),
            None,
        )
        if anchored is None:
            raise Problem(
                409, "no-evidence", "No settlement proof", f"message {view.id} is {view.status}: no proof was anchored"
            )
        report = await s.store.verify_chains()
        journal = Check(
            "hub_journal",
            report.ok,
            f"{report.records} journal records in {report.chains} chains are intact"
            if report.ok
            else str(report.broken),
        )
        out: dict[str, Any] = {"id": view.id, "settlement_id": anchored.get("reference"), "anchored": anchored["proof"]}
        try:
            proof = Proof.model_validate(anchored["proof"])
        except ValidationError as exc:
            checks = [
                journal,
                Check("anchored_copy", False, f"the anchored proof is not a proof: {exc.errors()[0]['msg']}"),
            ]
            return {**out, "ok": False, "checks": [c.as_json() for c in checks]}
        adapter = bridge(view.adapter, view.version) if view.adapter else bridge()
        try:
            current, entries, head = await adapter.chain_evidence(proof.tx_id, proof.position)
        except PermanentError as exc:  # e.g. the bridge no longer knows the transaction
            checks = [journal, Check("bridge_proof", False, exc.reason)]
            return {**out, "ok": False, "checks": [c.as_json() for c in checks]}
        except AdapterError as exc:
            raise Problem(502, "bridge-unavailable", "The bridge did not answer", exc.reason) from None
        checks = [journal, *check_settlement(proof.model_dump(mode="json"), current, entries, head)]
        return {**out, "bridge_head": head, "ok": all(c.ok for c in checks), "checks": [c.as_json() for c in checks]}

    return router
