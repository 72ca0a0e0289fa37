"""Inbound SOAP: institutions that speak SOAP submit documentary-credit and export-credit-insurance
messages to `POST /soap/{service}`; `GET /soap/{service}?wsdl` serves the WSDL, `GET /soap` lists them.

A call is read with the hub's hardened parser (no DTD, no entities: XXE and entity expansion are refused),
MTOM documents within a size limit, then WS-Security is checked: a Timestamp within its window, the caller's
credential (its API key as `X-Api-Key` / bearer token, or a UsernameToken with `Username` = institution id
and a PasswordText API key: the hub keeps only hashes of API keys, so a PasswordDigest cannot be checked),
a signature over Body and Timestamp by one of the institution's registered keys (required when the
institution requires signatures), and a nonce never seen before (the hub's replay guard in NATS KV).
The operation's parameters become the canonical payload (by field alias), the Envelope is accepted through
the normal ingress, and the answer is `hub:Accepted` with the message id, its status and the status URL; a
request-reply operation (the queries, the limit application) waits up to REPLY_WAIT_S for the partner and
answers with its result as the WSDL's response (the message id in a `hub:messageId` header), or a fault
when the partner refused it.
Every refusal is a SOAP fault of the request's version with the WS-Security or hub code in the detail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from lxml import etree
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.helpers import serialize_object

from adapters.soap import WSDL_DIR, OfflineTransport
from canonical.envelope import Envelope, parse_envelope
from canonical.errors import RejectedInput
from canonical.mtom import MtomError, read_soap
from canonical.registry import payload_model
from canonical.xml import UnsafeXml
from gateway.ingress import accept, read_body
from gateway.problems import Problem
from gateway.services import Services
from security import jose, wssecurity
from security.institutions import Institution, NotAuthenticated
from security.wssecurity import SOAP11, SOAP12, WsSecurityError

HUB_NS = "urn:tradehub:soap:hub"
REPLY_WAIT_S = 10.0  # how long a request-reply call waits for the partner's answer before answering Accepted
FINAL = frozenset({"completed", "rejected", "dead_lettered"})


@dataclass(frozen=True)
class InboundService:
    """One SOAP service the hub offers: its WSDL, the canonical type of each operation, where it goes."""

    wsdl: Path
    service: str
    operations: dict[str, str]
    destination: str
    request_reply: frozenset[str] = frozenset()  # operations answered with the partner's result


INBOUND = {
    "letter-of-credit": InboundService(
        WSDL_DIR / "letter_of_credit.wsdl",
        "LetterOfCredit",
        {
            "IssueCredit": "trade.lc_issue",
            "AmendCredit": "trade.lc_amend",
            "QueryCreditStatus": "trade.lc_status_query",
        },
        "lc-bank",
        frozenset({"QueryCreditStatus"}),
    ),
    "export-credit": InboundService(
        WSDL_DIR / "export_credit.wsdl",
        "ExportCredit",
        {"QueryPolicy": "insurance.policy_query", "ApplyLimit": "insurance.limit_application"},
        "eci",
        frozenset({"QueryPolicy", "ApplyLimit"}),
    ),
}


def _target_namespace(wsdl: Path) -> str:
    """The WSDL's targetNamespace (our own file: a plain read)."""
    root = etree.fromstring(wsdl.read_bytes())
    return str(root.get("targetNamespace", ""))


class Fault(Exception):
    def __init__(self, sender: bool, code: str, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.sender, self.code, self.reason = sender, code, reason
        self.status = status or (400 if sender else 500)


def fault_response(version: str, fault: Fault) -> Response:
    """A SOAP 1.1 or 1.2 fault; the hub's or WS-Security's code in the detail (and as 1.2 subcode)."""
    nsmap = {"soap": version, "hub": HUB_NS, "wsse": wssecurity.WSSE, "wsu": wssecurity.WSU}
    envelope = etree.Element(f"{{{version}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{version}}}Body")
    element = etree.SubElement(body, f"{{{version}}}Fault")
    prefixed = fault.code if ":" in fault.code else f"hub:{fault.code}"
    if version == SOAP11:
        etree.SubElement(element, "faultcode").text = f"soap:{'Client' if fault.sender else 'Server'}"
        etree.SubElement(element, "faultstring").text = fault.reason
        detail = etree.SubElement(element, "detail")
    else:
        code = etree.SubElement(element, f"{{{version}}}Code")
        etree.SubElement(code, f"{{{version}}}Value").text = f"soap:{'Sender' if fault.sender else 'Receiver'}"
        etree.SubElement(etree.SubElement(code, f"{{{version}}}Subcode"), f"{{{version}}}Value").text = prefixed
        text = etree.SubElement(etree.SubElement(element, f"{{{version}}}Reason"), f"{{{version}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.reason
        detail = etree.SubElement(element, f"{{{version}}}Detail")
    refused = etree.SubElement(detail, f"{{{HUB_NS}}}Refused")
    etree.SubElement(refused, f"{{{HUB_NS}}}code").text = fault.code
    etree.SubElement(refused, f"{{{HUB_NS}}}detail").text = fault.reason
    status = 500 if version == SOAP11 else fault.status  # SOAP 1.1 over HTTP: every fault is a 500
    return _soap(version, envelope, status)


def _soap(version: str, envelope: etree._Element, status: int) -> Response:
    media = "application/soap+xml" if version == SOAP12 else "text/xml"
    content = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return Response(content, status_code=status, media_type=f"{media}; charset=utf-8")


class SoapInbound:
    """What one call goes through; the router below only wires HTTP to it."""

    def __init__(self, services: Services, admit: Callable[[Request, Institution], Awaitable[None]]) -> None:
        self.services, self.admit = services, admit
        self._bindings: dict[tuple[str, str], Any] = {}

    def binding(self, name: str, version: str) -> Any:
        spec = INBOUND[name]
        port = f"{spec.service}Soap{'12' if version == SOAP12 else '11'}"
        if (name, port) not in self._bindings:
            settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            transport = OfflineTransport()  # type: ignore[no-untyped-call]
            client = Client(str(spec.wsdl), transport=transport, settings=settings)  # type: ignore[no-untyped-call]
            self._bindings[(name, port)] = client.bind(spec.service, port)._binding
        return self._bindings[(name, port)]

    def authenticate(self, request: Request, security: etree._Element | None) -> Institution:
        credential = request.headers.get("x-api-key") or ""
        authorization = request.headers.get("authorization") or ""
        if not credential and authorization.lower().startswith("bearer "):
            credential = authorization[7:].strip()
        if not credential and security is not None:
            credential = security.findtext(f"{{{wssecurity.WSSE}}}UsernameToken/{{{wssecurity.WSSE}}}Password") or ""
        try:
            return self.services.institutions.authenticate(credential.strip())
        except NotAuthenticated:
            raise Fault(True, "wsse:FailedAuthentication", "the credential is not a registered institution's") from None

    async def handle(self, name: str, request: Request) -> tuple[str, etree._Element]:
        spec = INBOUND.get(name)
        if spec is None:
            raise Fault(True, "UnknownService", f"no SOAP service {name!r}; GET /soap lists them", 404)
        body = await read_body(request, self.services.tuning.gateway.max_body_bytes)
        try:
            envelope, _documents = read_soap(body, request.headers.get("content-type", ""))
            version = wssecurity.soap_ns(envelope)
        except UnsafeXml as exc:
            raise Fault(True, f"UnsafeXml.{exc.rule}", f"refused XML: {exc}") from None
        except (MtomError, WsSecurityError) as exc:
            raise Fault(True, "BadRequest", str(exc)) from None
        security = envelope.find(f"{{{version}}}Header/{{{wssecurity.WSSE}}}Security")
        inst = self.authenticate(request, security)
        await self.admit(request, inst)
        keys = {k.kid: k for k in self.services.institutions.keys_of().get(inst.id, [])}

        def key_of(kid: str) -> jose.HubKey | None:
            return keys.get(kid)

        def password_ok(username: str, password: str) -> bool:
            try:  # the token's own password must be this institution's key, whatever else authenticated
                return username == inst.id and self.services.institutions.authenticate(password).id == inst.id
            except NotAuthenticated:
                return False

        try:
            verified = wssecurity.check(
                envelope, password_ok=password_ok, key_of=key_of, require_signature=inst.require_signature
            )
        except WsSecurityError as exc:
            raise Fault(True, exc.code, exc.detail, 401) from None
        if not verified.replay_key:
            raise Fault(True, "wsse:InvalidSecurity", "send a UsernameToken nonce or a signature", 401)
        assert self.services.nonces is not None, "the hub opens the nonce guard before serving"
        if not await self.services.nonces.first_use(inst.id, f"wsse-{verified.replay_key}"):
            raise Fault(True, "wsse:FailedAuthentication", "the nonce was used before (a replay)", 409)
        env = self.envelope(name, spec, version, envelope, inst, request.headers.get("idempotency-key"))
        try:
            message_id, status, _new = await accept(self.services.store, self.services.js, env, self.services.seal)
        except Problem as exc:
            raise Fault(exc.status < 500, f"Hub.{exc.slug}", exc.detail, exc.status) from None
        operation = next(op for op, kind in spec.operations.items() if kind == env.type)
        if operation in spec.request_reply:
            reply = await self.reply(spec, version, operation, message_id)
            if reply is not None:
                return version, reply
        return version, self.accepted(version, message_id, status)

    async def reply(self, spec: InboundService, version: str, operation: str, message_id: str) -> etree._Element | None:
        """The partner's result as the operation's WSDL response once the message is final; a business
        refusal or dead letter as a fault; None if it is not final within REPLY_WAIT_S (answer Accepted)."""
        deadline = asyncio.get_running_loop().time() + REPLY_WAIT_S
        while True:
            view = await self.services.store.message(message_id)
            if view is not None and view.status in FINAL:
                break
            if asyncio.get_running_loop().time() > deadline:
                return None
            await asyncio.sleep(0.05)
        history = await self.services.store.history(message_id)
        if view.status != "completed":
            why = view.last_error or next((t.detail.get("reason", "") for t in reversed(history)), "")
            raise Fault(view.status == "rejected", f"Partner.{view.status}", f"{message_id} {view.status}: {why}")
        result = next((t.detail.get("result") for t in reversed(history) if t.status == "delivered"), None)
        if not isinstance(result, dict):
            return None
        tns = _target_namespace(spec.wsdl)
        envelope = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "tns": tns, "hub": HUB_NS})
        header = etree.SubElement(envelope, f"{{{version}}}Header")
        etree.SubElement(header, f"{{{HUB_NS}}}messageId").text = message_id  # which message this answers
        answer = etree.SubElement(etree.SubElement(envelope, f"{{{version}}}Body"), f"{{{tns}}}{operation}Response")
        for name, value in result.items():
            if value is not None:
                etree.SubElement(answer, f"{{{tns}}}{name}").text = str(value)
        return envelope

    def envelope(
        self,
        name: str,
        spec: InboundService,
        version: str,
        envelope: etree._Element,
        inst: Institution,
        idempotency_key: str | None,
    ) -> Envelope:
        body = envelope.find(f"{{{version}}}Body")
        request = body[0] if body is not None and len(body) else None
        operation = etree.QName(request).localname.removesuffix("Request") if request is not None else ""
        kind = spec.operations.get(operation)
        model = payload_model(kind) if kind else None
        if request is None or kind is None or model is None:
            raise Fault(True, "UnknownOperation", f"{name} has no operation {operation or '(empty Body)'}")
        if not inst.may_send(kind):
            raise Fault(True, "TypeNotAllowed", f"{inst.id} may not send {kind}", 403)
        try:
            values = serialize_object(self.binding(name, version).get(operation).input.deserialize(envelope), dict)  # type: ignore[no-untyped-call]
        except (ValueError, ZeepError) as exc:
            raise Fault(True, "InvalidRequest", f"{operation}: {exc}") from None
        if not isinstance(values, dict):  # zeep unwraps an operation of one parameter
            values = {etree.QName(request[0]).localname: values} if len(request) else {}
        try:
            payload: BaseModel = model.model_validate({k: v for k, v in values.items() if v is not None})
        except PydanticValidationError as exc:
            raise Fault(
                True, "InvalidRequest", f"{operation}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from None
        data = {"type": kind, "source": inst.id, "destination": spec.destination, "payload": payload}
        if idempotency_key:
            data["idempotency_key"] = idempotency_key
        try:
            return parse_envelope(data)
        except RejectedInput as exc:
            raise Fault(True, "InvalidRequest", str(exc)) from None

    @staticmethod
    def accepted(version: str, message_id: str, status: str) -> etree._Element:
        envelope = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "hub": HUB_NS})
        answer = etree.SubElement(etree.SubElement(envelope, f"{{{version}}}Body"), f"{{{HUB_NS}}}Accepted")
        etree.SubElement(answer, f"{{{HUB_NS}}}messageId").text = message_id
        etree.SubElement(answer, f"{{{HUB_NS}}}status").text = status
        etree.SubElement(answer, f"{{{HUB_NS}}}statusUrl").text = f"/v1/messages/{message_id}"
        return envelope


def soap_router(services: Services, admit: Callable[[Request, Institution], Awaitable[None]]) -> APIRouter:
    router = APIRouter(tags=["soap"])
    inbound = SoapInbound(services, admit)

    @router.get("/soap")
    async def soap_services(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        listed = [
            {
                "name": name,
                "wsdl": f"{base}/soap/{name}?wsdl",
                "endpoint": f"{base}/soap/{name}",
                "operations": s.operations,
            }
            for name, s in INBOUND.items()
        ]
        return JSONResponse(listed)

    @router.get("/soap/{name}")
    async def soap_wsdl(name: str, request: Request) -> Response:
        spec = INBOUND.get(name)
        if spec is None or "wsdl" not in request.url.query.lower():
            raise Problem(404, "not-found", "No such WSDL", f"GET /soap/{name}?wsdl of a service GET /soap lists")
        address = f"{str(request.base_url).rstrip('/')}/soap/{name}"
        wsdl = spec.wsdl.read_text().replace('location="http://127.0.0.1/lc"', f'location="{address}"')
        wsdl = wsdl.replace('location="http://127.0.0.1/eci"', f'location="{address}"')
        return Response(wsdl, media_type="text/xml; charset=utf-8")

    @router.post("/soap/{name}")
    async def soap_call(name: str, request: Request) -> Response:
        version = SOAP12 if "application/soap+xml" in request.headers.get("content-type", "") else SOAP11
        try:
            version, answer = await inbound.handle(name, request)
        except Fault as fault:
            return fault_response(version, fault)
        except Problem as exc:  # the body limit, the caller's address or rate
            return fault_response(version, Fault(exc.status < 500, f"Hub.{exc.slug}", exc.detail, exc.status))
        return _soap(version, answer, 200)

    return router
