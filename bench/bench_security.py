"""What the security layer costs per message: `python bench/bench_security.py [--requests N]`.

1. In process, microseconds per message for each piece the hub runs on a message, next to the raw
   baseline of the same run (parsing the envelope JSON): verifying an inbound detached JWS (Ed25519,
   SM2), verifying a bearer token, sealing and opening the sensitive fields, and protecting an
   outbound call per suite (sign only; sign + encrypt).
2. End to end, through a real `hub run` (gateway, NATS nonce guard, journal): the mean time of a
   POST /v1/messages with an API key and no signature, against the same call signed (JWS verified,
   nonce taken in NATS KV) and against a bearer token plus signature, the calls interleaved so the
   machine's drift hits them alike. The difference is what request security adds at the gateway.
Nothing asserts on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_crypto import timed  # noqa: E402
from canonical import parse_envelope  # noqa: E402
from cli import dev_signer  # noqa: E402
from security import jose  # noqa: E402
from security.fieldcrypt import FieldSealer  # noqa: E402
from security.keystore import KeyStoreSettings  # noqa: E402
from security.outbound import PartnerProtection, Protector  # noqa: E402
from security.signatures import SignedRequests  # noqa: E402
from security.tokens import API_AUDIENCE, TokenIssuer  # noqa: E402

SAMPLE = json.loads((ROOT / "docs" / "samples" / "invoice.json").read_text())


def in_process() -> list[tuple[str, float]]:
    envelope = parse_envelope({**SAMPLE, "source": "bank-a"})
    body = envelope.to_bytes()
    rows: list[tuple[str, float]] = [("baseline: parse the envelope JSON", timed(lambda: json.loads(body)))]
    for kind, alg in (("Ed25519", "Ed25519"), ("SM2", "SM2")):
        key = jose.generate_key(kind, f"bench-{kind}")  # type: ignore[arg-type]
        token = jose.sign_detached(body, key, key.kid, alg, {"iat": 0, "nonce": "n" * 16})
        public = key.public()
        rows.append(
            (
                f"inbound JWS verify ({alg})",
                timed(lambda t=token, k=public: jose.verify_detached(t, body, lambda _kid: k)),
            )
        )
    token_key = jose.generate_key("Ed25519", "bench-tk")
    issuer = TokenIssuer(lambda: token_key.signer(), lambda: [token_key.public()])
    bearer = issuer.issue("bank-a", API_AUDIENCE, 300)
    rows.append(("bearer token verify (Ed25519 JWT)", timed(lambda: issuer.verify(bearer, API_AUDIENCE))))
    data = json.loads(body)
    for cipher in ("A256GCM", "SM4GCM"):
        sealer = FieldSealer.from_kek(os.urandom(32), "k1", (), cipher)  # type: ignore[arg-type]
        rows.append((f"seal + open sensitive fields ({cipher})", timed(lambda f=sealer: f.open(f.seal(data)))))
    for suite, sign_kind, enc_kind in (("jose", "Ed25519", "X25519"), ("sm", "SM2", "SM2")):
        signer = jose.generate_key(sign_kind, f"bench-rs-{suite}")  # type: ignore[arg-type]
        recipient = jose.generate_key(enc_kind, f"bench-pe-{suite}")  # type: ignore[arg-type]
        plain = Protector.for_partner(PartnerProtection(suite=suite), signer)  # type: ignore[arg-type]
        sealed_p = Protector.for_partner(
            PartnerProtection(suite=suite, encrypt=True, recipient=recipient.public_jwk()),  # type: ignore[arg-type]
            signer,
        )
        rows.append((f"outbound sign ({suite})", timed(lambda p=plain: p.protect(body, "application/json"))))
        rows.append(
            (f"outbound sign + encrypt ({suite})", timed(lambda p=sealed_p: p.protect(body, "application/json")))
        )
    return rows


def start_hub(work: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    from bench.hub_bench import free_port

    home = work / "home"
    env = {**os.environ, "HUB_HOME": str(home), "HUB_HTTP_PORT": str(free_port()), "HUB_NATS_PORT": str(free_port())}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hub"), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (home / "run.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("hub did not start")
        time.sleep(0.1)
    return proc, json.loads((home / "run.json").read_text())


def end_to_end(requests: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory(prefix="hub-sec-bench-") as tmp:
        proc, info = start_hub(Path(tmp))
        try:
            home = Path(info["home"])
            creds = json.loads((home / "credentials.json").read_text())
            key = dev_signer(home, "bank-a", KeyStoreSettings())
            assert key is not None
            with httpx.Client(base_url=info["http_url"], trust_env=False) as anon:
                token = anon.post(
                    "/v1/token", data={"grant_type": "client_credentials"}, auth=("bank-a", creds["bank-a"])
                ).json()["access_token"]
            clients: dict[str, httpx.Client] = {
                "API key, unsigned (platform-x)": httpx.Client(headers={"x-api-key": creds["platform-x"]}),
                "API key + JWS + nonce (bank-a)": httpx.Client(auth=SignedRequests(key, creds["bank-a"])),
                "bearer token + JWS + nonce (bank-a)": httpx.Client(auth=SignedRequests(key, token)),
            }
            totals = dict.fromkeys(clients, 0.0)
            for n in range(requests):
                for name, client in clients.items():  # interleaved: drift hits every variant alike
                    body = json.loads(json.dumps(SAMPLE))
                    body["payload"]["invoice_no"] = f"SEC-{n}-{len(name)}"
                    started = time.perf_counter()
                    answer = client.post(f"{info['http_url']}/v1/messages", json=body)
                    totals[name] += time.perf_counter() - started
                    if answer.status_code != 202:
                        raise RuntimeError(f"{name}: {answer.status_code} {answer.text}")
            for client in clients.values():
                client.close()
            return [(name, total / requests * 1e6) for name, total in totals.items()]
        finally:
            proc.terminate()
            proc.wait(30)


def report(rows: list[tuple[str, float]], baseline: float, unit: Callable[[float], str]) -> None:
    for name, us in rows:
        print(f"  {name:<44} {unit(us):>12}   x{us / baseline:6.1f} of baseline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="POSTs per variant, end to end")
    args = parser.parse_args()
    print("in process, per message:")
    rows = in_process()
    report(rows, rows[0][1], lambda us: f"{us:,.1f} us")
    print(f"end to end through the gateway, mean of {args.requests} POST /v1/messages per variant:")
    e2e = end_to_end(args.requests)
    report(e2e, e2e[0][1], lambda us: f"{us / 1000:,.2f} ms")
    base = e2e[0][1]
    for name, us in e2e[1:]:
        print(f"  request security adds {(us - base) / 1000:+.2f} ms per call ({name})")


if __name__ == "__main__":
    main()
