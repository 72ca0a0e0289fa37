"""CBPR+ usage rules the XSDs do not check, evaluated on the parsed tree so errors name the element."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from canonical.errors import Violation
from canonical.iso20022.tree import element_path, local_name, qualified
from canonical.money import MINOR_UNITS
from canonical.payments import ADDRESS_LINE_MAX, ADDRESS_LINES_MAX, CBPR_TEXT_RE, iban_is_valid

CBPR_SERVICE = re.compile(r"^swift\.cbprplus\.(cov\.|stp\.)?0[2-9]$")
_REFERENCES = frozenset({"MsgId", "InstrId", "EndToEndId", "TxId", "BizMsgIdr", "RtrId", "NtryRef"})
# pacs.008/009 must carry a UETR (gpi; CBPR+ makes it mandatory): where it lives per definition.
UETR_REQUIRED = {
    "pacs.008.001.08": "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/PmtId/UETR",
    "pacs.009.001.08": "/Document/FICdtTrf/CdtTrfTxInf/PmtId/UETR",
    "pacs.028.001.05": "/Document/FIToFIPmtStsReq/TxInf/OrgnlUETR",
    "camt.056.001.08": "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf/OrgnlUETR",
    "camt.029.001.09": "/Document/RsltnOfInvstgtn/CxlDtls/TxInfAndSts/OrgnlUETR",
}
# Elements the XSD leaves optional but CBPR+ makes mandatory (rule `cbpr_required`).
CBPR_REQUIRED: dict[str, tuple[str, ...]] = {
    "pacs.028.001.05": (
        "/Document/FIToFIPmtStsReq/TxInf/OrgnlGrpInf",
        "/Document/FIToFIPmtStsReq/TxInf/InstgAgt",
        "/Document/FIToFIPmtStsReq/TxInf/InstdAgt",
    ),
    "camt.056.001.08": (
        "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf/OrgnlGrpInf",
        "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf/OrgnlIntrBkSttlmAmt",
        "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf/CxlRsnInf/Rsn/Cd",
    ),
    "camt.029.001.09": ("/Document/RsltnOfInvstgtn/RslvdCase", "/Document/RsltnOfInvstgtn/CxlDtls/TxInfAndSts"),
}
# Elements the XSD lets repeat but CBPR+ allows once: one transaction per message (`cbpr_single_transaction`).
CBPR_SINGLE: dict[str, tuple[str, ...]] = {
    "pacs.028.001.05": ("/Document/FIToFIPmtStsReq/OrgnlGrpInf", "/Document/FIToFIPmtStsReq/TxInf"),
    "camt.056.001.08": ("/Document/FIToFIPmtCxlReq/Undrlyg", "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf"),
    "camt.029.001.09": ("/Document/RsltnOfInvstgtn/CxlDtls", "/Document/RsltnOfInvstgtn/CxlDtls/TxInfAndSts"),
    # One account per statement / report; its entries may repeat.
    "camt.053.001.08": ("/Document/BkToCstmrStmt/Stmt",),
    "camt.052.001.08": ("/Document/BkToCstmrAcctRpt/Rpt",),
}
_CAMT029_REASON = "/Document/RsltnOfInvstgtn/CxlDtls/TxInfAndSts/CxlStsRsnInf/Rsn/Cd"


def document_violations(definition: str, document: etree._Element) -> list[Violation]:
    out: list[Violation] = []
    for el in document.iter(etree.Element):
        name = local_name(el)
        text = el.text or ""
        ccy = el.get("Ccy")
        if ccy is not None:
            out.extend(_amount(el, ccy, text))
        elif name == "Ccy" and text not in MINOR_UNITS:
            out.append(Violation(element_path(el), "currency_code", f"{text!r} is not an active ISO 4217 code"))
        if name == "IBAN" and not iban_is_valid(text):
            out.append(Violation(element_path(el), "iban_check_digits", f"{text!r} fails the ISO 13616 mod-97 check"))
        if len(el) == 0 and text and not CBPR_TEXT_RE.match(text):
            out.append(Violation(element_path(el), "cbpr_character_set", "characters outside the CBPR+ FIN-X set"))
        if name == "AdrLine" and len(text) > ADDRESS_LINE_MAX:
            detail = f"at most {ADDRESS_LINE_MAX} characters"
            out.append(Violation(element_path(el), "cbpr_address_line_length", detail))
        if name == "PstlAdr" and sum(1 for c in el if local_name(c) == "AdrLine") > ADDRESS_LINES_MAX:
            out.append(Violation(element_path(el), "cbpr_address_lines", f"at most {ADDRESS_LINES_MAX} AdrLine"))
        if name in _REFERENCES and (text.startswith("/") or text.endswith("/") or "//" in text):
            out.append(Violation(element_path(el), "cbpr_reference_slash", "no leading/trailing '/' and no '//'"))
        if name == "NbOfTxs" and text != "1":
            out.append(Violation(element_path(el), "cbpr_single_transaction", "CBPR+ carries exactly one transaction"))
    if definition == "pacs.008.001.08":
        for party in ("Dbtr", "Cdtr"):
            path = f"/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/{party}"
            if _has_path(document, path + "/PstlAdr") and not _has_path(document, path + "/Nm"):
                out.append(Violation(path + "/Nm", "cbpr_party_name", "a party with an address needs a name"))
    uetr_path = UETR_REQUIRED.get(definition)
    if uetr_path and not _has_path(document, uetr_path):
        out.append(Violation(uetr_path, "uetr_required", "CBPR+ requires the UETR"))
    for path in CBPR_REQUIRED.get(definition, ()):
        if not _has_path(document, path):
            out.append(Violation(path, "cbpr_required", "CBPR+ makes this element mandatory"))
    if definition == "camt.029.001.09" and _text_at(document, "/Document/RsltnOfInvstgtn/Sts/Conf") == "RJCR":
        if not _has_path(document, _CAMT029_REASON):
            out.append(Violation(_CAMT029_REASON, "cbpr_rejection_reason", "a rejected cancellation needs a reason"))
    for path in CBPR_SINGLE.get(definition, ()):
        if _count(document, path) > 1:
            out.append(Violation(path, "cbpr_single_transaction", "CBPR+ allows this element once"))
    return out


def header_violations(header: etree._Element, definition: str) -> list[Violation]:
    out: list[Violation] = []
    for el in header:
        name = local_name(el)
        if name == "BizSvc" and not CBPR_SERVICE.match(el.text or ""):
            out.append(Violation("/AppHdr/BizSvc", "cbpr_business_service", "expected e.g. swift.cbprplus.02"))
        if name == "MsgDefIdr" and el.text != definition:
            out.append(Violation("/AppHdr/MsgDefIdr", "message_definition_mismatch", f"the Document is {definition}"))
    return out


def _amount(el: etree._Element, ccy: str, text: str) -> list[Violation]:
    loc = element_path(el)
    if ccy not in MINOR_UNITS:
        return [Violation(loc + "/@Ccy", "currency_code", f"{ccy!r} is not an active ISO 4217 code")]
    try:
        exponent = Decimal(text).normalize().as_tuple().exponent
    except InvalidOperation:
        return []  # the XSD reports the malformed decimal
    if isinstance(exponent, int) and -exponent > MINOR_UNITS[ccy]:
        return [Violation(loc, "currency_decimals", f"{ccy} allows {MINOR_UNITS[ccy]} decimals, got {text}")]
    return []


def _steps(document: etree._Element, path: str) -> str:
    """`/Document/A/B` as an ElementPath below the Document, in the document's namespace."""
    return qualified(etree.QName(document).namespace or "", "/".join(path.split("/")[2:]))


def _count(document: etree._Element, path: str) -> int:
    """How many elements sit at `path` (every step followed through all matching children)."""
    return sum(1 for _ in document.iterfind(_steps(document, path)))


def _find(document: etree._Element, path: str) -> etree._Element | None:
    """The first element at `/Document/...` `path`, in document order."""
    return document.find(_steps(document, path))


def _text_at(document: etree._Element, path: str) -> str | None:
    node = _find(document, path)
    return None if node is None else node.text


def _has_path(document: etree._Element, path: str) -> bool:
    node = _find(document, path)
    return node is not None and (bool(node.text) or len(node) > 0)
