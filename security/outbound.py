"""What the hub does to every partner call it makes: sign it, and encrypt it for partners that ask.

Hub side, `Protector.protect(body, content_type)` returns the body to send and the headers to add:
- `X-Hub-Signature`: a detached JWS (RFC 7797, b64=false) over the exact plaintext body, with `iat`
  and a fresh `nonce` in the protected header and the kid of the hub's key for the partner's suite
  (`jose`: Ed25519 or ES256; `sm`: alg "SM2", SM2 with SM3 and the default user id). Sign, then
  encrypt: the signature always covers what the partner reads after decrypting.
- When encrypting: the body becomes a compact JWE (ECDH-ES + A256GCM to an X25519 or P-256 key,
  or SM2-KA + SM4-GCM to an SM2 key, as `security.jose` defines them), sent as
  `Content-Type: application/jose`, with the original content type in the JWE's protected `cty`.
Every call to `protect` signs anew (fresh nonce and iat), so a retry is never a replay.

Partner side, `open_protected(body, headers, hub_keys, private_key)` decrypts and verifies and says
what it found; it raises `UndecryptableBody` only for a body it cannot read at all.

The settings of one adapter version are a `PartnerProtection`; `recipient: sandbox` stands for the
public key the sandbox partner publishes in `<state>/jwks.json` (see `sandbox_recipient`).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from security import jose
from security.signatures import HEADER as SIGNATURE_HEADER

Suite = Literal["jose", "sm"]
SignatureStatus = Literal["valid", "invalid", "missing"]
JOSE_CONTENT_TYPE = "application/jose"
SANDBOX = "sandbox"
PARTNER_JWKS_FILE = "jwks.json"  # a sandbox partner's public keys, in its state folder
HUB_JWKS_FILE = "hub-jwks.json"  # the hub's public request-signing keys, written there by the hub
CALLBACK_FILE = "hub-callback.json"  # {"url", "cafile"}: where a sandbox network pushes its answers

# What each suite signs with (JWS alg) and encrypts to (recipient key kinds).
SUITE_SIGN_ALGS: dict[str, frozenset[str]] = {"jose": frozenset({"Ed25519", "ES256"}), "sm": frozenset({"SM2"})}
SUITE_RECIPIENT_KINDS: dict[str, frozenset[str]] = {
    "jose": frozenset({"X25519", "P-256"}),
    "sm": frozenset({"SM2"}),
}
_ALG_OF_KIND = {"Ed25519": "Ed25519", "P-256": "ES256", "SM2": "SM2"}


class ProtectionError(Exception):
    """Base of every error raised by this module."""


class ProtectionConfigError(ProtectionError):
    """The settings or keys cannot do what was asked (wrong key kind for the suite, no recipient)."""


class UndecryptableBody(ProtectionError):
    """An encrypted body that this partner cannot decrypt: no key for it, or it does not authenticate."""


class SignerSource(Protocol):
    """A signer that changes with key rotation (the key store's CurrentSigner): `current()` gives
    the Signer for one signature."""

    def current(self) -> jose.Signer: ...


RequestSigner = jose.Signer | jose.HubKey | SignerSource


def _resolve(signer: RequestSigner) -> jose.Signer:
    if isinstance(signer, jose.HubKey):
        return signer.signer()
    if hasattr(signer, "current"):
        return signer.current()
    return signer


# --- settings ------------------------------------------------------------------------------


class PartnerProtection(BaseModel):
    """How the hub protects calls to one adapter version (routes.yaml `protection:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    suite: Suite = "jose"
    sign: bool = True
    encrypt: bool = False
    # The partner's public JWK, or "sandbox": the key the sandbox partner publishes in its jwks.json.
    recipient: dict[str, Any] | Literal["sandbox"] | None = None

    @field_validator("recipient", mode="before")
    @classmethod
    def _recipient_shape(cls, value: Any) -> Any:
        if isinstance(value, str) and value != SANDBOX:
            raise ValueError(f"recipient must be the partner's public JWK (a mapping) or 'sandbox', not {value!r}")
        if isinstance(value, Mapping):
            if "d" in value:
                raise ValueError("recipient must be the partner's public JWK: remove 'd', a private key")
            try:
                jose.import_jwk(value)
            except jose.KeyFormatError as exc:
                raise ValueError(f"recipient is not a usable JWK: {exc}") from None
        return value

    @model_validator(mode="after")
    def _recipient_fits(self) -> PartnerProtection:
        if self.encrypt and self.recipient is None:
            raise ValueError("encrypt: true needs recipient: the partner's public JWK, or 'sandbox'")
        if isinstance(self.recipient, dict):
            kind = jose.import_jwk(self.recipient).kind
            if kind not in SUITE_RECIPIENT_KINDS[self.suite]:
                allowed = " or ".join(sorted(SUITE_RECIPIENT_KINDS[self.suite]))
                raise ValueError(f"suite {self.suite} encrypts to {allowed} keys; recipient is {kind}")
        return self

    def recipient_key(self, sandbox_jwks: Mapping[str, Any] | None = None) -> jose.HubKey | None:
        """The key to encrypt to, or None when this version does not encrypt. For `sandbox`, the
        key of this suite's kind from the sandbox's published JWKS (raises ProtectionConfigError
        when none was given or it has no such key)."""
        if not self.encrypt:
            return None
        if self.recipient == SANDBOX:
            if sandbox_jwks is None:
                raise ProtectionConfigError(
                    "recipient: sandbox needs the sandbox partner's jwks.json; start the sandbox first, "
                    "or give the partner's public JWK"
                )
            return sandbox_recipient(sandbox_jwks, self.suite)
        assert isinstance(self.recipient, dict)  # encrypt without recipient is refused at validation
        return jose.import_jwk(self.recipient)


# --- JWKS files ----------------------------------------------------------------------------


def publish_jwks(path: Path, keys: Iterable[jose.HubKey | Mapping[str, Any]]) -> None:
    """Write the public halves of `keys` as a JWKS (`{"keys": [...]}`) to `path`, replacing it in
    one rename so a reader sees the old file or the new one, never a part."""
    public = [(k if isinstance(k, jose.HubKey) else jose.import_jwk(k)).public_jwk() for k in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"keys": public}, indent=2))
    tmp.replace(path)


def read_jwks(path: Path) -> list[jose.HubKey]:
    """The keys of a JWKS file; raises ProtectionConfigError naming the file when it is unusable."""
    try:
        data = json.loads(path.read_text())
        return [jose.import_jwk(k) for k in data["keys"]]
    except (OSError, ValueError, KeyError, TypeError, jose.KeyFormatError) as exc:
        raise ProtectionConfigError(f"{path} is not a usable JWKS ({type(exc).__name__}: {exc})") from None


def sandbox_recipient(jwks: Mapping[str, Any], suite: Suite) -> jose.HubKey:
    """The first key of `jwks` a partner of `suite` is encrypted to (jose: X25519 or P-256; sm: SM2)."""
    try:
        keys = [jose.import_jwk(k) for k in jwks["keys"]]
    except (KeyError, TypeError, jose.KeyFormatError) as exc:
        raise ProtectionConfigError(f"the sandbox's JWKS is unusable: {exc}") from None
    for key in keys:
        if key.kind in SUITE_RECIPIENT_KINDS[suite]:
            return key
    raise ProtectionConfigError(
        f"the sandbox's JWKS has no key for suite {suite}; restart the sandbox to regenerate it"
    )


# --- hub side ------------------------------------------------------------------------------


class Protector:
    """Signs and, if given a recipient, encrypts the hub's calls to one partner (see module doc).

    `signer` is a private `jose.HubKey` or any `RequestSigner`; None only when the partner gets
    unsigned calls. Construction checks that the signer and the recipient fit `suite`.
    """

    def __init__(
        self,
        signer: RequestSigner | None,
        recipient: jose.HubKey | Mapping[str, Any] | None = None,
        *,
        suite: Suite = "jose",
    ) -> None:
        self.suite = suite
        if isinstance(signer, jose.HubKey) and (not signer.is_private or signer.kind not in _ALG_OF_KIND):
            raise ProtectionConfigError(f"key {signer.kid!r} ({signer.kind}) cannot sign: give a private signing key")
        if signer is not None:
            self._check_alg(_resolve(signer).alg)
        self.signer = signer
        key = recipient if isinstance(recipient, jose.HubKey) or recipient is None else jose.import_jwk(recipient)
        if key is not None and key.kind not in SUITE_RECIPIENT_KINDS[suite]:
            allowed = " or ".join(sorted(SUITE_RECIPIENT_KINDS[suite]))
            raise ProtectionConfigError(
                f"suite {suite} encrypts to {allowed} keys; recipient {key.kid!r} is {key.kind}"
            )
        self.recipient = key.public() if key is not None and key.is_private else key

    @classmethod
    def for_partner(
        cls,
        protection: PartnerProtection,
        signer: RequestSigner | None,
        sandbox_jwks: Mapping[str, Any] | None = None,
    ) -> Protector:
        """The protector an adapter version's settings ask for; `signer` is the hub's key for
        `protection.suite` (ignored when the settings say `sign: false`)."""
        if protection.sign and signer is None:
            raise ProtectionConfigError(f"sign: true needs the hub's {protection.suite} request-signing key")
        return cls(signer if protection.sign else None, protection.recipient_key(sandbox_jwks), suite=protection.suite)

    def _check_alg(self, alg: str) -> None:
        if alg not in SUITE_SIGN_ALGS[self.suite]:
            allowed = " or ".join(sorted(SUITE_SIGN_ALGS[self.suite]))
            raise ProtectionConfigError(f"suite {self.suite} signs with {allowed}; the hub's signer is {alg}")

    def protect(self, body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
        """The body to send and the headers to set (they replace same-named headers); raises
        ProtectionError when the body cannot be protected (e.g. larger than the JWE limit)."""
        headers: dict[str, str] = {}
        if self.signer is not None:
            headers[SIGNATURE_HEADER] = self._sign(body)
        if self.recipient is None:
            return body, headers
        if len(body) > jose.MAX_JWE_BYTES:
            raise ProtectionError(f"body of {len(body)} bytes exceeds the {jose.MAX_JWE_BYTES}-byte JWE limit")
        headers["Content-Type"] = JOSE_CONTENT_TYPE
        return jose.encrypt(body, self.recipient, {"cty": content_type}).encode("ascii"), headers

    def _sign(self, body: bytes) -> str:
        assert self.signer is not None
        signer = _resolve(self.signer)  # one key for the whole signature, even during a rotation
        self._check_alg(signer.alg)  # a rotating signer must stay within the suite
        return jose.sign_detached_with(body, signer, {"iat": int(time.time()), "nonce": secrets.token_urlsafe(18)})


# --- partner side --------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedRequest:
    """What a partner understood of a hub call.

    `signature`: "valid" (verified by one of the hub's keys; `header` is its protected header, for
    the caller's own iat / nonce checks), "invalid" (present but refused; `detail` says why) or
    "missing". `kid` is the signature's kid when its header could be read. `encrypted`: the body
    arrived as JWE and `plaintext` is what it decrypted to.
    """

    plaintext: bytes
    content_type: str
    signature: SignatureStatus
    kid: str | None
    encrypted: bool
    detail: str = ""
    header: dict[str, Any] = field(default_factory=dict)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def open_protected(
    body: bytes,
    headers: Mapping[str, str],
    hub_keys: Sequence[jose.HubKey],
    private_key: jose.HubKey | Sequence[jose.HubKey] | None,
) -> OpenedRequest:
    """Decrypt (when `Content-Type: application/jose`) and verify a hub call; see OpenedRequest.

    `private_key` may be several keys: the one named by the JWE's kid is used, else the only one
    that fits its alg. Raises UndecryptableBody when the body is JWE and cannot be decrypted.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    content_type = lower.get("content-type", "")
    encrypted = _media_type(content_type) == JOSE_CONTENT_TYPE
    plaintext = body
    if encrypted:
        plaintext, content_type = _open(body, private_key)
    token = lower.get(SIGNATURE_HEADER.lower())
    if not token:
        return OpenedRequest(plaintext, content_type, "missing", None, encrypted)
    try:
        kid: str | None = jose.parse_detached_header(token)["kid"]
    except jose.MalformedToken:
        kid = None
    by_kid = {k.kid: k for k in hub_keys}
    try:
        header = jose.verify_detached(token, plaintext, by_kid.get)
    except jose.SignatureError as exc:
        return OpenedRequest(plaintext, content_type, "invalid", kid, encrypted, f"{type(exc).__name__}: {exc}")
    return OpenedRequest(plaintext, content_type, "valid", kid, encrypted, header=header)


def _open(body: bytes, private_key: jose.HubKey | Sequence[jose.HubKey] | None) -> tuple[bytes, str]:
    keys = [private_key] if isinstance(private_key, jose.HubKey) else list(private_key or [])
    if not keys:
        raise UndecryptableBody("the body is encrypted (application/jose) but this partner has no private key")
    try:
        token = body.decode("ascii")
        header = jose.peek_header(token)
    except (UnicodeDecodeError, jose.DecryptError) as exc:
        raise UndecryptableBody(f"the body is not a compact JWE: {exc}") from None
    key = next((k for k in keys if k.kid == header.get("kid")), None)
    if key is None:
        fits = {"ECDH-ES": ("X25519", "P-256"), "SM2-KA": ("SM2",)}.get(str(header.get("alg")), ())
        candidates = [k for k in keys if k.kind in fits]
        key = candidates[0] if len(candidates) == 1 else None
    if key is None:
        raise UndecryptableBody(f"no private key for JWE kid {header.get('kid')!r} alg {header.get('alg')!r}")
    try:
        plaintext = jose.decrypt(token, key)
    except (jose.DecryptError, jose.KeyFormatError) as exc:
        raise UndecryptableBody(f"the JWE does not decrypt with key {key.kid!r}: {exc}") from None
    cty = header.get("cty")
    return plaintext, cty if isinstance(cty, str) else "application/octet-stream"


__all__ = [
    "HUB_JWKS_FILE",
    "JOSE_CONTENT_TYPE",
    "PARTNER_JWKS_FILE",
    "SANDBOX",
    "OpenedRequest",
    "PartnerProtection",
    "ProtectionConfigError",
    "ProtectionError",
    "Protector",
    "RequestSigner",
    "SignatureStatus",
    "Suite",
    "UndecryptableBody",
    "open_protected",
    "publish_jwks",
    "read_jwks",
    "sandbox_recipient",
]
