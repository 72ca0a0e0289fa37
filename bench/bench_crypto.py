"""Micro-benchmark of the hub's payload crypto: `python bench/bench_crypto.py`.

For each suite (jose-Ed25519, jose-ES256, sm) it prints microseconds per sign, verify, encrypt and
decrypt of a ~1 KB JSON payload, next to a raw baseline measured in the same run (the same
primitive without JOSE wrapping), and the ratio wrapped / raw. Numbers are the best of a few
repeats; nothing here asserts on timing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from security import jose, sm

PAYLOAD = json.dumps(
    {
        "uetr": "e2b8b1c6-9f2f-4d5e-8a77-1f3c1c0f4a11",
        "debtor": {"name": "Shenzhen Example Trading Co., Ltd.", "bic": "EXAMCNSZXXX", "iban": "CN" + "0" * 20},
        "creditor": {"name": "Rotterdam Example Import B.V.", "bic": "EXAMNL2AXXX", "iban": "NL91ABNA0417164300"},
        "amount": {"currency": "USD", "value": "125000.00"},
        "remittance": ["INV-2026-" + str(i).zfill(5) for i in range(60)],
    },
    separators=(",", ":"),
).encode()


def timed(fn: Callable[[], object], budget: float = 0.25, repeats: int = 3) -> float:
    """Best-of-`repeats` microseconds per call, each repeat running for about `budget` seconds."""
    fn()
    n, start = 1, time.perf_counter()
    while time.perf_counter() - start < budget / 5:
        fn()
        n += 1
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def raw_ecdh_gcm_encrypt(derive: Callable[[], bytes], key_len: int) -> Callable[[], bytes]:
    """Ephemeral ECDH + one-block SHA-256 KDF + AES-GCM: ECDH-ES without the JOSE layer."""

    def run() -> bytes:
        secret = derive()
        digest = hashes.Hash(hashes.SHA256())
        digest.update(b"\0\0\0\1" + secret)
        return AESGCM(digest.finalize()[:key_len]).encrypt(os.urandom(12), PAYLOAD, b"")

    return run


def main() -> None:
    rows: list[tuple[str, str, float, float, str]] = []

    # jose-Ed25519: detached JWS Ed25519, JWE ECDH-ES(X25519)+A256GCM
    ed, xk = jose.generate_key("Ed25519", "ed"), jose.generate_key("X25519", "x")
    ed_pub, x_pub = ed.public(), xk.public()
    tok = jose.sign_detached(PAYLOAD, ed, "ed", "Ed25519", {"iat": 1, "nonce": "n"})
    jwe_tok = jose.encrypt(PAYLOAD, x_pub)
    raw_ed = ed25519.Ed25519PrivateKey.generate()
    raw_ed_sig, raw_ed_pub = raw_ed.sign(PAYLOAD), raw_ed.public_key()
    raw_x = x25519.X25519PrivateKey.generate()
    raw_x_pub = raw_x.public_key()
    aes_key, aes_nonce = AESGCM.generate_key(256), os.urandom(12)
    aes_ct = AESGCM(aes_key).encrypt(aes_nonce, PAYLOAD, b"")
    x_enc = raw_ecdh_gcm_encrypt(lambda: x25519.X25519PrivateKey.generate().exchange(raw_x_pub), 32)

    x_eph = x25519.X25519PrivateKey.generate().public_key()

    def x_dec() -> bytes:
        raw_x.exchange(x_eph)
        return AESGCM(aes_key).decrypt(aes_nonce, aes_ct, b"")

    rows += [
        (
            "jose-Ed25519",
            "sign",
            timed(lambda: jose.sign_detached(PAYLOAD, ed, "ed", "Ed25519", {"iat": 1, "nonce": "n"})),
            timed(lambda: raw_ed.sign(PAYLOAD)),
            "Ed25519",
        ),
        (
            "jose-Ed25519",
            "verify",
            timed(lambda: jose.verify_detached(tok, PAYLOAD, {"ed": ed_pub}.get)),
            timed(lambda: raw_ed_pub.verify(raw_ed_sig, PAYLOAD)),
            "Ed25519",
        ),
        ("jose-Ed25519", "encrypt", timed(lambda: jose.encrypt(PAYLOAD, x_pub)), timed(x_enc), "X25519+AES-GCM"),
        ("jose-Ed25519", "decrypt", timed(lambda: jose.decrypt(jwe_tok, xk)), timed(x_dec), "X25519+AES-GCM"),
    ]

    # jose-ES256: detached JWS ES256, JWE ECDH-ES(P-256)+A256GCM
    pk = jose.generate_key("P-256", "p")
    pk_pub = pk.public()
    tok = jose.sign_detached(PAYLOAD, pk, "p", "ES256", {"iat": 1, "nonce": "n"})
    jwe_tok = jose.encrypt(PAYLOAD, pk_pub)
    raw_p = ec.generate_private_key(ec.SECP256R1())
    raw_p_pub = raw_p.public_key()
    raw_p_sig = raw_p.sign(PAYLOAD, ec.ECDSA(hashes.SHA256()))
    p_enc = raw_ecdh_gcm_encrypt(
        lambda: ec.generate_private_key(ec.SECP256R1()).exchange(ec.ECDH(), raw_p_pub),
        32,
    )

    p_eph = ec.generate_private_key(ec.SECP256R1()).public_key()

    def p_dec() -> bytes:
        raw_p.exchange(ec.ECDH(), p_eph)
        return AESGCM(aes_key).decrypt(aes_nonce, aes_ct, b"")

    rows += [
        (
            "jose-ES256",
            "sign",
            timed(lambda: jose.sign_detached(PAYLOAD, pk, "p", "ES256", {"iat": 1, "nonce": "n"})),
            timed(lambda: raw_p.sign(PAYLOAD, ec.ECDSA(hashes.SHA256()))),
            "ECDSA P-256",
        ),
        (
            "jose-ES256",
            "verify",
            timed(lambda: jose.verify_detached(tok, PAYLOAD, {"p": pk_pub}.get)),
            timed(lambda: raw_p_pub.verify(raw_p_sig, PAYLOAD, ec.ECDSA(hashes.SHA256()))),
            "ECDSA P-256",
        ),
        ("jose-ES256", "encrypt", timed(lambda: jose.encrypt(PAYLOAD, pk_pub)), timed(p_enc), "P-256 ECDH+AES-GCM"),
        ("jose-ES256", "decrypt", timed(lambda: jose.decrypt(jwe_tok, pk)), timed(p_dec), "P-256 ECDH+AES-GCM"),
    ]

    # sm: detached JWS SM2, JWE SM2-KA + SM4-GCM; raw = security.sm calls without JOSE
    smk = jose.generate_key("SM2", "s")
    sm_pub = smk.public()
    tok = jose.sign_detached(PAYLOAD, smk, "s", "SM2", {"iat": 1, "nonce": "n"})
    jwe_tok = jose.encrypt(PAYLOAD, sm_pub)
    raw_sm = sm.sm2_generate()
    raw_sm_sig = sm.sign(raw_sm, PAYLOAD)
    uid_sig = sm.sign(raw_sm, PAYLOAD, uid=b"PARTNER")
    sm4_key, sm4_nonce = os.urandom(16), os.urandom(12)
    sm4_ct = sm.sm4_gcm_seal(sm4_key, sm4_nonce, PAYLOAD)

    def sm_enc() -> bytes:
        z = sm.ecdh(sm.sm2_generate(), raw_sm.public_key)
        return sm.sm4_gcm_seal(sm.kdf(z, 16), os.urandom(12), PAYLOAD)

    eph_pub = sm.sm2_generate().public_key

    def sm_dec() -> bytes:
        sm.kdf(sm.ecdh(raw_sm, eph_pub), 16)
        return sm.sm4_gcm_open(sm4_key, sm4_nonce, sm4_ct)

    rows += [
        (
            "sm",
            "sign",
            timed(lambda: jose.sign_detached(PAYLOAD, smk, "s", "SM2", {"iat": 1, "nonce": "n"})),
            timed(lambda: sm.sign(raw_sm, PAYLOAD)),
            "SM2 (tongsuopy)",
        ),
        (
            "sm",
            "verify",
            timed(lambda: jose.verify_detached(tok, PAYLOAD, {"s": sm_pub}.get)),
            timed(lambda: sm.verify(raw_sm.public_key, PAYLOAD, raw_sm_sig)),
            "SM2 (tongsuopy)",
        ),
        ("sm", "encrypt", timed(lambda: jose.encrypt(PAYLOAD, sm_pub)), timed(sm_enc), "SM2 ECDH+SM4-GCM"),
        ("sm", "decrypt", timed(lambda: jose.decrypt(jwe_tok, smk)), timed(sm_dec), "SM2 ECDH+SM4-GCM"),
    ]

    extras = [
        ("AES-256-GCM encrypt only", timed(lambda: AESGCM(aes_key).encrypt(aes_nonce, PAYLOAD, b""))),
        ("SM4-GCM encrypt only", timed(lambda: sm.sm4_gcm_seal(sm4_key, sm4_nonce, PAYLOAD))),
        ("SM2 sign, custom uid (pure Python)", timed(lambda: sm.sign(raw_sm, PAYLOAD, uid=b"PARTNER"))),
        (
            "SM2 verify, custom uid (pure Python)",
            timed(lambda: sm.verify(raw_sm.public_key, PAYLOAD, uid_sig, b"PARTNER")),
        ),
        ("SM2 encrypt C1C3C2 (pure Python)", timed(lambda: sm.encrypt(raw_sm.public_key, PAYLOAD))),
    ]

    print(f"payload: {len(PAYLOAD)} bytes of JSON; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    print(f"{'suite':<14}{'op':<9}{'wrapped us':>12}{'raw us':>10}{'ratio':>8}  raw baseline")
    for suite, op, wrapped, raw, label in rows:
        print(f"{suite:<14}{op:<9}{wrapped:>12.1f}{raw:>10.1f}{wrapped / raw:>8.2f}  {label}")
    print()
    for label, us in extras:
        print(f"{label:<40}{us:>10.1f} us")


if __name__ == "__main__":
    main()
