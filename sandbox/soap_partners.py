"""Two legacy SOAP partners on loopback: a bank's letter-of-credit service and an export-credit insurer.

Each serves its WSDL (adapters/soap/wsdl) at `GET /<path>?wsdl` and its operations at `POST /<path>`, in
SOAP 1.1 (text/xml) or 1.2 (application/soap+xml), answering in the version it was asked in. Like a real
partner it reads every request with the hub's hardened parser, then checks WS-Security: a Timestamp, a
UsernameToken with a PasswordDigest (user `hub`, password from $SANDBOX_SOAP_PASSWORD, default
`sandbox-password`) whose nonce it has not seen before, and the hub's signature over Body and Timestamp by a
key of <state>/hub-jwks.json (required unless `POST /_sandbox/require_signature {"required": false}`).
A refusal is a SOAP fault with the WS-Security code. Answers are signed (Body + Timestamp) with the partner's
own P-256 key, published with its other public keys in jwks.json and at GET /_sandbox/jwks.

Faults: business refusals are Client / Sender faults with a code in the detail (`UnknownCredit`,
`AmendmentOutOfSequence`, `UnknownPolicy`); `POST /_sandbox/fault {"code": "Server" | "Busy" | "Client" |
"Locked", "count": 1}` makes the next calls fail: `Busy` is a Server / Receiver fault with the subcode Busy,
`Locked` a Client / Sender fault with the code CreditLocked (a condition the hub's configuration may call
transient). The recorder's knobs work too: mode slow (hangs `delay_s`), down (drops the connection),
received, reset, health. An `Idempotency-Key` seen with a successful answer gets that answer again.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from lxml import etree

from canonical.mtom import MtomError, read_soap
from canonical.xml import UnsafeXml
from sandbox.http import Request, Response
from sandbox.recorder import KEY_KINDS, Recorder
from security import jose, wssecurity
from security.wssecurity import SOAP11, SOAP12, WsSecurityError

WSDL_DIR = Path(__file__).resolve().parent.parent / "adapters" / "soap" / "wsdl"
DEFAULT_PASSWORD = "sandbox-password"  # dev credential (adapters.soap.SANDBOX_DEV_PASSWORD), or the environment
SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, at REAL);
CREATE TABLE IF NOT EXISTS credits (ref TEXT PRIMARY KEY, bank_ref TEXT, status TEXT, currency TEXT,
  amount TEXT, expiry TEXT, amendments INTEGER, document_bytes INTEGER);
CREATE TABLE IF NOT EXISTS policies (policy_no TEXT PRIMARY KEY, holder TEXT, status TEXT, currency TEXT,
  total TEXT, used TEXT);
"""


class SoapFault(Exception):
    """A fault to answer with: `sender` True for Client / Sender, else Server / Receiver."""

    def __init__(self, sender: bool, code: str, reason: str, *, subcode: str = "") -> None:
        super().__init__(reason)
        self.sender, self.code, self.reason, self.subcode = sender, code, reason, subcode


Operation = Callable[[dict[str, str]], dict[str, Any]]


class SoapPartner(Recorder):
    """A recorder that speaks SOAP: WSDL, WS-Security both ways, faults, knobs."""

    key_kinds = (*KEY_KINDS, "P-256")
    wsdl_file: ClassVar[str]
    path: ClassVar[str]
    tns: ClassVar[str]

    def __init__(self, name: str, state_dir: Path) -> None:
        super().__init__(name, state_dir)
        self.db.executescript(SCHEMA)
        self.wsdl = (WSDL_DIR / self.wsdl_file).read_bytes()
        self.seed()

    def seed(self) -> None:
        """Demo data a fresh partner starts with."""

    def operations(self) -> dict[str, Operation]:
        raise NotImplementedError

    @property
    def signing_key(self) -> jose.HubKey:
        return next(k for k in self.keys if k.kind == "P-256")

    async def receive(self, req: Request, knob: dict[str, Any]) -> Response:
        if req.path != f"/{self.path}":
            return Response.of_json({"error": f"no {req.path[:100]} on {self.name}; try /{self.path}?wsdl"}, 404)
        if req.method == "GET" and req.raw_query.lower().split("&")[0] in ("wsdl", "wsdl="):
            return Response(200, self.wsdl, {"content-type": "text/xml; charset=utf-8"})
        if req.method != "POST":
            return Response.of_json({"error": "POST a SOAP envelope"}, 405)
        key = req.headers.get("idempotency-key", "")
        version = SOAP12 if "application/soap+xml" in req.headers.get("content-type", "") else SOAP11
        try:
            envelope, documents = read_soap(req.body, req.headers.get("content-type", ""))
            version = wssecurity.soap_ns(envelope)
            verified = wssecurity.check(
                envelope,
                password_of=self.password_of,
                key_of=self._hub_key,
                require_token=True,
                require_signature=self._knob("require_signature").get("required", True),
            )
            if not self._first_use(verified.nonce):
                raise WsSecurityError("wsse:FailedAuthentication", "the nonce was used before (a replay)")
        except (UnsafeXml, MtomError) as exc:
            return self._fault(version, SoapFault(True, "BadRequest", f"refused XML: {exc}"), key, req.body, "")
        except WsSecurityError as exc:
            fault = SoapFault(True, exc.code, exc.detail, subcode=exc.code)
            return self._fault(version, fault, key, req.body, "invalid")
        signed = "valid" if verified.signed_by else "missing"
        body = envelope.find(f"{{{version}}}Body")
        request = body[0] if body is not None and len(body) else None
        if request is None:
            return self._fault(version, SoapFault(True, "BadRequest", "empty Body"), key, req.body, signed)
        operation = etree.QName(request).localname.removesuffix("Request")
        async with self._lock:
            remembered = self._remembered(key)
            if remembered is not None:
                self._record(key, operation, 200, 0, req.body, signed)
                return self._answer(version, remembered[0], remembered[1])
            try:
                self._scripted_fault()
                handler = self.operations().get(operation)
                if handler is None or etree.QName(request).namespace != self.tns:
                    raise SoapFault(True, "UnknownOperation", f"{self.name} has no operation {operation}")
                fields = {etree.QName(c).localname: (c.text or "").strip() for c in request}
                fields |= {f"{k}Bytes": str(len(v)) for k, v in documents.items()}
                with self.db:
                    self.db.execute("BEGIN")
                    try:
                        result = handler(fields)
                    except (KeyError, ValueError) as exc:  # a missing or malformed parameter
                        raise SoapFault(True, "InvalidRequest", f"{operation}: {exc!r}") from None
                    if key:
                        self.db.execute(
                            "INSERT OR REPLACE INTO answers VALUES (?,?,?,?)",
                            (key, 200, json.dumps([operation, result]).encode(), operation),
                        )
                    self._record(key, operation, 200, 1, req.body, signed)
            except SoapFault as fault:
                return self._fault(version, fault, key, req.body, signed)
        return self._answer(version, operation, result)

    # --- WS-Security ------------------------------------------------------------------------------

    def password_of(self, username: str) -> str | None:
        users = self._knob("users") or {"hub": os.environ.get("SANDBOX_SOAP_PASSWORD", DEFAULT_PASSWORD)}
        value = users.get(username)
        return value if isinstance(value, str) else None

    def _hub_key(self, kid: str) -> jose.HubKey | None:
        return next((k for k in self.hub_keys() if k.kid == kid), None)

    def _first_use(self, nonce: str) -> bool:
        cutoff = time.time() - 600  # beyond the Timestamp window a replay is refused as expired anyway
        self.db.execute("DELETE FROM nonces WHERE at < ?", (cutoff,))
        cur = self.db.execute("INSERT OR IGNORE INTO nonces VALUES (?, ?)", (nonce, time.time()))
        return cur.rowcount == 1

    # --- answers ----------------------------------------------------------------------------------

    def _remembered(self, key: str) -> tuple[str, dict[str, Any]] | None:
        if not key:
            return None
        row = self.db.execute("SELECT body FROM answers WHERE idempotency_key=?", (key,)).fetchone()
        if row is None:
            return None
        operation, result = json.loads(row[0])
        return str(operation), dict(result)

    def _envelope(self, version: str) -> tuple[etree._Element, etree._Element]:
        envelope = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "tns": self.tns})
        etree.SubElement(envelope, f"{{{version}}}Header")
        return envelope, etree.SubElement(envelope, f"{{{version}}}Body")

    def _answer(self, version: str, operation: str, result: dict[str, Any]) -> Response:
        envelope, body = self._envelope(version)
        answer = etree.SubElement(body, f"{{{self.tns}}}{operation}Response")
        for name, value in result.items():
            etree.SubElement(answer, f"{{{self.tns}}}{name}").text = str(value)
        return self._signed(version, envelope, 200)

    def _signed(self, version: str, envelope: etree._Element, status: int) -> Response:
        wssecurity.secure(envelope, signer=self.signing_key.signer("ES256"))
        content_type = "application/soap+xml; charset=utf-8" if version == SOAP12 else "text/xml; charset=utf-8"
        return Response(
            status, etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), {"content-type": content_type}
        )

    def _fault(self, version: str, fault: SoapFault, key: str, raw: bytes, signed: str) -> Response:
        """A SOAP 1.1 or 1.2 fault (HTTP 500, or 400 for a sender's fault in 1.2) with the code in the detail."""
        self._record(key, fault.code, 500, 0, raw, signed)
        envelope, body = self._envelope(version)
        element = etree.SubElement(body, f"{{{version}}}Fault")
        wsse_prefixed = fault.subcode.startswith(("wsse:", "wsu:"))
        if version == SOAP11:
            code = etree.SubElement(element, "faultcode", nsmap={"wsse": wssecurity.WSSE, "wsu": wssecurity.WSU})
            code.text = fault.subcode if wsse_prefixed else f"soap:{'Client' if fault.sender else 'Server'}"
            etree.SubElement(element, "faultstring").text = fault.reason
            detail = etree.SubElement(element, "detail")
        else:
            code = etree.SubElement(element, f"{{{version}}}Code")
            etree.SubElement(code, f"{{{version}}}Value").text = f"soap:{'Sender' if fault.sender else 'Receiver'}"
            if fault.subcode:
                sub = etree.SubElement(code, f"{{{version}}}Subcode")
                value = etree.SubElement(
                    sub, f"{{{version}}}Value", nsmap={"wsse": wssecurity.WSSE, "wsu": wssecurity.WSU}
                )
                value.text = fault.subcode if wsse_prefixed else f"tns:{fault.subcode}"
            reason = etree.SubElement(element, f"{{{version}}}Reason")
            text = etree.SubElement(reason, f"{{{version}}}Text")
            text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            text.text = fault.reason
            detail = etree.SubElement(element, f"{{{version}}}Detail")
        partner_fault = etree.SubElement(detail, f"{{{self.tns}}}PartnerFault")
        etree.SubElement(partner_fault, f"{{{self.tns}}}code").text = fault.code
        etree.SubElement(partner_fault, f"{{{self.tns}}}detail").text = fault.reason
        status = 400 if version == SOAP12 and fault.sender else 500
        return self._signed(version, envelope, status)

    def _scripted_fault(self) -> None:
        knob = self._knob("fault")
        if int(knob.get("count", 0)) <= 0:
            return
        self._set_fault(str(knob["code"]), int(knob["count"]) - 1)
        code = str(knob["code"])
        if code == "Busy":
            raise SoapFault(False, "Busy", "the partner is busy; try again later", subcode="Busy")
        if code == "Locked":
            raise SoapFault(True, "CreditLocked", "the record is locked by another transaction")
        raise SoapFault(code == "Client", f"Simulated{code}", f"simulated {code} fault")

    def _set_fault(self, code: str, count: int) -> None:
        value = json.dumps({"code": code, "count": count})
        self.db.execute("INSERT OR REPLACE INTO knobs VALUES ('fault', ?)", (value,))

    def _record(self, key: str, operation: str, status: int, effect: int, body: bytes, signature: str) -> None:
        self.db.execute(
            "INSERT INTO calls (at, idempotency_key, message_id, correlation_id, status, effect, body, signature, "
            "encrypted, content_type) VALUES (?,?,?,?,?,?,?,?,0,'soap')",
            (time.time(), key, operation, "", status, effect, body, signature),
        )

    def control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_sandbox/")
        if req.method == "POST" and action == "fault":
            spec = req.json() or {}
            if spec.get("code") not in ("Server", "Busy", "Client", "Locked"):
                return Response.of_json({"error": "code is Server, Busy, Client or Locked"}, 422)
            self._set_fault(str(spec["code"]), int(spec.get("count", 1)))
            return Response.of_json({"ok": True})
        if req.method == "POST" and action == "users":
            users = req.json() or {}
            self.db.execute("INSERT OR REPLACE INTO knobs VALUES ('users', ?)", (json.dumps(users),))
            return Response.of_json({"ok": True})
        response = super().control(req)
        if action == "reset" and req.method == "POST":
            self.db.executescript("DELETE FROM nonces; DELETE FROM credits; DELETE FROM policies;")
            self.seed()
        return response


def _amount(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SoapFault(True, "InvalidAmount", f"{field} is not a decimal") from None
    if value <= 0:
        raise SoapFault(True, "InvalidAmount", f"{field} must be positive")
    return value


class LetterOfCreditBank(SoapPartner):
    """A bank's documentary-credit desk: issue, amend, query status."""

    database = "lc-bank.sqlite3"
    wsdl_file = "letter_of_credit.wsdl"
    path = "lc"
    tns = "urn:tradehub:sandbox:letter-of-credit"

    def operations(self) -> dict[str, Operation]:
        return {"IssueCredit": self.issue, "AmendCredit": self.amend, "QueryCreditStatus": self.query}

    def _credit(self, ref: str) -> tuple[str, str, str, str, str, str, int]:
        row = self.db.execute(
            "SELECT ref, bank_ref, status, currency, amount, expiry, amendments FROM credits WHERE ref=?", (ref,)
        ).fetchone()
        if row is None:
            raise SoapFault(True, "UnknownCredit", f"no documentary credit {ref!r}")
        return row  # type: ignore[no-any-return]

    def issue(self, f: dict[str, str]) -> dict[str, Any]:
        amount = _amount(f.get("amount", ""), "amount")
        if self.db.execute("SELECT 1 FROM credits WHERE ref=?", (f["lcReference"],)).fetchone():
            raise SoapFault(True, "DuplicateCredit", f"credit {f['lcReference']!r} was issued before")
        bank_ref = f"LCB{secrets.token_hex(5).upper()}"
        self.db.execute(
            "INSERT INTO credits VALUES (?,?,?,?,?,?,?,?)",
            (f["lcReference"], bank_ref, "issued", f["currency"], str(amount), f["expiryDate"], 0,
             int(f.get("billOfLadingBytes", 0))),
        )  # fmt: skip
        return {"lcReference": f["lcReference"], "bankReference": bank_ref, "status": "issued"}

    def amend(self, f: dict[str, str]) -> dict[str, Any]:
        ref, _bank_ref, _status, _ccy, _amount_text, _expiry, amendments = self._credit(f["lcReference"])
        number = int(f.get("amendmentNo") or 0)
        if number != amendments + 1:
            raise SoapFault(True, "AmendmentOutOfSequence", f"expected amendment {amendments + 1}, got {number}")
        if f.get("newAmount"):
            self.db.execute("UPDATE credits SET amount=? WHERE ref=?", (str(_amount(f["newAmount"], "newAmount")), ref))
        if f.get("newExpiryDate"):
            self.db.execute("UPDATE credits SET expiry=? WHERE ref=?", (f["newExpiryDate"], ref))
        self.db.execute("UPDATE credits SET amendments=?, status='amended' WHERE ref=?", (number, ref))
        return {"lcReference": ref, "amendmentNo": number, "status": "amended"}

    def query(self, f: dict[str, str]) -> dict[str, Any]:
        ref, bank_ref, status, currency, amount, expiry, amendments = self._credit(f["lcReference"])
        return {
            "lcReference": ref,
            "bankReference": bank_ref,
            "status": status,
            "currency": currency,
            "amount": amount,
            "expiryDate": expiry,
            "amendments": amendments,
        }


class ExportCreditInsurer(SoapPartner):
    """An export-credit agency: policy query and buyer credit-limit applications."""

    database = "eci-insurer.sqlite3"
    wsdl_file = "export_credit.wsdl"
    path = "eci"
    tns = "urn:tradehub:sandbox:export-credit"

    def seed(self) -> None:
        demo = [
            ("POL-2026-0001", "Demo Exporter Ltd", "active", "USD", "1000000.00", "250000.00"),
            ("POL-2026-0002", "Sample Machinery Co", "active", "EUR", "500000.00", "0.00"),
            ("POL-2025-0099", "Former Client GmbH", "lapsed", "EUR", "100000.00", "0.00"),
        ]
        self.db.executemany("INSERT OR IGNORE INTO policies VALUES (?,?,?,?,?,?)", demo)

    def operations(self) -> dict[str, Operation]:
        return {"QueryPolicy": self.query, "ApplyLimit": self.apply}

    def _policy(self, policy_no: str) -> tuple[str, str, str, str, str, str]:
        row = self.db.execute("SELECT * FROM policies WHERE policy_no=?", (policy_no,)).fetchone()
        if row is None:
            raise SoapFault(True, "UnknownPolicy", f"no policy {policy_no!r}")
        return row  # type: ignore[no-any-return]

    def query(self, f: dict[str, str]) -> dict[str, Any]:
        policy_no, holder, status, currency, total, used = self._policy(f["policyNo"])
        return {
            "policyNo": policy_no,
            "holder": holder,
            "status": status,
            "currency": currency,
            "totalLimit": total,
            "usedLimit": used,
        }

    def apply(self, f: dict[str, str]) -> dict[str, Any]:
        policy_no, _holder, status, currency, total, used = self._policy(f["policyNo"])
        amount = _amount(f.get("amount", ""), "amount")
        if status != "active":
            raise SoapFault(True, "PolicyNotActive", f"policy {policy_no} is {status}")
        if f.get("currency") != currency:
            raise SoapFault(True, "CurrencyMismatch", f"policy {policy_no} is in {currency}")
        free = Decimal(total) - Decimal(used)
        granted = min(amount, free)
        decision = "approved" if granted == amount else ("referred" if granted > 0 else "declined")
        self.db.execute("UPDATE policies SET used=? WHERE policy_no=?", (str(Decimal(used) + granted), policy_no))
        application = f"APP{secrets.token_hex(5).upper()}"
        return {"applicationId": application, "decision": decision, "approvedAmount": str(granted)}
