"""Parse and render CBPR+ messages (AppHdr + Document), validated against the official XSDs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from canonical.codecs import Decoded
from canonical.envelope import violations_of
from canonical.errors import RejectedInput, Violation
from canonical.iso20022 import (
    camt054,
    camt057,
    camt060,
    camt105,
    camt106,
    camt107,
    camt108,
    camt109,
    cancellation,
    enquiry,
    pacs003,
    pacs008,
    pacs009,
    pacs010,
    pain001,
    statements,
    status,
)
from canonical.iso20022.header import HEAD_DEFINITION, HEAD_NS, BusinessHeader, read_header, write_header
from canonical.iso20022.rules import document_violations, header_violations
from canonical.iso20022.schemas import xsd_violations
from canonical.iso20022.tree import ENVELOPE_NS, ISO_NS, Reader, Writer, local_name
from canonical.xml import UnsafeXml, parse_xml

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Definition:
    """One supported message definition: its canonical type and how to read / write it."""

    id: str
    type: str
    read: Callable[[Reader], BaseModel]
    write: Callable[[Any, datetime], Writer]


DEFINITIONS: dict[str, Definition] = {
    d.id: d
    for d in (
        Definition(pacs008.DEFINITION, "payment.credit_transfer", pacs008.read, pacs008.write),
        Definition(pacs009.DEFINITION, "payment.fi_transfer", pacs009.read, pacs009.write),
        Definition(status.PACS002, "payment.status_report", status.read_status, status.write_status),
        Definition(status.PACS004, "payment.return", status.read_return, status.write_return),
        Definition(camt054.DEFINITION, "payment.account_notification", camt054.read, camt054.write),
        Definition(enquiry.DEFINITION, "payment.status_request", enquiry.read, enquiry.write),
        Definition(
            cancellation.CAMT056,
            "payment.cancellation_request",
            cancellation.read_request,
            cancellation.write_request,
        ),
        Definition(
            cancellation.CAMT029,
            "payment.cancellation_resolution",
            cancellation.read_resolution,
            cancellation.write_resolution,
        ),
        Definition(
            statements.CAMT053, "payment.account_statement", statements.read_statement, statements.write_statement
        ),
        Definition(statements.CAMT052, "payment.account_report", statements.read_report, statements.write_report),
        Definition(camt057.DEFINITION, "payment.notice_to_receive", camt057.read, camt057.write),
        Definition(camt060.DEFINITION, "payment.account_reporting_request", camt060.read, camt060.write),
        Definition(camt105.DEFINITION, "payment.charges_notification", camt105.read, camt105.write),
        Definition(camt106.DEFINITION, "payment.charges_request", camt106.read, camt106.write),
        Definition(camt107.DEFINITION, "payment.cheque_presentment", camt107.read, camt107.write),
        Definition(camt108.DEFINITION, "payment.cheque_stop_request", camt108.read, camt108.write),
        Definition(camt109.DEFINITION, "payment.cheque_stop_report", camt109.read, camt109.write),
        Definition(pain001.DEFINITION, "payment.initiation", pain001.read, pain001.write),
        Definition(pacs003.DEFINITION, "payment.direct_debit", pacs003.read, pacs003.write),
        Definition(pacs010.DEFINITION, "payment.fi_direct_debit", pacs010.read, pacs010.write),
    )
}
_BY_TYPE = {d.type: d for d in DEFINITIONS.values()}


@dataclass(frozen=True)
class Iso20022Message:
    """A business message with its Business Application Header."""

    header: BusinessHeader
    payload: BaseModel

    @property
    def type(self) -> str:
        return DEFINITIONS[self.header.message_definition].type


def definition_for(payload: BaseModel) -> Definition:
    kind = getattr(type(payload), "__message_type__", "")
    if kind not in _BY_TYPE:
        raise RejectedInput("no ISO 20022 rendering", [Violation("type", "unsupported_message_type", kind)])
    return _BY_TYPE[kind]


def parse(data: bytes) -> Iso20022Message:
    """Parse, XSD-validate and CBPR+-check an enveloped or bare AppHdr + Document; RejectedInput if not valid."""
    try:
        root = parse_xml(data)
    except UnsafeXml as exc:
        where = f"line {exc.line}" if exc.line else "/"
        raise RejectedInput("unsafe XML", [Violation(where, exc.rule, exc.detail)]) from None
    header_el, document_el = _parts(root)
    definition_id = etree.QName(document_el).namespace.removeprefix(ISO_NS) if _iso(document_el) else ""
    definition = DEFINITIONS.get(definition_id)
    if definition is None:
        ns = etree.QName(document_el).namespace or "(none)"
        raise RejectedInput("unsupported document", [Violation("/Document", "wrong_namespace", ns)])
    violations = xsd_violations(HEAD_DEFINITION, header_el) + xsd_violations(definition.id, document_el)
    violations += header_violations(header_el, definition.id) + document_violations(definition.id, document_el)
    if violations:
        raise RejectedInput(f"{definition.id} rejected", violations)
    try:
        header = read_header(Reader(header_el, HEAD_NS))
        payload = definition.read(Reader(document_el, etree.QName(document_el).namespace or ""))
    except PydanticValidationError as exc:
        raise RejectedInput(f"{definition.id} rejected", violations_of(exc, "payload.")) from None
    return Iso20022Message(header, payload)


def render(message: Iso20022Message, clock: Clock = lambda: datetime.now(UTC)) -> bytes:
    """The SWIFT envelope form (`urn:swift:xsd:envelope`), validated: raises RejectedInput if it is not."""
    definition = definition_for(message.payload)
    if message.header.message_definition != definition.id:
        loc = "/AppHdr/MsgDefIdr"
        raise RejectedInput("header mismatch", [Violation(loc, "message_definition_mismatch", definition.id)])
    envelope = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap={None: ENVELOPE_NS})
    header_el = write_header(message.header).el
    document_el = definition.write(message.payload, clock()).el
    envelope.append(header_el)
    envelope.append(document_el)
    violations = xsd_violations(HEAD_DEFINITION, header_el) + xsd_violations(definition.id, document_el)
    violations += document_violations(definition.id, document_el)
    if violations:
        raise RejectedInput(f"rendered {definition.id} does not validate", violations)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _iso(el: etree._Element) -> bool:
    return (etree.QName(el).namespace or "").startswith(ISO_NS)


def _parts(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    """AppHdr and Document: children of a SWIFT Envelope or of any other wrapper element."""
    children = [c for c in root if isinstance(c.tag, str)]
    header = next((c for c in children if etree.QName(c).namespace == HEAD_NS and local_name(c) == "AppHdr"), None)
    document = next((c for c in children if local_name(c) == "Document"), None)
    if local_name(root) == "Document":
        document = root
    if document is None:
        raise RejectedInput("no ISO 20022 Document", [Violation("/Document", "document_required", local_name(root))])
    if header is None:
        raise RejectedInput("no Business Application Header", [Violation("/AppHdr", "apphdr_required", "")])
    return header, document


def correlation_of(payload: BaseModel) -> str:
    uetr = getattr(payload, "uetr", None)
    original = getattr(payload, "original", None)
    return str(uetr or getattr(original, "uetr", None) or "")


class Iso20022Codec:
    """DocumentCodec for CBPR+ XML: raw bytes in, a canonical payload out."""

    name = "iso20022"

    def detect(self, body: bytes, content_type: str) -> bool:
        head = body[:8192]
        return b"urn:iso:std:iso:20022:tech:xsd:" in head or b"urn:swift:xsd:envelope" in head

    def decode(self, body: bytes) -> Decoded:
        message = parse(body)
        return Decoded(
            type=message.type,
            payload=message.payload,
            idempotency_key=f"{message.header.from_bic}:{message.header.business_message_id}",
            destination=message.header.to_bic,
            correlation_id=correlation_of(message.payload),
        )

    def encode(self, message: Iso20022Message) -> bytes:
        return render(message)
