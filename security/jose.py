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
from typing import Any, Literal

from joserfc import jwe, jws
from joserfc.errors import JoseError as _JoserfcError
from joserfc.jwk import ECKey, OKPKey

from security import sm

KeyKind = Literal["Ed25519", "P-256", "X25519", "SM2"]
SIGN_ALGS: dict[str, KeyKind] = {"Ed25519": "Ed25519", "ES256": "P-256", "SM2": "SM2"}
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


def sign_detached(body: bytes, key: HubKey, kid: str, alg: str, extra_header: Mapping[str, Any] | None = None) -> str:
    """Compact detached JWS `header..signature` over the exact `body` bytes (RFC 7797, b64=false)."""
    if alg not in SIGN_ALGS:
        raise KeyFormatError(f"unsupported JWS alg {alg!r}")
    extra = dict(extra_header or {})
    clash = _RESERVED & extra.keys()
    if clash:
        raise KeyFormatError(f"extra_header may not set {sorted(clash)}")
    header = {"alg": alg, "kid": kid, "b64": False, "crit": ["b64"], **extra}
    header_b64 = _json_b64(header)
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


def encrypt(plaintext: bytes, recipient: HubKey | Mapping[str, Any]) -> str:
    """Compact JWE to `recipient` (a HubKey or public JWK): ECDH-ES/A256GCM, or SM2-KA/SM4-GCM."""
    if len(plaintext) > MAX_JWE_BYTES:
        raise KeyFormatError(f"plaintext larger than {MAX_JWE_BYTES} bytes")
    key = _as_key(recipient)
    if key.kind in ("X25519", "P-256"):
        header = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": key.kid}
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
        sm_header = {"alg": "SM2-KA", "enc": "SM4-GCM", "kid": key.kid, "epk": epk}
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
        return _decrypt_sm(token, header, private_key)
    raise DecryptError(f"alg {alg!r} does not match a {private_key.kind} key")


def _decrypt_sm(token: str, header: Mapping[str, Any], key: HubKey) -> bytes:
    assert key.sm2_private is not None
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
        cek = _sm_cek(sm.ecdh(key.sm2_private, eph), header)
        if len(tag) != 16:
            raise DecryptError("tag must be 16 bytes")
        return sm.sm4_gcm_open(cek, iv, ct + tag, aad=parts[0].encode("ascii"))
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error, sm.SmError) as exc:
        raise DecryptError(f"SM JWE refused: {type(exc).__name__}") from exc


__all__ = [
    "BadSignature",
    "DecryptError",
    "HubKey",
    "JoseError",
    "KeyFormatError",
    "KeyKind",
    "MalformedToken",
    "SignatureError",
    "UnknownKey",
    "decrypt",
    "encrypt",
    "generate_key",
    "import_jwk",
    "parse_detached_header",
    "peek_header",
    "sign_detached",
    "verify_detached",
]
