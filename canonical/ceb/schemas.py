"""The GACC CEB XSDs (import / export; the 202205 pack the hub speaks, and the 2018 pack older partners may
still send), compiled once each on first use, and their errors as Violations."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from lxml import etree

from canonical.errors import Violation

Side = Literal["import", "export"]
Pack = Literal["202205", "2018"]
CURRENT: Pack = "202205"  # what the hub parses and renders; 2018 is only told apart by `hub validate`
XSD_DIR = Path(__file__).resolve().parent / "xsd"
_FACETS = {
    "SCHEMAV_CVC_MAXLENGTH_VALID": "xsd:maxLength",
    "SCHEMAV_CVC_MINLENGTH_VALID": "xsd:minLength",
    "SCHEMAV_CVC_LENGTH_VALID": "xsd:length",
    "SCHEMAV_CVC_PATTERN_VALID": "xsd:pattern",
    "SCHEMAV_CVC_ENUMERATION_VALID": "xsd:enumeration",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "amount_format",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "amount_format",
    "SCHEMAV_CVC_ELT_5_2_2_2_1": "xsd:fixed",  # e.g. currency, fixed to 142 (CNY) in the import messages
    "SCHEMAV_CVC_ELT_5_2_2_2_2": "xsd:fixed",
}
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")


class _PackagedOnly(etree.Resolver):  # type: ignore[misc]
    """Resolve schema imports (xmldsig) to the copies in xsd/, whatever URL the XSD names; never the network."""

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        local = XSD_DIR / system_url.rsplit("/", 1)[-1]
        if not local.is_file():
            raise FileNotFoundError(f"schema {system_url!r} is not packaged in {XSD_DIR}")
        return self.resolve_filename(str(local), context)


def _file(side: Side, pack: Pack) -> Path:
    return XSD_DIR / f"ceb-{side}-{pack}.xsd"


@cache
def schema(side: Side, pack: Pack = CURRENT) -> etree.XMLSchema:
    """The compiled XSD of one side (compiled on first use, then cached for the process)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_PackagedOnly())
    return etree.XMLSchema(etree.parse(str(_file(side, pack)), parser))


@cache
def decimal_elements(side: Side, pack: Pack = CURRENT) -> frozenset[str]:
    """Names of the elements whose XSD type is xs:decimal: their format errors are `amount_format`."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    doc = etree.parse(str(_file(side, pack)), etree.XMLParser(resolve_entities=False, no_network=True))
    return frozenset(
        str(el.get("name"))
        for el in doc.iter(f"{xs}element")
        if el.get("type") == "xs:decimal" or el.find(f"{xs}simpleType/{xs}restriction[@base='xs:decimal']") is not None
    )


def local_name(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def element_path(el: etree._Element) -> str:
    """`/CEB311Message/Order[2]/OrderHead/orderNo`: local names, with a position only where a name repeats."""
    steps: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        step = local_name(node)
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def xsd_violations(side: Side, root: etree._Element, pack: Pack = CURRENT) -> list[Violation]:
    """Validate a message against its side's XSD; one Violation per offending element, the first error wins."""
    compiled = schema(side, pack)
    if compiled.validate(root):
        return []
    prefixes = {k: v for k, v in root.nsmap.items() if k}
    out: dict[str, Violation] = {}
    for entry in compiled.error_log:
        target = _locate(root, entry.path or "", prefixes)
        violation = _violation(entry, target, decimal_elements(side, pack))
        out.setdefault(violation.loc, violation)
    return list(out.values())


def _locate(root: etree._Element, path: str, prefixes: dict[str, str]) -> etree._Element | None:
    try:
        found = root.getroottree().xpath(path, namespaces=prefixes) if path else []
    except etree.XPathError:
        return None
    return found[0] if isinstance(found, list) and found and isinstance(found[0], etree._Element) else None


def _violation(entry: etree._LogEntry, target: etree._Element | None, amounts: frozenset[str]) -> Violation:
    loc = element_path(target) if target is not None else f"line {entry.line}"
    message = entry.message
    kind = entry.type_name
    if kind in _FACETS:
        return Violation(loc, _FACETS[kind], message)
    if kind.startswith("SCHEMAV_CVC_DATATYPE_VALID"):
        is_amount = target is not None and local_name(target) in amounts
        return Violation(loc, "amount_format" if is_amount else "xsd:datatype", message)
    if kind == "SCHEMAV_ELEMENT_CONTENT" and target is not None:
        expected = _EXPECTED.search(message)
        names = [n.split("}")[-1].split(":")[-1] for n in expected.group(1).split(", ")] if expected else []
        parent = target if "Missing child" in message else target.getparent()
        siblings = {local_name(c) for c in parent} if parent is not None else set()
        # One expected name that is nowhere among the siblings: a mandatory element is missing.
        if len(names) == 1 and names[0] not in siblings and parent is not None:
            return Violation(f"{element_path(parent)}/{names[0]}", "required", message)
        return Violation(loc, "xsd:unexpected", message)
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        return Violation(loc, "required", message)
    return Violation(loc, "xsd:" + kind.removeprefix("SCHEMAV_").lower(), message)
