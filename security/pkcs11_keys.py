"""The key store over a PKCS#11 token (an HSM; SoftHSM2 in development and tests).

What a caller may rely on, beyond `security.keystore.KeyStore`:
- Private keys are generated inside the token as sensitive, non-extractable token objects
  (CKA_SENSITIVE true, CKA_EXTRACTABLE false), CKA_ID and CKA_LABEL = the kid; they never leave it.
  The records (purpose, dates, retirement) live in `pkcs11-keys.json` next to where keystore.json
  would be, written like the file store's; the token holds only keys.
- Signing goes through the token: ES256 is CKM_ECDSA over a SHA-256 digest made here (the token
  answers r || s, the JWS format); Ed25519 is CKM_EDDSA when the token has it (SoftHSM2 2.6 does),
  otherwise jose signing keys default to P-256.
- payload_encryption keys are P-256 (tokens like SoftHSM2 have no X25519): the JWE is the same
  ECDH-ES + A256GCM the file store's P-256 keys open; CKM_ECDH1_DERIVE yields the per-message shared
  secret Z as a short-lived session object, which is read, destroyed, and fed to the Concat KDF here.
- The SM suite is refused with KeyStoreError: PKCS#11 defines no SM2 mechanism and SoftHSM2 has
  none; keep SM keys in a FileKeyStore.
- PKCS#11 logs in per process and token, and a logout ends every session of the token, so all
  stores of one process on one token share one logged-in session (counted; the last `close()`
  ends it), serialised by one lock. A second store with another PIN is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from asn1crypto.core import OctetString
from pkcs11 import KDF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import NoSuchKey, NoSuchToken, PinIncorrect, PKCS11Error
from pkcs11.types import DeriveMixin, SignMixin
from pkcs11.util.ec import encode_named_curve_parameters

from security import jose
from security.jose import HubKey, KeyKind, Signer
from security.keystore import (
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
    signs,
)

_ED25519_PARAMS = bytes.fromhex("06032b6570")  # DER OID 1.3.101.112 (id-Ed25519), PKCS#11 3.0 CKA_EC_PARAMS
_KEY_TYPES: dict[KeyKind, KeyType] = {"P-256": KeyType.EC, "Ed25519": KeyType.EC_EDWARDS}


@dataclass(frozen=True)
class _TokenSigner:
    """A Signer whose private key stays in the token."""

    kid: str
    alg: str
    key: SignMixin
    public: HubKey
    lock: threading.Lock

    def sign(self, signing_input: bytes) -> bytes:
        try:
            with self.lock:
                if self.alg == "ES256":
                    return self.key.sign(hashlib.sha256(signing_input).digest(), mechanism=Mechanism.ECDSA)
                return self.key.sign(signing_input, mechanism=Mechanism.EDDSA)
        except PKCS11Error as exc:
            raise KeyStoreError(f"the token refused to sign with key {self.kid!r}: {exc!r}") from exc

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.public.public_jwk())


@dataclass(frozen=True)
class _TokenAgreement:
    """A P-256 KeyAgreement whose private key stays in the token."""

    kid: str
    key: DeriveMixin
    lock: threading.Lock
    kind: KeyKind = "P-256"

    def agree(self, peer: HubKey) -> bytes:
        jwk = peer.public_jwk()
        point = b"\x04" + b64d(jwk["x"]) + b64d(jwk["y"])  # peer was checked to be on the curve by import_jwk
        with self.lock:
            secret = self.key.derive_key(
                KeyType.GENERIC_SECRET,
                256,
                mechanism_param=(KDF.NULL, None, point),
                template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False},
            )
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()


@dataclass
class _TokenSession:
    """The process's one logged-in session on a token."""

    key: tuple[str, str]
    session: pkcs11.Session
    mechanisms: frozenset[Mechanism]
    pin_digest: bytes
    lock: threading.Lock
    users: int = 1


_SESSIONS: dict[tuple[str, str], _TokenSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _attach(module: Path, label: str, pin: str, pin_env: str) -> _TokenSession:
    if not module.exists():
        raise KeyStoreError(f"PKCS#11 module {module} does not exist: install it (softhsm2) or fix pkcs11_module")
    key, digest = (str(module.resolve()), label), hashlib.sha256(pin.encode()).digest()
    wrong_pin = KeyStoreError(f"the PIN does not open token {label!r}: fix {pin_env}")
    with _SESSIONS_LOCK:
        shared = _SESSIONS.get(key)
        if shared is not None:
            if not hmac.compare_digest(shared.pin_digest, digest):
                raise wrong_pin
            shared.users += 1
            return shared
        try:
            token = pkcs11.lib(str(module)).get_token(token_label=label)
            mechanisms = frozenset(token.slot.get_mechanisms())
            session = token.open(rw=True, user_pin=pin)
        except NoSuchToken:
            raise KeyStoreError(
                f"no token labelled {label!r} in {module}: initialise one "
                f"(softhsm2-util --init-token --free --label {label}) or fix pkcs11_token_label"
            ) from None
        except PinIncorrect:
            raise wrong_pin from None
        except (PKCS11Error, RuntimeError) as exc:
            raise KeyStoreError(f"PKCS#11 module {module} failed to open token {label!r}: {exc!r}") from exc
        _SESSIONS[key] = _TokenSession(key, session, mechanisms, digest, threading.Lock())
        return _SESSIONS[key]


def _detach(shared: _TokenSession) -> None:
    with _SESSIONS_LOCK:
        shared.users -= 1
        if shared.users == 0:
            del _SESSIONS[shared.key]
            with shared.lock:
                shared.session.close()


class Pkcs11KeyStore(RecordedKeyStore):
    """Keys in a PKCS#11 token, records in `path`."""

    backend = "pkcs11"

    def __init__(
        self,
        path: Path,
        module: Path,
        token_label: str,
        pin: str,
        settings: KeyStoreSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(path, settings, clock)
        self.token_label = token_label
        self._shared: _TokenSession | None = _attach(module, token_label, pin, self.settings.pkcs11_pin_env)
        self._session, self._lock, mechanisms = self._shared.session, self._shared.lock, self._shared.mechanisms
        self._privates: dict[str, Any] = {}  # SignMixin / DeriveMixin token objects
        try:
            needed = {Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA, Mechanism.ECDH1_DERIVE}
            if not needed <= mechanisms:
                missing = ", ".join(sorted(m.name for m in needed - mechanisms))
                raise KeyStoreError(f"token {token_label!r} lacks {missing}: the hub needs P-256 ECDSA and ECDH")
            self.eddsa = {Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA} <= mechanisms
            with self._writing():  # creates the file, or checks it belongs to this token
                pass
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Give back this store's share of the token session; the last one logs out. Idempotent."""
        shared, self._shared = self._shared, None
        if shared is not None:
            _detach(shared)

    def _header(self) -> dict[str, Any]:
        return {"token": self.token_label}

    def _check_header(self, doc: Any) -> None:
        if doc.get("token") != self.token_label:
            raise KeyStoreError(
                f"{self._name()} records keys of token {doc.get('token')!r}, not {self.token_label!r}: "
                "fix pkcs11_token_label or [keys] directory"
            )

    def _default_kind(self, purpose: Purpose, suite: Suite) -> KeyKind:
        if suite is Suite.SM:
            return "SM2"  # refused by _kind_ok, with the reason
        eddsa = signs(purpose) and purpose is not Purpose.DOCUMENT_SIGNING and self.eddsa
        return "Ed25519" if eddsa else "P-256"

    def _kind_ok(self, kind: KeyKind, purpose: Purpose, suite: Suite) -> None:
        if suite is Suite.SM:
            raise KeyStoreError(
                f"the PKCS#11 store cannot hold {purpose}/sm keys: PKCS#11 has no SM2 mechanism; "
                'keep SM keys in the file store (backend = "file")'
            )
        if kind == "X25519":
            raise KeyStoreError(
                "the PKCS#11 store has no X25519 (no CKM_EC_MONTGOMERY): use P-256 for payload_encryption"
            )
        if kind == "Ed25519" and not self.eddsa:
            raise KeyStoreError(f"token {self.token_label!r} has no CKM_EDDSA: use P-256 (ES256) keys")

    def _create(self, record: KeyRecord) -> dict[str, str]:
        params = _ED25519_PARAMS if record.kind == "Ed25519" else encode_named_curve_parameters("secp256r1")
        use = MechanismFlag.SIGN | MechanismFlag.VERIFY if signs(record.purpose) else MechanismFlag.DERIVE
        private = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True}
        try:
            with self._lock:
                domain = self._session.create_domain_parameters(
                    _KEY_TYPES[record.kind], {Attribute.EC_PARAMS: params}, local=True
                )
                domain.generate_keypair(
                    id=record.kid.encode(), label=record.kid, store=True, capabilities=use, private_template=private
                )
        except PKCS11Error as exc:
            raise KeyStoreError(f"token {self.token_label!r} could not generate key {record.kid}: {exc!r}") from exc
        return {}

    def _dump(self, entry: StoredKey) -> dict[str, Any]:
        return entry.record.model_dump(mode="json")

    def _admit(self, raw: dict[str, Any]) -> StoredKey:
        try:
            return StoredKey(KeyRecord.model_validate(raw))
        except ValueError as exc:
            raise KeyStoreError(f"key {raw.get('kid')!r} in {self._name()} is not a valid record: {exc}") from exc

    def _object(self, record: KeyRecord, cls: ObjectClass) -> Any:
        try:
            return self._session.get_key(object_class=cls, key_type=_KEY_TYPES[record.kind], id=record.kid.encode())
        except NoSuchKey:
            raise KeyStoreError(
                f"key {record.kid!r} is recorded in {self._name()} but token {self.token_label!r} has no such "
                f"{cls.name.lower()}: was the token re-initialised? restore it or rotate"
            ) from None

    def _public(self, entry: StoredKey) -> HubKey:
        with self._lock:
            point = bytes(
                OctetString.load(self._object(entry.record, ObjectClass.PUBLIC_KEY)[Attribute.EC_POINT]).native
            )
        if entry.record.kind == "Ed25519":
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64e(point)}
        else:
            jwk = {"kty": "EC", "crv": "P-256", "x": b64e(point[1:33]), "y": b64e(point[33:])}
        return jose.import_jwk({**jwk, "kid": entry.record.kid})

    def _private(self, entry: StoredKey) -> Any:
        kid = entry.record.kid
        if kid not in self._privates:
            with self._lock:
                self._privates[kid] = self._object(entry.record, ObjectClass.PRIVATE_KEY)
        return self._privates[kid]

    def _signer(self, entry: StoredKey) -> Signer:
        return _TokenSigner(
            entry.record.kid, entry.record.alg, self._private(entry), self._public_key(entry), self._lock
        )

    def _decrypt(self, entry: StoredKey, token: str) -> bytes:
        try:
            return jose.decrypt_with(token, _TokenAgreement(entry.record.kid, self._private(entry), self._lock))
        except PKCS11Error as exc:  # e.g. the token refuses the peer point
            raise jose.DecryptError(f"the token refused key agreement for {entry.record.kid!r}") from exc


__all__ = ["Pkcs11KeyStore"]
