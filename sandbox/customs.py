"""The China single window (China E-port / customs CEB) on loopback: declarations in, receipts pushed back.

`POST /ceb` takes a CEB declaration (import CEB311 order, CEB411 payment, CEB511 waybill, CEB621
inventory; export CEB303, CEB403, CEB505, CEB603), maybe signed / encrypted by the hub like any partner
call, reads it with the hub's own codec (`canonical.ceb.codec.parse`: a failure is a synchronous 422
naming the element and the rule), checks its enveloped XML signature (security.xmldsig, recorded as
valid / invalid / missing) and answers 200 `{"accepted": true, "guid": ...}`. The receipts follow
asynchronously, pushed to the hub's callback URL like sandbox/payments.py does (same queue, retries
and X-Hub-Signature with the Ed25519 key published in jwks.json):

  order / payment / waybill (CEB312/412/512, export 304/404/506): 2 (declared), then 120 (taken in)
  inventory (CEB622 / CEB604): 2 (declared), then 120 (logic check passed) or -1 (logic check failed,
  with the reason: scripted `logic_fail`), then 399 (released) or 100 (rejected: scripted `reject`).

Status codes (sources: the returnStatus documentation of /work/shared/data/customs-ceb/xsd/202205
ceb-import-202205.xsd and ceb-export-202205.xsd, and samples/CEB312Message.xml): 1 电子口岸已暂存,
2 电子口岸申报中 (declared, accepted by the E-port), 3 发送海关成功, 4 发送海关失败, 100 海关退单
(rejected by customs), 120 海关入库 (taken in by customs after its logic check), 399 海关审结
(released); "小于0数字表示处理异常回执": a negative status is an error receipt (our logic-check failure).

Knobs (besides the recorder's mode / received / jwks / reset / health):
  POST /_sandbox/delay  {"delay_s": 0.3}   time between two receipts of one declaration
  POST /_sandbox/script {"copNo" | "orderNo": ..., "outcome": "reject" | "logic_fail", "reason": "..."}
  GET  /_sandbox/declarations              what was accepted, with its XML signature verdict
  GET  /_sandbox/callbacks                 the receipts queue
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from canonical.ceb.codec import RECEIPTS, parse, render
from canonical.customs import CebMessage, CustomsReceipt, ReturnEntry
from canonical.errors import RejectedInput, Violation
from canonical.xml import parse_xml
from sandbox.http import Request, Response
from sandbox.payments import XML, KnobRefused, PaymentNetwork
from security import jose, xmldsig

MAX_CEB_BYTES = 2 * 1024 * 1024
DEFAULT_DELAY_S = 0.3
DECLARED, PASSED, RELEASED, REJECTED, LOGIC_FAILED = "2", "120", "399", "100", "-1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS declarations (id TEXT PRIMARY KEY, guid TEXT NOT NULL, message TEXT NOT NULL,
  business_key TEXT, cop_no TEXT, order_no TEXT, idempotency_key TEXT, xml_signature TEXT, xml_signature_detail TEXT,
  received_at REAL NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS steps (seq INTEGER PRIMARY KEY, declaration TEXT NOT NULL, due_at REAL NOT NULL,
  status TEXT NOT NULL, info TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS ceb_scripts (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, reason TEXT NOT NULL);
"""
INVENTORIES = frozenset({"CEB621Message", "CEB603Message"})


def _now_stamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"


def _heads(payload: CebMessage) -> list[BaseModel]:
    """The declared entities' heads (an Order's OrderHead, a Payment's PaymentHead ...)."""
    out: list[BaseModel] = []
    for name in type(payload).model_fields:
        value = getattr(payload, name)
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            out += [h for item in value if isinstance(h := getattr(item, "head", item), BaseModel)]
    return out


def _digits(head: BaseModel) -> str:
    """17 characters of the entity's guid: stable numbers (preNo, invtNo) across receipts and restarts."""
    return str(getattr(head, "guid", "")).replace("-", "").upper()[:17]


class SingleWindow(PaymentNetwork):
    """The single window: a PaymentNetwork's recorder, callback queue and worker, with CEB rules."""

    database = "single-window.sqlite3"
    network_bic: ClassVar[str] = "CHINAPORT"
    reference_prefix: ClassVar[str] = "CEB"

    def __init__(self, name: str, state_dir: Any) -> None:
        super().__init__(name, state_dir)
        self.db.executescript(SCHEMA)

    async def route(self, req: Request) -> Response:
        if req.method == "POST" and req.path == "/ceb":
            return self.declare(req)
        return Response.of_json({"error": f"no {req.method} {req.path[:100]} on {self.name}"}, 404)

    def declare(self, req: Request) -> Response:
        key = req.headers.get("idempotency-key", "")
        opened = self._open(req, key)
        if isinstance(opened, Response):
            return opened
        body = opened.plaintext
        try:
            if len(body) > MAX_CEB_BYTES:
                limit = f"{len(body)} bytes, the limit is {MAX_CEB_BYTES}"
                raise RejectedInput("message too large", [Violation("message", "too_large", limit)])
            payload = parse(body)
        except RejectedInput as exc:
            self._log(key, "", "", 422, 0, body, opened)
            first = exc.violations[0] if exc.violations else None
            detail = {"loc": first.loc, "rule": first.rule, "detail": first.detail} if first else {}
            violations = [{"loc": v.loc, "rule": v.rule, "detail": v.detail} for v in exc.violations]
            problem = {"accepted": False, "error": exc.title, **detail, "violations": violations}
            return Response.of_json(problem, 422)
        if not isinstance(payload, CebMessage):
            self._log(key, "", "", 422, 0, body, opened)
            return Response.of_json({"accepted": False, "error": "send a declaration, not a receipt"}, 422)
        declared = f"{payload.root.removesuffix('Message')}:{payload.guid}"  # sample packs reuse guids across kinds
        remembered = self._remembered(key) or self._remembered(f"guid:{declared}")
        if remembered is not None:
            self._log(key, payload.guid, "", remembered.status, 0, body, opened)
            return remembered
        verdict, why = xmldsig.verify(parse_xml(body), self._hub_key)
        heads = _heads(payload)
        cop_no = next((str(h.cop_no) for h in heads if getattr(h, "cop_no", None)), "")  # type: ignore[attr-defined]
        order_no = next((str(h.order_no) for h in heads if getattr(h, "order_no", None)), "")  # type: ignore[attr-defined]
        answer = json.dumps({"accepted": True, "guid": payload.guid}).encode()
        with self._transaction():
            self.db.execute(
                "INSERT INTO declarations VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    declared,
                    payload.guid,
                    payload.root,
                    cop_no or order_no,
                    cop_no,
                    order_no,
                    key,
                    verdict,
                    why,
                    time.time(),
                    body,
                ),
            )
            self._plan(declared, payload.root, cop_no, order_no)
            self._remember(f"guid:{declared}", answer, payload.guid)
            self._remember(key, answer, payload.guid)
            self._log(key, payload.guid, order_no or cop_no, 200, 1, body, opened)
        self._wake.set()
        return Response(200, answer, {"content-type": "application/json"})

    def _hub_key(self, kid: str) -> jose.HubKey | None:
        return next((k for k in self.hub_keys() if k.kid == kid), None)

    def _plan(self, declaration: str, root: str, cop_no: str, order_no: str) -> None:
        """The receipts this declaration gets, each `delay_s` after the previous one."""
        delay = float(self._knob("delay").get("delay_s", DEFAULT_DELAY_S))
        script = self.db.execute(
            "SELECT outcome, reason FROM ceb_scripts WHERE key IN (?, ?) LIMIT 1", (cop_no or "-", order_no or "-")
        ).fetchone()
        steps = [(DECLARED, "新增申报成功")]
        if root in INVENTORIES:
            if script and script[0] == "logic_fail":
                steps.append((LOGIC_FAILED, f"逻辑校验不通过: {script[1]}"))
            else:
                steps.append((PASSED, "逻辑校验通过"))
                steps.append((REJECTED, f"海关退单: {script[1]}") if script else (RELEASED, "海关审结"))
        elif script:  # order / payment / waybill: a scripted refusal replaces the acceptance
            steps = [(LOGIC_FAILED if script[0] == "logic_fail" else REJECTED, script[1])]
        else:
            steps.append((PASSED, "海关入库"))  # taken in by customs, awaiting the inventory
        now = time.time()
        for n, (status, info) in enumerate(steps, start=1):
            self.db.execute(
                "INSERT INTO steps (declaration, due_at, status, info) VALUES (?,?,?,?)",
                (declaration, now + n * delay, status, info),
            )

    # -- the worker: receipts in place of settlement -------------------------------------------------

    def _settle_due(self) -> None:
        due = self.db.execute(
            "SELECT s.seq, s.declaration, s.status, s.info, d.message, d.body FROM steps s JOIN declarations d "
            "ON d.id = s.declaration WHERE s.done=0 AND s.due_at<=? ORDER BY s.due_at, s.seq",
            (time.time(),),
        ).fetchall()
        for seq, declaration, status, info, message, body in due:
            receipt = self.receipt(parse(body), status, info)
            assert message.startswith("CEB")
            with self._transaction():
                self.db.execute("UPDATE steps SET done=1 WHERE seq=?", (seq,))
                self._push(declaration, f"{receipt.message}:{status}", receipt.guid, render(receipt), XML)

    def receipt(self, payload: Any, status: str, info: str) -> CustomsReceipt:
        """The receipt answering `payload` with `status`: one `*Return` per declared entity."""
        message = f"CEB{int(payload.root[3:6]) + 1}"
        spec = RECEIPTS[message]
        returns = []
        for head in _heads(payload):
            known = {f: getattr(head, f) for f in spec.fields if getattr(head, f, None) is not None}
            if "pre_no" in spec.fields:
                known.setdefault("pre_no", "B" + _digits(head))
            if "invt_no" in spec.fields and status == RELEASED:
                known.setdefault("invt_no", "I" + _digits(head))
            fields = {"return_status": status, "return_time": _now_stamp(), "return_info": f"{info}[{payload.guid}]"}
            returns.append(ReturnEntry.model_validate(known | fields))
        return CustomsReceipt(message=message, guid=str(uuid.uuid4()).upper(), returns=returns)  # type: ignore[arg-type]

    def _next_due_in(self) -> float:
        (due_at,) = self.db.execute("SELECT MIN(due_at) FROM steps WHERE done=0").fetchone()
        wait = super()._next_due_in()
        return wait if due_at is None else max(0.0, min(wait, due_at - time.time()))

    # -- knobs ------------------------------------------------------------------------------------

    def network_control(self, action: str, req: Request) -> Response | None:
        if req.method == "GET" and action == "declarations":
            columns: tuple[str, ...] = ("guid", "message", "business_key", "cop_no", "order_no", "idempotency_key")
            columns += ("xml_signature", "xml_signature_detail", "received_at")
            rows = self.db.execute(f"SELECT {', '.join(columns)} FROM declarations ORDER BY received_at").fetchall()
            return Response.of_json([dict(zip(columns, r, strict=True)) for r in rows])
        if req.method == "GET" and action == "callbacks":
            return super().network_control(action, req)
        if req.method != "POST":
            return None
        if action == "reset":
            for table in ("declarations", "steps", "ceb_scripts", "callbacks"):
                self.db.execute(f"DELETE FROM {table}")
            return None  # the recorder's reset clears calls, answers and knobs
        spec = req.json() or {}
        if not isinstance(spec, dict):
            raise TypeError("send a JSON object")
        if action == "delay":
            delay = float(spec["delay_s"])
            if not 0 <= delay <= 3600:
                raise ValueError("delay_s is 0 to 3600 seconds")
            self._set_knob("delay", {"delay_s": delay})
            return Response.of_json({"ok": True})
        if action == "script":
            target = spec.get("copNo") or spec.get("orderNo")
            if not isinstance(target, str) or not target:
                raise KnobRefused('name the declaration: {"copNo": ...} or {"orderNo": ...}', 422)
            if spec.get("outcome") not in ("reject", "logic_fail"):
                raise ValueError("outcome must be reject or logic_fail")
            reason = str(spec.get("reason") or "scripted")
            self.db.execute("INSERT OR REPLACE INTO ceb_scripts VALUES (?,?,?)", (target, spec["outcome"], reason))
            return Response.of_json({"ok": True})
        return None
