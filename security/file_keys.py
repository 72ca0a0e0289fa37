"""The default key store: records in one JSON file, each private key sealed with AES-256-GCM under a
key-encryption key (KEK) from the environment (see security.keystore for what callers rely on).

The KEK comes from HUB_KEK (base64url of 32 bytes), else the file HUB_KEK_FILE names, else
`<keys>/kek`, generated on first use when no keystore exists yet: a dev convenience that `hub run`
warns about and production mode refuses.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import ValidationError

from security import jose
from security.jose import HubKey, KeyKind, Signer
from security.keystore import (
    FORMAT,
    Clock,
    KeyRecord,
    KeyStoreError,
    KeyStoreSettings,
    Purpose,
    RecordedKeyStore,
    StoredKey,
    Suite,
    b64d,
    b64e,
)

log = logging.getLogger("security.keystore")  # one logger for the key store, whichever backend


@dataclass(frozen=True, repr=False)
class KeyEncryptionKey:
    """The 32-byte KEK and where it came from; `beside_data` means it sits next to keystore.json."""

    key: bytes
    source: str
    beside_data: bool = False

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(source={self.source!r})"


def load_kek(keys_dir: Path, environ: Mapping[str, str] | None = None) -> KeyEncryptionKey:
    """The KEK from HUB_KEK (base64url of 32 bytes), else the file named by HUB_KEK_FILE, else
    `keys_dir/kek`, generated (0600) on first use if no keystore.json exists yet (dev only)."""
    env = os.environ if environ is None else environ
    if env.get("HUB_KEK"):
        return KeyEncryptionKey(_kek_bytes(env["HUB_KEK"], "HUB_KEK"), "HUB_KEK")
    if env.get("HUB_KEK_FILE"):
        path = Path(env["HUB_KEK_FILE"])
        try:
            return KeyEncryptionKey(_kek_bytes(path.read_text(), f"HUB_KEK_FILE={path}"), f"HUB_KEK_FILE={path}")
        except OSError as exc:
            raise KeyStoreError(f"HUB_KEK_FILE={path} cannot be read ({exc.strerror}): fix the path or mode") from exc
    path = keys_dir / "kek"
    if not path.exists():
        if (keys_dir / "keystore.json").exists():
            raise KeyStoreError(
                f"{keys_dir / 'keystore.json'} exists but there is no key-encryption key: "
                "set HUB_KEK (or HUB_KEK_FILE) to the key it was created with"
            )
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = keys_dir / f".kek-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(b64e(secrets.token_bytes(32)) + "\n")
        with contextlib.suppress(FileExistsError):  # another process made one first: use theirs
            os.link(tmp, path)
        tmp.unlink()
    log.warning("the key-encryption key is %s, next to the keys it protects: set HUB_KEK in production", path)
    return KeyEncryptionKey(_kek_bytes(path.read_text(), str(path)), str(path), beside_data=True)


def _kek_bytes(text: str, source: str) -> bytes:
    try:
        raw = b64d(text.strip())
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise KeyStoreError(
            f"{source} must be base64url of 32 random bytes: make one with "
            "`python -c 'import secrets,base64;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'`"
        )
    return raw


def _subkey(kek: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"tradehub keystore " + info).derive(kek)


class FileKeyStore(RecordedKeyStore):
    """Keys in `path` (keystore.json), private parts sealed under the KEK; the default store."""

    backend = "file"

    def __init__(
        self,
        path: Path,
        kek: KeyEncryptionKey | bytes,
        settings: KeyStoreSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(path, settings, clock)
        kek = kek if isinstance(kek, KeyEncryptionKey) else KeyEncryptionKey(kek, "argument")
        if len(kek.key) != 32:
            raise KeyStoreError("the key-encryption key must be 32 bytes")
        self.kek_source, self.kek_beside_data = kek.source, kek.beside_data
        if kek.beside_data:
            self.warning = f"the key-encryption key sits next to the data ({kek.source}): set HUB_KEK in production"
        self._seal_key = AESGCM(_subkey(kek.key, b"seal"))
        self._mac_key = _subkey(kek.key, b"mac")
        self._check = b64e(_subkey(kek.key, b"check"))
        self._keys: dict[str, HubKey] = {}  # unsealed private keys by kid
        with self._writing():  # creates the file, or checks the KEK and every record's MAC
            pass

    def _header(self) -> dict[str, Any]:
        return {"kek_check": self._check}

    def _check_header(self, doc: Mapping[str, Any]) -> None:
        if not hmac.compare_digest(str(doc.get("kek_check", "")), self._check):
            raise KeyStoreError(
                f"the key-encryption key does not open {self._name()}: set HUB_KEK to the key it was created with"
            )

    def _kind_ok(self, kind: KeyKind, purpose: Purpose, suite: Suite) -> None:
        return None  # software keys: every kind in KINDS

    @staticmethod
    def _aad(record: KeyRecord) -> bytes:
        return json.dumps([FORMAT, record.kid, record.owner, record.purpose, record.suite, record.kind]).encode()

    def _mac(self, body: Mapping[str, Any]) -> str:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return b64e(hmac.new(self._mac_key, canonical, hashlib.sha256).digest())

    def _create(self, record: KeyRecord) -> dict[str, str]:
        key = jose.generate_key(record.kind, record.kid)
        nonce = secrets.token_bytes(12)
        sealed = self._seal_key.encrypt(nonce, json.dumps(key.private_jwk()).encode(), self._aad(record))
        self._keys[record.kid] = key
        return {"sealed": b64e(nonce + sealed)}

    def _dump(self, entry: StoredKey) -> dict[str, Any]:
        body = {**entry.record.model_dump(mode="json"), **entry.extra}
        return {**body, "mac": self._mac(body)}

    def _admit(self, raw: dict[str, Any]) -> StoredKey:
        if not isinstance(raw, dict):
            raise KeyStoreError(f"{self._name()} holds a key record that is not an object: restore it from a backup")
        kid = raw.get("kid")
        body = {k: v for k, v in raw.items() if k != "mac"}
        if not hmac.compare_digest(str(raw.get("mac", "")), self._mac(body)):
            raise KeyStoreError(
                f"key {kid!r} in {self._name()} was altered or is corrupted (its MAC does not match): "
                "restore the file from a backup"
            )
        sealed = body.pop("sealed", None)
        try:
            return StoredKey(KeyRecord.model_validate(body), {"sealed": str(sealed)})
        except ValidationError as exc:
            raise KeyStoreError(f"key {kid!r} in {self._name()} is not a valid record: {exc}") from exc

    def _private(self, entry: StoredKey) -> HubKey:
        kid = entry.record.kid
        if kid not in self._keys:
            try:
                blob = b64d(entry.extra["sealed"])
                jwk = json.loads(self._seal_key.decrypt(blob[:12], blob[12:], self._aad(entry.record)))
                key = jose.import_jwk(jwk)
                if key.kid != kid or key.kind != entry.record.kind or not key.is_private:
                    raise ValueError("sealed key does not match its record")
            except (KeyError, ValueError, binascii.Error, InvalidTag, jose.KeyFormatError) as exc:
                raise KeyStoreError(
                    f"key {kid!r} in {self._name()} does not decrypt: the record was altered or swapped; "
                    "restore the file from a backup"
                ) from exc
            self._keys[kid] = key
        return self._keys[kid]

    def _signer(self, entry: StoredKey) -> Signer:
        return self._private(entry).signer(entry.record.alg)

    def _public(self, entry: StoredKey) -> HubKey:
        return self._private(entry).public()

    def _decrypt(self, entry: StoredKey, token: str) -> bytes:
        return jose.decrypt(token, self._private(entry))
