"""Enveloped XML digital signatures (XMLDSig) over CEB messages: ECDSA P-256 with signxml, SM2/SM3 by hand.

`xmldsig-ecdsa`: W3C XMLDSig with `ecdsa-sha256` / `sha256` (RFC 6931 URIs), C14N 1.0, signed by signxml
with the hub's private P-256 key (signxml 5.2.0 has no Ed25519); KeyInfo carries the key's kid as
KeyName and its KeyValue, which the verifier checks against the hub's published key of that kid.
`xmldsig-sm2`: the same structure with the China E-port URIs already used by the CEB codec's
signature template (canonical/ceb/xmlmap.py: `http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3`
and `...#sm3`); SignatureValue is r || s (GM/T 0009 raw form, 64 bytes, base64), signed over the C14N
of SignedInfo with the default user id 1234567812345678 (GM/T 0009), DigestValue is SM3 of the C14N
of the message without its Signature (the enveloped-signature transform).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from security import jose, sm

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = f"{DS}enveloped-signature"
SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
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


def sign_ecdsa(root: etree._Element, key: jose.HubKey) -> etree._Element:
    """Enveloped ecdsa-sha256 signature by signxml with the private P-256 `key`; returns the signed root."""
    private = key.jose.private_key if key.jose is not None and key.kind == "P-256" else None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise XmlSignatureError(f"xmldsig-ecdsa needs a private P-256 key, {key.kid!r} is {key.kind}")
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=C14N
    )
    signed: etree._Element = signer.sign(root, key=private, key_name=key.kid, always_add_key_value=True)
    return signed


def sign_sm2(root: etree._Element, signer: jose.Signer) -> etree._Element:
    """Enveloped SM2-with-SM3 signature made by `signer` (alg SM2: any Signer, e.g. an HSM's); in place."""
    if signer.alg != "SM2":
        raise XmlSignatureError(f"xmldsig-sm2 needs an SM2 signer, {signer.kid!r} signs {signer.alg}")
    digest = sm.sm3(etree.tostring(root, method="c14n"))
    sig = etree.SubElement(root, _q("Signature"), nsmap={"ds": DS})
    info = etree.SubElement(sig, _q("SignedInfo"))
    etree.SubElement(info, _q("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(info, _q("SignatureMethod"), Algorithm=SM2_SM3)
    ref = etree.SubElement(info, _q("Reference"), URI="")
    etree.SubElement(etree.SubElement(ref, _q("Transforms")), _q("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(ref, _q("DigestMethod"), Algorithm=SM3)
    etree.SubElement(ref, _q("DigestValue")).text = base64.b64encode(digest).decode()
    value = signer.sign(etree.tostring(info, method="c14n"))
    etree.SubElement(sig, _q("SignatureValue")).text = base64.b64encode(value).decode()
    etree.SubElement(etree.SubElement(sig, _q("KeyInfo")), _q("KeyName")).text = signer.kid
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
