"""The key store over a real PKCS#11 token: SoftHSM2 with a throwaway token in tmp."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from security import jose
from security.file_keys import FileKeyStore
from security.keystore import KeyStoreError, KeyStoreSettings, Purpose, open_keystore
from security.pkcs11_keys import Pkcs11KeyStore

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
LABEL, PIN = "hub-test", "1234"
BODY = b'{"uetr":"e2b8b1c6-9f2f-4d5e-8a77-1f3c1c0f4a11","amount":"1000.00"}'
RS, PE, TK = Purpose.REQUEST_SIGNING, Purpose.PAYLOAD_ENCRYPTION, Purpose.TOKENS

pytestmark = pytest.mark.skipif(
    not MODULE.exists(),
    reason=f"SoftHSM2 is not installed ({MODULE} is missing): `apt-get install softhsm2`, or `make test` installs it",
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SoftHSM2 config whose token directory is in tmp, and one initialised token in it."""
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))  # read by the module when it initialises, in this process too
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", "5678"],
            check=True,
            capture_output=True,
            timeout=30,
            env={**os.environ},
        )
        yield root


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(token_dir: Path, tmp_path: Path, clock: Clock) -> Iterator[Pkcs11KeyStore]:
    settings = KeyStoreSettings(backend="pkcs11", pkcs11_module=MODULE, pkcs11_token_label=LABEL)
    ks = open_keystore(settings, tmp_path, clock, environ={"HUB_PKCS11_PIN": PIN})
    assert isinstance(ks, Pkcs11KeyStore)
    yield ks
    ks.close()


def resolver(keys: list[jose.HubKey]) -> dict[str, jose.HubKey]:
    return {k.kid: k for k in keys}


def test_token_signatures_verify_with_the_published_keys(store: Pkcs11KeyStore) -> None:
    rs = store.ensure("hub", RS, "jose")
    assert (rs.kind, rs.alg) == ("Ed25519", "Ed25519")  # SoftHSM2 2.6 has CKM_EDDSA
    assert store.ensure("hub", RS, "jose") == rs
    token = jose.sign_detached_with(BODY, store.signer("hub", RS, "jose"), {"iat": 1795424400, "nonce": "n"})
    assert jose.verify_detached(token, BODY, resolver(store.verifying_keys("hub", RS)).get)["kid"] == rs.kid
    tk = store.ensure("hub", TK, "jose", kind="P-256")
    jwt = jose.sign_compact(b'{"sub":"bank-a"}', store.signer("hub", TK, "jose"), {"typ": "JWT"})
    header, payload = jose.verify_compact(jwt, resolver(store.verifying_keys("hub", TK)).get, ["ES256"])
    assert (header["kid"], header["alg"], payload) == (tk.kid, "ES256", b'{"sub":"bank-a"}')


def test_private_keys_stay_in_the_token(store: Pkcs11KeyStore) -> None:
    kid = store.ensure("hub", RS, "jose").kid
    enc_kid = store.ensure("hub", PE, "jose").kid
    # PKCS#11 logs in per process: this session sees private objects through the store's login.
    with pkcs11.lib(str(MODULE)).get_token(token_label=LABEL).open() as session:
        for k in (kid, enc_kid):
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=k.encode())
            assert key[Attribute.EXTRACTABLE] is False and key[Attribute.SENSITIVE] is True
            assert key[Attribute.NEVER_EXTRACTABLE] is True and key[Attribute.TOKEN] is True
            assert key[Attribute.LABEL] == k
    assert '"d"' not in store.path.read_text() and '"x"' not in store.path.read_text()  # records only


def test_rotation_with_overlap(store: Pkcs11KeyStore, clock: Clock) -> None:
    old = store.ensure("hub", RS, "jose")
    old_token = jose.sign_detached_with(BODY, store.signer("hub", RS, "jose"))
    [new] = store.rotate("hub", RS, "jose")
    assert store.signer("hub", RS, "jose").kid == new.kid
    jwks = store.public_jwks()
    assert {k["kid"] for k in jwks} == {old.kid, new.kid} and all("d" not in k for k in jwks)
    assert {(k["use"], k["alg"], k["kty"]) for k in jwks} == {("sig", "Ed25519", "OKP")}
    jose.verify_detached(old_token, BODY, resolver(store.verifying_keys("hub", RS)).get)
    clock.now += timedelta(days=7)
    with pytest.raises(jose.UnknownKey):
        jose.verify_detached(old_token, BODY, resolver(store.verifying_keys("hub", RS)).get)
    assert [k["kid"] for k in store.public_jwks()] == [new.kid]


def test_jwe_to_a_token_key_decrypts_in_the_token_also_after_rotation(store: Pkcs11KeyStore, clock: Clock) -> None:
    old = store.ensure("hub", PE, "jose")
    assert (old.kind, old.alg) == ("P-256", "ECDH-ES")
    [jwk] = store.public_jwks()
    assert (jwk["use"], jwk["crv"]) == ("enc", "P-256")
    token = jose.encrypt(BODY, jwk)  # the same ECDH-ES + A256GCM JWE a file store's P-256 key opens
    assert store.decrypt(token) == BODY
    store.rotate("hub", PE, "jose")
    clock.now += timedelta(days=6)
    assert store.decrypt(token) == BODY
    clock.now += timedelta(days=1)
    with pytest.raises(jose.DecryptError):
        store.decrypt(token)


def test_same_jwe_format_as_the_file_store(store: Pkcs11KeyStore, tmp_path: Path) -> None:
    files = FileKeyStore(tmp_path / "file" / "keystore.json", os.urandom(32))
    file_kid = files.ensure("hub", PE, "jose", kind="P-256").kid
    token_kid = store.ensure("hub", PE, "jose").kid
    for ks, kid in ((files, file_kid), (store, token_kid)):
        jwk = next(k for k in ks.public_jwks() if k["kid"] == kid)
        made = jose.encrypt(BODY, jwk)
        assert set(jose.peek_header(made)) == {"alg", "enc", "kid", "epk"}
        assert ks.decrypt(made) == BODY


def test_sm_and_x25519_keys_are_refused_with_the_reason(store: Pkcs11KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="no SM2 mechanism; keep SM keys in the file store"):
        store.ensure("hub", RS, "sm")
    with pytest.raises(KeyStoreError, match="no X25519"):
        store.ensure("hub", PE, "jose", kind="X25519")


def test_a_second_store_sees_a_rotation_after_reload(store: Pkcs11KeyStore) -> None:
    first = store.ensure("hub", RS, "jose")
    other = Pkcs11KeyStore(store.path, MODULE, LABEL, PIN)
    try:
        [second] = other.rotate("hub", RS, "jose")
        assert store.signer("hub", RS, "jose").kid == first.kid
        assert store.reload() and store.signer("hub", RS, "jose").kid == second.kid
        token = jose.sign_detached_with(BODY, store.signer("hub", RS, "jose"))
        jose.verify_detached(token, BODY, resolver(other.verifying_keys("hub", RS)).get)
    finally:
        other.close()


def test_wrong_pin_token_or_pin_variable_is_a_clear_error(store: Pkcs11KeyStore, tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="the PIN does not open token 'hub-test'"):
        Pkcs11KeyStore(tmp_path / "x.json", MODULE, LABEL, "0000")
    with pytest.raises(KeyStoreError, match="no token labelled 'nope'"):
        Pkcs11KeyStore(tmp_path / "x.json", MODULE, "nope", PIN)
    settings = KeyStoreSettings(backend="pkcs11", pkcs11_module=MODULE, pkcs11_token_label=LABEL)
    with pytest.raises(KeyStoreError, match="set HUB_PKCS11_PIN"):
        open_keystore(settings, tmp_path, environ={})
