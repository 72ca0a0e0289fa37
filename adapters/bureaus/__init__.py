"""Credit bureaus: one query, one synchronous report, normalized to `CreditReport` (docs/credit.md).

Two kinds with different schemas: `bureau-a` (a domestic enterprise credit service,
canonical.bureaus.bureau_a) and `bureau-b` (an international business-information bureau,
canonical.bureaus.bureau_b). Queries go through the credit desk (desk/credit.py: consent, quota,
cache, breaker), never through the delivery pipeline: `render` refuses, so a `credit.report_request`
published on the bus ends with a clear reason instead of an unaccounted query.

What a caller may rely on (`query`):
- a connection that failed before the request went out raises `TransientError` (safe to retry);
- a read timeout raises `InDoubtError`: the bureau may have answered and charged, so it is not retried;
- 429 / 5xx raise `TransientError`; the bureau's refusal (unknown subject, enterprises only) raises
  `RejectedByPartner`; an unreadable answer raises `PermanentError`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import Field

from adapters.base import Outbound, PermanentError, Receipt, RejectedByPartner, adapter_kind
from adapters.partner import HttpPartner, PartnerSettings
from canonical.bureaus import bureau_a, bureau_b
from canonical.credit import CreditReport, CreditReportRequest, EntityKind, ReportKind
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation

B_KINDS = {
    ReportKind.BASIC_INFO: "basic",
    ReportKind.CREDIT_REPORT: "credit",
    ReportKind.COURT_SANCTION_ALERTS: "alerts",
}


class BureauSettings(PartnerSettings):
    client_id: str = Field(default="tradehub", min_length=1, max_length=64)


class BureauAdapter(HttpPartner):
    category: ClassVar[str] = "credit"
    settings_model: ClassVar[type[PartnerSettings]] = BureauSettings
    settings: BureauSettings

    def query_call(self, request: CreditReportRequest) -> tuple[str, str, bytes | None]:
        """(method, path, body) of a report query."""
        raise NotImplementedError

    def parse_report(self, raw: bytes) -> CreditReport:
        raise NotImplementedError

    async def query(self, request: CreditReportRequest) -> tuple[CreditReport, int | None]:
        """The bureau's report about the request's subject, and the cost it reported (X-Query-Cost)."""
        method, path, body = self.query_call(request)
        headers = {"x-client-id": self.settings.client_id, "accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        response = await self.call(method, self.endpoint(path), body, headers, in_doubt=True)
        if response.status_code not in (200, 404):
            self.raise_refusal(response)
            raise PermanentError(f"{self.ctx.name} answered {response.status_code}", status=response.status_code)
        try:
            report = self.parse_report(response.content)
        except RejectedInput as exc:
            if any(v.rule == "bureau_error" for v in exc.violations):
                detail = "; ".join(v.detail for v in exc.violations)
                raise RejectedByPartner(f"{self.ctx.name} refused: {detail}", status=response.status_code) from None
            raise PermanentError(f"{self.ctx.name} answered an unreadable report: {exc}") from None
        if request.entity_kind is EntityKind.PERSON:  # the schemas describe companies; the subject is a person
            entity = report.entity.model_dump() | {"kind": EntityKind.PERSON}
            report = CreditReport.model_validate(report.model_dump() | {"entity": entity})
        return report, _cost(response)

    # -- the pipeline does not carry credit queries ---------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        raise PermanentError(
            f"{self.ctx.name}: credit queries go through POST /v1/credit/reports (consent, quota and cache apply)"
        )

    async def send(self, outbound: Outbound) -> Receipt:
        raise PermanentError(f"{self.ctx.name} is queried through the credit desk only")

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        violation = Violation("$", "no_async_answers", f"{self.ctx.name} answers queries synchronously")
        raise RejectedInput(f"{self.ctx.name} sends no callbacks", [violation])


def _cost(response: httpx.Response) -> int | None:
    value = response.headers.get("x-query-cost", "")
    return int(value) if value.isdigit() else None


@adapter_kind("bureau-a")
class BureauAAdapter(BureauAdapter):
    def query_call(self, request: CreditReportRequest) -> tuple[str, str, bytes | None]:
        body: dict[str, Any] = {"creditCode": request.entity_id, "reportType": request.report_kind.value}
        return "POST", "/api/v1/enterprise/report", json.dumps(body).encode()

    def parse_report(self, raw: bytes) -> CreditReport:
        return bureau_a.parse_report(raw)


@adapter_kind("bureau-b")
class BureauBAdapter(BureauAdapter):
    def query_call(self, request: CreditReportRequest) -> tuple[str, str, bytes | None]:
        folder = "persons" if request.entity_kind is EntityKind.PERSON else "companies"
        subject = quote(request.entity_id, safe="")
        return "GET", f"/v2/{folder}/{subject}/reports/{B_KINDS[request.report_kind]}?country={request.country}", None

    def parse_report(self, raw: bytes) -> CreditReport:
        return bureau_b.parse_report(raw)


__all__ = ["BureauAAdapter", "BureauAdapter", "BureauBAdapter", "BureauSettings"]
