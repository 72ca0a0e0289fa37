"""Enveloped XML digital signatures (XMLDSig) over CEB messages, made by any `jose.Signer` (file store or HSM).

`xmldsig-ecdsa`: W3C XMLDSig with `ecdsa-sha256` / `sha256` (RFC 6931 URIs), C14N 1.0, by the hub's
P-256 document-signing key, in the structure signxml writes; KeyInfo carries the key's kid as KeyName
and its KeyValue, which the verifier (signxml) checks against the hub's published key of that kid.
`xmldsig-sm2`: the same structure with the China E-port URIs already used by the CEB codec's
signature template (canonical/ceb/xmlmap.py: `http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3`
and `...#sm3`); SignatureValue is r || s (GM/T 0009 raw form, 64 bytes, base64), signed over the C14N
of SignedInfo with the default user id 1234567812345678 (GM/T 0009), DigestValue is SM3 of the C14N
of the message without its Signature (the enveloped-signature transform).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from security import jose, sm

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = f"{DS}enveloped-signature"
SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DSIG11 = "http://www.w3.org/2009/xmldsig11#"
P256_OID = "urn:oid:1.2.840.10045.3.1.7"
Verdict = Literal["valid", "invalid", "missing"]


class XmlSignatureError(Exception):
    """The message cannot be signed with this key."""


def _q(name: str) -> str:
    return f"{{{DS}}}{name}"


def signature_of(root: etree._Element) -> etree._Element | None:
    return root.find(_q("Signature"))


def strip_signature(root: etree._Element) -> None:
    """Remove the root's ds:Signature (e.g. the codec's empty template) before signing."""
    for sig in root.findall(_q("Signature")):
        root.remove(sig)


def sign(root: etree._Element, signer: jose.Signer) -> etree._Element:
    """An enveloped signature made by `signer`, appended to `root` (in place; returned).

    ES256 (P-256): ecdsa-sha256 over sha256, the structure signxml writes (enveloped + C14N transforms,
    KeyName and the ECKeyValue, so XMLDSig 1.1 verifiers such as signxml check it without a certificate).
    SM2: sm2-sm3 over sm3 with the China E-port URIs, KeyName only. Any `jose.Signer` will do, so the
    key may sit in the file store or an HSM; SignatureValue is the signer's r || s either way.
    """
    if signer.alg not in ("ES256", "SM2"):
        raise XmlSignatureError(f"XML signatures need a P-256 (ES256) or SM2 key; {signer.kid!r} signs {signer.alg}")
    ecdsa = signer.alg == "ES256"
    bare = etree.tostring(root, method="c14n")  # the enveloped-signature transform: no Signature yet
    digest = hashlib.sha256(bare).digest() if ecdsa else sm.sm3(bare)
    sig = etree.SubElement(root, _q("Signature"), nsmap={"ds": DS})
    info = etree.SubElement(sig, _q("SignedInfo"))
    etree.SubElement(info, _q("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(info, _q("SignatureMethod"), Algorithm=ECDSA_SHA256 if ecdsa else SM2_SM3)
    ref = etree.SubElement(info, _q("Reference"), URI="")
    transforms = etree.SubElement(ref, _q("Transforms"))
    etree.SubElement(transforms, _q("Transform"), Algorithm=ENVELOPED)
    if ecdsa:
        etree.SubElement(transforms, _q("Transform"), Algorithm=C14N)
    etree.SubElement(ref, _q("DigestMethod"), Algorithm=SHA256 if ecdsa else SM3)
    etree.SubElement(ref, _q("DigestValue")).text = base64.b64encode(digest).decode()
    # C14N of SignedInfo in its place: it inherits the ds prefix declared on Signature.
    value = signer.sign(etree.tostring(info, method="c14n"))
    etree.SubElement(sig, _q("SignatureValue")).text = base64.b64encode(value).decode()
    key_info = etree.SubElement(sig, _q("KeyInfo"))
    etree.SubElement(key_info, _q("KeyName")).text = signer.kid
    if ecdsa:
        jwk = signer.public_jwk()
        point = b"\x04" + _b64url(jwk["x"]) + _b64url(jwk["y"])
        ec_value = etree.SubElement(
            etree.SubElement(key_info, _q("KeyValue")), f"{{{DSIG11}}}ECKeyValue", nsmap={"dsig11": DSIG11}
        )
        etree.SubElement(ec_value, f"{{{DSIG11}}}NamedCurve", URI=P256_OID)
        etree.SubElement(ec_value, f"{{{DSIG11}}}PublicKey").text = base64.b64encode(point).decode()
    return root


def verify(root: etree._Element, key_of: Callable[[str], jose.HubKey | None]) -> tuple[Verdict, str]:
    """("valid" | "invalid" | "missing", why) for the root's enveloped signature, keys found by KeyName."""
    sig = signature_of(root)
    if sig is None:
        return "missing", ""
    method = sig.find(f"{_q('SignedInfo')}/{_q('SignatureMethod')}")
    kid = sig.findtext(f"{_q('KeyInfo')}/{_q('KeyName')}") or ""
    key = key_of(kid)
    if method is None or key is None:
        return "invalid", f"no hub key {kid!r}" if method is not None else "no SignatureMethod"
    algorithm = method.get("Algorithm")
    if algorithm == SM2_SM3 and key.kind == "SM2":
        return _verify_sm2(root, sig, key)
    if algorithm == ECDSA_SHA256 and key.kind == "P-256":
        return _verify_ecdsa(root, key)
    return "invalid", f"algorithm {algorithm} does not fit key {kid!r} ({key.kind})"


def _verify_sm2(root: etree._Element, sig: etree._Element, key: jose.HubKey) -> tuple[Verdict, str]:
    info = sig.find(_q("SignedInfo"))
    assert info is not None and key.sm2_public is not None
    ref = info.find(_q("Reference"))
    digest_method = info.find(f"{_q('Reference')}/{_q('DigestMethod')}")
    if digest_method is None or digest_method.get("Algorithm") != SM3 or ref is None or ref.get("URI") != "":
        return "invalid", "xmldsig-sm2 signs the whole message (Reference URI='') with SM3"
    bare = copy.deepcopy(root)
    strip_signature(bare)
    try:
        expected = base64.b64decode(ref.findtext(_q("DigestValue")) or "", validate=True)
        value = base64.b64decode(sig.findtext(_q("SignatureValue")) or "", validate=True)
    except ValueError:
        return "invalid", "DigestValue or SignatureValue is not base64"
    if sm.sm3(etree.tostring(bare, method="c14n")) != expected:
        return "invalid", "digest mismatch: the message was changed"
    try:
        sm.verify(key.sm2_public, etree.tostring(info, method="c14n"), value)
    except sm.SmError as exc:
        return "invalid", f"SM2 signature: {exc}"
    return "valid", ""


def _verify_ecdsa(root: etree._Element, key: jose.HubKey) -> tuple[Verdict, str]:
    assert key.jose is not None
    config = SignatureConfiguration(
        require_x509=False,
        signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    )
    try:
        result = XMLVerifier().verify(etree.tostring(root), expect_config=config)
    except (InvalidSignature, InvalidInput) as exc:
        return "invalid", f"{type(exc).__name__}: {exc}"
    assert not isinstance(result, list)
    used: object = result.signature_key
    if isinstance(used, bytes):  # signxml hands back the KeyValue it verified with as PEM
        used = serialization.load_pem_public_key(used)
    expected = key.jose.public_key
    if not (
        isinstance(used, ec.EllipticCurvePublicKey)
        and isinstance(expected, ec.EllipticCurvePublicKey)
        and used.public_numbers() == expected.public_numbers()
    ):
        return "invalid", f"KeyValue is not the hub's key {key.kid!r}"
    return "valid", ""


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
