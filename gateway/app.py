"""The HTTP gateway: ingress API for institutions, admin API for operators, health."""

import hmac
import json
import math
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from canonical.errors import Violation
from canonical.registry import json_schemas
from gateway.ingress import accept, envelope_from, read_body
from gateway.problems import Problem
from gateway.services import Services
from security.access import RateLimiter, allowed, client_address
from security.institutions import Institution, NotAuthenticated
from security.signatures import HEADER as SIGNATURE_HEADER
from security.signatures import SignatureRefused, verify_request


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Trade-finance integration hub",
        version="0.1.0",
        description="Ingress for institutions, status, and operations API.",
    )
    app.state.services = services

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:

        errors = [Violation(".".join(str(p) for p in e["loc"]), e["type"], e["msg"]) for e in exc.errors()]
        return Problem(422, "invalid-request", "Invalid request", "; ".join(map(str, errors)), errors).response()

    limiter = RateLimiter()
    alerted: dict[str, float] = {}

    async def institution(
        request: Request,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Institution:
        try:
            inst = services.institutions.authenticate(x_api_key or _bearer(authorization))
        except NotAuthenticated as exc:
            raise Problem(401, "unauthenticated", "Not authenticated", str(exc)) from None
        peer = request.client.host if request.client else ""
        address = client_address(peer, request.headers.get("x-forwarded-for"), services.tuning.gateway.trusted_proxies)
        if not allowed(address, inst.ip_allowlist):
            await services.store.audit(inst.id, "gateway.ip_refused", request.url.path, {"address": address})
            raise Problem(
                403, "ip-not-allowed", "Address not allowed", f"{inst.id} may not call from {address}", address=address
            )
        if inst.rate_limit is not None:
            ok, wait_s = limiter.take(inst.id, inst.rate_limit)
            if not ok:
                await _rate_alert(inst.id, address)
                raise Problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"{inst.id} may make {inst.rate_limit.per_second:g} calls/s (bursts of {inst.rate_limit.burst})",
                    retry_after=max(1, math.ceil(wait_s)),
                )
        return inst

    async def check_signature(request: Request, body: bytes, inst: Institution) -> None:
        assert services.nonces is not None, "the hub opens the nonce guard before serving"
        try:
            await verify_request(
                request.headers.get(SIGNATURE_HEADER),
                body,
                inst.id,
                services.institutions.keys_of(),
                services.nonces,
                inst.require_signature,
            )
        except SignatureRefused as exc:
            await services.store.audit(inst.id, "gateway.signature_refused", request.url.path, {"rule": exc.rule})
            raise Problem(
                409 if exc.rule == "replayed" else 401,
                exc.rule.replace("_", "-"),
                "Request signature refused",
                exc.detail,
                [Violation(SIGNATURE_HEADER, exc.rule, exc.detail)],
            ) from None

    async def _rate_alert(institution_id: str, address: str) -> None:
        # One audit entry and alert event per institution and minute, however hard it hammers.
        now = time.monotonic()
        if now - alerted.get(institution_id, -60.0) < 60:
            return
        alerted[institution_id] = now
        await services.store.audit(institution_id, "gateway.rate_limited", "/v1", {"address": address})
        alert = {
            "level": "warning",
            "kind": "rate_limit",
            "institution": institution_id,
            "address": address,
            "at": datetime.now(UTC).isoformat(),
        }
        await services.js.publish("hub.evt.alert.warning", json.dumps(alert).encode())

    def is_operator(token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, services.admin_token)

    def operator(authorization: Annotated[str | None, Header()] = None) -> str:
        if not is_operator(_bearer(authorization)):
            raise Problem(401, "unauthenticated", "Not authenticated", "the admin API needs the operator token")
        return "local-admin"

    Caller = Annotated[Institution, Depends(institution)]
    Operator = Annotated[str, Depends(operator)]

    @app.post("/v1/messages", status_code=202)
    async def submit(
        request: Request, inst: Caller, idempotency_key: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        body = await read_body(request, services.tuning.gateway.max_body_bytes)
        await check_signature(request, body, inst)
        env = envelope_from(body, request.headers.get("content-type", "").lower(), inst, idempotency_key)
        if not inst.may_send(env.type):
            raise Problem(
                403,
                "type-not-allowed",
                "Message type not allowed",
                f"{inst.id} may not send {env.type}",
                allowed_types=inst.allowed_types,
            )
        message_id, status, new = await accept(services.store, services.js, env)
        headers = {} if new else {"Idempotent-Replayed": "true"}
        return JSONResponse(
            {"id": message_id, "status": status, "status_url": f"/v1/messages/{message_id}"},
            status_code=202,
            headers=headers,
        )

    @app.get("/v1/messages/{message_id}")
    async def status(
        message_id: str,
        request: Request,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        operator_call = is_operator(x_api_key or _bearer(authorization))
        caller = None if operator_call else await institution(request, x_api_key, authorization)
        view = await services.store.message(message_id)
        if view is None or (caller is not None and caller.id not in (view.source, view.destination)):
            raise Problem(404, "not-found", "No such message", f"no message {message_id} visible to the caller")
        history = await services.store.history(message_id)
        return {
            **view.as_json(),
            "history": [
                {"status": t.status, "at": t.at.isoformat(), "actor": t.actor, "detail": t.detail} for t in history
            ],
        }

    @app.get("/v1/schemas")
    async def schemas() -> dict[str, Any]:
        return json_schemas()

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        checks: dict[str, Any] = {"nats": services.nc.is_connected}
        try:
            await services.store.ping()
            checks["store"] = True
        except Exception as exc:
            checks["store"] = f"error: {exc}"
        try:
            info = await services.js.consumer_info("HUB_IN", "router")
            checks["consumers"] = {"router_pending": info.num_pending}
        except Exception as exc:
            checks["consumers"] = f"error: {exc}"
        ok = checks["nats"] is True and checks["store"] is True and isinstance(checks["consumers"], dict)
        return JSONResponse({"ok": ok, **checks}, status_code=200 if ok else 503)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = services.started and services.nc.is_connected
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    # -- admin ------------------------------------------------------------------------------

    @app.get("/admin/adapters")
    async def adapters(_op: Operator) -> list[dict[str, Any]]:
        return await services.adapters()

    @app.post("/admin/adapters/{name}/{action}")
    async def pause(name: str, action: str, op: Operator) -> dict[str, Any]:
        if action not in ("pause", "resume"):
            raise Problem(404, "not-found", "No such action", "use pause or resume")
        known = {a["name"] for a in await services.adapters()}
        if name not in known:
            raise Problem(404, "not-found", "No such adapter", f"known adapters: {', '.join(sorted(known))}")
        await services.set_paused(name, action == "pause", op)
        return {"name": name, "paused": action == "pause"}

    @app.get("/admin/dlq")
    async def dlq(_op: Operator) -> list[dict[str, Any]]:
        return [v.as_json() for v in await services.store.by_status("dead_lettered")]

    @app.post("/admin/dlq/{message_id}/replay")
    async def replay(message_id: str, op: Operator) -> dict[str, Any]:
        try:
            await services.pipeline.replay(message_id, op)
        except LookupError as exc:
            raise Problem(409, "not-dead-lettered", "Cannot replay", str(exc)) from None
        return {"id": message_id, "replayed": True}

    @app.get("/admin/audit")
    async def audit(_op: Operator) -> list[dict[str, Any]]:
        return await services.store.audit_log()

    @app.get("/", include_in_schema=False)
    async def console() -> Response:
        return Response(
            "<!doctype html><title>Trade hub</title><h1>Trade-finance integration hub</h1>"
            "<p>Running. API docs: <a href='/docs'>/docs</a>; health: <a href='/healthz'>/healthz</a></p>",
            media_type="text/html",
        )

    return app
