"""Credit reports on the HTTP API (docs/credit.md).

`POST /v1/credit/reports`: an institution asks a bureau for a report (its tenant is itself); the
answer carries the report in clear to the institution that asked. `POST /admin/credit/reports`: an
operator asks for a tenant (`hub credit report`); the report is masked unless `reveal` is asked for by
an operator who may reveal sensitive fields. `POST /admin/credit/consents` records a person's consent,
`DELETE /admin/credit/consents/{id}` revokes it, `GET /admin/credit/usage/{tenant}` shows the month.
"""

# Annotations stay evaluated (no `from __future__ import annotations`): FastAPI resolves `Depends`.
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from canonical.credit import CreditReportRequest, EntityKind, ReportKind
from canonical.envelope import ID_PATTERN, violations_of
from desk.credit import CreditDesk, CreditRefused
from gateway.admin import OperatorAuth, operator_check
from gateway.problems import Problem
from gateway.services import Services
from security.institutions import Institution
from security.rbac import Permission, Principal


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bureau: str = Field(min_length=1, max_length=40)
    entity_id: str = Field(min_length=1, max_length=64)
    entity_kind: EntityKind = EntityKind.ENTERPRISE
    entity_name: str | None = Field(default=None, max_length=200)
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    report_kind: ReportKind = ReportKind.CREDIT_REPORT
    consent_id: str | None = Field(default=None, max_length=100)
    purpose: str | None = Field(default=None, max_length=500)


class AdminReportQuery(ReportQuery):
    tenant: str = Field(default="operations", pattern=ID_PATTERN)
    reveal: bool = False


class ConsentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(pattern=ID_PATTERN)
    subject_id: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=500)
    valid_days: float = Field(default=365, gt=0, le=3 * 366)
    evidence: str | None = Field(default=None, max_length=200)


def credit_router(
    services: Services, reader: Callable[..., Awaitable[Institution | None]], auth: OperatorAuth
) -> APIRouter:
    router = APIRouter(tags=["credit"])
    Reader = Annotated[Institution | None, Depends(reader)]
    requires = operator_check(auth)

    def desk() -> CreditDesk:
        found = services.extra.get("credit")
        if not isinstance(found, CreditDesk):
            raise Problem(503, "unavailable", "Credit unavailable", "the hub runs without credit bureaus")
        return found

    async def ask(tenant: str, query: ReportQuery, actor: str, reveal: bool) -> dict[str, Any]:
        fields = query.model_dump(exclude={"bureau", "tenant", "reveal"})
        try:
            request = CreditReportRequest.model_validate(fields)
        except PydanticValidationError as exc:
            errors = violations_of(exc)
            rule = next((v.rule for v in errors), "invalid")
            status = 403 if rule == "consent_required" else 422
            detail = "; ".join(map(str, errors))
            raise Problem(status, rule.replace("_", "-"), "Credit query refused", detail, errors) from None
        try:
            answer = await desk().report(tenant, query.bureau, request, actor)
        except CreditRefused as exc:
            extra: dict[str, Any] = {"rule": exc.rule}
            if exc.retry_after_s:
                extra["retry_after"] = str(max(1, round(exc.retry_after_s)))
            slug = exc.rule.replace("_", "-")
            raise Problem(exc.status, slug, "Credit query refused", exc.detail, None, **extra) from None
        return answer.as_json(reveal)

    @router.post("/v1/credit/reports")
    async def report(query: ReportQuery, caller: Reader) -> dict[str, Any]:
        if caller is None:
            raise Problem(403, "forbidden", "Institutions only", "operators use POST /admin/credit/reports")
        return await ask(caller.id, query, caller.id, reveal=True)

    @router.post("/admin/credit/reports")
    async def admin_report(query: AdminReportQuery, p: Principal = requires(Permission.MESSAGES_READ)) -> Any:
        if query.reveal and not p.can(Permission.SENSITIVE_REVEAL):
            raise Problem(403, "forbidden", "Not permitted", "revealing the report needs sensitive.reveal")
        return await ask(query.tenant, query, p.name, reveal=query.reveal)

    @router.post("/admin/credit/consents")
    async def consent(body: ConsentRecord, p: Principal = requires(Permission.CONFIG_CHANGE)) -> dict[str, Any]:
        try:
            found = await desk().record_consent(
                body.tenant, body.subject_id, body.purpose, timedelta(days=body.valid_days), body.evidence, p.name
            )
        except CreditRefused as exc:
            raise Problem(exc.status, exc.rule.replace("_", "-"), "Consent refused", exc.detail) from None
        return found.as_json()

    @router.delete("/admin/credit/consents/{consent_id}")
    async def revoke(consent_id: str, p: Principal = requires(Permission.CONFIG_CHANGE)) -> dict[str, Any]:
        if not await desk().revoke_consent(consent_id, p.name):
            raise Problem(404, "not-found", "No such consent", f"no active consent {consent_id}")
        return {"consent_id": consent_id, "revoked": True}

    @router.get("/admin/credit/usage/{tenant}")
    async def usage(tenant: str, _p: Principal = requires(Permission.MESSAGES_READ)) -> dict[str, Any]:
        return (await desk().usage(tenant)).as_json()

    return router
