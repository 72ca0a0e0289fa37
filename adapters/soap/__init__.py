"""Legacy SOAP partners (banks' letter-of-credit desks, export-credit insurers): calls built by zeep from
the partner's WSDL, WS-Security both ways, SOAP faults mapped onto the error contract.

Settings (an adapter version in routes.yaml), besides url / timeout_s / health_path:
  wsdl        the WSDL: a file (relative to the project or absolute) or a loopback URL; zeep reads it
              through a transport that refuses anything else (no remote xsd:import).
  service, port     the WSDL service and port (the port decides SOAP 1.1 or 1.2 and the binding).
  path        the endpoint path under `url` (e.g. /lc); the WSDL's address is a placeholder.
  operations  canonical message type -> operation name; the payload's field aliases are its parameters.
  username, password_env   UsernameToken with a PasswordDigest, the password read from that environment
              variable at each call (never from a file); no username: no token. A `sandbox:` partner
              whose variable is unset gets the sandboxes' dev password.
  sign        sign Body + Timestamp with the hub's document-signing key (`jose` suite: ES256).
  verify_response   required | optional | none: the partner's signature over its answer, checked against
              its JWKS (`jwks_path` under url, e.g. /_sandbox/jwks, or `jwks_file`).
  fault_map   fault code -> transient | permanent | rejected, matched on the partner's detail code, the
              SOAP 1.2 subcode, then the fault code; unmatched: Server / Receiver faults are transient,
              all others permanent.
  mtom        send base64Binary documents (e.g. a bill of lading) as MTOM attachments.
A partner that does not answer within timeout_s is in doubt (InDoubtError): retried with the same
Idempotency-Key. Answers are synchronous and final: the Receipt carries the operation's result.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from lxml import etree
from pydantic import BaseModel, Field
from zeep import Client, Settings, Transport
from zeep.exceptions import Error as ZeepError
from zeep.helpers import serialize_object

from adapters.base import (
    InDoubtError,
    Outbound,
    PermanentError,
    Receipt,
    RejectedByPartner,
    TransientError,
    adapter_kind,
    protected,
)
from adapters.partner import HttpPartner, PartnerSettings
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation
from canonical.mtom import MtomError, read_soap, write_mtom
from canonical.xml import UnsafeXml, parse_xml
from security import jose, wssecurity
from security.keystore import KeyStoreError
from security.wssecurity import SOAP11, SOAP12, WsSecurityError

PROJECT = Path(__file__).resolve().parent.parent.parent
WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# What the SOAP sandboxes accept when their environment names no password (sandbox/soap_partners.py): a
# partner at a `sandbox:` URL gets it when `password_env` is unset, so `hub run` works out of the box.
SANDBOX_DEV_PASSWORD = "sandbox-password"
FaultClass = Literal["transient", "permanent", "rejected"]


class SoapSettings(PartnerSettings):
    wsdl: str = Field(min_length=1)
    service: str = Field(min_length=1)
    port: str = Field(min_length=1)
    path: str = Field(default="/", pattern=r"^/")
    operations: dict[str, str] = Field(min_length=1)
    username: str = ""
    password_env: str = ""
    sign: bool = True
    verify_response: Literal["required", "optional", "none"] = "required"
    jwks_path: str = Field(default="/_sandbox/jwks", pattern=r"^/")
    jwks_file: str = ""
    fault_map: dict[str, FaultClass] = Field(default_factory=dict)
    mtom: bool = False


class OfflineTransport(Transport):  # type: ignore[misc,unused-ignore]  # zeep is untyped
    """zeep's loader, limited to local files and loopback URLs: a WSDL naming a remote schema fails."""

    def load(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            if parts.hostname not in LOOPBACK:
                raise PermanentError(f"WSDL/XSD {url!r} is not on loopback; ship it in the project")
            return bytes(super().load(url))  # type: ignore[no-untyped-call]
        if parts.scheme not in ("", "file"):
            raise PermanentError(f"WSDL/XSD {url!r}: only local files and loopback URLs")
        return Path(parts.path if parts.scheme == "file" else url).read_bytes()


class SoapFaultError(PermanentError):
    """Base for faults; `codes` are the fault's codes, most specific first."""


class PartnerFaultRefusal(RejectedByPartner):
    """A fault the configuration calls the partner's business refusal (the message ends rejected)."""

    def __init__(self, reason: str, *, code: str, status: int | None = None) -> None:
        super().__init__(reason, status=status)
        self.code = code


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, bytes):
        return len(value)  # documents are not echoed into receipts
    return value


def fault_codes(fault: etree._Element, version: str) -> list[str]:
    """A fault's codes, most specific first: the detail's code, the 1.2 subcode(s), the fault code, its class."""
    codes: list[str] = []
    detail = fault.find(f"{{{version}}}Detail") if version == SOAP12 else fault.find("detail")
    if detail is not None:
        codes += [(c.text or "").strip() for c in detail.iter() if etree.QName(c).localname == "code"]
    if version == SOAP12:
        codes += [(v.text or "").split(":")[-1] for v in fault.iter(f"{{{SOAP12}}}Value") if v.getparent() is not None][
            ::-1
        ]
    else:
        main = (fault.findtext("faultcode") or "").strip().split(":")[-1]
        codes += [main, main.split(".")[0]]
    return [c for c in dict.fromkeys(codes) if c]


def fault_reason(fault: etree._Element, version: str) -> str:
    if version == SOAP12:
        return (fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text") or "").strip()
    return (fault.findtext("faultstring") or "").strip()


@adapter_kind("soap")
class SoapAdapter(HttpPartner):
    """One WSDL port of one partner; zeep builds and reads the operations, we secure and send them."""

    category: ClassVar[str] = "soap"
    settings_model: ClassVar[type[PartnerSettings]] = SoapSettings
    settings: SoapSettings

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._zeep: Any = None
        self._proxy: Any = None
        self._partner_keys: dict[str, jose.HubKey] = {}

    # --- the WSDL --------------------------------------------------------------------------------

    def _wsdl_location(self) -> str:
        wsdl = self.settings.wsdl
        if urlsplit(wsdl).scheme in ("http", "https", "file"):
            return wsdl
        path = Path(wsdl)
        return str(path if path.is_absolute() else PROJECT / path)

    def binding(self) -> Any:
        """zeep's proxy of the configured service and port, the WSDL read once (offline)."""
        if self._proxy is None:
            settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            try:
                transport = OfflineTransport()  # type: ignore[no-untyped-call]
                self._zeep = Client(self._wsdl_location(), transport=transport, settings=settings)  # type: ignore[no-untyped-call]
                self._proxy = self._zeep.bind(self.settings.service, self.settings.port)
            except (OSError, ValueError, ZeepError) as exc:
                raise PermanentError(f"{self.ctx.name}: cannot read WSDL {self.settings.wsdl}: {exc}") from None
        return self._proxy

    @property
    def soap_version(self) -> str:
        return SOAP12 if type(self.binding()._binding).__name__ == "Soap12Binding" else SOAP11

    # --- render ----------------------------------------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        operation = self.settings.operations.get(envelope.type)
        if operation is None or not isinstance(envelope.payload, BaseModel):
            raise PermanentError(f"{self.ctx.name} has no operation for {envelope.type}")
        params = envelope.payload.model_dump(by_alias=True, exclude_none=True)
        try:
            message = self._zeep_client().create_message(self.binding(), operation, **params)
        except (TypeError, ValueError, ZeepError) as exc:
            raise PermanentError(f"cannot render {envelope.type} as {operation}: {exc}") from None
        body = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
        soap_action = self.binding()._binding.get(operation).soapaction or ""
        if self.soap_version == SOAP12:
            content_type = f'application/soap+xml; charset=utf-8; action="{soap_action}"'
            headers = {"content-type": content_type}
        else:
            headers = {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{soap_action}"'}
        headers |= {"idempotency-key": str(envelope.id), "x-soap-operation": operation}
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.endpoint(self.settings.path), body, headers)

    def _zeep_client(self) -> Any:
        self.binding()
        return self._zeep

    # --- send ------------------------------------------------------------------------------------

    def secured(self, body: bytes) -> etree._Element:
        """The rendered envelope with a fresh Security header (a new nonce and Timestamp per attempt)."""
        envelope = parse_xml(body)
        password = ""
        if self.settings.username:
            password = os.environ.get(self.settings.password_env, "") if self.settings.password_env else ""
            if not password and self.settings.url.startswith("sandbox:"):
                password = SANDBOX_DEV_PASSWORD
            if not password:
                raise PermanentError(f"{self.ctx.name}: set the partner's password in ${self.settings.password_env}")
        signer = None
        if self.settings.sign:
            if self.ctx.document_signer is None:
                raise PermanentError(f"{self.ctx.name}: signing needs the hub's document-signing key")
            try:
                signer = self.ctx.document_signer("jose")
            except KeyStoreError as exc:
                raise PermanentError(f"{self.ctx.name}: {exc}") from None
        try:
            return wssecurity.secure(envelope, username=self.settings.username, password=password, signer=signer)
        except WsSecurityError as exc:
            raise PermanentError(f"{self.ctx.name}: {exc}") from None

    def wire(self, outbound: Outbound) -> tuple[bytes, dict[str, str]]:
        envelope = self.secured(outbound.body)
        headers = dict(outbound.headers)
        documents = [e for e in envelope.iter() if self._is_document(e)] if self.settings.mtom else []
        if documents:
            soap_type = "application/soap+xml" if self.soap_version == SOAP12 else "text/xml"
            body, headers["content-type"] = write_mtom(envelope, documents, soap_type)
            if self.soap_version == SOAP12:
                headers["content-type"] += (
                    f'; action="{self.binding()._binding.get(outbound.headers["x-soap-operation"]).soapaction}"'
                )
            return body, headers
        return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), headers

    @staticmethod
    def _is_document(element: etree._Element) -> bool:
        # Only base64Binary fields the canonical models declare as documents travel as attachments.
        return isinstance(element.tag, str) and etree.QName(element).localname in ("billOfLading",)

    async def send(self, outbound: Outbound) -> Receipt:
        body, headers = self.wire(outbound)
        body, headers = protected(self.ctx, Outbound(outbound.message_id, outbound.target, body, headers))
        response = await self.call("POST", outbound.target, body, headers, in_doubt=True)
        operation = outbound.headers.get("x-soap-operation", "")
        try:
            envelope, _ = read_soap(response.content, response.headers.get("content-type", ""))
            version = wssecurity.soap_ns(envelope)
        except (UnsafeXml, MtomError, WsSecurityError) as exc:
            if response.status_code != 200:
                self.raise_refusal(response)
            raise InDoubtError(
                f"{self.ctx.name} answered {response.status_code} with no SOAP envelope: {exc}"
            ) from None
        await self._verify(envelope)
        body_element = envelope.find(f"{{{version}}}Body")
        first = body_element[0] if body_element is not None and len(body_element) else None
        if first is not None and first.tag == f"{{{version}}}Fault":
            raise self.fault_error(first, version, response.status_code)
        if response.status_code != 200:
            self.raise_refusal(response)
        try:
            result = self.binding()._binding.get(operation).process_reply(envelope)
        except (ValueError, ZeepError) as exc:
            raise InDoubtError(f"{self.ctx.name}: cannot read the answer to {operation}: {exc}") from None
        values = _jsonable(serialize_object(result, dict))  # type: ignore[no-untyped-call]
        values = values if isinstance(values, dict) else {"value": values}
        reference = next(
            (str(values[k]) for k in ("bankReference", "applicationId", "policyNo", "lcReference") if values.get(k)), ""
        )
        return Receipt(
            final=True, reference=reference, detail={"channel": self.ctx.name, "operation": operation, "result": values}
        )

    def fault_error(self, fault: etree._Element, version: str, status: int) -> Exception:
        """The error a fault becomes: by `fault_map` first, else Server / Receiver transient, others permanent."""
        codes = fault_codes(fault, version)
        reason = f"{self.ctx.name} fault {'/'.join(codes)}: {fault_reason(fault, version)}"[:500]
        chosen: FaultClass | None = next(
            (self.settings.fault_map[c] for c in codes if c in self.settings.fault_map), None
        )
        if chosen is None:
            chosen = "transient" if {"Server", "Receiver"} & set(codes) else "permanent"
        if chosen == "transient":
            return TransientError(reason, status=status)
        if chosen == "rejected":
            return PartnerFaultRefusal(reason, code=codes[0] if codes else "", status=status)
        return PermanentError(reason, status=status)

    async def _verify(self, envelope: etree._Element) -> None:
        mode = self.settings.verify_response
        if mode == "none":
            return
        kid = next((e.text or "" for e in envelope.iter("{http://www.w3.org/2000/09/xmldsig#}KeyName")), "")
        if kid and kid not in self._partner_keys:
            await self._load_partner_keys()
        try:
            wssecurity.check(envelope, key_of=self._partner_keys.get, require_signature=mode == "required")
        except WsSecurityError as exc:
            raise PermanentError(f"{self.ctx.name}: the answer's WS-Security is refused: {exc}") from None

    async def _load_partner_keys(self) -> None:
        try:
            if self.settings.jwks_file:
                document = json.loads(await asyncio.to_thread(Path(self.settings.jwks_file).read_text))
            else:
                response = await self.call("GET", self.endpoint(self.settings.jwks_path), None, {}, in_doubt=False)
                document = json.loads(response.content)
            self._partner_keys = {k.kid: k for k in (jose.import_jwk(j) for j in document["keys"])}
        except (OSError, ValueError, KeyError, TypeError, jose.JoseError) as exc:
            raise TransientError(f"{self.ctx.name}: cannot read the partner's keys: {exc}") from None

    # --- replies ---------------------------------------------------------------------------------

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        """SOAP partners answer synchronously; nothing arrives later."""
        raise RejectedInput(f"{self.ctx.name} answers synchronously", [Violation("/", "no_callbacks", "SOAP")])


__all__ = ["OfflineTransport", "SoapAdapter", "SoapSettings", "fault_codes"]
