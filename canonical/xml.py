"""The one hardened XML parser of the hub: every parser of outside XML goes through `parse_xml`.

No DTDs (a DOCTYPE is refused outright, which stops XXE and entity expansion), no entity
resolution, no network, and caps on size and nesting depth checked while parsing.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64


@dataclass
class UnsafeXml(Exception):
    """The document is refused before or while parsing; `rule` says which protection tripped."""

    rule: str  # doctype_forbidden | too_large | too_deep | malformed | processing_instruction
    detail: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" at line {self.line}" if self.line else ""
        return f"{self.rule}{where}: {self.detail}"


def parse_xml(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, or raise UnsafeXml naming the rule."""
    if len(data) > max_bytes:
        raise UnsafeXml("too_large", f"{len(data)} bytes, the limit is {max_bytes}")
    if _declares_dtd(data):
        raise UnsafeXml("doctype_forbidden", "DTDs and entity declarations are not accepted")
    depth = 0
    events = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for start in range(0, len(data), 65536):
            events.feed(data[start : start + 65536])
            for event, _ in events.read_events():
                depth += 1 if event == "start" else -1
                if depth > max_depth:
                    raise UnsafeXml("too_deep", f"nesting deeper than {max_depth} elements")
        root = events.close()
    except etree.XMLSyntaxError as exc:
        if "depth" in (exc.msg or "").lower():  # libxml2's own cap can trip inside one chunk before ours
            raise UnsafeXml("too_deep", f"nesting deeper than {max_depth} elements", exc.lineno) from None
        raise UnsafeXml("malformed", exc.msg or str(exc), exc.lineno) from None
    if root is None:
        raise UnsafeXml("malformed", "no root element")
    if root.getroottree().docinfo.doctype:  # an encoding the byte check cannot read (UTF-7 ...) hid it
        raise UnsafeXml("doctype_forbidden", "DTDs and entity declarations are not accepted")
    return root


def _declares_dtd(data: bytes) -> bool:
    # UTF-16 and UTF-32 hide '<!DOCTYPE' between NUL bytes, which well-formed UTF-8 XML never contains.
    if b"\x00" in data:
        data = data.replace(b"\x00", b"")
    return b"<!DOCTYPE" in data or b"<!ENTITY" in data
