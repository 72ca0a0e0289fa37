"""The official XSDs, compiled once each (lazily), and XSD errors turned into Violations."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from lxml import etree

from canonical.errors import Violation
from canonical.iso20022.tree import element_path

XSD_DIR = Path(__file__).resolve().parent / "xsd"
BIC_ELEMENTS = frozenset({"BICFI", "AnyBIC", "BIC"})
_RULES = {
    "SCHEMAV_CVC_PATTERN_VALID": "xsd_pattern",
    "SCHEMAV_CVC_ENUMERATION_VALID": "xsd_enumeration",
    "SCHEMAV_CVC_LENGTH_VALID": "xsd_length",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "xsd_max_length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "xsd_min_length",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "xsd_fraction_digits",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "xsd_total_digits",
    "SCHEMAV_ELEMENT_CONTENT": "xsd_content",
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "xsd_missing_attribute",
    "SCHEMAV_CVC_ELT_1": "xsd_unknown_root",
}
_STEP = re.compile(r"^\*(?:\[(\d+)\])?$")


def known_definitions() -> list[str]:
    return sorted(p.stem for p in XSD_DIR.glob("*.xsd"))


@cache
def schema(definition: str) -> etree.XMLSchema:
    """The compiled XSD of e.g. `pacs.008.001.08` (compiled on first use, then cached)."""
    path = XSD_DIR / f"{definition}.xsd"
    if not path.is_file():
        raise KeyError(definition)
    # Our own packaged file, not outside input: a plain parser without network access is enough.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def xsd_violations(definition: str, element: etree._Element) -> list[Violation]:
    """Validate `element` (a Document or AppHdr) against its XSD; one Violation per broken element."""
    compiled = schema(definition)
    if compiled.validate(element):
        return []
    out: dict[str, Violation] = {}
    for entry in compiled.error_log:
        target = _resolve(element, entry.path or "")
        loc = element_path(target) if target is not None else f"line {entry.line}"
        rule = _RULES.get(entry.type_name, "xsd_" + entry.type_name.removeprefix("SCHEMAV_").lower())
        if rule == "xsd_pattern" and target is not None and etree.QName(target).localname in BIC_ELEMENTS:
            rule = "bic_pattern"
        # The first error on an element is the precise one (a pattern error precedes its type error).
        out.setdefault(loc, Violation(loc, rule, entry.message))
    return list(out.values())


def _resolve(root: etree._Element, path: str) -> etree._Element | None:
    """Follow libxml2's `/*/*[2]/*` path (positions among element children) from `root`."""
    steps = [s for s in path.split("/") if s]
    if not steps:
        return None
    node = root
    for step in steps[1:]:
        match = _STEP.match(step)
        if match is None:
            return None
        children = [c for c in node if isinstance(c.tag, str)]
        index = int(match.group(1) or 1) - 1
        if index >= len(children):
            return None
        node = children[index]
    return node
