"""SOAP messages on the wire: a plain envelope (text/xml, application/soap+xml) or MTOM/XOP
(multipart/related, application/xop+xml root) whose binary documents travel as attachments.

`read_soap` parses the envelope with the hardened parser and puts every `xop:Include`d attachment back
inline as base64 text (what the schema's base64Binary expects), with caps on the whole message, on each
document and on the number of parts. `write_mtom` packs an envelope whose named elements hold documents.
"""

from __future__ import annotations

import base64
import re
import secrets

from lxml import etree

from canonical.xml import parse_xml

XOP = "http://www.w3.org/2004/08/xop/include"
MAX_MESSAGE_BYTES = 12 * 1024 * 1024
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_PARTS = 8
_PARAM = re.compile(r';\s*([A-Za-z-]+)\s*=\s*("([^"]*)"|[^;\s]+)')


class MtomError(ValueError):
    """A multipart SOAP message is malformed or exceeds a limit; the message says which."""


def _params(content_type: str) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2) for m in _PARAM.finditer(content_type)
    }


def read_soap(
    body: bytes, content_type: str, *, max_document_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[etree._Element, dict[str, bytes]]:
    """The parsed envelope and its documents (by the localname of the element that held each one).
    Raises UnsafeXml for refused XML and MtomError for a bad or oversized multipart message."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise MtomError(f"message of {len(body)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    if not content_type.lower().startswith("multipart/related"):
        return parse_xml(body), {}
    params = _params(content_type)
    boundary = params.get("boundary", "")
    if not boundary:
        raise MtomError("multipart/related without a boundary")
    chunks = body.split(b"--" + boundary.encode("latin-1"))
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise MtomError("a MIME part without headers")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, content.removesuffix(b"\r\n")))
        if len(parts) > MAX_PARTS:
            raise MtomError(f"more than {MAX_PARTS} MIME parts")
    if not parts:
        raise MtomError("no MIME parts")
    start = params.get("start", "").strip("<>")
    ids = [h.get("content-id", "").strip("<>") for h, _ in parts]
    root = ids.index(start) if start in ids else 0
    attachments = {cid: content for n, (cid, (_, content)) in enumerate(zip(ids, parts, strict=True)) if n != root}
    envelope = parse_xml(parts[root][1])
    documents: dict[str, bytes] = {}
    for include in envelope.iter(f"{{{XOP}}}Include"):
        href = (include.get("href") or "").removeprefix("cid:")
        document = attachments.get(href)
        if document is None:
            raise MtomError(f"xop:Include names a missing part {href!r}")
        if len(document) > max_document_bytes:
            raise MtomError(f"document {href!r} of {len(document)} bytes; the limit is {max_document_bytes}")
        holder = include.getparent()
        assert holder is not None
        holder.remove(include)
        holder.text = base64.b64encode(document).decode()
        documents[etree.QName(holder).localname] = document
    return envelope, documents


def write_mtom(envelope: etree._Element, documents: list[etree._Element], soap_type: str) -> tuple[bytes, str]:
    """(body, content type) of `envelope` as MTOM: each element of `documents` (holding base64 text,
    part of `envelope`) becomes an attachment referenced by an xop:Include. `soap_type`: text/xml (1.1)
    or application/soap+xml (1.2)."""
    attachments: list[tuple[str, bytes]] = []
    for n, element in enumerate(documents):
        cid = f"doc{n}-{secrets.token_hex(4)}@tradehub"
        attachments.append((cid, base64.b64decode(element.text or "")))
        element.text = None
        etree.SubElement(element, f"{{{XOP}}}Include", href=f"cid:{cid}", nsmap={"xop": XOP})
    boundary = f"MIMEBoundary_{secrets.token_hex(12)}"
    root = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    out = [
        f'--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="{soap_type}"\r\n'
        "Content-Transfer-Encoding: binary\r\nContent-ID: <root@tradehub>\r\n\r\n".encode()
        + root
    ]
    for cid, content in attachments:
        head = f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        out.append(f"{head}Content-ID: <{cid}>\r\n\r\n".encode() + content)
    body = b"\r\n".join(out) + f"\r\n--{boundary}--\r\n".encode()
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root@tradehub>"; start-info="{soap_type}"'
    )
    return body, content_type
