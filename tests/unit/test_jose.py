"""Detached JWS (RFC 7797), JWE and the key model, for the standard and the SM suites."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jws
from joserfc.jwk import OKPKey

from security import jose, sm

BODY = json.dumps({"uetr": "e2b8b1c6-9f2f-4d5e-8a77-1f3c1c0f4a11", "amount": "1000.00"}).encode()
SIGNERS = [("Ed25519", "Ed25519"), ("ES256", "P-256"), ("SM2", "SM2")]


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _resolver(*keys: jose.HubKey) -> dict[str, jose.HubKey]:
    return {k.kid: k.public() for k in keys}


@pytest.mark.parametrize(("alg", "kind"), SIGNERS)
def test_detached_jws_round_trip(alg: str, kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, "partner-1")
    token = jose.sign_detached(BODY, key, "partner-1", alg, {"iat": 1700000000, "nonce": "n-1"})
    header_b64, payload, _sig = token.split(".")
    assert payload == ""
    header = jose.verify_detached(token, BODY, _resolver(key).get)
    assert header == json.loads(_b64d(header_b64))
    assert header["b64"] is False and header["crit"] == ["b64"] and header["alg"] == alg
    assert header["kid"] == "partner-1" and header["iat"] == 1700000000 and header["nonce"] == "n-1"


@pytest.mark.parametrize(("alg", "kind"), SIGNERS)
def test_altered_body_wrong_key_and_wrong_kid(alg: str, kind: jose.KeyKind) -> None:
    key, other = jose.generate_key(kind, "k1"), jose.generate_key(kind, "k1")
    token = jose.sign_detached(BODY, key, "k1", alg)
    with pytest.raises(jose.BadSignature):
        jose.verify_detached(token, BODY + b" ", _resolver(key).get)
    with pytest.raises(jose.BadSignature):
        jose.verify_detached(token, BODY, _resolver(other).get)
    with pytest.raises(jose.UnknownKey):
        jose.verify_detached(token, BODY, _resolver(jose.generate_key(kind, "k2")).get)

    def raising(kid: str) -> jose.HubKey:
        raise KeyError(kid)

    with pytest.raises(jose.UnknownKey):
        jose.verify_detached(token, BODY, raising)


def test_key_of_another_kind_never_verifies() -> None:
    # Algorithm confusion: an ES256 header resolved to an SM2 key must fail, not dispatch on the key.
    p256, sm2 = jose.generate_key("P-256", "k"), jose.generate_key("SM2", "k")
    token = jose.sign_detached(BODY, p256, "k", "ES256")
    with pytest.raises(jose.BadSignature):
        jose.verify_detached(token, BODY, _resolver(sm2).get)
    with pytest.raises(jose.KeyFormatError):
        jose.sign_detached(BODY, sm2, "k", "ES256")


def _forge_header(header: dict[str, object], sig: bytes = b"x" * 64) -> str:
    return f"{_b64e(json.dumps(header).encode())}..{_b64e(sig)}"


@pytest.mark.parametrize(
    "token",
    [
        _forge_header({"alg": "Ed25519", "kid": "k1"}),  # no b64/crit
        _forge_header({"alg": "Ed25519", "kid": "k1", "b64": False}),  # b64=false not critical
        _forge_header({"alg": "Ed25519", "kid": "k1", "b64": True, "crit": ["b64"]}),
        _forge_header({"alg": "Ed25519", "kid": "k1", "b64": False, "crit": ["b64", "exp"]}),
        _forge_header({"alg": "none", "kid": "k1", "b64": False, "crit": ["b64"]}),
        _forge_header({"alg": "EdDSA", "kid": "k1", "b64": False, "crit": ["b64"]}),
        _forge_header({"alg": "Ed25519", "b64": False, "crit": ["b64"]}),  # no kid
        _forge_header({"alg": ["Ed25519"], "kid": "k1", "b64": False, "crit": ["b64"]}),
        _forge_header({"alg": "Ed25519", "kid": 7, "b64": False, "crit": ["b64"]}),
        "not-a-jws",
        "a.b.c",  # attached payload
        "!!!..sig",
        _b64e(b"[1,2]") + "..sig",
    ],
)
def test_malformed_tokens(token: str) -> None:
    key = jose.generate_key("Ed25519", "k1")
    with pytest.raises(jose.MalformedToken):
        jose.verify_detached(token, BODY, _resolver(key).get)


def test_alg_allow_list_and_reserved_extra_header() -> None:
    key = jose.generate_key("Ed25519", "k1")
    token = jose.sign_detached(BODY, key, "k1", "Ed25519")
    with pytest.raises(jose.MalformedToken):
        jose.verify_detached(token, BODY, _resolver(key).get, algorithms=["SM2"])
    with pytest.raises(jose.KeyFormatError):
        jose.sign_detached(BODY, key, "k1", "Ed25519", {"b64": True})


def test_ed25519_interoperates_with_joserfc() -> None:
    # Our token verifies with joserfc's own RFC 7797 code path, and vice versa.
    key = jose.generate_key("Ed25519", "k1")
    body = b"a body with spaces and \xe2\x82\xac"
    token = jose.sign_detached(body, key, "k1", "Ed25519")
    jwk = OKPKey.import_key(key.public_jwk())
    jws.deserialize_compact(token, jwk, algorithms=["Ed25519"], payload=body)
    theirs = jws.serialize_compact(
        {"alg": "Ed25519", "kid": "k1", "b64": False, "crit": ["b64"]}, body, key.jose, algorithms=["Ed25519"]
    )
    jose.verify_detached(theirs, body, _resolver(key).get)


def test_sm2_jws_is_raw_rs_with_default_uid() -> None:
    key = jose.generate_key("SM2", "sm-1")
    token = jose.sign_detached(BODY, key, "sm-1", "SM2")
    header_b64, _, sig_b64 = token.split(".")
    sig = _b64d(sig_b64)
    assert len(sig) == 64
    assert key.sm2_public is not None
    sm.verify(key.sm2_public, header_b64.encode() + b"." + BODY, sig, uid=b"1234567812345678")


@pytest.mark.parametrize("kind", ["X25519", "P-256", "SM2"])
def test_jwe_round_trip(kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, f"enc-{kind}")
    for msg in (b"", BODY, b"x" * 200_000):
        token = jose.encrypt(msg, key.public_jwk())
        assert jose.decrypt(token, key) == msg
    header = jose.peek_header(token)
    assert header["kid"] == f"enc-{kind}"
    expected = ("SM2-KA", "SM4-GCM") if kind == "SM2" else ("ECDH-ES", "A256GCM")
    assert (header["alg"], header["enc"]) == expected


def _flip(segment: str) -> str:
    raw = bytearray(_b64d(segment))
    raw[0] ^= 1
    return _b64e(bytes(raw))


@pytest.mark.parametrize("kind", ["X25519", "P-256", "SM2"])
@pytest.mark.parametrize("part", [2, 3, 4])
def test_jwe_tampering_is_refused(kind: jose.KeyKind, part: int) -> None:
    key = jose.generate_key(kind, "enc")
    parts = jose.encrypt(b"confidential payload", key.public()).split(".")
    parts[part] = _flip(parts[part])
    with pytest.raises(jose.DecryptError):
        jose.decrypt(".".join(parts), key)


@pytest.mark.parametrize("kind", ["X25519", "P-256", "SM2"])
def test_jwe_header_tamper_wrong_key_and_mismatch(kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, "enc")
    parts = jose.encrypt(b"confidential", key.public()).split(".")
    header = json.loads(_b64d(parts[0]))
    header["kid"] = "other"
    forged = ".".join([_b64e(json.dumps(header).encode()), *parts[1:]])
    with pytest.raises(jose.DecryptError):
        jose.decrypt(forged, key)
    with pytest.raises(jose.DecryptError):
        jose.decrypt(".".join(parts), jose.generate_key(kind, "enc"))
    mismatched = jose.generate_key("SM2" if kind != "SM2" else "X25519", "enc")
    with pytest.raises(jose.DecryptError):
        jose.decrypt(".".join(parts), mismatched)


def test_sm_jwe_refuses_off_curve_epk() -> None:
    key = jose.generate_key("SM2", "enc")
    parts = jose.encrypt(b"x", key.public()).split(".")
    header = json.loads(_b64d(parts[0]))
    header["epk"]["y"] = _flip(header["epk"]["y"])
    with pytest.raises(jose.DecryptError):
        jose.decrypt(".".join([_b64e(json.dumps(header).encode()), *parts[1:]]), key)


def test_ed25519_cannot_encrypt_and_public_cannot_decrypt() -> None:
    with pytest.raises(jose.KeyFormatError):
        jose.encrypt(b"x", jose.generate_key("Ed25519", "s"))
    key = jose.generate_key("X25519", "e")
    with pytest.raises(jose.KeyFormatError):
        jose.decrypt(jose.encrypt(b"x", key), key.public())


@pytest.mark.parametrize("kind", ["Ed25519", "P-256", "X25519", "SM2"])
def test_jwk_round_trip(kind: jose.KeyKind) -> None:
    key = jose.generate_key(kind, "kid-1")
    pub, priv = key.public_jwk(), key.private_jwk()
    assert "d" not in pub and "d" in priv and pub["kid"] == "kid-1"
    assert jose.import_jwk(priv).private_jwk() == priv
    assert jose.import_jwk(pub).public_jwk() == pub
    assert not jose.import_jwk(pub).is_private
    with pytest.raises(jose.KeyFormatError):
        jose.import_jwk(pub).private_jwk()
    if kind == "SM2":
        assert pub["kty"] == "EC" and pub["crv"] == "SM2" and set(pub) == {"kty", "crv", "x", "y", "kid"}
    assert priv["d"] not in repr(key) and priv["d"] not in str(key)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "SM2", "x": "AA", "y": "AA", "kid": "k"},
        {"kty": "EC", "crv": "SM2", "x": _b64e(bytes(32)), "y": _b64e(bytes(32)), "kid": "k"},  # off curve
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "k"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AA", "kid": "k"},
        {"kty": "OKP", "crv": "Ed25519", "x": _b64e(bytes(32))},  # no kid
        {"kty": "RSA", "n": "AA", "e": "AQAB", "kid": "k"},
    ],
)
def test_bad_jwks_are_refused(jwk: dict[str, str]) -> None:
    with pytest.raises(jose.KeyFormatError):
        jose.import_jwk(jwk)


def test_sm2_jwk_with_mismatched_d_is_refused() -> None:
    a, b = jose.generate_key("SM2", "a").private_jwk(), jose.generate_key("SM2", "b").private_jwk()
    with pytest.raises(jose.KeyFormatError):
        jose.import_jwk({**a, "d": b["d"]})
