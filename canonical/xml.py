"""The one hardened XML parser of the hub: every parser of outside XML goes through `parse_xml`.

No DTDs (a DOCTYPE is refused outright, which stops XXE and entity expansion), no entity
resolution, no network, no XInclude elements (never processed, and refused so that nothing downstream
can), caps on size and nesting depth checked while parsing, and bytes that must decode strictly in the
encoding the XML declaration names (a UTF-8 declaration over GBK bytes, or the reverse, is refused
rather than read as mojibake).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from lxml import etree

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
_XINCLUDE = f"{{{XINCLUDE_NS}}}"
_DECLARED = re.compile(rb"""^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_BOMS: tuple[tuple[bytes, str], ...] = (  # UTF-32 first: its little-endian mark starts like UTF-16's
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class UnsafeXml(Exception):
    """The document is refused before or while parsing; `rule` says which protection tripped."""

    rule: str  # doctype_forbidden | xinclude_forbidden | too_large | too_deep | malformed
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
    _check_encoding(data)
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
            for event, element in events.read_events():
                depth += 1 if event == "start" else -1
                if depth > max_depth:
                    raise UnsafeXml("too_deep", f"nesting deeper than {max_depth} elements")
                if event == "start" and element.tag.startswith(_XINCLUDE):
                    raise UnsafeXml(
                        "xinclude_forbidden",
                        f"XInclude element {etree.QName(element).localname!r} is not accepted",
                        element.sourceline,
                    )
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


def _check_encoding(data: bytes) -> None:
    """The bytes must decode strictly in the encoding the document declares (UTF-8 without a declaration).

    A byte-order mark decides for UTF-16/32, whose declarations libxml2 checks itself; a name Python does
    not know as a text encoding is left to libxml2 (which refuses what it cannot read). A mismatch is
    `malformed`, its detail starting `encoding mismatch:` and naming the first offending byte.
    """
    bom = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if bom is not None and bom != "utf-8":
        return
    body = data.removeprefix(codecs.BOM_UTF8)
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?", b"<\x00\x00\x00", b"\x00\x00\x00<"):
        return  # UTF-16/32 without a mark: libxml2 detects it from the first characters
    found = _DECLARED.match(body)
    declared = found.group(1).decode("ascii") if found else "UTF-8 (no declaration)"
    try:
        codec = codecs.lookup(declared.split()[0])
        if not codec._is_text_encoding or codec.name.startswith(("utf-16", "utf-32")):
            return
    except LookupError:
        return
    if bom == "utf-8" and codec.name != "utf-8":
        raise UnsafeXml("malformed", f"encoding mismatch: a UTF-8 byte-order mark, but the declaration says {declared}")
    try:
        codecs.decode(body, codec.name, "strict")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        line = data.count(b"\n", 0, offset) + 1
        byte = f"byte 0x{body[exc.start]:02x} at offset {offset}"
        detail = f"encoding mismatch: declared {declared}, but {byte} does not decode"
        raise UnsafeXml("malformed", detail, line) from None
