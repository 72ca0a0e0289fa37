"""The hub signs what it sends and encrypts for partners that require it; the partner side opens it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.base import AdapterContext, Outbound, PermanentError, protected
from canonical.errors import RejectedInput
from routes.config import RoutingConfig
from security import jose
from security.outbound import (
    JOSE_CONTENT_TYPE,
    PartnerProtection,
    ProtectionConfigError,
    Protector,
    UndecryptableBody,
    open_protected,
    publish_jwks,
    read_jwks,
    sandbox_recipient,
)

BODY = json.dumps({"id": "0190a1b2-0000-7000-8000-000000000001", "amount": "1000.00"}).encode()
# (suite, hub signing key kind, partner recipient key kind)
SUITES = [("jose", "Ed25519", "X25519"), ("jose", "Ed25519", "P-256"), ("sm", "SM2", "SM2")]


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _header(token: str) -> dict[str, Any]:
    first = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))  # type: ignore[no-any-return]


def _keys(sign_kind: jose.KeyKind, recipient_kind: jose.KeyKind) -> tuple[jose.HubKey, jose.HubKey]:
    return jose.generate_key(sign_kind, "hub-req-1"), jose.generate_key(recipient_kind, "partner-enc-1")


@pytest.mark.parametrize(("suite", "sign_kind", "recipient_kind"), SUITES)
def test_signed_and_encrypted_call_opens_to_the_clear_body_with_a_valid_signature(
    suite: Any, sign_kind: jose.KeyKind, recipient_kind: jose.KeyKind
) -> None:
    hub_key, partner_key = _keys(sign_kind, recipient_kind)
    protector = Protector(hub_key, partner_key.public(), suite=suite)
    sent, headers = protector.protect(BODY, "application/json")
    assert headers["Content-Type"] == JOSE_CONTENT_TYPE
    assert BODY not in sent and sent.count(b".") == 4  # compact JWE
    assert _header(sent.decode())["cty"] == "application/json"
    opened = open_protected(sent, headers, [hub_key.public()], partner_key)
    assert opened.plaintext == BODY
    assert opened.content_type == "application/json"
    assert (opened.signature, opened.kid, opened.encrypted) == ("valid", "hub-req-1", True)
    assert isinstance(opened.header["iat"], int) and len(opened.header["nonce"]) >= 8


@pytest.mark.parametrize(("suite", "sign_kind", "recipient_kind"), SUITES)
def test_the_signature_covers_the_plaintext_so_a_partner_checks_what_it_reads(
    suite: Any, sign_kind: jose.KeyKind, recipient_kind: jose.KeyKind
) -> None:
    hub_key, partner_key = _keys(sign_kind, recipient_kind)
    sent, headers = Protector(hub_key, partner_key, suite=suite).protect(BODY, "application/json")
    header = jose.verify_detached(headers["X-Hub-Signature"], BODY, {hub_key.kid: hub_key.public()}.get)
    assert header["alg"] == {"Ed25519": "Ed25519", "SM2": "SM2"}[sign_kind]
    assert jose.decrypt(sent.decode(), partner_key) == BODY  # jose.decrypt reads what protect sealed


def test_sign_only_keeps_the_body_and_its_content_type() -> None:
    hub_key = jose.generate_key("Ed25519", "hub-req-1")
    sent, headers = Protector(hub_key).protect(BODY, "application/json")
    assert sent == BODY
    assert set(headers) == {"X-Hub-Signature"}
    opened = open_protected(sent, {"content-type": "application/json", **headers}, [hub_key.public()], None)
    assert (opened.signature, opened.encrypted, opened.content_type) == ("valid", False, "application/json")


def test_every_call_is_signed_anew_with_a_fresh_nonce() -> None:
    protector = Protector(jose.generate_key("Ed25519", "hub-req-1"))
    nonces = {_header(protector.protect(BODY, "application/json")[1]["X-Hub-Signature"])["nonce"] for _ in range(5)}
    assert len(nonces) == 5


@pytest.mark.parametrize(("suite", "sign_kind", "recipient_kind"), SUITES)
def test_a_body_altered_after_protection_has_an_invalid_signature(
    suite: Any, sign_kind: jose.KeyKind, recipient_kind: jose.KeyKind
) -> None:
    hub_key = jose.generate_key(sign_kind, "hub-req-1")
    sent, headers = Protector(hub_key, suite=suite).protect(BODY, "application/json")
    altered = sent.replace(b"1000.00", b"9000.00")
    opened = open_protected(altered, headers, [hub_key.public()], None)
    assert (opened.signature, opened.kid) == ("invalid", "hub-req-1")
    assert "BadSignature" in opened.detail


def test_a_signature_moved_onto_another_encrypted_body_is_invalid() -> None:
    hub_key, partner_key = _keys("Ed25519", "X25519")
    protector = Protector(hub_key, partner_key, suite="jose")
    _sent, first = protector.protect(BODY, "application/json")
    other, second = protector.protect(b'{"id": "another"}', "application/json")
    opened = open_protected(other, {**second, "X-Hub-Signature": first["X-Hub-Signature"]}, [hub_key], partner_key)
    assert opened.signature == "invalid" and opened.encrypted


def test_a_signature_by_a_key_the_partner_does_not_know_is_invalid() -> None:
    stranger = jose.generate_key("Ed25519", "not-the-hub")
    sent, headers = Protector(stranger).protect(BODY, "application/json")
    opened = open_protected(sent, headers, [jose.generate_key("Ed25519", "hub-req-1").public()], None)
    assert (opened.signature, opened.kid) == ("invalid", "not-the-hub")
    assert "UnknownKey" in opened.detail


def test_an_unsigned_call_has_a_missing_signature() -> None:
    partner_key = jose.generate_key("X25519", "partner-enc-1")
    protection = PartnerProtection(sign=False, encrypt=True, recipient=partner_key.public_jwk())
    sent, headers = Protector.for_partner(protection, None).protect(BODY, "application/json")
    assert "X-Hub-Signature" not in headers
    opened = open_protected(sent, headers, [], partner_key)
    assert (opened.signature, opened.kid, opened.plaintext) == ("missing", None, BODY)


@pytest.mark.parametrize(("suite", "sign_kind", "recipient_kind"), SUITES)
def test_a_body_encrypted_to_another_key_is_undecryptable(
    suite: Any, sign_kind: jose.KeyKind, recipient_kind: jose.KeyKind
) -> None:
    hub_key, partner_key = _keys(sign_kind, recipient_kind)
    sent, headers = Protector(hub_key, partner_key, suite=suite).protect(BODY, "application/json")
    wrong = jose.generate_key(recipient_kind, "someone-else")
    with pytest.raises(UndecryptableBody, match="does not decrypt with key 'someone-else'"):
        open_protected(sent, headers, [hub_key], wrong)


def test_an_encrypted_body_without_a_private_key_is_undecryptable() -> None:
    sent, headers = Protector(None, jose.generate_key("X25519", "partner-enc-1")).protect(BODY, "application/json")
    with pytest.raises(UndecryptableBody, match="no private key"):
        open_protected(sent, headers, [], None)


def test_garbage_sent_as_jose_is_undecryptable() -> None:
    with pytest.raises(UndecryptableBody, match="not a compact JWE"):
        open_protected(b"\xff\xfe", {"Content-Type": "application/jose"}, [], jose.generate_key("SM2", "p"))


def test_the_partner_picks_its_decryption_key_by_the_jwe_kid() -> None:
    x25519, sm2 = jose.generate_key("X25519", "p-x"), jose.generate_key("SM2", "p-sm")
    for key, suite in ((x25519, "jose"), (sm2, "sm")):
        sent, headers = Protector(None, key, suite=suite).protect(BODY, "text/plain")  # type: ignore[arg-type]
        opened = open_protected(sent, headers, [], [x25519, sm2])
        assert (opened.plaintext, opened.content_type) == (BODY, "text/plain")


class RawEd25519Signer:
    """A signer that is not a HubKey (as a key store's would be): only kid, alg and sign(bytes)."""

    alg = "Ed25519"

    def __init__(self, kid: str) -> None:
        self.kid, self._key = kid, Ed25519PrivateKey.generate()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_jwk(self) -> dict[str, str]:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64e(raw), "kid": self.kid}


def test_any_request_signer_plugs_in_like_a_key() -> None:
    signer = RawEd25519Signer("store-key-7")
    sent, headers = Protector(signer).protect(BODY, "application/json")
    opened = open_protected(sent, headers, [jose.import_jwk(signer.public_jwk())], None)
    assert (opened.signature, opened.kid) == ("valid", "store-key-7")


def test_a_rotating_signer_signs_with_its_current_kid() -> None:
    signer = RawEd25519Signer("store-key-7")
    protector = Protector(signer)
    signer.kid = "store-key-8"
    _sent, headers = protector.protect(BODY, "application/json")
    assert _header(headers["X-Hub-Signature"])["kid"] == "store-key-8"


@pytest.mark.parametrize(
    ("signer_kind", "suite", "message"),
    [("Ed25519", "sm", "suite sm signs with SM2; the hub's signer is Ed25519"), ("SM2", "jose", "suite jose signs")],
)
def test_a_signer_of_another_suite_is_refused(signer_kind: jose.KeyKind, suite: Any, message: str) -> None:
    with pytest.raises(ProtectionConfigError, match=message):
        Protector(jose.generate_key(signer_kind, "k"), suite=suite)


def test_a_public_key_cannot_sign() -> None:
    with pytest.raises(ProtectionConfigError, match="give a private signing key"):
        Protector(jose.generate_key("Ed25519", "k").public())


def test_a_recipient_of_another_suite_is_refused() -> None:
    with pytest.raises(ProtectionConfigError, match="suite sm encrypts to SM2 keys; recipient 'p' is X25519"):
        Protector(None, jose.generate_key("X25519", "p"), suite="sm")


def test_settings_default_to_signing_with_the_jose_suite_and_no_encryption() -> None:
    protection = PartnerProtection()
    assert (protection.suite, protection.sign, protection.encrypt) == ("jose", True, False)
    assert protection.recipient_key() is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"encrypt": True}, "encrypt: true needs recipient"),
        ({"recipient": "partner"}, "recipient must be the partner's public JWK"),
        ({"recipient": {"kty": "OKP", "crv": "X25519", "kid": "p"}}, "recipient is not a usable JWK"),
        ({"suite": "sm", "encrypt": True, "recipient": "X25519"}, "suite sm encrypts to SM2 keys; recipient is X25519"),
        ({"encrypt": True, "recipient": "private"}, "remove 'd'"),
        ({"suite": "rsa"}, "suite"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(settings: dict[str, Any], message: str) -> None:
    if settings.get("recipient") == "X25519":
        settings["recipient"] = jose.generate_key("X25519", "p").public_jwk()
    if settings.get("recipient") == "private":
        settings["recipient"] = jose.generate_key("X25519", "p").private_jwk()
    with pytest.raises(ValueError, match=message):
        PartnerProtection.model_validate(settings)


@pytest.mark.parametrize(("suite", "kind"), [("jose", "X25519"), ("sm", "SM2")])
def test_recipient_sandbox_is_the_key_of_the_suite_in_the_sandbox_jwks(suite: Any, kind: str, tmp_path: Path) -> None:
    keys = [jose.generate_key("X25519", "sb-x25519"), jose.generate_key("SM2", "sb-sm2")]
    publish_jwks(tmp_path / "jwks.json", keys)
    jwks = json.loads((tmp_path / "jwks.json").read_text())
    assert all("d" not in k for k in jwks["keys"])  # only public halves are published
    protection = PartnerProtection(suite=suite, encrypt=True, recipient="sandbox")
    key = protection.recipient_key(jwks)
    assert key is not None and key.kind == kind and not key.is_private
    assert sandbox_recipient(jwks, suite).kid == key.kid


def test_recipient_sandbox_without_the_sandbox_jwks_says_what_to_do() -> None:
    with pytest.raises(ProtectionConfigError, match="start the sandbox first"):
        PartnerProtection(encrypt=True, recipient="sandbox").recipient_key(None)


def test_a_jwks_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "hub-jwks.json").write_text("{not json")
    with pytest.raises(ProtectionConfigError, match=r"hub-jwks\.json is not a usable JWKS"):
        read_jwks(tmp_path / "hub-jwks.json")


def test_routes_config_takes_protection_per_adapter_version_and_checks_sandbox_recipients() -> None:
    sandboxed = {"url": "sandbox:factor-json", "protection": {"suite": "sm", "encrypt": True, "recipient": "sandbox"}}
    config = RoutingConfig.parse({"adapters": {"factor-json": {"kind": "http-json", "versions": {"v1": sandboxed}}}})
    assert config.adapters["factor-json"].versions["v1"].protection.suite == "sm"
    elsewhere = {**sandboxed, "url": "https://partner.example/in"}
    with pytest.raises(RejectedInput) as refused:
        RoutingConfig.parse({"adapters": {"factor-json": {"kind": "http-json", "versions": {"v1": elsewhere}}}})
    assert "url must be 'sandbox:NAME'" in refused.value.violations[0].detail


def test_adapters_put_protected_body_and_headers_on_the_wire_keeping_their_own() -> None:
    hub_key, partner_key = _keys("Ed25519", "X25519")
    ctx = AdapterContext("factor-json", "v1", {}, str, protect=Protector(hub_key, partner_key).protect)
    rendered = {"content-type": "application/json", "idempotency-key": "m-1", "traceparent": "00-abc"}
    body, headers = protected(ctx, Outbound("m-1", "http://127.0.0.1:1/", BODY, rendered))
    assert {k.lower() for k in headers} == {"content-type", "idempotency-key", "traceparent", "x-hub-signature"}
    assert headers["Content-Type"] == JOSE_CONTENT_TYPE and headers["idempotency-key"] == "m-1"
    assert open_protected(body, headers, [hub_key], partner_key).plaintext == BODY


def test_adapters_without_protection_send_what_they_rendered() -> None:
    outbound = Outbound("m-1", "http://127.0.0.1:1/", BODY, {"content-type": "application/json"})
    assert protected(AdapterContext("factor-json", "v1", {}, str), outbound) == (BODY, outbound.headers)


def test_a_call_that_cannot_be_protected_is_a_permanent_error() -> None:
    protector = Protector(None, jose.generate_key("X25519", "p"))
    ctx = AdapterContext("factor-json", "v1", {}, str, protect=protector.protect)
    huge = Outbound("m-1", "http://127.0.0.1:1/", b"x" * (jose.MAX_JWE_BYTES + 1), {})
    with pytest.raises(PermanentError, match="cannot sign/encrypt the call to factor-json@v1: body of"):
        protected(ctx, huge)
