"""The HTTP gateway: ingress API for institutions, admin API for operators, health."""

import base64
import hmac
import math
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from canonical.envelope import Envelope
from canonical.errors import Violation
from canonical.money import amounts_in
from canonical.registry import json_schemas
from gateway.admin import OperatorAuth, admin_router, bearer
from gateway.credit import credit_router
from gateway.customs import customs_router
from gateway.digital_currency import digital_currency_router
from gateway.ingress import accept, envelope_from, read_body
from gateway.logistics import logistics_router
from gateway.payments import payments_router
from gateway.problems import Problem
from gateway.services import Services
from gateway.soap import soap_router
from gateway.tls import peer_institution
from routes.bus import publish_alert
from security.access import BurstDetector, RateLimiter, allowed, client_address
from security.institutions import Institution, NotAuthenticated
from security.rbac import Permission
from security.signatures import HEADER as SIGNATURE_HEADER
from security.signatures import SignatureRefused, verify_request
from security.tokens import API_AUDIENCE, TokenRefused, looks_like_jwt


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return unquote_plus(user), unquote_plus(password)


def _form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; a repeated field is refused (RFC 6749 §3.2)."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed-form", "Malformed form", "expected an url-encoded ASCII form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise Problem(400, "malformed-form", "Malformed form", f"{name} is repeated", error="invalid_request")
        form[name] = value
    return form


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Trade-finance integration hub",
        version="0.1.0",
        description="Ingress for institutions, status, and operations API.",
    )
    app.state.services = services

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        if 400 <= exc.status < 500 and exc.status != 429 and request.url.path.startswith("/v1/"):
            await _audit_refusal(request, exc)
        return exc.response(request.url.path)

    async def _audit_refusal(request: Request, exc: Problem) -> None:
        # One audit row per refused call (rate limiting audits itself once a minute: a flood must not
        # become a flood of audit rows).
        actor = getattr(request.state, "institution", None) or "anonymous"
        detail: dict[str, Any] = {"type": exc.slug, "status": exc.status, "rules": [v.rule for v in exc.errors]}
        if "address" in exc.extra:
            detail["address"] = exc.extra["address"]
        await services.store.audit(actor, "gateway.refused", request.url.path, detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:

        errors = [Violation(".".join(str(p) for p in e["loc"]), e["type"], e["msg"]) for e in exc.errors()]
        return Problem(422, "invalid-request", "Invalid request", "; ".join(map(str, errors)), errors).response()

    limiter = RateLimiter()
    bursts = BurstDetector()
    alerted: dict[str, float] = {}

    async def institution(
        request: Request,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Institution:
        credential = x_api_key or bearer(authorization)
        if credential and services.tokens is not None and looks_like_jwt(credential):
            try:
                claims = services.tokens.verify(credential, API_AUDIENCE)
            except TokenRefused as exc:
                raise Problem(
                    401,
                    exc.rule.replace("_", "-"),
                    "Token refused",
                    exc.detail,
                    [Violation("Authorization", exc.rule, exc.detail)],
                ) from None
            found = services.institutions.get(claims["sub"])
            if found is None:
                raise Problem(401, "unauthenticated", "Not authenticated", f"no institution {claims['sub']!r}")
            inst = found
        else:
            try:
                inst = services.institutions.authenticate(credential)
            except NotAuthenticated as exc:
                raise Problem(401, "unauthenticated", "Not authenticated", str(exc)) from None
        await admit(request, inst)
        return inst

    async def admit(request: Request, inst: Institution) -> None:
        """The caller's address is allowed and it is within its rate limit."""
        peer = request.client.host if request.client else ""
        address = client_address(peer, request.headers.get("x-forwarded-for"), services.tuning.gateway.trusted_proxies)
        request.state.institution = inst.id
        certified = peer_institution(request)
        if certified != inst.id and (certified is not None or inst.mtls == "required"):
            detail = (
                f"{inst.id} must call over TLS with its client certificate"
                if certified is None
                else f"the client certificate belongs to {certified}, not to {inst.id}"
            )
            raise Problem(403, "client-certificate", "Client certificate refused", detail)
        if not allowed(address, inst.ip_allowlist):
            detail = f"{inst.id} may not call from {address}"
            errors = [Violation("client_address", "ip_allowlist", detail)]
            raise Problem(403, "ip-not-allowed", "Address not allowed", detail, errors, address=address)
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
                algorithms=inst.signature_algorithms,
            )
        except SignatureRefused as exc:
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
        await alert("warning", "rate_limit", institution=institution_id, address=address)

    async def alert(level: str, kind: str, **fields: Any) -> None:
        await publish_alert(services.js, level, kind, **fields)

    async def check_limits(inst: Institution, env: Envelope) -> None:
        """Amount limits intercept a message (with a critical alert); a burst only raises an alert."""
        if inst.burst_per_minute is not None and bursts.hit(inst.id, inst.burst_per_minute):
            await alert("warning", "burst", institution=inst.id, per_minute=inst.burst_per_minute)
        if not inst.amount_limits:
            return  # most institutions have none: don't walk the payload for amounts
        over = [
            (path, money)
            for path, money in amounts_in(env.payload)
            if money.currency in inst.amount_limits and money.amount > inst.amount_limits[money.currency]
        ]
        if over:
            path, money = over[0]
            limit = inst.amount_limits[money.currency]
            await alert(
                "critical",
                "amount_limit",
                institution=inst.id,
                type=env.type,
                path=path,
                amount=str(money.amount),
                currency=money.currency,
                limit=str(limit),
            )
            raise Problem(
                403,
                "amount-limit",
                "Amount over the institution's limit",
                f"{money.currency} {money.amount} at {path} exceeds {inst.id}'s limit of {money.currency} {limit}",
                [Violation(path, "amount_limit", f"at most {money.currency} {limit} per message")],
            )

    operators = OperatorAuth(services)

    Caller = Annotated[Institution, Depends(institution)]

    @app.post("/v1/token")
    async def token(request: Request, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        """OAuth 2.0 client credentials (RFC 6749 §4.4): the API key is the client secret, sent with
        HTTP Basic or in the form. Answers a short-lived bearer JWT for the other /v1 calls."""
        if services.tokens is None:
            raise Problem(404, "not-found", "Tokens are not enabled", "this hub issues no tokens")
        form = _form(await read_body(request, 8192))
        client_id, secret = _basic(authorization) or (form.get("client_id", ""), form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            raise Problem(
                400,
                "unsupported-grant-type",
                "Unsupported grant type",
                "grant_type must be client_credentials",
                [Violation("grant_type", "client_credentials", "the only grant this hub offers")],
                error="unsupported_grant_type",
            )
        try:
            inst = services.institutions.authenticate(secret)
        except NotAuthenticated:
            inst = None
        if inst is None or not hmac.compare_digest(inst.id, client_id):
            raise Problem(
                401,
                "invalid-client",
                "Client authentication failed",
                "client_id and client_secret do not match a registered institution",
                error="invalid_client",
            )
        await admit(request, inst)
        ttl = services.tuning.security.token_ttl_s
        issued = services.tokens.issue(inst.id, API_AUDIENCE, ttl)
        return JSONResponse(
            {"access_token": issued, "token_type": "Bearer", "expires_in": ttl},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

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
        await check_limits(inst, env)
        message_id, status, new = await accept(services.store, services.js, env, services.seal)
        headers = {} if new else {"Idempotent-Replayed": "true"}
        return JSONResponse(
            {"id": message_id, "status": status, "status_url": f"/v1/messages/{message_id}"},
            status_code=202,
            headers=headers,
        )

    async def reader(
        request: Request,
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Institution | None:
        """The institution reading (it sees its own messages), or None for an operator who may read all."""
        op = None if x_api_key else await operators.principal(bearer(authorization))
        if op is not None and op.can(Permission.MESSAGES_READ):
            return None
        return await institution(request, x_api_key, authorization)

    Reader = Annotated[Institution | None, Depends(reader)]

    @app.get("/v1/messages/{message_id}")
    async def status(message_id: str, caller: Reader) -> dict[str, Any]:
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

    app.include_router(admin_router(services, operators))
    app.include_router(payments_router(services, reader))
    app.include_router(customs_router(services, reader))
    app.include_router(logistics_router(services, reader, operators))
    app.include_router(credit_router(services, reader, operators))
    app.include_router(digital_currency_router(services, operators))
    app.include_router(soap_router(services, admit))

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks() -> JSONResponse:
        """The hub's public keys: request signatures, payload encryption, tokens, checkpoints."""
        keys = services.keys.public_jwks() if services.keys is not None else []
        return JSONResponse({"keys": keys}, headers={"Cache-Control": "max-age=300"})

    @app.get("/", include_in_schema=False)
    async def console() -> Response:
        return Response(
            "<!doctype html><title>Trade hub</title><h1>Trade-finance integration hub</h1>"
            "<p>Running. API docs: <a href='/docs'>/docs</a>; health: <a href='/healthz'>/healthz</a></p>",
            media_type="text/html",
        )

    return app
