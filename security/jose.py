"""JOSE for the hub: detached unencoded-payload JWS (RFC 7797), ECDH-ES JWE, and the SM variants.

What a caller may rely on:
- `sign_detached` returns compact `header..signature`; the protected header always carries
  `alg`, `kid`, `"b64": false`, `"crit": ["b64"]` plus the caller's extra members (e.g. `iat`,
  `nonce`). The signing input is ASCII(BASE64URL(header)) || "." || body, the exact body bytes.
- `verify_detached` returns the protected header as a dict, or raises a `SignatureError`:
  `MalformedToken` (shape, header, b64/crit, unknown alg), `UnknownKey` (resolver has no key for
  the kid) or `BadSignature` (anything else, including a key of the wrong kind for the alg).
  It does not judge `iat` / `nonce`; replay checks belong to the caller.
- JWE: `ECDH-ES` + `A256GCM` (joserfc) for X25519 and P-256 keys; for SM2 keys `alg: "SM2-KA"`,
  `enc: "SM4-GCM"`, private names defined here. `decrypt` raises `DecryptError` on any failure.
- Keys that never enter this process (an HSM) sign through a `Signer` and decrypt through a
  `KeyAgreement`; a private `HubKey` gives both via `HubKey.signer()` and `HubKey.agreement()`.
  `sign_detached_with` makes the same header as `sign_detached`; `sign_compact` / `verify_compact`
  are ordinary compact JWS (e.g. JWTs), refusing any `crit` and `b64` member; `decrypt_with`
  opens exactly the JWEs `encrypt` makes.

Algorithms and keys:
- `Ed25519` (fully specified, RFC 9864) and `ES256` via joserfc 1.8.0's algorithm models and keys.
- `SM2` (private name): SM2 with SM3, user id 1234567812345678, signature = raw r || s (64 bytes),
  via security.sm. It is not registered with joserfc: joserfc's EC key type only knows NIST
  curves, so SM2 keys and their JWK (`{"kty":"EC","crv":"SM2","x","y"}`) are handled here.
- `SM2-KA` / `SM4-GCM`: like ECDH-ES in direct key agreement mode (RFC 7518 4.6): the header
  carries an ephemeral SM2 public key `epk`; Z = x || y of the shared point; the 16-byte CEK is
  KDF_SM3(Z || OtherInfo) with the GM/T 0003.4 KDF and RFC 7518 OtherInfo (AlgorithmID = "SM4-GCM",
  apu, apv, keydatalen = 128); content is SM4-GCM with a 12-byte IV, AAD = ASCII(protected header).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from joserfc import jwe, jws
from joserfc.errors import JoseError as _JoserfcError
from joserfc.jwk import ECKey, OKPKey

from security import sm

KeyKind = Literal["Ed25519", "P-256", "X25519", "SM2"]
SIGN_ALGS: dict[str, KeyKind] = {"Ed25519": "Ed25519", "ES256": "P-256", "SM2": "SM2"}
_KIND_ALG: dict[KeyKind, str] = {kind: alg for alg, kind in SIGN_ALGS.items()}
MAX_HEADER_CHARS = 4096
MAX_JWE_BYTES = 16 * 1024 * 1024  # joserfc's 64 KB default is too small for bulk ISO 20022 files


class JoseError(Exception):
    """Base class of every error raised by this module."""


class SignatureError(JoseError):
    """A detached JWS was refused."""


class MalformedToken(SignatureError):
    """Not a compact detached RFC 7797 JWS we accept (shape, header, b64/crit, alg)."""


class UnknownKey(SignatureError):
    """No key is known for the token's kid."""


class BadSignature(SignatureError):
    """The signature does not verify for this body and key."""


class DecryptError(JoseError):
    """The JWE could not be decrypted or authenticated; no detail about the plaintext leaks."""


class KeyFormatError(JoseError):
    """A JWK is malformed or of an unsupported kind, or a key cannot do what was asked."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


_B64_RE = re.compile(r"[A-Za-z0-9_-]*")


def _b64d(text: str) -> bytes:
    """Strict base64url without padding; raises ValueError."""
    if not _B64_RE.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_b64(obj: Mapping[str, Any]) -> str:
    return _b64e(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class HubKey:
    """A signing or key-agreement key with its kid; private or public-only.

    Ed25519 signs; X25519 encrypts; P-256 and SM2 do both. `jose` holds the joserfc key for the
    first three kinds, `sm2_private` / `sm2_public` the SM2 material.
    """

    kind: KeyKind
    kid: str
    jose: OKPKey | ECKey | None = None
    sm2_private: sm.Sm2PrivateKey | None = None
    sm2_public: sm.Sm2PublicKey | None = None

    def __repr__(self) -> str:  # never print key material
        return f"HubKey(kind={self.kind!r}, kid={self.kid!r}, private={self.is_private})"

    @property
    def is_private(self) -> bool:
        if self.kind == "SM2":
            return self.sm2_private is not None
        return self.jose is not None and self.jose.is_private

    def _jwk(self, private: bool) -> dict[str, str]:
        if private and not self.is_private:
            raise KeyFormatError(f"key {self.kid!r} has no private part")
        if self.kind == "SM2":
            pub = self.sm2_public
            assert pub is not None  # guaranteed by construction
            out = {
                "kty": "EC",
                "crv": "SM2",
                "x": _b64e(pub.x.to_bytes(32, "big")),
                "y": _b64e(pub.y.to_bytes(32, "big")),
            }
            if private and self.sm2_private is not None:
                out["d"] = _b64e(self.sm2_private.to_bytes())
        else:
            assert self.jose is not None
            out = {k: str(v) for k, v in self.jose.as_dict(private=private).items()}
        out["kid"] = self.kid
        return out

    def public_jwk(self) -> dict[str, str]:
        """Public JWK (RFC 7517) with kid; safe to publish in /.well-known/jwks.json."""
        return self._jwk(private=False)

    def private_jwk(self) -> dict[str, str]:
        """Private JWK including `d`; raises KeyFormatError for a public-only key."""
        return self._jwk(private=True)

    def public(self) -> HubKey:
        """The public-only half of this key."""
        return import_jwk(self.public_jwk())

    def signer(self, alg: str | None = None) -> Signer:
        """This private key as a `Signer`; `alg` defaults to the one JWS alg of its kind."""
        chosen = alg or _KIND_ALG.get(self.kind)
        if chosen is None or SIGN_ALGS.get(chosen) != self.kind:
            raise KeyFormatError(f"a {self.kind} key cannot sign {chosen or 'anything'}")
        if not self.is_private:
            raise KeyFormatError(f"key {self.kid!r} has no private part")
        return _KeySigner(self, chosen)

    def agreement(self) -> KeyAgreement:
        """This private key as a `KeyAgreement` for `decrypt_with`; X25519, P-256 and SM2 only."""
        if self.kind == "Ed25519":
            raise KeyFormatError("an Ed25519 key cannot agree on a key; use X25519, P-256 or SM2")
        if not self.is_private:
            raise KeyFormatError(f"key {self.kid!r} has no private part")
        return _KeyAgreement(self)


_JOSE_CURVES: dict[str, tuple[str, type[OKPKey] | type[ECKey]]] = {
    "Ed25519": ("OKP", OKPKey),
    "X25519": ("OKP", OKPKey),
    "P-256": ("EC", ECKey),
}


def generate_key(kind: KeyKind, kid: str) -> HubKey:
    """A fresh private key of `kind` named `kid`."""
    if kind == "SM2":
        priv = sm.sm2_generate()
        return HubKey(kind, kid, sm2_private=priv, sm2_public=priv.public_key)
    if kind == "P-256":
        return HubKey(kind, kid, jose=ECKey.generate_key("P-256", parameters={"kid": kid}, private=True))
    if kind in ("Ed25519", "X25519"):
        return HubKey(kind, kid, jose=OKPKey.generate_key(kind, parameters={"kid": kid}, private=True))
    raise KeyFormatError(f"unsupported key kind {kind!r}")


def import_jwk(jwk: Mapping[str, Any]) -> HubKey:
    """Key from a JWK dict (public, or private with `d`); requires `kid`; raises KeyFormatError."""
    kid, kty, crv = jwk.get("kid"), jwk.get("kty"), jwk.get("crv")
    if not isinstance(kid, str) or not kid:
        raise KeyFormatError("JWK needs a non-empty string kid")
    if kty == "EC" and crv == "SM2":
        try:
            x, y = _b64d(str(jwk["x"])), _b64d(str(jwk["y"]))
            if len(x) != 32 or len(y) != 32:
                raise KeyFormatError("SM2 x and y must be 32 bytes")
            pub = sm.Sm2PublicKey(int.from_bytes(x, "big"), int.from_bytes(y, "big"))
            priv = sm.Sm2PrivateKey.from_bytes(_b64d(str(jwk["d"]))) if "d" in jwk else None
        except (KeyError, ValueError, sm.SmError) as exc:
            raise KeyFormatError(f"bad SM2 JWK: {exc}") from exc
        if priv is not None and priv.public_key != pub:
            raise KeyFormatError("SM2 JWK: d does not match x, y")
        return HubKey("SM2", kid, sm2_private=priv, sm2_public=pub)
    if not isinstance(crv, str) or crv not in _JOSE_CURVES or _JOSE_CURVES[crv][0] != kty:
        raise KeyFormatError(f"unsupported JWK kty={kty!r} crv={crv!r}")
    try:
        key = _JOSE_CURVES[crv][1].import_key(dict(jwk))
    except (_JoserfcError, ValueError, TypeError) as exc:
        raise KeyFormatError(f"bad {crv} JWK: {exc}") from exc
    kind: KeyKind = "P-256" if crv == "P-256" else ("Ed25519" if crv == "Ed25519" else "X25519")
    return HubKey(kind, kid, jose=key)


def _as_key(key: HubKey | Mapping[str, Any]) -> HubKey:
    return key if isinstance(key, HubKey) else import_jwk(key)


# --- signers and key agreement: private keys that may live elsewhere (an HSM) ------------------


class Signer(Protocol):
    """Signs JWS signing input under one `kid` and `alg` (one of SIGN_ALGS)."""

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    def sign(self, signing_input: bytes) -> bytes:
        """The raw JWS signature: Ed25519 64 bytes; ES256 and SM2 r || s, 32 bytes each."""
        ...

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (with kid) that verifies these signatures."""
        ...


class KeyAgreement(Protocol):
    """The private half of a key-agreement key (X25519, P-256 or SM2), for `decrypt_with`."""

    @property
    def kid(self) -> str: ...

    @property
    def kind(self) -> KeyKind: ...

    def agree(self, peer: HubKey) -> bytes:
        """Shared secret Z with the public key `peer` of the same kind: the ECDH x coordinate
        (P-256), the X25519 output, or x || y of the shared point (SM2)."""
        ...


@dataclass(frozen=True)
class _KeySigner:
    key: HubKey
    alg: str

    @property
    def kid(self) -> str:
        return self.key.kid

    def sign(self, signing_input: bytes) -> bytes:
        return _raw_sign(self.alg, self.key, signing_input)

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.public_jwk())


@dataclass(frozen=True)
class _KeyAgreement:
    key: HubKey

    @property
    def kid(self) -> str:
        return self.key.kid

    @property
    def kind(self) -> KeyKind:
        return self.key.kind

    def agree(self, peer: HubKey) -> bytes:
        if peer.kind != self.key.kind:
            raise KeyFormatError(f"a {self.key.kind} key cannot agree with a {peer.kind} key")
        if self.key.kind == "SM2":
            assert self.key.sm2_private is not None and peer.sm2_public is not None
            return sm.ecdh(self.key.sm2_private, peer.sm2_public)
        assert self.key.jose is not None and peer.jose is not None
        own, theirs = self.key.jose.private_key, peer.jose.public_key
        if isinstance(own, ec.EllipticCurvePrivateKey) and isinstance(theirs, ec.EllipticCurvePublicKey):
            return own.exchange(ec.ECDH(), theirs)
        if isinstance(own, x25519.X25519PrivateKey) and isinstance(theirs, x25519.X25519PublicKey):
            return own.exchange(theirs)  # refuses an all-zero result (small-order peer points)
        raise KeyFormatError(f"a {self.key.kind} key cannot agree on a key")


# --- detached JWS (RFC 7797) ---------------------------------------------------------------

_JWS_REGISTRY = jws.JWSRegistry(algorithms=["Ed25519", "ES256"])
_RESERVED = {"alg", "kid", "b64", "crit"}


def _raw_sign(alg: str, key: HubKey, signing_input: bytes) -> bytes:
    if key.kind != SIGN_ALGS.get(alg):
        raise KeyFormatError(f"a {key.kind} key cannot sign {alg}")
    if not key.is_private:
        raise KeyFormatError(f"key {key.kid!r} has no private part")
    if alg == "SM2":
        assert key.sm2_private is not None
        return sm.sign(key.sm2_private, signing_input)
    return _JWS_REGISTRY.get_alg(alg).sign(signing_input, key.jose)


def _raw_verify(alg: str, key: HubKey, signing_input: bytes, sig: bytes) -> bool:
    if key.kind != SIGN_ALGS.get(alg):
        return False  # e.g. an ES256 header with an SM2 key: no algorithm confusion
    if alg == "SM2":
        assert key.sm2_public is not None
        try:
            sm.verify(key.sm2_public, signing_input, sig)
        except sm.BadSm2Signature:
            return False
        return True
    try:
        return bool(_JWS_REGISTRY.get_alg(alg).verify(signing_input, sig, key.jose))
    except (_JoserfcError, ValueError):  # e.g. a signature of the wrong length
        return False


def verify_raw(key: HubKey, alg: str, signing_input: bytes, sig: bytes) -> bool:
    """True when `sig` (the raw JWS signature: r || s for ES256 and SM2) is `key`'s over `signing_input`
    under `alg`; False for any mismatch, including a key of another kind (no algorithm confusion)."""
    return _raw_verify(alg, key, signing_input, sig)


def _header_b64(alg: str, kid: str, extra_header: Mapping[str, Any] | None, detached: bool) -> str:
    if alg not in SIGN_ALGS:
        raise KeyFormatError(f"unsupported JWS alg {alg!r}")
    extra = dict(extra_header or {})
    clash = _RESERVED & extra.keys()
    if clash:
        raise KeyFormatError(f"extra_header may not set {sorted(clash)}")
    unencoded: dict[str, Any] = {"b64": False, "crit": ["b64"]} if detached else {}
    return _json_b64({"alg": alg, "kid": kid, **unencoded, **extra})


def sign_detached(body: bytes, key: HubKey, kid: str, alg: str, extra_header: Mapping[str, Any] | None = None) -> str:
    """Compact detached JWS `header..signature` over the exact `body` bytes (RFC 7797, b64=false)."""
    header_b64 = _header_b64(alg, kid, extra_header, detached=True)
    sig = _raw_sign(alg, key, header_b64.encode("ascii") + b"." + body)
    return f"{header_b64}..{_b64e(sig)}"


def parse_detached_header(token: str) -> dict[str, Any]:
    """Decode and check the protected header of a detached JWS without verifying it."""
    parts = token.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise MalformedToken("expected compact detached JWS 'header..signature'")
    if len(parts[0]) > MAX_HEADER_CHARS:
        raise MalformedToken("protected header too large")
    try:
        header = json.loads(_b64d(parts[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedToken("protected header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    if header.get("b64") is not False or header.get("crit") != ["b64"]:
        # RFC 7797: b64=false must be critical; we understand no other crit member.
        raise MalformedToken('header must carry "b64": false and "crit": ["b64"]')
    if not isinstance(header.get("alg"), str) or header["alg"] not in SIGN_ALGS:
        raise MalformedToken(f"unsupported alg {header.get('alg')!r}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise MalformedToken("header needs a string kid")
    return header


def verify_detached(
    token: str,
    body: bytes,
    resolve_key: Callable[[str], HubKey | None],
    algorithms: Collection[str] = ("Ed25519", "ES256", "SM2"),
) -> dict[str, Any]:
    """Verify a detached JWS over `body`; returns the protected header. See module docstring."""
    header = parse_detached_header(token)
    if header["alg"] not in algorithms:
        raise MalformedToken(f"alg {header['alg']!r} not allowed here")
    try:
        key = resolve_key(header["kid"])
    except LookupError as exc:
        raise UnknownKey(f"no key for kid {header['kid']!r}") from exc
    if key is None:
        raise UnknownKey(f"no key for kid {header['kid']!r}")
    header_b64, _, sig_b64 = token.split(".")
    try:
        sig = _b64d(sig_b64)
    except (ValueError, binascii.Error) as exc:
        raise MalformedToken("signature is not base64url") from exc
    if not _raw_verify(header["alg"], key, header_b64.encode("ascii") + b"." + body, sig):
        raise BadSignature(f"signature does not verify for kid {header['kid']!r}")
    return header


def sign_detached_with(body: bytes, signer: Signer, extra_header: Mapping[str, Any] | None = None) -> str:
    """`sign_detached` by a Signer: the same header (`alg`, `kid` from the signer, b64/crit, extras)."""
    header_b64 = _header_b64(signer.alg, signer.kid, extra_header, detached=True)
    return f"{header_b64}..{_b64e(signer.sign(header_b64.encode('ascii') + b'.' + body))}"


def sign_compact(payload: bytes, signer: Signer, extra_header: Mapping[str, Any] | None = None) -> str:
    """Compact JWS `header.payload.signature` (RFC 7515) with `alg` and `kid` from the signer plus
    the caller's extra members (e.g. `typ: "JWT"`); `b64` and `crit` may not be set."""
    header_b64 = _header_b64(signer.alg, signer.kid, extra_header, detached=False)
    signing_input = f"{header_b64}.{_b64e(payload)}"
    return f"{signing_input}.{_b64e(signer.sign(signing_input.encode('ascii')))}"


def verify_compact(
    token: str,
    resolve_key: Callable[[str], HubKey | None],
    algorithms: Collection[str],
) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS; returns (protected header, payload). Raises MalformedToken (shape,
    header, a `crit` or `b64` member, alg not in `algorithms`), UnknownKey or BadSignature."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise MalformedToken("expected compact JWS 'header.payload.signature'")
    if len(parts[0]) > MAX_HEADER_CHARS:
        raise MalformedToken("protected header too large")
    try:
        header = json.loads(_b64d(parts[0]))
        payload, sig = _b64d(parts[1]), _b64d(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedToken("compact JWS parts are not base64url (header: JSON)") from exc
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    if "crit" in header or "b64" in header:  # we understand no extension; b64 belongs to detached tokens
        raise MalformedToken("compact JWS may not carry crit or b64")
    if not isinstance(header.get("alg"), str) or header["alg"] not in SIGN_ALGS or header["alg"] not in algorithms:
        raise MalformedToken(f"alg {header.get('alg')!r} not allowed here")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise MalformedToken("header needs a string kid")
    try:
        key = resolve_key(header["kid"])
    except LookupError as exc:
        raise UnknownKey(f"no key for kid {header['kid']!r}") from exc
    if key is None:
        raise UnknownKey(f"no key for kid {header['kid']!r}")
    if not _raw_verify(header["alg"], key, f"{parts[0]}.{parts[1]}".encode("ascii"), sig):
        raise BadSignature(f"signature does not verify for kid {header['kid']!r}")
    return header, payload


# --- JWE ----------------------------------------------------------------------------------

_JWE_REGISTRY = jwe.JWERegistry(algorithms=["ECDH-ES", "A256GCM"])
_JWE_REGISTRY.max_ciphertext_length = MAX_JWE_BYTES * 4 // 3 + 4  # limits apply to base64url text


def _other_info(enc: str, apu: bytes, apv: bytes, bits: int) -> bytes:
    def field(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    return field(enc.encode("ascii")) + field(apu) + field(apv) + bits.to_bytes(4, "big")


def _sm_cek(z: bytes, header: Mapping[str, Any]) -> bytes:
    apu, apv = _b64d(str(header.get("apu", ""))), _b64d(str(header.get("apv", "")))
    return sm.kdf(z + _other_info("SM4-GCM", apu, apv, 128), 16)


def encrypt(
    plaintext: bytes, recipient: HubKey | Mapping[str, Any], extra_header: Mapping[str, Any] | None = None
) -> str:
    """Compact JWE to `recipient` (a HubKey or public JWK): ECDH-ES/A256GCM, or SM2-KA/SM4-GCM.
    `extra_header` adds protected members such as `cty`."""
    if len(plaintext) > MAX_JWE_BYTES:
        raise KeyFormatError(f"plaintext larger than {MAX_JWE_BYTES} bytes")
    extra = dict(extra_header or {})
    if clash := {"alg", "enc", "kid", "epk", "zip", "crit"} & extra.keys():
        raise KeyFormatError(f"extra_header may not set {sorted(clash)}")
    key = _as_key(recipient)
    if key.kind in ("X25519", "P-256"):
        header = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": key.kid, **extra}
        return jwe.encrypt_compact(header, plaintext, key.jose, registry=_JWE_REGISTRY)  # type: ignore[arg-type]
    if key.kind == "SM2":
        assert key.sm2_public is not None
        eph = sm.sm2_generate()
        epk = {
            "kty": "EC",
            "crv": "SM2",
            "x": _b64e(eph.public_key.x.to_bytes(32, "big")),
            "y": _b64e(eph.public_key.y.to_bytes(32, "big")),
        }
        sm_header = {"alg": "SM2-KA", "enc": "SM4-GCM", "kid": key.kid, "epk": epk, **extra}
        header_b64 = _json_b64(sm_header)
        cek, iv = _sm_cek(sm.ecdh(eph, key.sm2_public), sm_header), os.urandom(12)
        sealed = sm.sm4_gcm_seal(cek, iv, plaintext, aad=header_b64.encode("ascii"))
        return ".".join([header_b64, "", _b64e(iv), _b64e(sealed[:-16]), _b64e(sealed[-16:])])
    raise KeyFormatError(f"a {key.kind} key cannot receive JWE")


def peek_header(token: str) -> dict[str, Any]:
    """The (unauthenticated) protected header of a compact JWE, e.g. to pick the key by kid."""
    try:
        header = json.loads(_b64d(token.split(".", 1)[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise DecryptError("JWE header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise DecryptError("JWE header is not a JSON object")
    return header


def decrypt(token: str, private_key: HubKey) -> bytes:
    """Plaintext of a compact JWE made by `encrypt`; raises DecryptError on any failure."""
    if not private_key.is_private:
        raise KeyFormatError(f"key {private_key.kid!r} has no private part")
    header = peek_header(token)
    alg = header.get("alg")
    if alg == "ECDH-ES" and private_key.kind in ("X25519", "P-256"):
        try:
            plaintext = jwe.decrypt_compact(token, private_key.jose, registry=_JWE_REGISTRY).plaintext  # type: ignore[arg-type]
        except (_JoserfcError, ValueError) as exc:
            raise DecryptError(f"JWE refused: {type(exc).__name__}") from exc
        return plaintext or b""
    if alg == "SM2-KA" and private_key.kind == "SM2" and header.get("enc") == "SM4-GCM":
        if "crit" in header or "zip" in header:  # we produce neither and understand no extension
            raise DecryptError("SM JWE with crit or zip is not accepted")
        return _decrypt_sm(token, header, private_key.agreement())
    raise DecryptError(f"alg {alg!r} does not match a {private_key.kind} key")


def decrypt_with(token: str, agreement: KeyAgreement) -> bytes:
    """Plaintext of a compact JWE made by `encrypt`, opened through `agreement` (e.g. an HSM key
    that never leaves the token); raises DecryptError on any failure, like `decrypt`."""
    header = peek_header(token)
    alg, enc = header.get("alg"), header.get("enc")
    if "crit" in header or "zip" in header:  # we produce neither and understand no extension
        raise DecryptError("JWE with crit or zip is not accepted")
    if alg == "SM2-KA" and enc == "SM4-GCM" and agreement.kind == "SM2":
        return _decrypt_sm(token, header, agreement)
    if alg != "ECDH-ES" or enc != "A256GCM" or agreement.kind not in ("X25519", "P-256"):
        raise DecryptError(f"alg {alg!r} / enc {enc!r} does not match a {agreement.kind} key")
    parts = token.split(".")
    if len(parts) != 5 or parts[1] != "":
        raise DecryptError("expected compact JWE 'header..iv.ciphertext.tag'")
    try:
        epk = header["epk"]
        members = ("kty", "crv", "x", "y") if agreement.kind == "P-256" else ("kty", "crv", "x")
        # import_jwk refuses points off the curve, which stops invalid-curve attacks on the private key.
        peer = import_jwk({**{m: epk[m] for m in members}, "kid": "epk"})
        if peer.kind != agreement.kind:
            raise DecryptError("epk is not of the recipient key's kind")
        z = agreement.agree(peer)
        apu, apv = _b64d(str(header.get("apu", ""))), _b64d(str(header.get("apv", "")))
        cek = ConcatKDFHash(hashes.SHA256(), 32, _other_info("A256GCM", apu, apv, 256)).derive(z)
        iv, ct, tag = _b64d(parts[2]), _b64d(parts[3]), _b64d(parts[4])
        if len(iv) != 12 or len(tag) != 16:
            raise DecryptError("A256GCM needs a 12-byte iv and a 16-byte tag")
        return AESGCM(cek).decrypt(iv, ct + tag, parts[0].encode("ascii"))
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error, KeyFormatError, InvalidTag) as exc:
        raise DecryptError(f"JWE refused: {type(exc).__name__}") from exc


def _decrypt_sm(token: str, header: Mapping[str, Any], agreement: KeyAgreement) -> bytes:
    parts = token.split(".")
    if len(parts) != 5 or parts[1] != "":
        raise DecryptError("expected compact JWE 'header..iv.ciphertext.tag'")
    try:
        epk = header["epk"]
        if epk.get("kty") != "EC" or epk.get("crv") != "SM2":
            raise DecryptError("epk is not an SM2 key")
        # Sm2PublicKey refuses off-curve points, which stops invalid-curve attacks on d.
        eph = sm.Sm2PublicKey(int.from_bytes(_b64d(epk["x"]), "big"), int.from_bytes(_b64d(epk["y"]), "big"))
        iv, ct, tag = _b64d(parts[2]), _b64d(parts[3]), _b64d(parts[4])
        cek = _sm_cek(agreement.agree(HubKey("SM2", "epk", sm2_public=eph)), header)
        if len(tag) != 16:
            raise DecryptError("tag must be 16 bytes")
        return sm.sm4_gcm_open(cek, iv, ct + tag, aad=parts[0].encode("ascii"))
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error, sm.SmError, KeyFormatError) as exc:
        raise DecryptError(f"SM JWE refused: {type(exc).__name__}") from exc


__all__ = [
    "BadSignature",
    "DecryptError",
    "HubKey",
    "JoseError",
    "KeyAgreement",
    "KeyFormatError",
    "KeyKind",
    "MalformedToken",
    "SignatureError",
    "Signer",
    "UnknownKey",
    "decrypt",
    "decrypt_with",
    "encrypt",
    "generate_key",
    "import_jwk",
    "parse_detached_header",
    "peek_header",
    "sign_compact",
    "sign_detached",
    "sign_detached_with",
    "verify_compact",
    "verify_detached",
    "verify_raw",
]
