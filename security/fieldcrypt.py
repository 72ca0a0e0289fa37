"""Field encryption at rest: the sensitive fields of an envelope sealed one by one in the journal.

Which fields: exactly those the payload model declares `Sensitive` (canonical.sensitive), found by the
envelope's `type`. Everything else of the envelope stays readable, so the journal can still be
queried, verified and reported on without keys.

What a caller may rely on:
- A sealed value is the string `$sealed:v1:<kid>:<alg>:<base64url(nonce || ciphertext || tag)>`;
  `alg` is `A256GCM` (AES-256-GCM, the default) or `SM4GCM` (SM4-GCM, RFC 8998, for the SM suite).
- The value is sealed as its JSON text, so numbers, lists and objects come back with their type.
- The additional authenticated data binds the message id, the concrete field path (list indices
  included), the kid and the algorithm: a sealed value moved to another field or message, or
  altered in any way, does not open (`FieldNotOpened` naming the message and the path).
- Each seal draws a fresh 96-bit random nonce: sealing one value twice gives two different tokens.
- Rotation: a new current kid seals from then on; the retired kids still open what they sealed.
  A kid the keys do not know raises `UnknownDataKey` naming it and the known ones.
- Envelopes without sealed values (written before sealing was turned on) open unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from canonical.sensitive import map_sensitive, sensitive_paths_of_type
from security.sm import SmDecryptError, sm4_gcm_open, sm4_gcm_seal

Cipher = Literal["A256GCM", "SM4GCM"]
AES_256_GCM: Final[Cipher] = "A256GCM"
SM4_GCM: Final[Cipher] = "SM4GCM"
CIPHERS: Final[tuple[Cipher, ...]] = (AES_256_GCM, SM4_GCM)
SEALED_PREFIX: Final = "$sealed:"
TOKEN_VERSION: Final = "v1"
KID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DATA_KEY_BYTES: Final = 32
KEK_MIN_BYTES: Final = 32
_KEY_BYTES: Final[Mapping[Cipher, int]] = {AES_256_GCM: 32, SM4_GCM: 16}  # SM4 is a 128-bit cipher
_NONCE_BYTES: Final = 12
_MARK: Final = SEALED_PREFIX.encode()


class FieldCryptError(Exception):
    """Base of every field-encryption failure; the message says what is wrong and what to do."""


class UnknownDataKey(FieldCryptError):
    """A sealed value names a data key (kid) these keys do not hold."""

    def __init__(self, kid: str, known: Iterable[str]) -> None:
        super().__init__(
            f"data key {kid!r} is not known (known: {', '.join(sorted(known)) or 'none'}); "
            "list it among the retired kids of the field keys, or restore the key-encryption key it was derived from"
        )
        self.kid = kid


class FieldNotOpened(FieldCryptError):
    """A sealed value did not open at this message and path: altered, moved, or sealed under another key."""

    def __init__(self, message_id: str, path: str, reason: str) -> None:
        super().__init__(f"sealed field {path!r} of message {message_id} does not open: {reason}")
        self.message_id, self.path, self.reason = message_id, path, reason


class DataKeys(Protocol):
    """Where field keys come from: the current one to seal with, and any one by kid to open with."""

    def current(self) -> tuple[str, bytes]: ...

    def key(self, kid: str) -> bytes: ...


class KekDataKeys:
    """Data keys derived from one key-encryption key (KEK) with HKDF-SHA256.

    Each kid gets its own 32-byte key; the HKDF info binds the kid and the cipher, so a key is never
    shared between kids or ciphers. The KEK itself never touches data. Only `current` and `retired`
    kids are known: a token naming another kid is refused rather than opened under a fresh key."""

    def __init__(self, kek: bytes, current: str, retired: Iterable[str] = (), cipher: Cipher = AES_256_GCM) -> None:
        if len(kek) < KEK_MIN_BYTES:
            raise FieldCryptError(
                f"the key-encryption key has {len(kek)} bytes, at least {KEK_MIN_BYTES} are needed; "
                "generate one with e.g. `head -c 32 /dev/urandom`"
            )
        if cipher not in CIPHERS:
            raise FieldCryptError(f"cipher {cipher!r} is not one of {', '.join(CIPHERS)}")
        kids = (current, *retired)
        for kid in kids:
            if not KID_PATTERN.match(kid):
                raise FieldCryptError(f"kid {kid!r} must be 1-64 of A-Z a-z 0-9 . _ - (it is written into tokens)")
        self._kek, self._current, self._known, self.cipher = kek, current, frozenset(kids), cipher
        self._derived: dict[str, bytes] = {}

    def current(self) -> tuple[str, bytes]:
        return self._current, self.key(self._current)

    def key(self, kid: str) -> bytes:
        if kid not in self._known:
            raise UnknownDataKey(kid, self._known)
        if kid not in self._derived:
            info = f"tradehub/field-key/v1|{self.cipher}|{kid}".encode()
            self._derived[kid] = HKDF(SHA256(), DATA_KEY_BYTES, salt=None, info=info).derive(self._kek)
        return self._derived[kid]


def _aad(message_id: str, path: str, kid: str, alg: str) -> bytes:
    return "\x00".join(("tradehub-field", TOKEN_VERSION, message_id, path, kid, alg)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FieldSealer:
    """Seals and opens the declared sensitive fields of envelopes (dicts or their JSON bytes).

    `keys` seal with `cipher`; `openers` add keys for the other cipher, so a journal written before a
    switch of suite still opens. Implements `canonical.sensitive.EnvelopeSealer` for the journal."""

    def __init__(
        self, keys: DataKeys, cipher: Cipher = AES_256_GCM, *, openers: Mapping[Cipher, DataKeys] | None = None
    ) -> None:
        if cipher not in CIPHERS:
            raise FieldCryptError(f"cipher {cipher!r} is not one of {', '.join(CIPHERS)}")
        self.cipher = cipher
        self._keys: dict[Cipher, DataKeys] = {**(openers or {}), cipher: keys}

    @classmethod
    def from_kek(
        cls, kek: bytes, current_kid: str, retired_kids: Iterable[str] = (), cipher: Cipher = AES_256_GCM
    ) -> FieldSealer:
        """A sealer whose keys derive from `kek`: seals with `cipher` under `current_kid`, opens both ciphers."""
        retired = tuple(retired_kids)
        keys = {c: KekDataKeys(kek, current_kid, retired, c) for c in CIPHERS}
        return cls(keys[cipher], cipher, openers=keys)

    # -- one value -------------------------------------------------------------------------------

    def seal_value(self, value: Any, message_id: str, path: str) -> str:
        """`value` (any JSON value) as a token bound to `message_id` and `path`."""
        kid, key = self._keys[self.cipher].current()
        if not KID_PATTERN.match(kid):
            raise FieldCryptError(f"kid {kid!r} must be 1-64 of A-Z a-z 0-9 . _ - (it is written into tokens)")
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        nonce = os.urandom(_NONCE_BYTES)
        aad = _aad(message_id, path, kid, self.cipher)
        if self.cipher == SM4_GCM:
            sealed = sm4_gcm_seal(key[: _KEY_BYTES[SM4_GCM]], nonce, plain, aad)
        else:
            sealed = AESGCM(key).encrypt(nonce, plain, aad)
        return f"{SEALED_PREFIX}{TOKEN_VERSION}:{kid}:{self.cipher}:{_b64(nonce + sealed)}"

    def open_value(self, token: str, message_id: str, path: str) -> Any:
        """The value sealed in `token` at `message_id` / `path`, with its JSON type restored."""
        parts = token.split(":")
        if len(parts) != 5 or parts[0] + ":" != SEALED_PREFIX:
            raise FieldNotOpened(message_id, path, "not a sealed token ($sealed:v1:<kid>:<alg>:<data>)")
        _, version, kid, alg, data = parts
        if version != TOKEN_VERSION:
            raise FieldNotOpened(message_id, path, f"token version {version!r}, this hub reads {TOKEN_VERSION!r}")
        if alg not in self._keys:
            raise FieldNotOpened(message_id, path, f"sealed with {alg!r}, this hub holds keys for {sorted(self._keys)}")
        cipher: Cipher = AES_256_GCM if alg == AES_256_GCM else SM4_GCM
        key = self._keys[cipher].key(kid)
        try:
            raw = _unb64(data)
        except (binascii.Error, ValueError):
            raise FieldNotOpened(message_id, path, "the data part is not base64url") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise FieldNotOpened(message_id, path, "the data part is shorter than a nonce and a tag")
        nonce, sealed, aad = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(message_id, path, kid, alg)
        try:
            if cipher == SM4_GCM:
                plain = sm4_gcm_open(key[: _KEY_BYTES[SM4_GCM]], nonce, sealed, aad)
            else:
                plain = AESGCM(key).decrypt(nonce, sealed, aad)
        except (InvalidTag, SmDecryptError):
            reason = "authentication failed: altered, moved from another field or message, or another key"
            raise FieldNotOpened(message_id, path, reason) from None
        return json.loads(plain)

    # -- envelopes -------------------------------------------------------------------------------

    def seal(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `envelope` (JSON-like: `id`, `type`, `payload`) with every sensitive value sealed."""
        paths = sensitive_paths_of_type(str(envelope.get("type", "")))
        out = dict(envelope)
        if paths and envelope.get("payload") is not None:
            mid = _message_id(envelope)
            out["payload"] = map_sensitive(envelope["payload"], paths, lambda v, where: self.seal_value(v, mid, where))
        return out

    def open(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `envelope` with every sealed sensitive value opened; clear values pass unchanged."""
        paths = sensitive_paths_of_type(str(envelope.get("type", "")))
        out = dict(envelope)
        if paths and envelope.get("payload") is not None:
            mid = _message_id(envelope)

            def open_one(value: Any, where: str) -> Any:
                if isinstance(value, str) and value.startswith(SEALED_PREFIX):
                    return self.open_value(value, mid, where)
                return value  # written before sealing was turned on

            out["payload"] = map_sensitive(envelope["payload"], paths, open_one)
        return out

    def seal_envelope(self, data: bytes) -> bytes:
        """The envelope JSON `data` with its sensitive values sealed (unchanged if its type declares none)."""
        envelope = json.loads(data)
        if not sensitive_paths_of_type(str(envelope.get("type", ""))):
            return data
        return _dumps(self.seal(envelope))

    def open_envelope(self, data: bytes) -> bytes:
        """The envelope JSON `data` with its sealed values opened (unchanged if it holds none)."""
        if _MARK not in data:
            return data
        return _dumps(self.open(json.loads(data)))


def _message_id(envelope: Mapping[str, Any]) -> str:
    mid = envelope.get("id")
    if not mid:
        raise FieldCryptError("the envelope has no id: sealed fields are bound to their message id, set it first")
    return str(mid)


def _dumps(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
