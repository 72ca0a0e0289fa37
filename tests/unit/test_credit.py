"""Credit: bureau answers normalize to one report on a 0-1000 scale; unified social credit codes are
checked per GB 32100; a person is never queried without consent; hostile input is refused by path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from canonical.bureaus import PARSERS, bureau_a, bureau_b
from canonical.credit import (
    AlertKind,
    CreditReport,
    CreditReportRequest,
    Severity,
    check_uscc,
    uscc_check_character,
)
from canonical.errors import RejectedInput
from canonical.registry import payload_model
from canonical.sensitive import sensitive_paths

USCC = "91350100M000100Y43"  # the GB 32100 worked example

BUREAU_A = {
    "code": 0,
    "msg": "success",
    "data": {
        "reportNo": "CR20261120000123",
        "entName": "福建示例贸易有限公司",
        "creditCode": USCC,
        "reportTime": "2026-11-20 10:00:00",
        "validDays": 30,
        "score": {"value": 720, "min": 0, "max": 900},
        "level": "AA",
        "riskList": [
            {
                "riskType": "行政处罚",
                "riskLevel": "高",
                "content": "未按规定申报出口货物, 罚款人民币5万元",
                "date": "2025-03-01",
                "source": "福州海关",
            },
            {"riskType": "知识产权出质", "riskLevel": "低", "content": "商标专用权出质登记", "date": "2024-06-18"},
        ],
        "lawsuits": [
            {
                "caseNo": "(2025)闽0102民初1234号",
                "caseType": "民事",
                "filingDate": "2025-05-10",
                "status": "审理中",
                "court": "福州市鼓楼区人民法院",
            },
            {"caseNo": "(2024)闽0102执567号", "caseType": "执行", "filingDate": "2024-02-01", "status": "已结案"},
        ],
    },
}

BUREAU_B = {
    "reportId": "GB-2026-000987",
    "generatedAt": "2026-11-20T02:00:00Z",
    "validUntil": "2026-12-20T02:00:00Z",
    "company": {"name": "Acme Trading GmbH", "regNo": "HRB 123456", "country": "DE"},
    "rating": {"grade": "BB", "pd": 0.031, "outlook": "STABLE"},
    "riskFactors": [
        {
            "code": "LATE_PAYMENTS",
            "severity": "MEDIUM",
            "text": "Average 18 days beyond terms",
            "observedOn": "2026-09-30",
        }
    ],
    "alerts": [
        {"type": "SANCTION", "list": "OFAC SDN", "reference": "SDN-36124", "since": "2024-01-01", "status": "ACTIVE"},
        {"type": "COURT", "reference": "HRB-Insolvenz 12 IN 45/25", "since": "2025-04-02", "status": "LIFTED"},
    ],
}


def raw(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def rejected(parse: Any, body: bytes) -> list[tuple[str, str]]:
    with pytest.raises(RejectedInput) as info:
        parse(body)
    return [(v.loc, v.rule) for v in info.value.violations]


def test_bureau_a_report_normalizes() -> None:
    report = bureau_a.parse_report(raw(BUREAU_A))
    assert report.bureau == "bureau-a" and report.report_id == "CR20261120000123"
    assert (report.entity.name, report.entity.registration_id, report.entity.country) == (
        "福建示例贸易有限公司",
        USCC,
        "CN",
    )
    assert report.score is not None
    assert (report.score.value, report.score.raw_score, report.score.raw_scale) == (800, "720", "0-900")
    assert (report.score.band, report.score.bureau_rating) == ("excellent", "AA")
    assert [(r.kind, r.severity) for r in report.risk_items] == [
        ("administrative_penalty", Severity.HIGH),
        ("other", Severity.LOW),
    ]
    assert report.risk_items[1].description.startswith("知识产权出质: ")
    assert [(a.kind, a.status) for a in report.alerts] == [
        (AlertKind.COURT_CASE, "open"),
        (AlertKind.ENFORCEMENT, "closed"),
    ]
    assert report.retrieved_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert (report.valid_until - report.retrieved_at).days == 30


def test_bureau_b_report_normalizes() -> None:
    report = bureau_b.parse_report(raw(BUREAU_B))
    assert report.score is not None
    assert (report.score.value, report.score.raw_score, report.score.raw_scale) == (476, "BB", "AAA..D")
    assert (report.score.band, report.score.probability_of_default) == ("weak", 0.031)
    assert report.entity.registration_id == "HRB 123456" and report.entity.country == "DE"
    assert [(r.kind, r.severity, r.date) for r in report.risk_items] == [
        ("late_payments", Severity.MEDIUM, date(2026, 9, 30))
    ]
    sanction, court = report.alerts
    assert (sanction.kind, sanction.source, sanction.status, sanction.date) == (
        AlertKind.SANCTION_LIST,
        "OFAC SDN",
        "open",
        date(2024, 1, 1),
    )
    assert (court.kind, court.status) == (AlertKind.COURT_CASE, "closed")
    assert report.has_sanction


def test_scores_at_the_ends_of_each_scale() -> None:
    low = json.loads(json.dumps(BUREAU_A))
    low["data"]["score"] = {"value": 300, "min": 300, "max": 850}
    assert bureau_a.parse_report(raw(low)).score.value == 0  # type: ignore[union-attr]
    top = BUREAU_B | {"rating": {"grade": "AAA"}}
    assert bureau_b.parse_report(raw(top)).score.value == 1000  # type: ignore[union-attr]
    default = BUREAU_B | {"rating": {"grade": "D"}}
    assert bureau_b.parse_report(raw(default)).score.value == 0  # type: ignore[union-attr]


def test_invalid_uscc_check_character_is_refused() -> None:
    assert uscc_check_character(USCC[:17]) == "3"
    with pytest.raises(ValueError, match="GB 32100 gives 3"):
        check_uscc(USCC[:17] + "4")
    wrong = json.loads(json.dumps(BUREAU_A))
    wrong["data"]["creditCode"] = USCC[:17] + "4"
    assert rejected(bureau_a.parse_report, raw(wrong)) == [("$.data.creditCode", "uscc_check_character")]
    wrong["data"]["creditCode"] = "91350100M000100YI3"  # I is not in the GB 32100 alphabet
    assert rejected(bureau_a.parse_report, raw(wrong)) == [("$.data.creditCode", "uscc_format")]


def test_enterprise_request_in_china_needs_a_valid_uscc() -> None:
    request = {"entity_id": USCC, "entity_kind": "enterprise", "country": "CN", "report_kind": "credit_report"}
    assert CreditReportRequest.model_validate(request).entity_id == USCC
    with pytest.raises(ValidationError) as info:
        CreditReportRequest.model_validate(request | {"entity_id": USCC[:17] + "X"})
    assert info.value.errors()[0]["type"] == "uscc_check_character"


def test_person_query_without_consent_is_refused() -> None:
    person = {
        "entity_id": "110101199003070000",
        "entity_kind": "person",
        "entity_name": "李四",
        "country": "CN",
        "report_kind": "credit_report",
    }
    with pytest.raises(ValidationError) as info:
        CreditReportRequest.model_validate(person)
    error = info.value.errors()[0]
    assert error["type"] == "consent_required" and "consent_id" in error["msg"]
    granted = CreditReportRequest.model_validate(person | {"consent_id": "CONSENT-2026-0042"})
    assert granted.consent_id == "CONSENT-2026-0042"


def test_bureau_error_codes_are_refusals() -> None:
    assert rejected(bureau_a.parse_report, raw({"code": 40401, "msg": "企业不存在", "data": None})) == [
        ("$.code", "bureau_error")
    ]
    assert rejected(bureau_b.parse_report, raw({"error": {"code": "NOT_FOUND", "message": "no such company"}})) == [
        ("$.error.code", "bureau_error")
    ]


def a_data(**changes: Any) -> dict[str, Any]:
    return {"data": {**BUREAU_A["data"], **changes}}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("bureau", "patch", "expected"),
    [
        ("bureau-a", {"code": "0"}, ("$.code", "int_type")),
        ("bureau-a", a_data(score={"value": "720", "max": 900}), ("$.data.score.value", "float_type")),
        ("bureau-a", a_data(score={"value": 950, "max": 900}), ("$.data.score.value", "score_out_of_scale")),
        ("bureau-a", a_data(reportTime="2026-11-20T10:00:00"), ("$.data.reportTime", "timestamp_format")),
        (
            "bureau-a",
            a_data(riskList=[{"riskType": "欠税", "riskLevel": "严重", "content": "x"}]),
            ("$.data.riskList[0].riskLevel", "enum"),
        ),
        ("bureau-b", {"rating": {"grade": "BZ"}}, ("$.rating.grade", "grade_unknown")),
        ("bureau-b", {"rating": {"grade": "BB", "pd": 1.5}}, ("$.rating.pd", "less_than_equal")),
        ("bureau-b", {"company": {"name": "Acme", "regNo": 1, "country": "DE"}}, ("$.company.regNo", "string_type")),
        ("bureau-b", {"alerts": [{"type": "SANCTION", "since": "2024-1-1"}]}, ("$.alerts[0].since", "date_format")),
        ("bureau-b", {"validUntil": "2026-11-19T00:00:00Z"}, ("$", "valid_until_before_retrieved")),
    ],
)
def test_wrongly_typed_or_inconsistent_reports_are_refused_by_path(
    bureau: str, patch: dict[str, Any], expected: tuple[str, str]
) -> None:
    base = BUREAU_A if bureau == "bureau-a" else BUREAU_B
    assert expected in rejected(PARSERS[bureau], raw(base | patch))


@pytest.mark.parametrize("bureau", sorted(PARSERS))
def test_hostile_input_is_refused(bureau: str) -> None:
    parse = PARSERS[bureau]
    assert rejected(parse, b"[" * 50_000 + b"]" * 50_000) == [("$", "max_depth")]
    assert rejected(parse, b'{"x": "' + b"y" * 2_000_000 + b'"}') == [("$", "max_bytes")]
    assert rejected(parse, b'{"code": 0,') == [("$", "json_syntax")]
    assert rejected(parse, b"[]")[0][1] in {"model_type", "dict_type"}


def test_credit_message_types_are_registered_and_identity_is_sensitive() -> None:
    assert payload_model("credit.report") is CreditReport
    assert payload_model("credit.report_request") is CreditReportRequest
    paths = set(sensitive_paths(CreditReport))
    assert {"entity.name", "entity.registration_id"} <= paths
    assert {"entity_id", "entity_name"} <= set(sensitive_paths(CreditReportRequest))
