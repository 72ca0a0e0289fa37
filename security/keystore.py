"""The hub's keys: one key store interface, separate keys per owner, purpose and suite, rotation.

What a caller may rely on:
- A key belongs to an owner ("hub", or an institution id for the sandbox institutions' dev keys),
  a `Purpose` and a `Suite`. jose: Ed25519 signs, X25519 receives JWE; P-256 (ES256 / ECDH-ES) on
  request. sm: SM2 for both. Kids read like `hub-rs-jose-20261123-1a2b` and are unique in a store.
- `signer()` gives the newest active key (not retired, before `not_after`). `rotate()` adds a new
  key per (purpose, suite) and retires the previous one: from then on it no longer signs, but it
  still verifies and decrypts until the earlier of `retired_at + overlap_days` and `not_after`;
  afterwards it is gone from `verifying_keys`, `public_jwks` and `decrypt`. Records are never
  deleted, so `public_key(kid)` still verifies old journal checkpoints.
- Every time question asks one injectable clock (a callable returning an aware datetime).
- Records live in one JSON file written atomically (0600) under an exclusive fcntl lock; a writer
  reloads first, so two processes never lose a rotation. Readers call `reload()` (one stat) to see
  another process's change; `decrypt` reloads by itself when it meets an unknown kid.
- `security.file_keys.FileKeyStore` keeps each private key sealed with AES-256-GCM under a key-encryption key (KEK),
  the AAD binding kid, owner, purpose, suite and kind, and a MAC over each record, so an edited,
  swapped or un-retired record is refused naming its kid. `security.pkcs11_keys.Pkcs11KeyStore`
  keeps private keys inside a PKCS#11 token. Both raise `KeyStoreError`, whose message says
  what is wrong and what to do; private keys never appear in repr, str or logs.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from canonical.envelope import ID_PATTERN
from security import jose
from security.jose import HubKey, KeyKind, Signer
from security.owner_only import write_json

if TYPE_CHECKING:
    from security.file_keys import KeyEncryptionKey

log = logging.getLogger(__name__)

HUB = "hub"
FORMAT = 1
Clock = Callable[[], datetime]


class Purpose(StrEnum):
    REQUEST_SIGNING = "request_signing"
    PAYLOAD_ENCRYPTION = "payload_encryption"
    TOKENS = "tokens"
    JOURNAL_CHECKPOINTS = "journal_checkpoints"
    # XML signatures over documents filed with partners (customs CEB): P-256 or SM2, as XMLDSig has no Ed25519.
    DOCUMENT_SIGNING = "document_signing"


class Suite(StrEnum):
    JOSE = "jose"
    SM = "sm"


_ABBREV = {
    Purpose.REQUEST_SIGNING: "rs",
    Purpose.PAYLOAD_ENCRYPTION: "pe",
    Purpose.TOKENS: "tk",
    Purpose.JOURNAL_CHECKPOINTS: "jc",
    Purpose.DOCUMENT_SIGNING: "ds",
}
# Allowed kinds per (signs?, suite); the first is the default.
KINDS: dict[tuple[bool, Suite], tuple[KeyKind, ...]] = {
    (True, Suite.JOSE): ("Ed25519", "P-256"),
    (False, Suite.JOSE): ("X25519", "P-256"),
    (True, Suite.SM): ("SM2",),
    (False, Suite.SM): ("SM2",),
}


def signs(purpose: Purpose) -> bool:
    """Whether keys of `purpose` sign (every purpose but payload_encryption)."""
    return purpose is not Purpose.PAYLOAD_ENCRYPTION


def _alg(kind: KeyKind, purpose: Purpose) -> str:
    if not signs(purpose):
        return "SM2-KA" if kind == "SM2" else "ECDH-ES"
    return {"Ed25519": "Ed25519", "P-256": "ES256", "SM2": "SM2"}[kind]


class KeyStoreError(Exception):
    """The key store cannot do what was asked; the message names the key or file and the remedy."""


class KeyRecord(BaseModel):
    """What the store knows about one key, without key material."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kid: str = Field(min_length=1, max_length=128)
    owner: str = Field(pattern=ID_PATTERN)
    purpose: Purpose
    suite: Suite
    kind: KeyKind
    alg: str
    created_at: AwareDatetime
    not_after: AwareDatetime = Field(description="expiry: the key neither signs nor verifies from then on")
    retired_at: AwareDatetime | None = Field(default=None, description="None while the key is the active one")

    @property
    def use(self) -> Literal["sig", "enc"]:
        return "sig" if signs(self.purpose) else "enc"

    def signs_at(self, now: datetime) -> bool:
        return self.retired_at is None and now < self.not_after

    def valid_until(self, overlap: timedelta) -> datetime:
        """When the key stops verifying and decrypting."""
        return self.not_after if self.retired_at is None else min(self.not_after, self.retired_at + overlap)


class KeyStoreSettings(BaseModel):
    """hub.toml `[keys]`."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["file", "pkcs11"] = "file"
    validity_days: int = Field(default=365, gt=0, description="a new key expires after this many days")
    overlap_days: int = Field(default=7, ge=0, description="a retired key still verifies and decrypts this long")
    warn_days: int = Field(default=30, ge=0, description="expiring() looks this far ahead by default")
    directory: Path | None = Field(default=None, description="where the records live; default $HUB_HOME/keys")
    pkcs11_module: Path | None = Field(default=None, description="e.g. /usr/lib/softhsm/libsofthsm2.so")
    pkcs11_token_label: str | None = None
    pkcs11_pin_env: str = Field(default="HUB_PKCS11_PIN", description="environment variable holding the user PIN")

    @model_validator(mode="after")
    def _coherent(self) -> KeyStoreSettings:
        if self.overlap_days >= self.validity_days:
            raise ValueError("overlap_days must be shorter than validity_days")
        if self.backend == "pkcs11" and (self.pkcs11_module is None or not self.pkcs11_token_label):
            raise ValueError('backend = "pkcs11" needs pkcs11_module and pkcs11_token_label')
        return self


class KeyStore(Protocol):
    """What the hub asks of its keys; `FileKeyStore` and `Pkcs11KeyStore` both do all of it."""

    warning: str | None  # something to tell the operator at start, e.g. the KEK sits beside the data

    def ensure(self, owner: str, purpose: Purpose | str, suite: Suite | str, kind: KeyKind | None = None) -> KeyRecord:
        """The newest active key; creates one if there is none (idempotent)."""
        ...

    def signer(self, owner: str, purpose: Purpose | str, suite: Suite | str) -> Signer:
        """Signs with the newest active key; ask again after a rotation (do not keep it)."""
        ...

    def decrypt(self, token: str, owner: str = HUB) -> bytes:
        """Open a JWE made for one of `owner`'s payload_encryption keys still within validity."""
        ...

    def rotate(
        self,
        owner: str,
        purpose: Purpose | str | None = None,
        suite: Suite | str | None = None,
        kind: KeyKind | None = None,
    ) -> list[KeyRecord]: ...

    def records(self, owner: str | None = None) -> list[KeyRecord]: ...

    def public_jwks(self, owner: str = HUB) -> list[dict[str, Any]]: ...

    def verifying_keys(self, owner: str, purpose: Purpose | str) -> list[HubKey]: ...

    def public_key(self, kid: str) -> HubKey | None: ...

    def expiring(self, within: timedelta | None = None, now: datetime | None = None) -> list[KeyRecord]: ...

    def reload(self) -> bool: ...

    def close(self) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoredKey:
    """A record and what its backend stores with it (the file store: the sealed private key)."""

    record: KeyRecord
    extra: dict[str, str] = field(default_factory=dict)  # backend data stored with the record


class RecordedKeyStore(ABC):
    """The rules of both stores, over records in one JSON file; subclasses hold the key material."""

    backend: ClassVar[str]
    warning: str | None = None

    def __init__(self, path: Path, settings: KeyStoreSettings | None, clock: Clock | None) -> None:
        self.path = path
        self.settings = settings or KeyStoreSettings()
        self._clock = clock or _utcnow
        self._overlap = timedelta(days=self.settings.overlap_days)
        self._entries: dict[str, StoredKey] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._publics: dict[str, HubKey] = {}  # by kid: a kid's public key never changes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self.path)!r})"

    # -- backend hooks ----------------------------------------------------------------------

    @abstractmethod
    def _header(self) -> dict[str, Any]: ...

    @abstractmethod
    def _check_header(self, doc: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def _kind_ok(self, kind: KeyKind, purpose: Purpose, suite: Suite) -> None:
        """Raise KeyStoreError if this backend cannot hold `kind` keys for that purpose and suite."""

    @abstractmethod
    def _create(self, record: KeyRecord) -> dict[str, str]: ...

    @abstractmethod
    def _dump(self, entry: StoredKey) -> dict[str, Any]: ...

    @abstractmethod
    def _admit(self, raw: dict[str, Any]) -> StoredKey: ...

    @abstractmethod
    def _signer(self, entry: StoredKey) -> Signer: ...

    @abstractmethod
    def _public(self, entry: StoredKey) -> HubKey: ...

    def _public_key(self, entry: StoredKey) -> HubKey:
        # Signature and token checks ask for public keys on every request: derive each once.
        kid = entry.record.kid
        if kid not in self._publics:
            self._publics[kid] = self._public(entry)
        return self._publics[kid]

    @abstractmethod
    def _decrypt(self, entry: StoredKey, token: str) -> bytes: ...

    def close(self) -> None:  # noqa: B027 - only the PKCS#11 store holds something open
        """Release what the store holds open (a PKCS#11 session); the file store holds nothing."""

    # -- the file -----------------------------------------------------------------------------

    def _name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    def reload(self) -> bool:
        """Re-read the records if the file changed since the last read (one stat); True if it did."""
        try:
            with self.path.open("rb") as fh:
                st = os.fstat(fh.fileno())
                stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
                if stamp == self._stamp:
                    return False
                raw = fh.read()
        except FileNotFoundError:
            changed, self._entries, self._stamp = bool(self._entries), {}, None
            return changed
        try:
            doc = json.loads(raw)
            keys = doc["keys"]
            if doc.get("format") != FORMAT or doc.get("backend") != self.backend or not isinstance(keys, list):
                raise KeyStoreError(
                    f"{self._name()} is not a format-{FORMAT} {self.backend} key store: "
                    "point [keys] directory at the right place or restore the file from a backup"
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{self._name()} is not valid key store JSON: restore it from a backup") from exc
        self._check_header(doc)
        entries = [self._admit(item) for item in keys]
        self._entries, self._stamp = {e.record.kid: e for e in entries}, stamp
        return True

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, StoredKey]]:
        """Exclusive, up-to-date working copy of the entries; written back if it changed."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.reload()
            work = dict(self._entries)
            yield work
            if work != self._entries or self._stamp is None:
                doc = {"format": FORMAT, "backend": self.backend, **self._header()}
                write_json(self.path, {**doc, "keys": [self._dump(e) for e in work.values()]})
                fsync(self.path)
                self._entries, self._stamp = work, None
                self.reload()
        finally:
            os.close(fd)  # releases the lock

    # -- the rules ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise KeyStoreError("the key store's clock returned a naive datetime: give it an aware one (UTC)")
        return now

    def _kind(self, purpose: Purpose, suite: Suite, kind: KeyKind | None) -> KeyKind:
        allowed = KINDS[(signs(purpose), suite)]
        chosen = kind or self._default_kind(purpose, suite)
        if chosen not in allowed:
            raise KeyStoreError(f"{purpose}/{suite} keys are {' or '.join(allowed)}, not {chosen}")
        self._kind_ok(chosen, purpose, suite)
        return chosen

    def _default_kind(self, purpose: Purpose, suite: Suite) -> KeyKind:
        if purpose is Purpose.DOCUMENT_SIGNING and suite is Suite.JOSE:
            return "P-256"
        return KINDS[(signs(purpose), suite)][0]

    def _current(
        self, entries: Mapping[str, StoredKey], owner: str, purpose: Purpose, suite: Suite
    ) -> StoredKey | None:
        now = self._now()
        found = [
            e
            for e in entries.values()
            if (e.record.owner, e.record.purpose, e.record.suite) == (owner, purpose, suite) and e.record.signs_at(now)
        ]
        return max(found, key=lambda e: e.record.created_at, default=None)

    def _add(self, work: dict[str, StoredKey], owner: str, purpose: Purpose, suite: Suite, kind: KeyKind) -> KeyRecord:
        now = self._now()
        kid = ""
        while not kid or kid in work:
            kid = f"{owner}-{_ABBREV[purpose]}-{suite}-{now:%Y%m%d}-{secrets.token_hex(2)}"
        record = KeyRecord(
            kid=kid,
            owner=owner,
            purpose=purpose,
            suite=suite,
            kind=kind,
            alg=_alg(kind, purpose),
            created_at=now,
            not_after=now + timedelta(days=self.settings.validity_days),
        )
        work[kid] = StoredKey(record, self._create(record))
        log.info("key %s created (%s %s, expires %s)", kid, kind, record.alg, record.not_after.isoformat())
        return record

    def ensure(self, owner: str, purpose: Purpose | str, suite: Suite | str, kind: KeyKind | None = None) -> KeyRecord:
        """The newest active key of (owner, purpose, suite), created if there is none. With `kind`,
        an active key of another kind is an error: switch kinds with rotate(..., kind=...)."""
        owner, p, s = _owner(owner), _purpose(purpose), _suite(suite)
        chosen = self._kind(p, s, kind)
        current = self._current(self._entries, owner, p, s)
        if current is None:
            with self._writing() as work:
                current = self._current(work, owner, p, s)
                if current is None:
                    return self._add(work, owner, p, s, chosen)
        if kind is not None and current.record.kind != kind:
            raise KeyStoreError(
                f"{owner} already has an active {current.record.kind} {p}/{s} key {current.record.kid}: "
                f"rotate with kind={kind!r} to switch"
            )
        return current.record

    def rotate(
        self,
        owner: str,
        purpose: Purpose | str | None = None,
        suite: Suite | str | None = None,
        kind: KeyKind | None = None,
    ) -> list[KeyRecord]:
        """Retire `owner`'s current keys (all, or of one purpose and/or suite) and add one new key per
        (purpose, suite), of `kind` or the kind it replaces. Naming both purpose and suite creates the
        first key if there is none; otherwise an owner with no matching key is an error."""
        owner = _owner(owner)
        p = _purpose(purpose) if purpose is not None else None
        s = _suite(suite) if suite is not None else None
        with self._writing() as work:
            now = self._now()
            current: dict[tuple[Purpose, Suite], KeyKind] = {}
            for e in sorted(work.values(), key=lambda e: e.record.created_at):
                r = e.record
                if r.owner == owner and r.retired_at is None and p in (None, r.purpose) and s in (None, r.suite):
                    current[(r.purpose, r.suite)] = r.kind
            if p is not None and s is not None:
                current.setdefault((p, s), self._kind(p, s, kind))
            if not current:
                raise KeyStoreError(
                    f"{owner} has no keys to rotate (purpose={p}, suite={s}): ensure() creates the first one"
                )
            plan = {pair: self._kind(*pair, kind or old) for pair, old in current.items()}  # refuse before changing
            for kid, e in list(work.items()):
                if (
                    e.record.owner == owner
                    and e.record.retired_at is None
                    and (e.record.purpose, e.record.suite) in plan
                ):
                    work[kid] = StoredKey(e.record.model_copy(update={"retired_at": now}), e.extra)
                    log.info("key %s retired; it verifies until %s", kid, work[kid].record.valid_until(self._overlap))
            return [self._add(work, owner, pp, ss, k) for (pp, ss), k in plan.items()]

    def signer(self, owner: str, purpose: Purpose | str, suite: Suite | str) -> Signer:
        """Signs with the newest active key of (owner, purpose, suite)."""
        owner, p, s = _owner(owner), _purpose(purpose), _suite(suite)
        if not signs(p):
            raise KeyStoreError(f"{p} keys do not sign: use decrypt() / encrypt to their public key")
        current = self._current(self._entries, owner, p, s)
        if current is None:
            raise KeyStoreError(
                f"{owner} has no active {p}/{s} key: ensure() creates one, "
                f"`hub keys rotate --owner {owner}` replaces it"
            )
        return self._signer(current)

    def decrypt(self, token: str, owner: str = HUB) -> bytes:
        """Plaintext of a JWE made for one of `owner`'s payload_encryption keys, picked by the JWE
        header's kid; raises jose.DecryptError for an unknown, foreign or expired kid or a bad token."""
        kid = jose.peek_header(token).get("kid")
        if not isinstance(kid, str):
            raise jose.DecryptError("JWE header has no kid")
        if kid not in self._entries:
            self.reload()  # another process may have rotated
        entry = self._entries.get(kid)
        if entry is None or entry.record.owner != owner or entry.record.purpose is not Purpose.PAYLOAD_ENCRYPTION:
            raise jose.DecryptError(f"no payload_encryption key {kid!r} of {owner}")
        if self._now() >= entry.record.valid_until(self._overlap):
            raise jose.DecryptError(f"key {kid!r} is past its validity (retired or expired)")
        return self._decrypt(entry, token)

    def _valid(self, owner: str | None = None, purpose: Purpose | None = None) -> list[StoredKey]:
        now = self._now()
        found = [
            e
            for e in self._entries.values()
            if owner in (None, e.record.owner)
            and purpose in (None, e.record.purpose)
            and now < e.record.valid_until(self._overlap)
        ]
        return sorted(found, key=lambda e: e.record.created_at, reverse=True)

    def records(self, owner: str | None = None) -> list[KeyRecord]:
        """Every record (active, retired, expired), oldest first."""
        return sorted((e.record for e in self._entries.values() if owner in (None, e.record.owner)), key=_created)

    def verifying_keys(self, owner: str, purpose: Purpose | str) -> list[HubKey]:
        """Public keys of (owner, purpose) that still verify, across suites, newest first."""
        return [self._public_key(e) for e in self._valid(_owner(owner), _purpose(purpose))]

    def public_jwks(self, owner: str = HUB) -> list[dict[str, Any]]:
        """Public JWKs (with kid, alg, use) of `owner`'s keys still within validity, newest first;
        the content of /.well-known/jwks.json. Never a private member."""
        out = []
        for e in self._valid(_owner(owner)):
            jwk = {k: v for k, v in self._public_key(e).public_jwk().items() if k != "d"}
            out.append({**jwk, "alg": e.record.alg, "use": e.record.use})
        return out

    def public_key(self, kid: str) -> HubKey | None:
        """The public key of any kid ever recorded, valid or not (to check archived signatures such as
        journal checkpoints); None if unknown. Usable as a verify_detached / verify_compact resolver."""
        entry = self._entries.get(kid)
        return self._public_key(entry) if entry is not None else None

    def expiring(self, within: timedelta | None = None, now: datetime | None = None) -> list[KeyRecord]:
        """Current keys (newest, not retired) of each (owner, purpose, suite) whose expiry is within
        `within` (default warn_days) of `now`, already expired ones included; soonest first."""
        now = now or self._now()
        horizon = now + (within if within is not None else timedelta(days=self.settings.warn_days))
        newest: dict[tuple[str, Purpose, Suite], KeyRecord] = {}
        for r in self.records():
            newest[(r.owner, r.purpose, r.suite)] = r
        due = [r for r in newest.values() if r.retired_at is None and r.not_after <= horizon]
        return sorted(due, key=lambda r: r.not_after)


def _created(record: KeyRecord) -> datetime:
    return record.created_at


def _owner(owner: str) -> str:
    if not re.fullmatch(ID_PATTERN, owner):
        raise KeyStoreError(f"owner {owner!r} is neither 'hub' nor an institution id ({ID_PATTERN})")
    return owner


def _purpose(purpose: Purpose | str) -> Purpose:
    try:
        return Purpose(purpose)
    except ValueError:
        raise KeyStoreError(f"unknown purpose {purpose!r}: one of {', '.join(Purpose)}") from None


def _suite(suite: Suite | str) -> Suite:
    try:
        return Suite(suite)
    except ValueError:
        raise KeyStoreError(f"unknown suite {suite!r}: one of {', '.join(Suite)}") from None


def fsync(path: Path) -> None:
    # write_json renames atomically but does not fsync; a rotation must survive a power cut.
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Strict base64url, padding optional; raises ValueError."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def keys_directory(settings: KeyStoreSettings, home: Path) -> Path:
    return home / (settings.directory or "keys")


class CurrentSigner:
    """The newest active key of (owner, purpose, suite), looked up at each use so a rotation is
    picked up at once; `current()` gives one Signer to use for one signature."""

    def __init__(self, keys: KeyStore, owner: str, purpose: Purpose, suite: Suite | str) -> None:
        self.keys, self.owner, self.purpose, self.suite = keys, owner, purpose, suite

    def current(self) -> Signer:
        return self.keys.signer(self.owner, self.purpose, self.suite)


def open_keystore(
    settings: KeyStoreSettings,
    home: Path,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    kek: KeyEncryptionKey | None = None,
) -> KeyStore:
    """The store `settings` describe, with its records in `settings.directory` (default
    `home/keys`; relative to `home`). The file store takes its KEK from the environment unless given."""
    env = os.environ if environ is None else environ
    keys_dir = keys_directory(settings, home)
    if settings.backend == "file":
        from security.file_keys import FileKeyStore, load_kek  # the file store builds on this module

        return FileKeyStore(keys_dir / "keystore.json", kek or load_kek(keys_dir, env), settings, clock)
    from security.pkcs11_keys import Pkcs11KeyStore  # python-pkcs11 is only needed for this backend

    assert settings.pkcs11_module is not None and settings.pkcs11_token_label  # checked by KeyStoreSettings
    pin = env.get(settings.pkcs11_pin_env)
    if not pin:
        raise KeyStoreError(f"set {settings.pkcs11_pin_env} to the user PIN of token {settings.pkcs11_token_label!r}")
    return Pkcs11KeyStore(
        keys_dir / "pkcs11-keys.json", settings.pkcs11_module, settings.pkcs11_token_label, pin, settings, clock
    )


__all__ = [
    "HUB",
    "KINDS",
    "CurrentSigner",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "KeyStoreSettings",
    "Purpose",
    "RecordedKeyStore",
    "Suite",
    "keys_directory",
    "open_keystore",
    "signs",
]
