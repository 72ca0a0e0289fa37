"""The key store (file backend): purposes, suites, rotation with overlap, expiry, the KEK, tampering;
and the jose additions it relies on (Signer, KeyAgreement, compact JWS)."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from security import jose
from security.file_keys import FileKeyStore
from security.keystore import (
    KeyStoreError,
    KeyStoreSettings,
    Purpose,
    Suite,
    open_keystore,
)

BODY = b'{"uetr":"e2b8b1c6-9f2f-4d5e-8a77-1f3c1c0f4a11","amount":"1000.00"}'
RS, PE, TK = Purpose.REQUEST_SIGNING, Purpose.PAYLOAD_ENCRYPTION, Purpose.TOKENS
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """The one clock the store asks; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kek() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keystore.json"


@pytest.fixture
def store(path: Path, kek: bytes, clock: Clock) -> FileKeyStore:
    return FileKeyStore(path, kek, KeyStoreSettings(), clock)


def resolver(keys: list[jose.HubKey]) -> dict[str, jose.HubKey]:
    return {k.kid: k for k in keys}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def enc_jwk(store: FileKeyStore, kid: str) -> dict[str, Any]:
    return next(k for k in store.public_jwks() if k["kid"] == kid)


# --- creating and using keys ----------------------------------------------------------------


def test_ensure_is_idempotent_and_kids_are_readable(store: FileKeyStore) -> None:
    first = store.ensure("hub", RS, "jose")
    assert store.ensure("hub", "request_signing", Suite.JOSE) == first
    assert re.fullmatch(r"hub-rs-jose-20261123-[0-9a-f]{4}", first.kid)
    assert (first.kind, first.alg, first.retired_at) == ("Ed25519", "Ed25519", None)
    assert first.not_after == first.created_at + timedelta(days=365)
    enc = store.ensure("hub", PE, "sm")
    assert re.fullmatch(r"hub-pe-sm-20261123-[0-9a-f]{4}", enc.kid) and (enc.kind, enc.alg) == ("SM2", "SM2-KA")
    assert [r.kid for r in store.records()] == [first.kid, enc.kid]


@pytest.mark.parametrize(("suite", "alg"), [("jose", "Ed25519"), ("sm", "SM2")])
@pytest.mark.parametrize("purpose", [RS, TK, Purpose.JOURNAL_CHECKPOINTS])
def test_signer_signs_and_verifying_keys_verify(store: FileKeyStore, purpose: Purpose, suite: str, alg: str) -> None:
    record = store.ensure("hub", purpose, suite)
    signer = store.signer("hub", purpose, suite)
    assert (signer.kid, signer.alg) == (record.kid, alg)
    token = jose.sign_detached_with(BODY, signer, {"iat": 1795424400, "nonce": "n-1"})
    header = jose.verify_detached(token, BODY, resolver(store.verifying_keys("hub", purpose)).get)
    assert (header["kid"], header["alg"], header["nonce"]) == (record.kid, alg, "n-1")


def test_p256_on_request_signs_es256_jwts_and_receives_jwe(store: FileKeyStore) -> None:
    record = store.ensure("hub", TK, "jose", kind="P-256")
    assert (record.kind, record.alg) == ("P-256", "ES256")
    jwt = jose.sign_compact(b'{"sub":"bank-a"}', store.signer("hub", TK, "jose"), {"typ": "JWT"})
    header, payload = jose.verify_compact(jwt, resolver(store.verifying_keys("hub", TK)).get, ["ES256"])
    assert (header["typ"], header["kid"], payload) == ("JWT", record.kid, b'{"sub":"bank-a"}')
    enc = store.ensure("hub", PE, "jose", kind="P-256")
    assert store.decrypt(jose.encrypt(BODY, enc_jwk(store, enc.kid))) == BODY


def test_institution_dev_keys_are_kept_apart_from_the_hubs(store: FileKeyStore) -> None:
    bank = store.ensure("bank-a", RS, "jose")
    hub = store.ensure("hub", RS, "jose")
    assert bank.kid.startswith("bank-a-rs-jose-") and bank.owner == "bank-a"
    assert [k["kid"] for k in store.public_jwks()] == [hub.kid]
    assert [r.kid for r in store.records("bank-a")] == [bank.kid]
    token = jose.sign_detached_with(BODY, store.signer("bank-a", RS, "jose"))
    with pytest.raises(jose.UnknownKey):
        jose.verify_detached(token, BODY, resolver(store.verifying_keys("hub", RS)).get)


def test_bad_requests_say_what_to_do(store: FileKeyStore) -> None:
    with pytest.raises(KeyStoreError, match="ensure"):
        store.signer("hub", RS, "jose")
    store.ensure("hub", PE, "jose")
    with pytest.raises(KeyStoreError, match="do not sign"):
        store.signer("hub", PE, "jose")
    with pytest.raises(KeyStoreError, match="unknown purpose"):
        store.ensure("hub", "billing", "jose")
    with pytest.raises(KeyStoreError, match="X25519 or P-256, not Ed25519"):
        store.ensure("hub", PE, "jose", kind="Ed25519")
    with pytest.raises(KeyStoreError, match="rotate with kind='P-256'"):
        store.ensure("hub", PE, "jose", kind="P-256")
    with pytest.raises(KeyStoreError, match="no keys to rotate"):
        store.rotate("bank-z")
    with pytest.raises(KeyStoreError, match="neither 'hub' nor an institution id"):
        store.ensure("../etc", RS, "jose")


# --- rotation, overlap, expiry ----------------------------------------------------------------


def test_rotation_new_kid_signs_old_kid_verifies_until_the_overlap_ends(store: FileKeyStore, clock: Clock) -> None:
    old = store.ensure("hub", RS, "jose")
    old_token = jose.sign_detached_with(BODY, store.signer("hub", RS, "jose"))
    clock.advance(days=30)
    [new] = store.rotate("hub", RS, "jose")
    assert new.kid != old.kid and store.signer("hub", RS, "jose").kid == new.kid
    retired = next(r for r in store.records() if r.kid == old.kid)
    assert retired.retired_at == clock.now
    new_token = jose.sign_detached_with(BODY, store.signer("hub", RS, "jose"))
    clock.advance(days=7, seconds=-1)
    for token in (old_token, new_token):
        jose.verify_detached(token, BODY, resolver(store.verifying_keys("hub", RS)).get)
    clock.advance(seconds=1)
    assert [k.kid for k in store.verifying_keys("hub", RS)] == [new.kid]
    with pytest.raises(jose.UnknownKey):
        jose.verify_detached(old_token, BODY, resolver(store.verifying_keys("hub", RS)).get)
    assert store.public_key(old.kid) is not None  # archived signatures (journal checkpoints) still check


def test_rotate_all_of_an_owner_keeps_each_kind_unless_told(store: FileKeyStore) -> None:
    store.ensure("hub", RS, "jose", kind="P-256")
    store.ensure("hub", PE, "sm")
    store.ensure("bank-a", RS, "jose")
    rotated = store.rotate("hub")
    assert sorted((r.purpose, r.suite, r.kind) for r in rotated) == [(PE, "sm", "SM2"), (RS, "jose", "P-256")]
    [switched] = store.rotate("hub", RS, "jose", kind="Ed25519")
    assert switched.kind == "Ed25519"
    assert [r.retired_at for r in store.records("bank-a")] == [None]


@pytest.mark.parametrize("suite", ["jose", "sm"])
def test_a_jwe_for_a_retired_key_decrypts_within_the_overlap(store: FileKeyStore, clock: Clock, suite: str) -> None:
    old = store.ensure("hub", PE, suite)
    token = jose.encrypt(BODY, enc_jwk(store, old.kid))
    store.rotate("hub", PE, suite)
    clock.advance(days=6)
    assert store.decrypt(token) == BODY
    clock.advance(days=1)
    with pytest.raises(jose.DecryptError, match="past its validity"):
        store.decrypt(token)


def test_decrypt_refuses_a_jwe_for_another_owners_key(store: FileKeyStore) -> None:
    bank = store.ensure("bank-a", PE, "jose")
    token = jose.encrypt(BODY, store.public_jwks("bank-a")[0])
    with pytest.raises(jose.DecryptError, match=f"no payload_encryption key '{bank.kid}' of hub"):
        store.decrypt(token)
    assert store.decrypt(token, owner="bank-a") == BODY


def test_public_jwks_lists_both_kids_during_the_overlap_and_no_private_member(
    store: FileKeyStore, clock: Clock
) -> None:
    old_sig, old_enc = store.ensure("hub", RS, "jose"), store.ensure("hub", PE, "jose")
    clock.advance(hours=1)
    new_sig, new_enc = sorted(store.rotate("hub"), key=lambda r: r.purpose != RS)
    jwks = store.public_jwks()
    assert {k["kid"] for k in jwks} == {old_sig.kid, old_enc.kid, new_sig.kid, new_enc.kid}
    assert {k["kid"] for k in jwks[:2]} == {new_sig.kid, new_enc.kid}  # newest first
    assert all("d" not in k for k in jwks)
    by_kid = {k["kid"]: k for k in jwks}
    assert (by_kid[new_sig.kid]["use"], by_kid[new_sig.kid]["alg"], by_kid[new_sig.kid]["crv"]) == (
        "sig",
        "Ed25519",
        "Ed25519",
    )
    assert (by_kid[new_enc.kid]["use"], by_kid[new_enc.kid]["alg"], by_kid[new_enc.kid]["crv"]) == (
        "enc",
        "ECDH-ES",
        "X25519",
    )
    clock.advance(days=7)
    assert {k["kid"] for k in store.public_jwks()} == {new_sig.kid, new_enc.kid}


def test_expiring_warns_before_expiry_and_stops_after_rotation(store: FileKeyStore, clock: Clock) -> None:
    record = store.ensure("hub", RS, "jose")
    assert store.expiring(timedelta(days=30)) == []
    clock.advance(days=336)
    assert store.expiring() == [record]  # warn_days = 30 by default
    assert store.expiring(timedelta(days=1)) == []
    clock.advance(days=30)
    assert store.expiring(timedelta(0)) == [record]  # expired and not replaced: the most urgent
    with pytest.raises(KeyStoreError, match="no active request_signing/jose key"):
        store.signer("hub", RS, "jose")
    assert store.verifying_keys("hub", RS) == []
    fresh = store.ensure("hub", RS, "jose")
    assert fresh.kid != record.kid and store.expiring() == []


# --- the file, the KEK, tampering -------------------------------------------------------------


def test_files_are_readable_by_the_owner_only_and_hold_no_clear_private_key(
    store: FileKeyStore, path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="security.keystore"):
        store.ensure("hub", RS, "jose")
        store.ensure("hub", PE, "sm")
        store.rotate("hub")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert '"d"' not in text and "kty" not in text
    assert "kty" not in caplog.text and '"d"' not in caplog.text
    signer = store.signer("hub", RS, "jose")
    assert "kty" not in repr(signer) and "kty" not in repr(store)
    settings = KeyStoreSettings()
    dev = open_keystore(settings, tmp_path / "dev", environ={})
    assert stat.S_IMODE((tmp_path / "dev" / "keys" / "kek").stat().st_mode) == 0o600
    assert dev.warning is not None and "HUB_KEK" in dev.warning


def test_kek_comes_from_hub_kek_then_hub_kek_file(tmp_path: Path, kek: bytes) -> None:
    settings = KeyStoreSettings()
    ks = open_keystore(settings, tmp_path, environ={"HUB_KEK": b64(kek)})
    assert ks.warning is None and not (tmp_path / "keys" / "kek").exists()
    kid = ks.ensure("hub", RS, "jose").kid
    kek_file = tmp_path / "kek.txt"
    kek_file.write_text(b64(kek) + "\n")
    again = open_keystore(settings, tmp_path, environ={"HUB_KEK_FILE": str(kek_file)})
    assert again.signer("hub", RS, "jose").kid == kid
    with pytest.raises(KeyStoreError, match="HUB_KEK must be base64url of 32 random bytes"):
        open_keystore(settings, tmp_path, environ={"HUB_KEK": "c2hvcnQ"})
    with pytest.raises(KeyStoreError, match="no key-encryption key: set HUB_KEK"):
        open_keystore(settings, tmp_path, environ={})  # never a fresh dev KEK for an existing store


def test_a_wrong_kek_is_a_clear_error(store: FileKeyStore, path: Path) -> None:
    store.ensure("hub", RS, "jose")
    with pytest.raises(KeyStoreError) as err:
        FileKeyStore(path, secrets.token_bytes(32))
    assert str(err.value) == (
        "the key-encryption key does not open keys/keystore.json: set HUB_KEK to the key it was created with"
    )


def _edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc["keys"])
    path.write_text(json.dumps(doc))


def test_tampered_ciphertext_names_the_kid(store: FileKeyStore, path: Path, kek: bytes) -> None:
    kid = store.ensure("hub", RS, "jose").kid

    def flip(keys: list[dict[str, Any]]) -> None:
        sealed = keys[0]["sealed"]
        keys[0]["sealed"] = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]

    _edit(path, flip)
    with pytest.raises(KeyStoreError, match=f"key '{kid}' in keys/keystore.json was altered"):
        FileKeyStore(path, kek)


def test_swapped_records_and_an_unretired_key_are_refused(store: FileKeyStore, path: Path, kek: bytes) -> None:
    store.ensure("hub", RS, "jose")
    store.ensure("bank-a", RS, "jose")
    original = path.read_text()

    def swap(keys: list[dict[str, Any]]) -> None:
        keys[0]["sealed"], keys[1]["sealed"] = keys[1]["sealed"], keys[0]["sealed"]

    _edit(path, swap)
    with pytest.raises(KeyStoreError, match=r"key 'hub-rs-jose-.*' in keys/keystore\.json was altered"):
        FileKeyStore(path, kek)
    path.write_text(original)
    [new] = FileKeyStore(path, kek).rotate("hub")

    def unretire(keys: list[dict[str, Any]]) -> None:
        keys[0]["retired_at"] = None

    _edit(path, unretire)
    with pytest.raises(KeyStoreError, match="was altered"):
        FileKeyStore(path, kek)
    assert new.kid not in original


def test_two_stores_on_one_file_see_each_others_rotation_after_reload(path: Path, kek: bytes, clock: Clock) -> None:
    a, b = FileKeyStore(path, kek, clock=clock), FileKeyStore(path, kek, clock=clock)
    first = a.ensure("hub", RS, "jose")
    assert b.reload() and b.signer("hub", RS, "jose").kid == first.kid
    assert not b.reload()  # unchanged file: one stat, nothing read
    [second] = a.rotate("hub", RS, "jose")
    assert b.signer("hub", RS, "jose").kid == first.kid  # until it reloads
    assert b.reload() and b.signer("hub", RS, "jose").kid == second.kid
    [third] = FileKeyStore(path, kek, clock=clock).rotate("hub", RS, "jose")
    [fourth] = b.rotate("hub", RS, "jose")  # b was stale: a writer reloads first, so nothing is lost
    assert a.reload()
    assert [r.kid for r in a.records()] == [first.kid, second.kid, third.kid, fourth.kid]
    assert [r.retired_at is None for r in a.records()] == [False, False, False, True]


def test_a_stale_store_decrypts_for_a_key_another_store_just_made(path: Path, kek: bytes) -> None:
    a, b = FileKeyStore(path, kek), FileKeyStore(path, kek)
    kid = a.ensure("hub", PE, "jose").kid
    assert b.decrypt(jose.encrypt(BODY, a.public_jwks()[0])) == BODY  # an unknown kid makes it reload
    assert [r.kid for r in b.records()] == [kid]


def test_two_processes_rotating_at_once_lose_nothing(tmp_path: Path, kek: bytes) -> None:
    home = tmp_path / "home"
    open_keystore(KeyStoreSettings(), home, environ={"HUB_KEK": b64(kek)}).ensure("hub", RS, "jose")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from security.keystore import KeyStoreSettings, open_keystore
        store = open_keystore(KeyStoreSettings(), Path({str(home)!r}), environ={{"HUB_KEK": {b64(kek)!r}}})
        for _ in range(10):
            store.rotate("hub", "request_signing", "jose")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    records = open_keystore(KeyStoreSettings(), home, environ={"HUB_KEK": b64(kek)}).records()
    assert len(records) == 21 and len({r.kid for r in records}) == 21
    assert sum(r.retired_at is None for r in records) == 1


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="overlap_days must be shorter"):
        KeyStoreSettings(validity_days=7, overlap_days=7)
    with pytest.raises(ValueError, match="needs pkcs11_module and pkcs11_token_label"):
        KeyStoreSettings(backend="pkcs11")
    with pytest.raises(ValueError, match="extra"):
        KeyStoreSettings.model_validate({"validity": 30})


# --- the jose additions the store relies on ---------------------------------------------------


def test_sign_detached_with_a_key_signer_makes_the_same_token_as_sign_detached() -> None:
    key = jose.generate_key("Ed25519", "k1")  # Ed25519 is deterministic, so the tokens are equal
    extra = {"iat": 1795424400, "nonce": "n-1"}
    assert jose.sign_detached_with(BODY, key.signer(), extra) == jose.sign_detached(BODY, key, "k1", "Ed25519", extra)
    with pytest.raises(jose.KeyFormatError):
        jose.generate_key("X25519", "x").signer()
    with pytest.raises(jose.KeyFormatError):
        key.public().signer()


@pytest.mark.parametrize(("alg", "kind"), [("Ed25519", "Ed25519"), ("ES256", "P-256"), ("SM2", "SM2")])
def test_compact_jws_round_trip_and_refusals(alg: str, kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, "k1")
    keys = {"k1": key.public()}
    token = jose.sign_compact(b'{"sub":"bank-a"}', key.signer(), {"typ": "JWT"})
    assert jose.verify_compact(token, keys.get, [alg]) == ({"alg": alg, "kid": "k1", "typ": "JWT"}, b'{"sub":"bank-a"}')
    header, payload, sig = token.split(".")
    with pytest.raises(jose.MalformedToken, match="not allowed"):
        jose.verify_compact(token, keys.get, ["RS256"])
    with pytest.raises(jose.BadSignature):
        jose.verify_compact(f"{header}.{b64(b'{}')}.{sig}", keys.get, [alg])
    with pytest.raises(jose.UnknownKey):
        jose.verify_compact(token, {}.get, [alg])
    crit = b64(json.dumps({"alg": alg, "kid": "k1", "crit": ["exp"], "exp": 1}).encode())
    with pytest.raises(jose.MalformedToken, match="crit"):
        jose.verify_compact(f"{crit}.{payload}.{sig}", keys.get, [alg])
    with pytest.raises(jose.MalformedToken):
        jose.verify_compact(jose.sign_detached_with(b"x", key.signer()), keys.get, [alg])
    with pytest.raises(jose.KeyFormatError):
        jose.sign_compact(b"x", key.signer(), {"b64": False})


@pytest.mark.parametrize("kind", ["X25519", "P-256", "SM2"])
def test_decrypt_with_an_agreement_opens_what_encrypt_makes(kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, "e1")
    token = jose.encrypt(BODY, key.public_jwk())
    assert jose.decrypt_with(token, key.agreement()) == BODY
    parts = token.split(".")
    parts[3] = b64(bytes([base64.urlsafe_b64decode(parts[3] + "==")[0] ^ 1]) + b"rest")
    with pytest.raises(jose.DecryptError):
        jose.decrypt_with(".".join(parts), key.agreement())
    with pytest.raises(jose.DecryptError):
        jose.decrypt_with(token, jose.generate_key(kind, "e1").agreement())
    with pytest.raises(jose.KeyFormatError):
        jose.generate_key("Ed25519", "s").agreement()
