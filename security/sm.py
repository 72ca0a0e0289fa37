"""The Chinese SM ("guomi") suite: SM3 digests, HMAC-SM3, SM4-GCM, SM2 signatures and encryption.

What a caller may rely on:
- `sign` returns 64 bytes, r || s, each a 32-byte big-endian integer (not DER); `verify` takes the
  same form and raises `BadSm2Signature` (a `SmError`) on any mismatch, never returns False.
- Signing follows GB/T 32918.2 / GM/T 0003.2: e = SM3(Z_A || M), with Z_A built from the user id
  (default `1234567812345678`, GM/T 0009), the curve and the signer's public key.
- `encrypt` / `decrypt` are GB/T 32918.4 public-key encryption, C1 || C3 || C2 layout
  (C1 = 04 || x || y, C3 = SM3(x2 || M || y2), C2 = M xor KDF(x2 || y2)).
- `sm4_gcm_seal` / `sm4_gcm_open` return and take ciphertext || 16-byte tag; failures raise
  `SmDecryptError`.

Choice of SM2 implementation (measured on the 2-core dev box, one sign + one verify of 1 KB):
- tongsuopy 1.0.1 (C, Tongsuo): about 0.8 to 1.3 ms. Its `ECDSA(hashes.SM3())` on an `SM2()` key applies
  Z itself with the default user id 1234567812345678 (checked in tests against the GM/T 0003.5
  Annex A vector), but it offers no way to choose another user id and no SM2 ECDH or SM2
  encryption. It is used for sign/verify with the default user id: that is the hub's path, and a C
  implementation keeps the private-key scalar multiplication off Python's variable-time bignums.
- gmssl 3.2.2: about 59 ms; pure Python (SM3 too), hard-codes the user id and draws the signing nonce from
  `random.choice` (Mersenne Twister: predictable nonces leak the private key). Rejected.
- Everything else (other user ids, encryption, key agreement) uses the small
  integer-arithmetic SM2 below (about 2.5 to 4.3 ms per sign + verify, 4 to 5 ms per encrypt +
  decrypt; bench/bench_crypto.py),
  checked against the published vectors and against tongsuopy. It is NOT constant time;
  it is used for partner-specific user ids and the SM JWE, where that trade-off is accepted.
"""

from __future__ import annotations

import hmac as _hmac
import secrets
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto import hashes as ts_hashes
from tongsuopy.crypto import serialization as ts_ser
from tongsuopy.crypto.asymciphers import ec as ts_ec
from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature

DEFAULT_UID = b"1234567812345678"


class SmError(Exception):
    """Base class of every error raised by this module."""


class BadSm2Signature(SmError):
    """The signature does not match the data, key and user id (or is not well formed)."""


class SmDecryptError(SmError):
    """Ciphertext, tag, nonce or key is wrong; nothing about the plaintext is revealed."""


class SmKeyError(SmError):
    """A key is malformed: wrong length, not on the curve, out of range."""


# --- SM3 -------------------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3, 32 bytes."""
    h = crypto_hmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


def kdf(z: bytes, length: int) -> bytes:
    """GM/T 0003.4 section 5.4.3 KDF: SM3(Z || ct) for ct = 1, 2, ... (32-bit big endian), truncated."""
    out = bytearray()
    counter = 1
    while len(out) < length:
        out += sm3(z + counter.to_bytes(4, "big"))
        counter += 1
    return bytes(out[:length])


# --- SM4-GCM ---------------------------------------------------------------------------------


def sm4_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM (RFC 8998) encryption with a 16-byte key and 12-byte nonce; returns ct || tag(16)."""
    if len(key) != 16 or len(nonce) != 12:
        raise SmKeyError("SM4-GCM needs a 16-byte key and a 12-byte nonce")
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def sm4_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """Inverse of `sm4_gcm_seal`; raises SmDecryptError if anything was altered."""
    if len(key) != 16 or len(nonce) != 12:
        raise SmKeyError("SM4-GCM needs a 16-byte key and a 12-byte nonce")
    if len(sealed) < 16:
        raise SmDecryptError("ciphertext shorter than the tag")
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-16:])).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(sealed[:-16]) + dec.finalize()
    except InvalidTag as exc:
        raise SmDecryptError("SM4-GCM authentication failed") from exc


# --- SM2 curve arithmetic ----------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """Short Weierstrass curve y^2 = x^3 + ax + b over F_p with base point (gx, gy) of order n."""

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int


# GB/T 32918.5 recommended curve (sm2p256v1).
SM2_CURVE = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)

_J = tuple[int, int, int]  # Jacobian point (X, Y, Z); Z == 0 is the point at infinity
_INF: _J = (1, 1, 0)


def _double(c: Curve, pt: _J) -> _J:
    x, y, z = pt
    if z == 0 or y == 0:
        return _INF
    p = c.p
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p


def _add(c: Curve, p1: _J, p2: _J) -> _J:
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    p = c.p
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
    u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
    s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
    h, r = (u2 - u1) % p, (s2 - s1) % p
    if h == 0:
        return _double(c, p1) if r == 0 else _INF
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return x3, (r * (v - x3) - s1 * hhh) % p, z1 * z2 * h % p


def _affine(c: Curve, pt: _J) -> tuple[int, int]:
    if pt[2] == 0:
        raise SmKeyError("point at infinity")
    zi = pow(pt[2], -1, c.p)
    zi2 = zi * zi % c.p
    return pt[0] * zi2 % c.p, pt[1] * zi2 * zi % c.p


def _mul(c: Curve, k: int, pt: _J) -> _J:
    """k * pt with a fixed 4-bit window (variable base)."""
    table = [_INF, pt]
    for _ in range(14):
        table.append(_add(c, table[-1], pt))
    acc = _INF
    for shift in range((k.bit_length() + 3) // 4 * 4 - 4, -4, -4):
        for _ in range(4):
            acc = _double(c, acc)
        acc = _add(c, acc, table[(k >> shift) & 15])
    return acc


@lru_cache(maxsize=4)
def _g_table(c: Curve) -> list[list[_J]]:
    """table[i][j] = j * 16^i * G, affine (Z = 1), so k*G needs only additions."""
    rows: list[list[_J]] = []
    base: _J = (c.gx, c.gy, 1)
    for _ in range((c.n.bit_length() + 3) // 4):
        row = [_INF, base]
        for _ in range(14):
            row.append(_add(c, row[-1], base))
        rows.append([_INF] + [(*_affine(c, q), 1) for q in row[1:]])
        base = _double(c, _double(c, _double(c, _double(c, base))))
    return rows


def _mul_g(c: Curve, k: int) -> _J:
    acc = _INF
    for i, row in enumerate(_g_table(c)):
        acc = _add(c, acc, row[(k >> (4 * i)) & 15])
    return acc


def _on_curve(c: Curve, x: int, y: int) -> bool:
    return 0 <= x < c.p and 0 <= y < c.p and (y * y - (x * x * x + c.a * x + c.b)) % c.p == 0


# --- SM2 keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sm2PublicKey:
    """An SM2 public point on `curve` (the recommended curve unless a test says otherwise)."""

    x: int
    y: int
    curve: Curve = field(default=SM2_CURVE, repr=False)

    def __post_init__(self) -> None:
        if not _on_curve(self.curve, self.x, self.y):
            raise SmKeyError("SM2 public key is not on the curve")

    def to_bytes(self) -> bytes:
        """Uncompressed point: 04 || x(32) || y(32)."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def to_hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sm2PublicKey:
        if len(raw) != 65 or raw[0] != 4:
            raise SmKeyError("expected a 65-byte uncompressed point 04||x||y")
        return cls(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))

    @classmethod
    def from_hex(cls, text: str) -> Sm2PublicKey:
        return cls.from_bytes(bytes.fromhex(text))

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM (id-ecPublicKey, curve OID 1.2.156.10197.1.301)."""
        return bytes(self._ts().public_bytes(ts_ser.Encoding.PEM, ts_ser.PublicFormat.SubjectPublicKeyInfo))

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PublicKey:
        key = ts_ser.load_pem_public_key(pem)
        if not isinstance(key, ts_ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
            raise SmKeyError("PEM does not hold an SM2 public key")
        nums = key.public_numbers()
        return cls(nums.x, nums.y)

    def _ts(self) -> ts_ec.EllipticCurvePublicKey:
        return _ts_public(self.x, self.y)


@lru_cache(maxsize=256)
def _ts_public(x: int, y: int) -> ts_ec.EllipticCurvePublicKey:
    return ts_ec.EllipticCurvePublicNumbers(x, y, ts_ec.SM2()).public_key()


@dataclass(frozen=True)
class Sm2PrivateKey:
    """An SM2 private scalar d in [1, n-2]; `public_key` is derived once at construction."""

    d: int = field(repr=False)
    curve: Curve = field(default=SM2_CURVE, repr=False)
    public_key: Sm2PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.d <= self.curve.n - 2:
            raise SmKeyError("SM2 private key out of range")
        if self.curve == SM2_CURVE:  # derive in C: keeps d off the variable-time Python path
            nums = _ts_private(self.d).public_key().public_numbers()
            x, y = nums.x, nums.y
        else:
            x, y = _affine(self.curve, _mul_g(self.curve, self.d))
        object.__setattr__(self, "public_key", Sm2PublicKey(x, y, self.curve))

    def to_bytes(self) -> bytes:
        return self.d.to_bytes(32, "big")

    def to_hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Sm2PrivateKey:
        if len(raw) != 32:
            raise SmKeyError("expected a 32-byte SM2 private key")
        return cls(int.from_bytes(raw, "big"))

    @classmethod
    def from_hex(cls, text: str) -> Sm2PrivateKey:
        return cls.from_bytes(bytes.fromhex(text))

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM; protect it like any private key file."""
        pem = self._ts().private_bytes(ts_ser.Encoding.PEM, ts_ser.PrivateFormat.PKCS8, ts_ser.NoEncryption())
        return bytes(pem)

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PrivateKey:
        key = ts_ser.load_pem_private_key(pem, password=None)
        if not isinstance(key, ts_ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise SmKeyError("PEM does not hold an SM2 private key")
        return cls(key.private_numbers().private_value)

    def _ts(self) -> ts_ec.EllipticCurvePrivateKey:
        return _ts_private(self.d)


@lru_cache(maxsize=64)
def _ts_private(d: int) -> ts_ec.EllipticCurvePrivateKey:
    return ts_ec.derive_private_key(d, ts_ec.SM2())


def sm2_generate() -> Sm2PrivateKey:
    """A fresh SM2 key pair on the recommended curve, from the OS CSPRNG."""
    return Sm2PrivateKey(secrets.randbelow(SM2_CURVE.n - 2) + 1)


# --- SM2 signatures -------------------------------------------------------------------------


def z_value(pub: Sm2PublicKey, uid: bytes = DEFAULT_UID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2 section 5.5."""
    if len(uid) * 8 > 0xFFFF:
        raise SmKeyError("user id too long")
    c = pub.curve
    parts = [c.a, c.b, c.gx, c.gy, pub.x, pub.y]
    return sm3((len(uid) * 8).to_bytes(2, "big") + uid + b"".join(v.to_bytes(32, "big") for v in parts))


def _digest(pub: Sm2PublicKey, data: bytes, uid: bytes) -> int:
    return int.from_bytes(sm3(z_value(pub, uid) + data), "big")


def _sign_with_k(priv: Sm2PrivateKey, data: bytes, uid: bytes, k: int) -> bytes | None:
    """One signing attempt with nonce k; None when k must be redrawn. Exposed for vector tests."""
    c = priv.curve
    e = _digest(priv.public_key, data, uid)
    x1, _ = _affine(c, _mul_g(c, k))
    r = (e + x1) % c.n
    if r == 0 or r + k == c.n:
        return None
    s = pow(1 + priv.d, -1, c.n) * (k - r * priv.d) % c.n
    if s == 0:
        return None
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign(priv: Sm2PrivateKey, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """SM2 signature with SM3 over Z_A(uid) || data; returns 64 bytes r || s (not DER)."""
    if uid == DEFAULT_UID and priv.curve == SM2_CURVE:
        # Tongsuo computes Z with the default id itself, in C.
        r, s = decode_dss_signature(priv._ts().sign(data, ts_ec.ECDSA(ts_hashes.SM3())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return _sign_py(priv, data, uid)


def _sign_py(priv: Sm2PrivateKey, data: bytes, uid: bytes) -> bytes:
    while True:
        sig = _sign_with_k(priv, data, uid, secrets.randbelow(priv.curve.n - 1) + 1)
        if sig is not None:
            return sig


def verify(pub: Sm2PublicKey, data: bytes, sig: bytes, uid: bytes = DEFAULT_UID) -> None:
    """Check a 64-byte r || s SM2 signature; raises BadSm2Signature, returns None when valid."""
    r, s = _split_sig(pub.curve, sig)
    if uid == DEFAULT_UID and pub.curve == SM2_CURVE:
        try:
            pub._ts().verify(encode_dss_signature(r, s), data, ts_ec.ECDSA(ts_hashes.SM3()))
        except _TsInvalidSignature as exc:
            raise BadSm2Signature("SM2 signature does not verify") from exc
        return
    _verify_py(pub, data, sig, uid)


def _split_sig(c: Curve, sig: bytes) -> tuple[int, int]:
    if len(sig) != 64:
        raise BadSm2Signature("SM2 signature must be 64 bytes r||s")
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (1 <= r < c.n and 1 <= s < c.n):
        raise BadSm2Signature("r or s out of range")
    return r, s


def _verify_py(pub: Sm2PublicKey, data: bytes, sig: bytes, uid: bytes) -> None:
    c = pub.curve
    r, s = _split_sig(c, sig)
    t = (r + s) % c.n
    if t == 0:
        raise BadSm2Signature("t = 0")
    point = _add(c, _mul_g(c, s), _mul(c, t, (pub.x, pub.y, 1)))
    if point[2] == 0 or (_digest(pub, data, uid) + _affine(c, point)[0]) % c.n != r:
        raise BadSm2Signature("SM2 signature does not verify")


# --- SM2 encryption (GB/T 32918.4, C1C3C2) and key agreement ----------------------------------


def _encrypt_with_k(pub: Sm2PublicKey, plaintext: bytes, k: int) -> bytes | None:
    c = pub.curve
    x1, y1 = _affine(c, _mul_g(c, k))
    x2, y2 = _affine(c, _mul(c, k, (pub.x, pub.y, 1)))
    xb, yb = x2.to_bytes(32, "big"), y2.to_bytes(32, "big")
    t = kdf(xb + yb, len(plaintext))
    if plaintext and not any(t):
        return None
    c2 = bytes(a ^ b for a, b in zip(plaintext, t, strict=True))
    c3 = sm3(xb + plaintext + yb)
    return b"\x04" + x1.to_bytes(32, "big") + y1.to_bytes(32, "big") + c3 + c2


def encrypt(pub: Sm2PublicKey, plaintext: bytes) -> bytes:
    """SM2 public-key encryption; returns C1(65) || C3(32) || C2(len(plaintext))."""
    while True:
        out = _encrypt_with_k(pub, plaintext, secrets.randbelow(pub.curve.n - 1) + 1)
        if out is not None:
            return out


def decrypt(priv: Sm2PrivateKey, blob: bytes) -> bytes:
    """Inverse of `encrypt`; raises SmDecryptError on any malformed or altered ciphertext."""
    c = priv.curve
    if len(blob) < 97 or blob[0] != 4:
        raise SmDecryptError("SM2 ciphertext too short or C1 not uncompressed")
    x1, y1 = int.from_bytes(blob[1:33], "big"), int.from_bytes(blob[33:65], "big")
    if not _on_curve(c, x1, y1):
        raise SmDecryptError("C1 is not on the curve")
    c3, c2 = blob[65:97], blob[97:]
    x2, y2 = _affine(c, _mul(c, priv.d, (x1, y1, 1)))
    xb, yb = x2.to_bytes(32, "big"), y2.to_bytes(32, "big")
    t = kdf(xb + yb, len(c2))
    if c2 and not any(t):
        raise SmDecryptError("KDF produced an all-zero key stream")
    plaintext = bytes(a ^ b for a, b in zip(c2, t, strict=True))
    if not _hmac.compare_digest(sm3(xb + plaintext + yb), c3):
        raise SmDecryptError("SM2 ciphertext integrity check (C3) failed")
    return plaintext


def ecdh(priv: Sm2PrivateKey, pub: Sm2PublicKey) -> bytes:
    """Raw SM2 Diffie-Hellman: x || y of d * P (64 bytes). Peers must be on the same curve."""
    if priv.curve != pub.curve:
        raise SmKeyError("keys are on different curves")
    x, y = _affine(priv.curve, _mul(priv.curve, priv.d, (pub.x, pub.y, 1)))
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")
