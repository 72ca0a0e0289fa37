"""WS-Security headers: what `secure` writes, what `check` accepts and the fault code of each refusal."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from canonical.mtom import MtomError, read_soap, write_mtom
from canonical.xml import parse_xml
from security import jose, wssecurity
from security.wssecurity import SOAP11, SOAP12, WSSE, WsSecurityError

KEY = jose.generate_key("P-256", "partner-p256")
SM2 = jose.generate_key("SM2", "partner-sm2")
ED = jose.generate_key("Ed25519", "partner-ed")
KEYS = {k.kid: k.public() for k in (KEY, SM2, ED)}


def envelope(version: str = SOAP11, text: str = "1000.00") -> etree._Element:
    root = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version})
    body = etree.SubElement(root, f"{{{version}}}Body")
    etree.SubElement(etree.SubElement(body, "{urn:t}Issue"), "{urn:t}amount").text = text
    return root


def wire(root: etree._Element) -> etree._Element:
    return parse_xml(etree.tostring(root))


def check(root: etree._Element, **kw: object) -> wssecurity.Verified:
    kw.setdefault("password_of", {"hub": "secret"}.get)
    kw.setdefault("key_of", KEYS.get)
    return wssecurity.check(root, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [KEY, SM2, ED], ids=lambda k: k.kind)
@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_a_signed_token_passes_in_both_soap_versions(key: jose.HubKey, version: str) -> None:
    root = wire(wssecurity.secure(envelope(version), username="hub", password="secret", signer=key.signer()))
    verified = check(root, require_token=True, require_signature=True)
    assert verified.username == "hub" and verified.signed_by == key.kid and verified.nonce


def test_a_wrong_password_fails_authentication() -> None:
    root = wire(wssecurity.secure(envelope(), username="hub", password="guess"))
    with pytest.raises(WsSecurityError) as refused:
        check(root)
    assert refused.value.code == "wsse:FailedAuthentication"


def test_a_changed_body_fails_the_signature_check() -> None:
    signed = etree.tostring(wssecurity.secure(envelope(), signer=KEY.signer()))
    with pytest.raises(WsSecurityError) as refused:
        check(parse_xml(signed.replace(b">1000.00<", b">9000.00<")))
    assert refused.value.code == "wsse:FailedCheck"


def test_a_signature_by_another_key_under_the_same_kid_fails() -> None:
    impostor = jose.generate_key("P-256", KEY.kid)
    with pytest.raises(WsSecurityError, match="does not verify"):
        check(wire(wssecurity.secure(envelope(), signer=impostor.signer())))


def test_a_wrapped_body_is_refused() -> None:
    """The signed Body moved into the header and a new Body put in its place: the signature names the old Id."""
    root = wire(wssecurity.secure(envelope(), signer=KEY.signer()))
    body = root.find(f"{{{SOAP11}}}Body")
    assert body is not None
    header = root.find(f"{{{SOAP11}}}Header")
    assert header is not None
    header.append(copy.deepcopy(body))
    body.attrib.pop(wssecurity.WSU_ID)
    body[0][0].text = "9000.00"
    with pytest.raises(WsSecurityError) as refused:
        check(root)
    assert refused.value.code == "wsse:FailedCheck"


def test_an_expired_timestamp_is_refused() -> None:
    stale = datetime.now(UTC) - timedelta(minutes=30)
    root = wire(wssecurity.secure(envelope(), username="hub", password="secret", now=stale))
    with pytest.raises(WsSecurityError) as refused:
        check(root)
    assert refused.value.code == "wsu:MessageExpired"


def test_a_missing_signature_is_refused_only_when_required() -> None:
    root = wire(wssecurity.secure(envelope(), username="hub", password="secret"))
    assert check(root).signed_by == ""
    with pytest.raises(WsSecurityError, match="must be signed"):
        check(root, require_signature=True)


def test_two_security_headers_are_refused() -> None:
    root = wire(wssecurity.secure(envelope(), username="hub", password="secret"))
    header = root.find(f"{{{SOAP11}}}Header")
    assert header is not None
    header.append(copy.deepcopy(header.find(f"{{{WSSE}}}Security")))
    with pytest.raises(WsSecurityError, match="exactly one"):
        check(root)


def test_mtom_documents_come_back_inline_and_oversized_ones_are_refused() -> None:
    root = envelope(SOAP12)
    doc = etree.SubElement(root[0][0], "{urn:t}billOfLading")
    pdf = b"%PDF-1.7 " + bytes(range(256)) * 10
    doc.text = base64.b64encode(pdf).decode()
    wssecurity.secure(root, signer=KEY.signer())
    body, content_type = write_mtom(root, [doc], "application/soap+xml")
    parsed, documents = read_soap(body, content_type)
    assert documents == {"billOfLading": pdf}
    assert check(parsed, require_signature=True).signed_by == KEY.kid  # the signature covers the inline form
    with pytest.raises(MtomError, match="limit"):
        read_soap(body, content_type, max_document_bytes=1000)
