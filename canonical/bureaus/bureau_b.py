"""Bureau B: an international business-information bureau, normalized to `CreditReport`.

Schema: `{"reportId", "generatedAt": ISO 8601 with offset, "validUntil", "company": {"name", "regNo",
"country"}, "rating": {"grade": "BB", "pd": 0.031, "outlook"}, "riskFactors": [{"code", "severity":
"LOW" | "MEDIUM" | "HIGH", "text", "observedOn"}], "alerts": [{"type": "SANCTION" | "COURT" |
"ENFORCEMENT", "list": "OFAC SDN", "reference", "since": "2024-01-01", "status": "ACTIVE" | "LIFTED"}]}`.
The letter grade is the score (by notch, see `canonical.bureaus.scale`); the one-year probability of
default is kept beside it. An `error` object instead of a report is the bureau's refusal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from canonical.bureaus.scale import LETTER_GRADES, grade_score
from canonical.credit import AlertKind, CreditReport, Severity
from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import AwareTimestamp, IsoDate, WireModel, load_json, validate_wire

BUREAU = "bureau-b"
TITLE = "invalid bureau B credit report"
DEFAULT_VALIDITY = timedelta(days=30)

RISK_CODES: dict[str, str] = {
    "LATE_PAYMENTS": "late_payments",
    "NEGATIVE_EQUITY": "negative_equity",
    "INSOLVENCY_FILING": "insolvency_filing",
    "TAX_LIEN": "tax_arrears",
    "ADVERSE_MEDIA": "adverse_media",
}
ALERT_KINDS: dict[str, AlertKind] = {
    "SANCTION": AlertKind.SANCTION_LIST,
    "COURT": AlertKind.COURT_CASE,
    "ENFORCEMENT": AlertKind.ENFORCEMENT,
}
ALERT_STATUS: dict[str, Literal["open", "closed"]] = {"ACTIVE": "open", "LIFTED": "closed", "CLOSED": "closed"}


def _known_grade(value: str) -> str:
    if value not in LETTER_GRADES:
        raise PydanticCustomError("grade_unknown", "'{value}' is not a grade AAA..D", {"value": value})
    return value


class Company(WireModel):
    name: str = Field(min_length=1, max_length=200)
    reg_no: str = Field(alias="regNo", min_length=1, max_length=64)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class Rating(WireModel):
    grade: Annotated[str, AfterValidator(_known_grade)]
    pd: float | None = Field(default=None, ge=0, le=1)
    outlook: str | None = Field(default=None, max_length=16)


class RiskFactor(WireModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9_]+$")
    severity: Literal["LOW", "MEDIUM", "HIGH"]
    text: str = Field(min_length=1, max_length=500)
    observed_on: IsoDate | None = Field(default=None, alias="observedOn")


class AlertEntry(WireModel):
    type: Literal["SANCTION", "COURT", "ENFORCEMENT"]
    list: str | None = Field(default=None, max_length=100)
    reference: str | None = Field(default=None, max_length=100)
    since: IsoDate | None = None
    status: Literal["ACTIVE", "LIFTED", "CLOSED"] | None = None


class Report(WireModel):
    report_id: str = Field(alias="reportId", min_length=1, max_length=100)
    generated_at: AwareTimestamp = Field(alias="generatedAt")
    valid_until: AwareTimestamp | None = Field(default=None, alias="validUntil")
    company: Company
    rating: Rating | None = None
    risk_factors: list[RiskFactor] = Field(default_factory=list, alias="riskFactors", max_length=1000)
    alerts: list[AlertEntry] = Field(default_factory=list, max_length=1000)


class BureauError(WireModel):
    code: str = Field(max_length=64)
    message: str | None = Field(default=None, max_length=500)


def parse_report(raw: bytes) -> CreditReport:
    """Normalize a bureau B report; raise RejectedInput naming the JSON path and rule."""
    data = load_json(raw, TITLE)
    if isinstance(data, dict) and "error" in data:
        error = validate_wire(BureauError, data["error"], TITLE, ("error",))
        detail = f"{error.code}: {error.message or ''}"
        raise RejectedInput("bureau B refused the query", [Violation("$.error.code", "bureau_error", detail)])
    report = validate_wire(Report, data, TITLE)
    rating = report.rating
    fields = {
        "bureau": BUREAU,
        "report_id": report.report_id,
        "entity": {
            "kind": "enterprise",
            "name": report.company.name,
            "registration_id": report.company.reg_no,
            "country": report.company.country,
        },
        "score": grade_score(rating.grade, probability_of_default=rating.pd) if rating else None,
        "risk_items": [
            {
                "kind": RISK_CODES.get(risk.code, "other"),
                "severity": Severity(risk.severity.lower()),
                "description": risk.text if risk.code in RISK_CODES else f"{risk.code}: {risk.text}",
                "date": risk.observed_on,
                "source": BUREAU,
            }
            for risk in report.risk_factors
        ],
        "alerts": [
            {
                "kind": ALERT_KINDS[alert.type],
                "reference": alert.reference or f"{alert.list or alert.type}:{report.company.reg_no}",
                "date": alert.since,
                "status": ALERT_STATUS.get(alert.status or "", "unknown"),
                "source": alert.list,
            }
            for alert in report.alerts
        ],
        "retrieved_at": report.generated_at,
        "valid_until": report.valid_until or report.generated_at + DEFAULT_VALIDITY,
    }
    return validate_wire(CreditReport, fields, TITLE)
