"""Bureau A: a domestic (Chinese) enterprise credit service, normalized to `CreditReport`.

Schema (the common shape of domestic enterprise credit APIs):
`{"code": 0, "msg": "success", "data": {"reportNo", "entName", "creditCode", "reportTime":
"2026-11-20 10:00:00", "validDays": 30, "score": {"value": 720, "min": 0, "max": 900}, "level": "AA",
"riskList": [{"riskType": "行政处罚", "riskLevel": "高", "content", "date": "2025-03-01", "source"}],
"lawsuits": [{"caseNo", "caseType": "民事" | "执行" ..., "filingDate", "status": "审理中" | "已结案", "court"}]}}`.
A non-zero `code` is the bureau's refusal. `reportTime` is China Standard Time (UTC+8).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from canonical.bureaus.scale import linear_score
from canonical.credit import AlertKind, CreditReport, Severity, UnifiedSocialCreditCode
from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import IsoDate, WireModel, china_time, json_path, load_json, validate_wire

BUREAU = "bureau-a"
TITLE = "invalid bureau A credit report"

RISK_KINDS: dict[str, str] = {
    "行政处罚": "administrative_penalty",
    "经营异常": "abnormal_operation",
    "严重违法": "serious_violation",
    "欠税": "tax_arrears",
    "股权出质": "equity_pledge",
    "动产抵押": "chattel_mortgage",
    "清算信息": "liquidation",
}
SEVERITIES: dict[str, Severity] = {
    "高": Severity.HIGH,
    "HIGH": Severity.HIGH,
    "中": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "低": Severity.LOW,
    "LOW": Severity.LOW,
}
CASE_KINDS: dict[str, AlertKind] = {
    "民事": AlertKind.COURT_CASE,
    "刑事": AlertKind.COURT_CASE,
    "行政": AlertKind.COURT_CASE,
    "执行": AlertKind.ENFORCEMENT,
    "失信被执行": AlertKind.ENFORCEMENT,
    "限制高消费": AlertKind.ENFORCEMENT,
}
CASE_STATUS: dict[str, str] = {"审理中": "open", "执行中": "open", "已结案": "closed", "终本": "closed"}


ChinaTime = Annotated[datetime, BeforeValidator(china_time)]


class Score(WireModel):
    value: float
    min: float = 0
    max: float


class Risk(WireModel):
    risk_type: str = Field(alias="riskType", min_length=1, max_length=32)
    risk_level: str = Field(alias="riskLevel", min_length=1, max_length=8)
    content: str = Field(min_length=1, max_length=500)
    date: IsoDate | None = None
    source: str | None = Field(default=None, max_length=200)


class Lawsuit(WireModel):
    case_no: str = Field(alias="caseNo", min_length=1, max_length=100)
    case_type: str = Field(alias="caseType", min_length=1, max_length=16)
    filing_date: IsoDate | None = Field(default=None, alias="filingDate")
    status: str | None = Field(default=None, max_length=16)
    court: str | None = Field(default=None, max_length=200)


class ReportData(WireModel):
    report_no: str | None = Field(default=None, alias="reportNo", max_length=100)
    ent_name: str = Field(alias="entName", min_length=1, max_length=200)
    credit_code: UnifiedSocialCreditCode = Field(alias="creditCode")
    report_time: ChinaTime = Field(alias="reportTime")
    valid_days: int = Field(default=30, alias="validDays", ge=1, le=366)
    score: Score | None = None
    level: str | None = Field(default=None, max_length=16)
    risk_list: list[Risk] = Field(default_factory=list, alias="riskList", max_length=1000)
    lawsuits: list[Lawsuit] = Field(default_factory=list, max_length=1000)


class Answer(WireModel):
    code: int
    msg: str | None = Field(default=None, max_length=500)
    data: Any = None


def _refuse(loc: tuple[int | str, ...], rule: str, detail: str) -> RejectedInput:
    return RejectedInput(TITLE, [Violation(json_path(loc), rule, detail)])


def parse_report(raw: bytes) -> CreditReport:
    """Normalize a bureau A answer; raise RejectedInput naming the JSON path and rule."""
    answer = validate_wire(Answer, load_json(raw, TITLE), TITLE)
    if answer.code != 0:
        raise RejectedInput(
            "bureau A refused the query", [Violation("$.code", "bureau_error", f"{answer.code}: {answer.msg or ''}")]
        )
    data = validate_wire(ReportData, answer.data, TITLE, ("data",))
    score = None
    if data.score is not None:
        s = data.score
        if not s.min < s.max:
            raise _refuse(("data", "score", "max"), "scale_empty", f"min {s.min} is not below max {s.max}")
        if not s.min <= s.value <= s.max:
            raise _refuse(("data", "score", "value"), "score_out_of_scale", f"{s.value} not in [{s.min}, {s.max}]")
        score = linear_score(s.value, s.min, s.max, rating=data.level)
    for i, risk in enumerate(data.risk_list):
        if risk.risk_level not in SEVERITIES:
            raise _refuse(("data", "riskList", i, "riskLevel"), "enum", f"{risk.risk_level!r} is not 高/中/低")
    fields = {
        "bureau": BUREAU,
        "report_id": data.report_no,
        "entity": {"kind": "enterprise", "name": data.ent_name, "registration_id": data.credit_code, "country": "CN"},
        "score": score,
        "risk_items": [
            {
                "kind": RISK_KINDS.get(risk.risk_type, "other"),
                "severity": SEVERITIES[risk.risk_level],
                # An unmapped risk type keeps the bureau's own label in the text.
                "description": risk.content if risk.risk_type in RISK_KINDS else f"{risk.risk_type}: {risk.content}",
                "date": risk.date,
                "source": risk.source,
            }
            for risk in data.risk_list
        ],
        "alerts": [
            {
                "kind": CASE_KINDS.get(case.case_type, AlertKind.COURT_CASE),
                "reference": case.case_no,
                "date": case.filing_date,
                "status": CASE_STATUS.get(case.status or "", "unknown"),
                "source": case.court,
                "description": case.case_type,
            }
            for case in data.lawsuits
        ],
        "retrieved_at": data.report_time,
        "valid_until": data.report_time + timedelta(days=data.valid_days),
    }
    return validate_wire(CreditReport, fields, TITLE, ("data",))
