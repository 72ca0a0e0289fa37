"""The admin API for operators: RBAC on every call, four eyes where the mode asks for it, and an
audit row with the actor for every change.

Operators authenticate with a session token from POST /admin/login (a JWT for audience hub-admin,
signed by the hub's token key) or, on the hub's own machine, the local admin token in run.json.
Their role is read from the store at each call, so a demotion or a disabled account takes effect
at once. A principal carries `via` so an OIDC provider can be added beside the password login.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canonical.envelope import ID_PATTERN, Envelope
from canonical.errors import RejectedInput, Violation
from canonical.sensitive import sensitive_paths_of_type
from desk.reconcile import AUDIT_ACTION, check_channel, decode_statement, reconcile
from gateway.ingress import read_body
from gateway.problems import Problem
from gateway.services import Services
from routes import gray
from routes.config import Route, validate_routes
from routes.gray import diff
from routes.impact import impact
from routes.live import RouteConflict
from routes.outbox import NOTIFICATION
from security.access import RateLimit, RateLimiter
from security.institutions import Institution
from security.keystore import KeyStoreError, Purpose, Suite
from security.masking import mask_envelope
from security.passwords import WeakPassword
from security.rbac import Forbidden, Permission, Principal, Role, may_decide
from security.tokens import ADMIN_AUDIENCE, TokenRefused, looks_like_jwt
from store.approvals import Approval, NotPending, SameOperator, UnknownApproval
from store.operators import DuplicateOperator, InvalidOperator, LoginFailed

LOCAL_ADMIN = "local-admin"
LOGIN_LIMIT = RateLimit(per_second=0.2, burst=5)  # argon2 costs ~0.3 s of CPU: guessing must stay slow


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class RotateKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str = Field(pattern=ID_PATTERN)
    purpose: Purpose | None = None
    suite: Suite | None = None


class NewOperator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: Role
    password: str = Field(max_length=1024)


class RoutesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int = Field(ge=0, description="the revision read: the write is a compare-and-set on it")
    routes: list[dict[str, Any]]
    dry_run: bool = False
    sample: int = Field(default=1000, ge=1, le=20000, description="recent messages the dry run replays")


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class OperatorAuth:
    """Who an admin call comes from, or None for a credential that is not an operator's."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def principal(self, credential: str | None) -> Principal | None:
        s = self.services
        if not credential:
            return None
        if hmac.compare_digest(credential, s.admin_token):
            return Principal(LOCAL_ADMIN, Role.ADMIN, "local-token")
        if s.tokens is None or s.operators is None or not looks_like_jwt(credential):
            return None
        try:
            claims = s.tokens.verify(credential, ADMIN_AUDIENCE)
        except TokenRefused as exc:
            if exc.rule == "wrong_audience":
                return None  # an institution's token: not an operator
            raise Problem(401, exc.rule.replace("_", "-"), "Session refused", exc.detail) from None
        found = await s.operators.get(claims["sub"])
        if found is None or found.disabled:
            raise Problem(401, "unauthenticated", "Not authenticated", f"operator {claims['sub']!r} is not active")
        return Principal(found.name, found.role, claims.get("via", "password"))


def operator_session(auth: OperatorAuth) -> Callable[..., Awaitable[Principal]]:
    """The dependency giving the operator behind a request's bearer session (401 without one)."""

    async def principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
        found = await auth.principal(bearer(authorization))
        if found is None:
            raise Problem(
                401,
                "unauthenticated",
                "Not authenticated",
                "the admin API needs an operator session (POST /admin/login)",
            )
        return found

    return principal


def operator_check(auth: OperatorAuth) -> Callable[[Permission], Any]:
    """`requires(permission)`: the admin API's RBAC dependency (403 naming the permission), for every router."""
    principal = operator_session(auth)

    def requires(permission: Permission) -> Any:
        async def check(p: Principal = Depends(principal)) -> Principal:
            try:
                p.require(permission)
            except Forbidden as exc:
                raise Problem(403, "forbidden", "Not permitted", str(exc), required=permission.value) from None
            return p

        return Depends(check)

    return requires


def admin_router(services: Services, auth: OperatorAuth) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])
    logins = RateLimiter()
    s = services

    principal = operator_session(auth)
    requires = operator_check(auth)

    def needs_approval(action: Permission, params: dict[str, Any]) -> bool:
        if not s.tuning.security.needs_approval:
            return False
        if action == Permission.DLQ_REPLAY:
            return str(params.get("type", "")).startswith("payment.")  # four eyes on money only
        return True

    async def propose(action: Permission, params: dict[str, Any], p: Principal) -> JSONResponse:
        assert s.approvals is not None
        approval = await s.approvals.propose(action, params, p.name)
        return JSONResponse({"status": "proposed", "approval": _approval(approval)}, status_code=202)

    # -- what a proposal does once approved (or at once without four eyes) ----------------------

    async def rotate_keys(params: dict[str, Any], actor: str) -> Any:
        assert s.keys is not None
        body = RotateKeys.model_validate(params)
        institution = s.institutions.get(body.owner)
        if body.owner != "hub" and institution is None:
            raise Problem(404, "not-found", "No such owner", f"owner is hub or an institution id, not {body.owner!r}")
        if body.owner != "hub" and institution is not None and not institution.sandbox:
            raise Problem(
                409,
                "keys-not-rotated",
                "The hub holds no keys of this owner",
                f"{body.owner} keeps its own private keys: register its new public key with "
                f"PUT /admin/institutions/{body.owner} (jwks); the old one stays until you remove it",
            )
        try:
            rotated = await asyncio.to_thread(s.keys.rotate, body.owner, body.purpose, body.suite)
        except KeyStoreError as exc:
            raise Problem(409, "keys-not-rotated", "Cannot rotate", str(exc)) from None
        s.on_keys_rotated()
        await s.store.audit(actor, "keys.rotated", body.owner, {"kids": [r.kid for r in rotated]})
        return [r.model_dump(mode="json") for r in rotated]

    async def replay(params: dict[str, Any], actor: str) -> Any:
        try:
            await s.pipeline.replay(str(params["id"]), actor)
        except LookupError as exc:
            raise Problem(409, "not-dead-lettered", "Cannot replay", str(exc)) from None
        return {"id": params["id"], "replayed": True}

    async def change_routes(params: dict[str, Any], actor: str) -> Any:
        assert s.routes is not None
        routes = validated_routes(params["routes"])
        before = s.routes.routes
        try:
            revision = await s.routes.set(routes, int(params["revision"]))
        except RouteConflict as exc:
            raise Problem(
                409, "revision-conflict", "The routes changed meanwhile", str(exc), current=exc.current
            ) from None
        await s.store.audit(
            actor, "routes.changed", str(revision), {"diff": diff(before, routes), **params.get("why", {})}
        )
        return {"revision": revision, "routes": [r.model_dump(mode="json") for r in routes]}

    def validated_routes(routes: Any) -> list[Route]:
        try:
            return validate_routes(routes, s.pipeline.routing.adapters)
        except RejectedInput as exc:
            raise Problem(422, "invalid-routes", "Invalid routes", str(exc), exc.violations) from None

    async def propose_routes(routes: list[Route], revision: int, p: Principal, why: dict[str, Any]) -> Any:
        params = {"revision": revision, "routes": [r.model_dump(mode="json", exclude_defaults=True) for r in routes]}
        if why:
            params["why"] = why
        if needs_approval(Permission.ROUTES_CHANGE, params):
            return await propose(Permission.ROUTES_CHANGE, params, p)
        return await change_routes(params, p.name)

    executors: dict[Permission, Callable[[dict[str, Any], str], Awaitable[Any]]] = {
        Permission.KEYS_ROTATE: rotate_keys,
        Permission.DLQ_REPLAY: replay,
        Permission.ROUTES_CHANGE: change_routes,
    }

    # -- sessions and operators ------------------------------------------------------------------

    @router.post("/login")
    async def login(body: Login, request: Request) -> JSONResponse:
        assert s.operators is not None and s.tokens is not None
        peer = request.client.host if request.client else ""
        ok, wait_s = logins.take(f"{body.name}\x1f{peer}", LOGIN_LIMIT)
        if not ok:
            raise Problem(
                429, "rate-limited", "Too many logins", "wait before trying again", retry_after=int(wait_s) + 1
            )
        try:
            p = await s.operators.verify_login(body.name, body.password)
        except LoginFailed as exc:
            await s.store.audit(body.name, "users.login_failed", "/admin/login", {"address": peer})
            raise Problem(401, "login-failed", "Login failed", str(exc)) from None
        ttl = s.tuning.security.session_ttl_s
        token = s.tokens.issue(p.name, ADMIN_AUDIENCE, ttl, {"role": p.role.value, "via": p.via})
        await s.store.audit(p.name, "users.login", "/admin/login", {"address": peer})
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "role": p.role.value},
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/whoami")
    async def whoami(p: Principal = Depends(principal)) -> dict[str, Any]:
        return {"name": p.name, "role": p.role.value, "via": p.via}

    @router.get("/users")
    async def users(_p: Principal = requires(Permission.USERS_MANAGE)) -> list[dict[str, Any]]:
        assert s.operators is not None
        return [asdict(o) for o in await s.operators.list()]

    @router.post("/users", status_code=201)
    async def add_user(body: NewOperator, p: Principal = requires(Permission.USERS_MANAGE)) -> dict[str, Any]:
        assert s.operators is not None
        try:
            added = await s.operators.add(body.name, body.role, body.password, by=p.name)
        except (InvalidOperator, WeakPassword) as exc:
            raise Problem(422, "invalid-operator", "Invalid operator", str(exc)) from None
        except DuplicateOperator as exc:
            raise Problem(409, "duplicate-operator", "Operator exists", str(exc)) from None
        return asdict(added)

    # -- adapters, dead letters, audit -------------------------------------------------------------

    @router.get("/adapters")
    async def adapters(_p: Principal = requires(Permission.ADAPTERS_READ)) -> list[dict[str, Any]]:
        return await s.adapters()

    @router.post("/adapters/{name}/{action}")
    async def pause(name: str, action: str, p: Principal = requires(Permission.ADAPTERS_PAUSE)) -> dict[str, Any]:
        if action not in ("pause", "resume"):
            raise Problem(404, "not-found", "No such action", "use pause or resume")
        known = {a["name"] for a in await s.adapters()}
        if name not in known:
            raise Problem(404, "not-found", "No such adapter", f"known adapters: {', '.join(sorted(known))}")
        await s.set_paused(name, action == "pause", p.name)
        return {"name": name, "paused": action == "pause"}

    @router.get("/dlq")
    async def dlq(_p: Principal = requires(Permission.DLQ_READ)) -> list[dict[str, Any]]:
        return [v.as_json() for v in await s.store.by_status("dead_lettered")]

    @router.post("/dlq/{message_id}/replay")
    async def replay_one(message_id: str, p: Principal = requires(Permission.DLQ_REPLAY)) -> Any:
        view = await s.store.message(message_id)
        params = {"id": message_id, "type": view.type if view else ""}
        if needs_approval(Permission.DLQ_REPLAY, params):
            return await propose(Permission.DLQ_REPLAY, params, p)
        return await replay(params, p.name)

    @router.get("/audit")
    async def audit(_p: Principal = requires(Permission.AUDIT_READ)) -> list[dict[str, Any]]:
        return await s.store.audit_log()

    @router.get("/messages/{message_id}")
    async def message(
        message_id: str,
        p: Principal = requires(Permission.MESSAGES_READ),
        reveal: bool = False,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> JSONResponse:
        """The stored envelope, masked; `reveal=true` (auditor, admin; with a reason, audited first)
        shows the fields declared sensitive in clear."""
        view = await s.store.message(message_id)
        if view is None:
            raise Problem(404, "not-found", "No such message", f"no message {message_id}")
        envelope = json.loads(view.envelope)
        if reveal:
            if not p.can(Permission.SENSITIVE_REVEAL):
                raise Problem(403, "forbidden", "Not permitted", str(Forbidden(p, Permission.SENSITIVE_REVEAL)))
            if not reason:
                raise Problem(
                    422,
                    "reason-required",
                    "A reason is required",
                    "say why with ?reason=",
                    [Violation("reason", "required", "revealing sensitive fields is audited with a reason")],
                )
            fields = sorted(sensitive_paths_of_type(view.type))
            await s.store.audit(p.name, "sensitive.reveal", message_id, {"reason": reason, "fields": fields})
        else:
            envelope = mask_envelope(envelope)
        return JSONResponse(
            {**view.as_json(), "envelope": envelope, "revealed": reveal}, headers={"Cache-Control": "no-store"}
        )

    @router.post("/journal/checkpoint")
    async def checkpoint(p: Principal = requires(Permission.CONFIG_CHANGE)) -> dict[str, Any]:
        """Sign a checkpoint of every chain head now (the leader also does so periodically)."""
        assert s.checkpoint is not None
        done = await s.checkpoint()
        await s.store.audit(p.name, "journal.checkpoint", str(done.n), {"kid": done.kid})
        return {"number": done.n, "kid": done.kid, "at": done.at.isoformat(), "chains": [asdict(h) for h in done.heads]}

    # -- the payment desk -------------------------------------------------------------------------

    @router.post("/reconciliation")
    async def reconciliation(
        request: Request, p: Principal = requires(Permission.MESSAGES_READ), channel: str | None = None
    ) -> dict[str, Any]:
        """Reconcile a raw statement (camt.053 / camt.052 / camt.054 XML, MT940 / MT950) against the
        journal, through `channel` if given; the report is recorded in the audit log and returned."""
        body = await read_body(request, s.tuning.gateway.max_body_bytes)
        try:
            statement = decode_statement(body, request.headers.get("content-type", ""))
            check_channel(channel)
        except RejectedInput as exc:
            raise Problem(400, "invalid-statement", exc.title, str(exc), exc.violations) from None
        return (await reconcile(s.store, statement, channel, actor=p.name)).as_json()

    @router.get("/reconciliation")
    async def reconciliations(
        _p: Principal = requires(Permission.MESSAGES_READ), limit: Annotated[int, Query(ge=1, le=500)] = 20
    ) -> list[dict[str, Any]]:
        """The most recent reconciliation reports, newest first."""
        return [
            {"seq": r["seq"], "at": r["at"], "actor": r["actor"], "statement_id": r["target"], "report": r["detail"]}
            for r in await s.store.audit_log(limit, action=AUDIT_ACTION)
        ]

    # -- keys and institutions --------------------------------------------------------------------

    @router.get("/keys")
    async def keys(_p: Principal = requires(Permission.AUDIT_READ)) -> list[dict[str, Any]]:
        assert s.keys is not None
        s.keys.reload()
        return [r.model_dump(mode="json") for r in s.keys.records()]

    @router.post("/keys/rotate")
    async def rotate(body: RotateKeys, p: Principal = requires(Permission.KEYS_ROTATE)) -> Any:
        params = body.model_dump(mode="json")
        if needs_approval(Permission.KEYS_ROTATE, params):
            return await propose(Permission.KEYS_ROTATE, params, p)
        return await rotate_keys(params, p.name)

    @router.get("/institutions")
    async def institutions(_p: Principal = requires(Permission.INSTITUTIONS_MANAGE)) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json", exclude_defaults=True) for i in s.institutions.all()]

    @router.put("/institutions/{institution_id}")
    async def put_institution(
        institution_id: str, request: Request, p: Principal = requires(Permission.INSTITUTIONS_MANAGE)
    ) -> dict[str, Any]:
        """Register or replace an institution in the live config; every hub instance applies it."""
        assert s.directory is not None
        try:
            inst = Institution.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = [Violation(".".join(map(str, e["loc"])), e["type"], e["msg"]) for e in exc.errors()]
            raise Problem(
                422, "invalid-institution", "Invalid institution", "; ".join(map(str, errors)), errors
            ) from None
        if inst.id != institution_id:
            raise Problem(422, "invalid-institution", "Invalid institution", "the body's id differs from the path")
        revision = await s.directory.put(inst)
        await s.store.audit(p.name, "institutions.put", inst.id, {"revision": revision})
        return {"id": inst.id, "revision": revision}

    # -- routes: live configuration and gray release -------------------------------------------------

    @router.get("/routes")
    async def routes(_p: Principal = requires(Permission.ROUTES_READ)) -> dict[str, Any]:
        assert s.routes is not None
        return {
            "revision": s.routes.latest,
            "in_force": s.routes.revision,
            "routes": [r.model_dump(mode="json") for r in s.routes.routes],
        }

    @router.put("/routes")
    async def set_routes(body: RoutesChange, p: Principal = requires(Permission.ROUTES_CHANGE)) -> Any:
        """Replace the routes (compare-and-set on `revision`); `dry_run` only reports the impact on
        the recent messages: how many would move where."""
        assert s.routes is not None
        proposed = validated_routes(body.routes)
        if body.dry_run:
            views = await s.store.recent(body.sample, exclude_type=NOTIFICATION)
            old, new = (
                s.pipeline.routing.model_copy(update={"routes": s.routes.routes}),
                s.pipeline.routing.model_copy(update={"routes": proposed}),
            )
            report = impact(old, new, [Envelope.from_bytes(v.envelope) for v in views])
            return {"dry_run": True, "revision": s.routes.latest, "impact": report.as_json()}
        return await propose_routes(proposed, body.revision, p, {})

    @router.post("/routes/{name}/promote")
    async def promote_route(name: str, body: Promotion, p: Principal = requires(Permission.ROUTES_CHANGE)) -> Any:
        assert s.routes is not None
        try:
            changed = gray.promote(s.routes.routes, name, body.version)
        except (gray.UnknownRoute, ValidationError) as exc:
            raise Problem(
                404 if isinstance(exc, LookupError) else 422, "invalid-routes", "Cannot promote", str(exc)
            ) from None
        return await propose_routes(changed, s.routes.latest, p, {"promoted": body.version})

    @router.post("/routes/{name}/rollback")
    async def rollback_route(name: str, p: Principal = requires(Permission.ROUTES_CHANGE)) -> Any:
        assert s.routes is not None
        try:
            changed = gray.rollback(s.routes.routes, name)
        except gray.UnknownRoute as exc:
            raise Problem(404, "not-found", "No such route", str(exc)) from None
        return await propose_routes(changed, s.routes.latest, p, {"rolled_back": True})

    @router.get("/routes/history")
    async def routes_history(_p: Principal = requires(Permission.ROUTES_READ)) -> list[dict[str, Any]]:
        return [a for a in await s.store.audit_log(2000) if a["action"] in ("routes.changed", "routes.rolled_back")]

    # -- four eyes --------------------------------------------------------------------------------

    @router.get("/approvals")
    async def approvals(_p: Principal = requires(Permission.APPROVALS_READ)) -> list[dict[str, Any]]:
        assert s.approvals is not None
        return [_approval(a) for a in await s.approvals.pending()]

    @router.post("/approvals/{approval_id}/{decision}")
    async def decide(
        approval_id: str,
        decision: str,
        p: Principal = requires(Permission.APPROVALS_DECIDE),
        body: Decision | None = None,
    ) -> dict[str, Any]:
        assert s.approvals is not None
        if decision not in ("approve", "refuse"):
            raise Problem(404, "not-found", "No such decision", "use approve or refuse")
        pending = await s.approvals.get(approval_id)
        if pending is None:
            raise Problem(404, "not-found", "No such approval", f"no approval {approval_id}")
        if not may_decide(p.role, pending.action):
            raise Problem(403, "forbidden", "Not permitted", f"{p.name} may not decide on {pending.action.value}")
        try:
            decided = await s.approvals.decide(
                approval_id, p.name, decision == "approve", body.reason if body else None
            )
        except SameOperator as exc:
            raise Problem(409, "same-operator", "A second operator must decide", str(exc)) from None
        except NotPending as exc:
            raise Problem(409, "not-pending", "Already decided or expired", str(exc)) from None
        except UnknownApproval as exc:
            raise Problem(404, "not-found", "No such approval", str(exc)) from None
        result = None
        if decided.status == "approved" and decided.action in executors:
            result = await executors[decided.action](decided.params, decided.proposed_by)
            await s.store.audit(p.name, "approval.executed", decided.id, {"action": decided.action.value})
        return {"approval": _approval(decided), "result": result}

    return router


def _approval(a: Approval) -> dict[str, Any]:
    return jsonable_encoder({**asdict(a), "action": a.action.value})  # type: ignore[no-any-return]
