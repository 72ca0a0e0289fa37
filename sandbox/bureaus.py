"""Two credit bureaus on loopback with different schemas (see docs/credit.md).

- `bureau-a` (BureauA): a domestic enterprise credit service.
  `POST /api/v1/enterprise/report` `{"creditCode": USCC, "reportType": "basic_info" | "credit_report" |
  "court_sanction_alerts"}` -> `{"code": 0, "msg": "success", "data": {...}}` (canonical.bureaus.bureau_a);
  a non-zero code is a refusal (1001 unknown enterprise, 1002 not an enterprise, 1003 bad request).
- `bureau-b` (BureauB): an international business-information bureau.
  `GET /v2/{companies|persons}/{id}/reports/{basic|credit|alerts}?country=CC` -> a report
  (canonical.bureaus.bureau_b), or `{"error": {"code", "message"}}` with 404 / 400.

Reports are synthetic and deterministic: derived from a hash of the subject's id (some subjects have
risk items, court cases, enforcement, or a sanctions listing). Every answered query carries its cost in
`X-Query-Cost`. Knobs: the recorder's mode (ok | error | slow | down), reset, health, and
  GET /_sandbox/stats  {"queries": n, "cost": total, "by_kind": {...}}
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from canonical.bureaus.scale import LETTER_GRADES
from canonical.credit import check_uscc
from sandbox.http import Request, Response
from sandbox.recorder import Recorder

CHINA = timezone(timedelta(hours=8))
COSTS = {"basic_info": 1, "credit_report": 10, "court_sanction_alerts": 3}
B_KINDS = {"basic": "basic_info", "credit": "credit_report", "alerts": "court_sanction_alerts"}
UNKNOWN_PREFIX = "0000"  # subjects whose id starts so are unknown to the bureau


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Bureau(Recorder):
    """A bureau: the recorder's knobs and call log, synchronous JSON answers, per-query costs."""

    def __init__(self, name: str, state_dir: Path) -> None:
        super().__init__(name, state_dir)
        self.stats: dict[str, Any] = {"queries": 0, "cost": 0, "by_kind": {}}

    async def receive(self, req: Request, knob: dict[str, Any]) -> Response:
        if knob["mode"] == "error":
            status = int(knob.get("status", 503))
            return Response.of_json({"error": f"simulated {status}"}, status)
        try:
            return self.answer(req)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self.bad_request(f"{type(exc).__name__}: {exc}"[:200])

    def answer(self, req: Request) -> Response:
        raise NotImplementedError

    def bad_request(self, detail: str) -> Response:
        raise NotImplementedError

    def charged(self, kind: str, body: Any, status: int = 200) -> Response:
        cost = COSTS[kind]
        self.stats["queries"] += 1
        self.stats["cost"] += cost
        self.stats["by_kind"][kind] = self.stats["by_kind"].get(kind, 0) + 1
        response = Response.of_json(body, status)
        response.headers["x-query-cost"] = str(cost)
        return response

    def control(self, req: Request) -> Response:
        if req.path == "/_sandbox/stats" and req.method == "GET":
            return Response.of_json(self.stats)
        if req.path == "/_sandbox/reset" and req.method == "POST":
            self.stats = {"queries": 0, "cost": 0, "by_kind": {}}
        return super().control(req)


class BureauA(Bureau):
    def answer(self, req: Request) -> Response:
        if not (req.method == "POST" and req.path == "/api/v1/enterprise/report"):
            return Response.of_json({"code": 404, "msg": f"no {req.method} {req.path[:80]}"}, 404)
        call = json.loads(req.body)
        code, kind = str(call["creditCode"]), str(call["reportType"])
        if kind not in COSTS:
            return Response.of_json({"code": 1003, "msg": f"unknown reportType {kind[:40]}"})
        try:
            check_uscc(code)
        except ValueError:
            return Response.of_json({"code": 1002, "msg": "creditCode is not an enterprise's USCC (enterprises only)"})
        if code.startswith(UNKNOWN_PREFIX):
            return Response.of_json({"code": 1001, "msg": "no such enterprise"})
        return self.charged(kind, {"code": 0, "msg": "success", "data": self.report(code, kind)})

    def bad_request(self, detail: str) -> Response:
        return Response.of_json({"code": 1003, "msg": detail}, 400)

    def report(self, code: str, kind: str) -> dict[str, Any]:
        h = _hash(code)
        now = datetime.now(CHINA).replace(microsecond=0)
        data: dict[str, Any] = {
            "reportNo": f"A{now:%Y%m%d}{h.hex()[:10].upper()}",
            "entName": f"企业{h.hex()[:6].upper()}贸易有限公司",
            "creditCode": code,
            "reportTime": now.strftime("%Y-%m-%d %H:%M:%S"),
            "validDays": 30,
        }
        if kind == "credit_report":
            data["score"] = {"value": 300 + h[0] * 2, "min": 0, "max": 900}
            data["level"] = ("AAA", "AA", "A", "BBB", "BB", "B")[h[1] % 6]
            risks = [("行政处罚", "高"), ("经营异常", "中"), ("欠税", "低"), ("股权出质", "低")]
            data["riskList"] = [
                {"riskType": t, "riskLevel": lvl, "content": f"{t} 记录", "date": "2025-03-01", "source": "市场监管"}
                for t, lvl in risks[: h[2] % 3]
            ]
        if kind in ("credit_report", "court_sanction_alerts"):
            cases = [("民事", "审理中"), ("执行", "执行中"), ("民事", "已结案")]
            data["lawsuits"] = [
                {
                    "caseNo": f"(2025)沪0101民初{h[3 + i] * 10 + i}号",
                    "caseType": t,
                    "filingDate": "2025-06-01",
                    "status": s,
                    "court": "上海市黄浦区人民法院",
                }
                for i, (t, s) in enumerate(cases[: h[4] % 4])
            ]
        return data


class BureauB(Bureau):
    def answer(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")
        if not (req.method == "GET" and len(parts) == 5 and parts[0] == "v2" and parts[1] in ("companies", "persons")):
            return Response.of_json({"error": {"code": "NOT_FOUND", "message": f"no {req.path[:80]}"}}, 404)
        subject, kind = parts[2], B_KINDS.get(parts[4])
        if kind is None or parts[3] != "reports":
            return self.bad_request(f"unknown report {parts[4][:40]}")
        country = req.query.get("country", ["XX"])[0]
        if len(subject) > 64 or len(country) != 2:
            return self.bad_request("subject id of at most 64 characters and a 2-letter country")
        if subject.startswith(UNKNOWN_PREFIX):
            return Response.of_json({"error": {"code": "NOT_FOUND", "message": "no such subject"}}, 404)
        return self.charged(kind, self.report(subject, country.upper(), kind, parts[1] == "persons"))

    def bad_request(self, detail: str) -> Response:
        return Response.of_json({"error": {"code": "BAD_REQUEST", "message": detail}}, 400)

    def report(self, subject: str, country: str, kind: str, person: bool) -> dict[str, Any]:
        h = _hash(subject)
        now = datetime.now(UTC).replace(microsecond=0)
        name = f"Subject {h.hex()[:6].upper()}" if person else f"{h.hex()[:6].upper()} Trading GmbH"
        data: dict[str, Any] = {
            "reportId": f"B-{h.hex()[:12]}",
            "generatedAt": now.isoformat(),
            "validUntil": (now + timedelta(days=30)).isoformat(),
            "company": {"name": name, "regNo": subject, "country": country},
        }
        if kind == "credit_report":
            data["rating"] = {"grade": LETTER_GRADES[h[0] % 16], "pd": round(h[1] / 2550, 4), "outlook": "STABLE"}
            factors = [("LATE_PAYMENTS", "MEDIUM"), ("TAX_LIEN", "HIGH"), ("ADVERSE_MEDIA", "LOW")]
            data["riskFactors"] = [
                {"code": c, "severity": s, "text": c.replace("_", " ").lower(), "observedOn": "2025-09-01"}
                for c, s in factors[: h[2] % 3]
            ]
        if kind in ("credit_report", "court_sanction_alerts"):
            alerts: list[dict[str, Any]] = []
            if h[3] % 5 == 0:
                alerts.append({"type": "SANCTION", "list": "OFAC SDN", "since": "2024-01-01", "status": "ACTIVE"})
            if h[4] % 3 == 0:
                alerts.append({"type": "COURT", "reference": f"HRB-{h[5]}-{h[6]}", "since": "2025-02-01"})
            data["alerts"] = alerts
        return data
