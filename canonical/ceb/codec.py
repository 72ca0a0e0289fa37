"""Parse and render CEB messages (`ceb:CEB<nnn>Message`), validated against the GACC 202205 XSDs.

One message is one payload: a CEB311 with several `Order` entities decodes to one `customs.order`
payload whose `orders` keeps them all (they were declared together, under one guid and BaseTransfer,
and customs answers them together). The `ds:Signature` of an incoming message is neither verified
nor kept (the security layer owns signatures); rendering adds an unsigned template only where the
XSD requires a signature (CEB621).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from canonical.ceb import xmlmap
from canonical.ceb.schemas import Pack, Side, local_name, xsd_violations
from canonical.ceb.xmlmap import NS
from canonical.codecs import Decoded
from canonical.customs import DECLARATIONS, CebMessage, CustomsReceipt, ImportOrderMessage, ReturnEntry
from canonical.errors import RejectedInput, Violation
from canonical.xml import UnsafeXml, parse_xml

_ROOT = re.compile(r"^CEB(\d{3})Message$")
_RET = ("return_status", "return_time", "return_info")


@dataclass(frozen=True)
class ReceiptSpec:
    """A receipt message: its side, the `*Return` element and that element's fields in XSD order."""

    side: Side
    entity: str
    fields: tuple[str, ...]


RECEIPTS: dict[str, ReceiptSpec] = {
    "CEB312": ReceiptSpec("import", "OrderReturn", ("guid", "ebp_code", "ebc_code", "order_no", *_RET)),
    "CEB412": ReceiptSpec("import", "PaymentReturn", ("guid", "pay_code", "pay_transaction_id", *_RET)),
    "CEB512": ReceiptSpec("import", "LogisticsReturn", ("guid", "logistics_code", "logistics_no", *_RET)),
    "CEB622": ReceiptSpec(
        "import",
        "InventoryReturn",
        ("guid", "customs_code", "ebp_code", "ebc_code", "agent_code", "cop_no", "pre_no", "invt_no", *_RET),
    ),
    "CEB304": ReceiptSpec("export", "OrderReturn", ("guid", "ebp_code", "ebc_code", "order_no", *_RET)),
    "CEB404": ReceiptSpec("export", "ReceiptsReturn", ("guid", "ebc_code", "order_no", "pay_no", *_RET)),
    "CEB506": ReceiptSpec("export", "LogisticsReturn", ("guid", "logistics_code", "logistics_no", *_RET)),
    "CEB604": ReceiptSpec(
        "export",
        "InventoryReturn",
        (
            "guid",
            "agent_code",
            "cop_no",
            "pre_no",
            "invt_no",
            "ebc_code",
            "ebp_code",
            "order_no",
            "statistics_flag",
            *_RET,
        ),
    ),
}
DECLARATION_ROOTS: dict[str, type[CebMessage]] = {m.root: m for m in DECLARATIONS}
SIGNATURE_REQUIRED = frozenset({"CEB621Message"})  # the XSD has ds:Signature minOccurs=1 there
CebPayload = CebMessage | CustomsReceipt


def supported_messages() -> list[str]:
    return sorted([m.removesuffix("Message") for m in DECLARATION_ROOTS] + list(RECEIPTS))


def parse(data: bytes) -> CebPayload:
    """Parse, XSD-validate and model-validate one CEB message; RejectedInput names the element and rule."""
    root, name, declaration, receipt, side = _read(data)
    violations = xsd_violations(side, root)
    if violations:
        raise RejectedInput(f"{name} rejected", violations)
    if declaration is not None:
        data_in = {"guid": root.get("guid"), "version": root.get("version"), **xmlmap.read(root, declaration)}
        return _validated(declaration, data_in, name, {})
    assert receipt is not None
    entity_tag = f"{{{NS}}}{receipt.entity}"
    returns = [xmlmap.read(el, ReturnEntry) for el in root if el.tag == entity_tag]
    data_in = {
        "message": name.removesuffix("Message"),
        "guid": root.get("guid"),
        "version": root.get("version"),
        "returns": returns,
    }
    return _validated(CustomsReceipt, data_in, name, {"returns": receipt.entity})


def _read(data: bytes) -> tuple[etree._Element, str, type[CebMessage] | None, ReceiptSpec | None, Side]:
    """The safely parsed root of a CEB message, its name, what it is and its side; RejectedInput if it is none."""
    try:
        root = parse_xml(data)
    except UnsafeXml as exc:
        raise RejectedInput(
            "unsafe XML", [Violation(f"line {exc.line}" if exc.line else "/", exc.rule, exc.detail)]
        ) from None
    name = local_name(root)
    if etree.QName(root).namespace != NS:
        ns = etree.QName(root).namespace or "(none)"
        raise RejectedInput("not a CEB message", [Violation(f"/{name}", "wrong_namespace", f"{ns}, expected {NS}")])
    declaration = DECLARATION_ROOTS.get(name)
    receipt = RECEIPTS.get(name.removesuffix("Message")) if _ROOT.match(name) else None
    if declaration is None and receipt is None:
        rule = "unknown_message" if _ROOT.match(name) else "wrong_root"
        detail = f"supported: {', '.join(supported_messages())}"
        raise RejectedInput("unsupported CEB message", [Violation(f"/{name}", rule, detail)])
    side: Side = declaration.side if declaration is not None else receipt.side  # type: ignore[union-attr]
    return root, name, declaration, receipt, side


def fits_pack(data: bytes, pack: Pack) -> bool:
    """Whether the message is valid under another schema pack's XSD (e.g. 2018, for an older partner)."""
    try:
        root, _name, _declaration, _receipt, side = _read(data)
    except RejectedInput:
        return False
    return not xsd_violations(side, root, pack)


def _validated(model: type[CebPayload], data: dict[str, Any], root: str, renames: dict[str, str]) -> CebPayload:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        violations = [
            Violation(_path(root, err["loc"], data, renames), err["type"], err["msg"])
            for err in exc.errors(include_url=False)
        ]
        raise RejectedInput(f"{root} rejected", violations) from None


def _path(root: str, loc: tuple[int | str, ...], data: Any, renames: dict[str, str]) -> str:
    """Pydantic's alias loc as an element path; `guid`/`version` of the root are attributes."""
    path = f"/{root}"
    node = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list) and len(node) > 1:
                path += f"[{part + 1}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        step = renames.get(part, part)
        path += f"/@{step}" if node is data and step in ("guid", "version") else f"/{step}"
        node = node.get(part) if isinstance(node, dict) else None
    return path


def render(payload: CebPayload, *, signature_template: bool | None = None) -> bytes:
    """The message as UTF-8 XML, validated against its XSD (RejectedInput if it is not).

    `signature_template` adds an unsigned `ds:Signature` to fill in; by default only where the XSD needs one.
    """
    if isinstance(payload, CustomsReceipt):
        spec = RECEIPTS[payload.message]
        root_name, side = f"{payload.message}Message", spec.side
        root = _root(root_name, payload.guid, payload.version)
        for entry in payload.returns:
            extra = sorted(n for n in entry.model_fields_set - set(spec.fields) if getattr(entry, n) is not None)
            if extra:
                raise RejectedInput(
                    "receipt field not in this message",
                    [Violation(f"/{root_name}/{spec.entity}", "unexpected_field", ", ".join(extra))],
                )
            xmlmap.write(etree.SubElement(root, f"{{{NS}}}{spec.entity}"), entry, only=spec.fields)
    else:
        root_name, side = payload.root, payload.side
        root = _root(root_name, payload.guid, payload.version)
        xmlmap.write(root, payload, skip=CebMessage.attributes)
    if signature_template if signature_template is not None else root_name in SIGNATURE_REQUIRED:
        xmlmap.signature_template(root)
    violations = xsd_violations(side, root)
    if violations:
        raise RejectedInput(f"rendered {root_name} does not validate", violations)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _root(name: str, guid: str, version: str) -> etree._Element:
    return etree.Element(f"{{{NS}}}{name}", {"guid": guid, "version": version}, nsmap={"ceb": NS})


def correlation_of(payload: CebPayload) -> str:
    """The business key that ties a conversation together: orderNo where the message has one."""
    if isinstance(payload, CustomsReceipt):
        answer = payload.returns[0]
        return answer.order_no or answer.business_key
    entities = next(s for s in xmlmap.slots(type(payload)) if s.many and s.name != "subscriptions")
    first: BaseModel = getattr(payload, entities.name)[0]
    head = getattr(first, "head", first)
    return str(getattr(head, "order_no", None) or getattr(head, "logistics_no", ""))


def warnings_of(payload: CebPayload) -> list[str]:
    """Rules the XSD documents but does not enforce, reported without refusing (customs decides)."""
    if not isinstance(payload, ImportOrderMessage):
        return []
    out = []
    for order in payload.orders:
        h = order.head
        expected = h.goods_value + h.freight + h.tax_total - h.discount
        if h.actural_paid != expected:
            out.append(
                f"order {h.order_no}: acturalPaid {h.actural_paid} != goodsValue+freight+taxTotal-discount {expected}"
            )
    return out


class CebCodec:
    """DocumentCodec for China customs cross-border e-commerce XML."""

    name = "ceb"

    def detect(self, body: bytes, content_type: str) -> bool:
        head = body[:2048]
        return NS.encode() in head and b"Message" in head

    def decode(self, body: bytes) -> Decoded:
        payload = parse(body)
        if isinstance(payload, CustomsReceipt):
            # Receipts carry no BaseTransfer: the China E-port's guid for the receipt is the key.
            key = f"chinaport:{payload.message}:{payload.guid}"
        else:
            key = f"{payload.transfer.cop_code}:{payload.guid}"  # type: ignore[attr-defined]
        kind = str(getattr(type(payload), "__message_type__", ""))
        return Decoded(
            kind,
            payload,
            idempotency_key=key,
            destination="customs",
            correlation_id=correlation_of(payload),
            warnings=warnings_of(payload),
        )

    def encode(self, payload: CebPayload) -> bytes:
        return render(payload)
