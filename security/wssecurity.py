"""WS-Security 1.0 headers on SOAP envelopes: UsernameToken (PasswordDigest), Timestamp and an XML signature
over the Body and the Timestamp; and their checks on the receiving side.

The signature is W3C XMLDSig with exclusive C14N, `ecdsa-sha256` over `sha256` (a P-256 key, `ES256`), the
China E-port `sm2-sm3` over `sm3` (an SM2 key) or RFC 9231 `eddsa-ed25519` over `sha256` (an Ed25519 key),
made by any `jose.Signer` (file store or HSM). KeyInfo names
the key by its kid (`ds:KeyName`); the receiver looks the kid up among the keys it trusts for that sender
(the hub's published document-signing keys, a partner's JWKS). Both References must point at the envelope's
own Body and at the Timestamp of the Security header: a signature over a moved or wrapped copy is refused.

Every check raises `WsSecurityError` whose `code` is the WS-Security fault code (section 12 of the OASIS
SOAP Message Security 1.0 specification) the SOAP fault should carry. Replay of a nonce is the caller's
check (it owns the store of seen nonces): `Verified.nonce` is what to remember.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from security import jose, sm
from security.xmldsig import DS, ECDSA_SHA256, SHA256, SM2_SM3, SM3

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSU_ID = f"{{{WSU}}}Id"
CLOCK_SKEW = timedelta(seconds=60)
EDDSA_ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"  # RFC 9231
ALGORITHMS = {"ES256": (ECDSA_SHA256, SHA256), "SM2": (SM2_SM3, SM3), "Ed25519": (EDDSA_ED25519, SHA256)}
KIND_ALG = {"P-256": "ES256", "SM2": "SM2", "Ed25519": "Ed25519"}


class WsSecurityError(Exception):
    """The Security header is refused; `code` is the fault code (wsse:FailedAuthentication ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Verified:
    """What a Security header proved: who (`username`, "" without a token), the nonce to remember
    against replay, and the signing key's kid ("" when the message was not signed)."""

    username: str
    nonce: str
    created: datetime | None
    signed_by: str
    replay_key: str = ""  # the nonce, else the SignatureValue: what must not be seen twice


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """Base64(SHA-1(nonce + created + password)), as the UsernameToken profile 1.0 defines it."""
    digest = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _parse_stamp(text: str | None, what: str) -> datetime:
    try:
        return datetime.fromisoformat((text or "").strip().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise WsSecurityError("wsse:InvalidSecurity", f"{what} is not an xsd:dateTime") from None


def soap_ns(envelope: etree._Element) -> str:
    """The SOAP namespace of `envelope` (1.1 or 1.2); WsSecurityError for anything else."""
    ns = etree.QName(envelope).namespace or ""
    if ns not in (SOAP11, SOAP12) or etree.QName(envelope).localname != "Envelope":
        raise WsSecurityError("wsse:InvalidSecurity", "not a SOAP 1.1 or 1.2 Envelope")
    return ns


def _header_and_body(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    ns = soap_ns(envelope)
    body = envelope.find(f"{{{ns}}}Body")
    if body is None:
        raise WsSecurityError("wsse:InvalidSecurity", "the Envelope has no Body")
    header = envelope.find(f"{{{ns}}}Header")
    if header is None:
        header = etree.Element(f"{{{ns}}}Header")
        envelope.insert(0, header)
    return header, body


def secure(
    envelope: etree._Element,
    *,
    username: str = "",
    password: str = "",
    signer: jose.Signer | None = None,
    now: datetime | None = None,
    ttl: timedelta = timedelta(minutes=5),
    password_text: bool = False,
) -> etree._Element:
    """Add a Security header to `envelope` in place: a Timestamp, a UsernameToken when `username` is
    given, and a signature over Body and Timestamp when `signer` is given. Returns `envelope`."""
    now = now or datetime.now(UTC)
    header, body = _header_and_body(envelope)
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(f"{{{soap_ns(envelope)}}}mustUnderstand", "1")
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {WSU_ID: f"TS-{secrets.token_hex(8)}"})
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = _stamp(now)
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = _stamp(now + ttl)
    if username:
        nonce, created = secrets.token_bytes(16), _stamp(now)
        token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken", {WSU_ID: f"UT-{secrets.token_hex(8)}"})
        etree.SubElement(token, f"{{{WSSE}}}Username").text = username
        if password_text:  # only over TLS: the receiver keeps nothing but a hash of the secret
            etree.SubElement(token, f"{{{WSSE}}}Password", Type=PASSWORD_TEXT).text = password
        else:
            digest = password_digest(nonce, created, password)
            etree.SubElement(token, f"{{{WSSE}}}Password", Type=PASSWORD_DIGEST).text = digest
        etree.SubElement(token, f"{{{WSSE}}}Nonce", EncodingType=BASE64).text = base64.b64encode(nonce).decode()
        etree.SubElement(token, f"{{{WSU}}}Created").text = created
    if signer is not None:
        body.set(WSU_ID, body.get(WSU_ID) or f"Body-{secrets.token_hex(8)}")
        _sign(security, [body, stamp], signer)
    return envelope


def _digest(element: etree._Element, digest_uri: str) -> bytes:
    octets = etree.tostring(element, method="c14n", exclusive=True)
    return hashlib.sha256(octets).digest() if digest_uri == SHA256 else sm.sm3(octets)


def _sign(security: etree._Element, parts: list[etree._Element], signer: jose.Signer) -> None:
    if signer.alg not in ALGORITHMS:
        raise WsSecurityError(
            "wsse:UnsupportedAlgorithm", f"WS-Security signs with ES256, SM2 or Ed25519, not {signer.alg}"
        )
    method, digest_uri = ALGORITHMS[signer.alg]
    sig = etree.SubElement(security, f"{{{DS}}}Signature", nsmap={"ds": DS})
    info = etree.SubElement(sig, f"{{{DS}}}SignedInfo")
    etree.SubElement(info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(info, f"{{{DS}}}SignatureMethod", Algorithm=method)
    for part in parts:
        ref = etree.SubElement(info, f"{{{DS}}}Reference", URI=f"#{part.get(WSU_ID)}")
        transforms = etree.SubElement(ref, f"{{{DS}}}Transforms")
        etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm=EXC_C14N)
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=digest_uri)
        etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(_digest(part, digest_uri)).decode()
    value = signer.sign(etree.tostring(info, method="c14n", exclusive=True))
    etree.SubElement(sig, f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()
    key_info = etree.SubElement(sig, f"{{{DS}}}KeyInfo")
    etree.SubElement(key_info, f"{{{DS}}}KeyName").text = signer.kid


def check(
    envelope: etree._Element,
    *,
    password_of: Callable[[str], str | None] | None = None,
    password_ok: Callable[[str, str], bool] | None = None,
    key_of: Callable[[str], jose.HubKey | None] | None = None,
    require_token: bool = False,
    require_signature: bool = False,
    now: datetime | None = None,
    max_age: timedelta = timedelta(minutes=5),
) -> Verified:
    """Check the Security header of a parsed envelope; WsSecurityError names the fault.

    `password_of(username)`: the password to check a UsernameToken's digest against (None: unknown user).
    `password_ok(username, password)`: checks a PasswordText token instead (a secret kept only as a hash).
    `key_of(kid)`: a key trusted to sign for the sender. A Timestamp is always required; it must not be
    expired nor older than `max_age`, give or take one minute of clock skew.
    """
    now = now or datetime.now(UTC)
    header, body = _header_and_body(envelope)
    securities = header.findall(f"{{{WSSE}}}Security")
    if len(securities) != 1:
        raise WsSecurityError("wsse:InvalidSecurity", f"{len(securities)} Security headers; exactly one is needed")
    security = securities[0]
    stamps = security.findall(f"{{{WSU}}}Timestamp")
    if len(stamps) != 1:
        raise WsSecurityError("wsse:InvalidSecurity", "the Security header needs exactly one Timestamp")
    stamp = stamps[0]
    created = _parse_stamp(stamp.findtext(f"{{{WSU}}}Created"), "Timestamp/Created")
    expires = _parse_stamp(stamp.findtext(f"{{{WSU}}}Expires"), "Timestamp/Expires")
    if expires + CLOCK_SKEW < now or created - CLOCK_SKEW > now or now - created > max_age + CLOCK_SKEW:
        raise WsSecurityError("wsu:MessageExpired", f"the Timestamp ({_stamp(created)} to {_stamp(expires)}) is stale")
    username, nonce, token_created = _check_token(security, password_of, password_ok, require_token, now, max_age)
    signed_by = _check_signature(security, body, stamp, key_of, require_signature)
    value = security.findtext(f"{{{DS}}}Signature/{{{DS}}}SignatureValue") or ""
    replay_key = nonce or (hashlib.sha256(value.encode()).hexdigest() if value else "")
    return Verified(username, nonce, token_created, signed_by, replay_key)


def _check_token(
    security: etree._Element,
    password_of: Callable[[str], str | None] | None,
    password_ok: Callable[[str, str], bool] | None,
    required: bool,
    now: datetime,
    max_age: timedelta,
) -> tuple[str, str, datetime | None]:
    token = security.find(f"{{{WSSE}}}UsernameToken")
    if token is None:
        if required:
            raise WsSecurityError("wsse:FailedAuthentication", "a UsernameToken is required")
        return "", "", None
    username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password = token.find(f"{{{WSSE}}}Password")
    nonce_text = token.findtext(f"{{{WSSE}}}Nonce") or ""
    created_text = token.findtext(f"{{{WSU}}}Created") or ""
    given = (password.text or "").strip() if password is not None else ""
    if password is not None and password.get("Type") == PASSWORD_TEXT and password_ok is not None:
        if not password_ok(username, given):
            raise WsSecurityError("wsse:FailedAuthentication", "the username or password is wrong")
        return username, nonce_text, _parse_stamp(created_text, "UsernameToken/Created") if created_text else None
    if password is None or password.get("Type") != PASSWORD_DIGEST or not nonce_text or not created_text:
        raise WsSecurityError("wsse:UnsupportedSecurityToken", "UsernameToken needs a PasswordDigest, Nonce, Created")
    created = _parse_stamp(created_text, "UsernameToken/Created")
    if now - created > max_age + CLOCK_SKEW or created - CLOCK_SKEW > now:
        raise WsSecurityError("wsu:MessageExpired", "the UsernameToken was created outside the accepted window")
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
    except ValueError:
        raise WsSecurityError("wsse:InvalidSecurityToken", "the Nonce is not base64") from None
    expected = password_of(username) if password_of is not None else None
    if expected is None or not secrets.compare_digest(password_digest(nonce, created_text, expected), given):
        raise WsSecurityError("wsse:FailedAuthentication", "the username or password is wrong")
    return username, nonce_text, created


def _check_signature(
    security: etree._Element,
    body: etree._Element,
    stamp: etree._Element,
    key_of: Callable[[str], jose.HubKey | None] | None,
    required: bool,
) -> str:
    sigs = security.findall(f"{{{DS}}}Signature")
    if not sigs:
        if required:
            raise WsSecurityError("wsse:InvalidSecurity", "the Body and Timestamp must be signed")
        return ""
    if len(sigs) > 1:
        raise WsSecurityError("wsse:InvalidSecurity", "more than one Signature")
    sig = sigs[0]
    info = sig.find(f"{{{DS}}}SignedInfo")
    kid = sig.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}KeyName") or ""
    key = key_of(kid) if key_of is not None and kid else None
    if info is None:
        raise WsSecurityError("wsse:InvalidSecurity", "the Signature has no SignedInfo")
    if key is None:
        raise WsSecurityError("wsse:SecurityTokenUnavailable", f"no trusted key {kid!r}")
    alg = KIND_ALG.get(key.kind, "")
    method, digest_uri = ALGORITHMS.get(alg, ("", ""))
    c14n = info.find(f"{{{DS}}}CanonicalizationMethod")
    used = info.find(f"{{{DS}}}SignatureMethod")
    if c14n is None or c14n.get("Algorithm") != EXC_C14N or used is None or used.get("Algorithm") != method:
        raise WsSecurityError("wsse:UnsupportedAlgorithm", f"key {kid!r} ({key.kind}) signs {method or 'nothing'}")
    ids = {body.get(WSU_ID): body, stamp.get(WSU_ID): stamp}
    covered: set[str] = set()
    for ref in info.findall(f"{{{DS}}}Reference"):
        target = ids.get((ref.get("URI") or "").removeprefix("#"))
        digest_method = ref.find(f"{{{DS}}}DigestMethod")
        if target is None or digest_method is None or digest_method.get("Algorithm") != digest_uri:
            raise WsSecurityError("wsse:FailedCheck", f"Reference {ref.get('URI')!r} is not the Body or the Timestamp")
        transforms = [t.get("Algorithm") for t in ref.findall(f"{{{DS}}}Transforms/{{{DS}}}Transform")]
        if transforms not in ([], [EXC_C14N]):
            raise WsSecurityError("wsse:UnsupportedAlgorithm", f"transforms {transforms} are not accepted")
        try:
            expected = base64.b64decode(ref.findtext(f"{{{DS}}}DigestValue") or "", validate=True)
        except ValueError:
            raise WsSecurityError("wsse:FailedCheck", "a DigestValue is not base64") from None
        if _digest(target, digest_uri) != expected:
            raise WsSecurityError("wsse:FailedCheck", f"digest mismatch: the {etree.QName(target).localname} changed")
        covered.add(etree.QName(target).localname)
    if covered != {"Body", "Timestamp"}:
        raise WsSecurityError("wsse:FailedCheck", "the signature must cover the Body and the Timestamp")
    try:
        value = base64.b64decode(sig.findtext(f"{{{DS}}}SignatureValue") or "", validate=True)
    except ValueError:
        raise WsSecurityError("wsse:FailedCheck", "the SignatureValue is not base64") from None
    if not jose.verify_raw(key, alg, etree.tostring(info, method="c14n", exclusive=True), value):
        raise WsSecurityError("wsse:FailedCheck", f"the signature does not verify with key {kid!r}")
    return kid
