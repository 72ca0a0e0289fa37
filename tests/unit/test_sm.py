"""SM suite against published vectors, plus round trips and every way a check must fail."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from security import sm

# GB/T 32905-2016 (SM3) Appendix A, examples 1 and 2.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# GM/T 0003.5-2012 / GB/T 32918.5-2016 Annex A (signature) and Annex C (encryption), recommended
# curve, default user id; the same values are in OpenSSL's test/sm2_internal_test.c.
ANNEX_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
ANNEX_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
ANNEX_A_SIG = (
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
ANNEX_C_CIPHERTEXT = (  # C1 (04||x||y) || C3 || C2 for "encryption standard"
    "04"
    "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "21886CA989CA9C7D58087307CA93092D651EFA"
)

# draft-shen-sm2-ecdsa-02 / GM/T 0003.2-2012 Annex A example on the 256-bit *test* curve,
# user id ALICE123@YAHOO.COM (also in OpenSSL's test/sm2_internal_test.c).
TEST_CURVE = sm.Curve(
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)
SHEN_D = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
SHEN_K = 0x6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F
SHEN_ZA = "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
SHEN_SIG = (
    "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
    "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7"
)
ALICE = b"ALICE123@YAHOO.COM"
MSG = b"message digest"


def test_sm3_vectors() -> None:
    assert sm.sm3(b"abc").hex() == SM3_ABC
    assert sm.sm3(b"abcd" * 16).hex() == SM3_ABCD16


def test_hmac_sm3_matches_rfc2104_construction() -> None:
    key, data = b"k" * 20, b"what do ya want for nothing?"
    block = key.ljust(64, b"\0")
    inner = sm.sm3(bytes(b ^ 0x36 for b in block) + data)
    assert sm.hmac_sm3(key, data) == sm.sm3(bytes(b ^ 0x5C for b in block) + inner)
    ref = crypto_hmac.HMAC(key, hashes.SM3())
    ref.update(data)
    assert sm.hmac_sm3(key, data) == ref.finalize()


def test_sm4_block_vector() -> None:
    # GB/T 32907-2016 Appendix A, example 1: key = plaintext.
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_rfc8998_vector() -> None:
    # RFC 8998 Appendix A.1 (also GmSSL tests/sm4test.c).
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    pt = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    ct = (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    tag = "83DE3541E4C2B58177E065A9BF7B62EC"
    sealed = sm.sm4_gcm_seal(key, iv, pt, aad)
    assert sealed.hex().upper() == ct + tag
    assert sm.sm4_gcm_open(key, iv, sealed, aad) == pt


def test_sm4_gcm_rejects_tampering() -> None:
    key, iv = bytes(16), bytes(12)
    sealed = sm.sm4_gcm_seal(key, iv, b"payload", b"aad")
    for bad in (sealed[:-1] + bytes([sealed[-1] ^ 1]), bytes([sealed[0] ^ 1]) + sealed[1:], b"short"):
        with pytest.raises(sm.SmDecryptError):
            sm.sm4_gcm_open(key, iv, bad, b"aad")
    with pytest.raises(sm.SmDecryptError):
        sm.sm4_gcm_open(key, iv, sealed, b"other aad")
    with pytest.raises(sm.SmKeyError):
        sm.sm4_gcm_seal(bytes(15), iv, b"x")


def test_sm2_annex_a_signature_exact() -> None:
    priv = sm.Sm2PrivateKey(ANNEX_D)
    assert sm._sign_with_k(priv, MSG, sm.DEFAULT_UID, ANNEX_K) == bytes.fromhex(ANNEX_A_SIG)


def test_sm2_annex_a_signature_verifies_with_tongsuo_path() -> None:
    # The tongsuopy fast path must apply Z with the default uid to accept the published signature.
    pub = sm.Sm2PrivateKey(ANNEX_D).public_key
    sm.verify(pub, MSG, bytes.fromhex(ANNEX_A_SIG))
    sm._verify_py(pub, MSG, bytes.fromhex(ANNEX_A_SIG), sm.DEFAULT_UID)
    with pytest.raises(sm.BadSm2Signature):
        sm.verify(pub, MSG, bytes.fromhex(ANNEX_A_SIG), uid=ALICE)


def test_sm2_test_curve_alice_vector() -> None:
    priv = sm.Sm2PrivateKey(SHEN_D, curve=TEST_CURVE)
    assert sm.z_value(priv.public_key, ALICE).hex().upper() == SHEN_ZA
    assert sm._sign_with_k(priv, MSG, ALICE, SHEN_K) == bytes.fromhex(SHEN_SIG)
    sm.verify(priv.public_key, MSG, bytes.fromhex(SHEN_SIG), uid=ALICE)
    with pytest.raises(sm.BadSm2Signature):
        sm.verify(priv.public_key, MSG, bytes.fromhex(SHEN_SIG))  # default uid: different Z


def test_sm2_annex_c_encryption_exact() -> None:
    priv = sm.Sm2PrivateKey(ANNEX_D)
    blob = sm._encrypt_with_k(priv.public_key, b"encryption standard", ANNEX_K)
    assert blob is not None and blob.hex().upper() == ANNEX_C_CIPHERTEXT
    assert sm.decrypt(priv, bytes.fromhex(ANNEX_C_CIPHERTEXT)) == b"encryption standard"


@pytest.mark.parametrize("uid", [sm.DEFAULT_UID, ALICE])
def test_sm2_sign_round_trip_and_failures(uid: bytes) -> None:
    priv, other = sm.sm2_generate(), sm.sm2_generate()
    sig = sm.sign(priv, b"body", uid=uid)
    assert len(sig) == 64
    sm.verify(priv.public_key, b"body", sig, uid=uid)
    failures = [
        (priv.public_key, b"bodx", sig, uid),  # tampered data
        (other.public_key, b"body", sig, uid),  # wrong key
        (priv.public_key, b"body", sig, uid + b"x"),  # wrong uid
        (priv.public_key, b"body", sig[:32] + bytes(32), uid),  # s = 0
        (priv.public_key, b"body", sig[:-1], uid),  # wrong length
    ]
    for pub, data, bad_sig, bad_uid in failures:
        with pytest.raises(sm.BadSm2Signature):
            sm.verify(pub, data, bad_sig, uid=bad_uid)


def test_sm2_fast_and_pure_paths_agree() -> None:
    priv = sm.sm2_generate()
    sm._verify_py(priv.public_key, b"x", sm.sign(priv, b"x"), sm.DEFAULT_UID)
    sm.verify(priv.public_key, b"x", sm._sign_py(priv, b"x", sm.DEFAULT_UID))


def test_sm2_encrypt_round_trip_and_tampering() -> None:
    priv = sm.sm2_generate()
    for msg in (b"", b"a", b"x" * 1000):
        assert sm.decrypt(priv, sm.encrypt(priv.public_key, msg)) == msg
    blob = sm.encrypt(priv.public_key, b"secret")
    for bad in (blob[:-1] + bytes([blob[-1] ^ 1]), blob[:70] + bytes([blob[70] ^ 1]) + blob[71:], blob[:50]):
        with pytest.raises(sm.SmDecryptError):
            sm.decrypt(priv, bad)
    off_curve = blob[:64] + bytes([blob[64] ^ 1]) + blob[65:]
    with pytest.raises(sm.SmDecryptError):
        sm.decrypt(priv, off_curve)
    with pytest.raises(sm.SmDecryptError):
        sm.decrypt(sm.sm2_generate(), blob)


def test_sm2_key_serialization() -> None:
    priv = sm.sm2_generate()
    pub = priv.public_key
    assert sm.Sm2PublicKey.from_hex(pub.to_hex()) == pub
    assert sm.Sm2PrivateKey.from_hex(priv.to_hex()) == priv
    assert sm.Sm2PublicKey.from_pem(pub.to_pem()) == pub
    assert sm.Sm2PrivateKey.from_pem(priv.to_pem()) == priv
    assert pub.to_pem().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert str(priv.d) not in repr(priv)
    with pytest.raises(sm.SmKeyError):
        sm.Sm2PublicKey(pub.x, pub.y + 1)
    with pytest.raises(sm.SmKeyError):
        sm.Sm2PrivateKey(0)
    with pytest.raises(sm.SmKeyError):
        sm.Sm2PublicKey.from_bytes(b"\x02" + bytes(64))


def test_ecdh_is_symmetric_and_kdf_lengths() -> None:
    a, b = sm.sm2_generate(), sm.sm2_generate()
    assert sm.ecdh(a, b.public_key) == sm.ecdh(b, a.public_key)
    assert len(sm.kdf(b"z", 70)) == 70 and sm.kdf(b"z", 70)[:32] == sm.sm3(b"z\0\0\0\1")
    with pytest.raises(sm.SmKeyError):
        sm.ecdh(a, dataclasses.replace(sm.Sm2PrivateKey(SHEN_D, curve=TEST_CURVE).public_key))
