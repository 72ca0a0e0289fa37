"""SOAP calls per second through the hub's soap adapter against the letter-of-credit sandbox.

Plain script: `python bench/bench_soap.py [--seconds 3] [--concurrency 1,8]`. The sandbox runs as its own
process on loopback (as `hub run` starts it). Each call is QueryCreditStatus: the adapter renders it with
zeep, adds a fresh WS-Security header (UsernameToken digest, Timestamp, ES256 signature over Body and
Timestamp), posts it, checks the partner's signed answer and reads it back with zeep. The raw baseline, in
the same run, posts envelopes secured beforehand (distinct nonces, the sandbox refuses replays) with a bare
httpx client: the difference is what the adapter's own work costs on the hub's side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters import AdapterContext, build  # noqa: E402
from adapters.soap import SoapAdapter  # noqa: E402
from canonical.envelope import Envelope  # noqa: E402
from canonical.soap_partners import LcIssue, LcStatusQuery  # noqa: E402
from security import jose  # noqa: E402
from security.outbound import HUB_JWKS_FILE, publish_jwks  # noqa: E402

PASSWORD = "bench-password"
HUB_KEY = jose.generate_key("P-256", "bench-hub-p256")


async def rate(call: Callable[[int], Awaitable[bool]], seconds: float, concurrency: int) -> float:
    """Calls per second of `call(n)` by `concurrency` workers; a call answering False ends its worker."""
    for n in range(5):
        await call(n)
    done, counter, start = 0, iter(range(5, 10**9)), time.perf_counter()

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() - start < seconds:
            if not await call(next(counter)):
                return
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def raw_rate(url: str, secured: list[tuple[bytes, dict[str, str]]], seconds: float, concurrency: int) -> float:
    """The same envelopes, secured beforehand, posted with a bare httpx client (no render, sign, verify, read)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as raw:

        async def post(n: int) -> bool:
            if n >= len(secured):
                return False
            body, headers = secured[n]
            response = await raw.post(url, content=body, headers={**headers, "idempotency-key": f"raw-{n}"})
            assert response.status_code == 200, response.text[:200]
            return True

        return await rate(post, seconds, concurrency)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,8")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-soap-"))
    publish_jwks(state / HUB_JWKS_FILE, [HUB_KEY])
    env = os.environ | {"SANDBOX_SOAP_PASSWORD": PASSWORD, "BENCH_SOAP_PASSWORD": PASSWORD}
    os.environ["BENCH_SOAP_PASSWORD"] = PASSWORD
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "lc-bank", "--kind", "soap-lc-bank", "--state", str(state)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert sandbox.stdout is not None
        url = f"http://127.0.0.1:{json.loads(sandbox.stdout.readline())['port']}"
        settings = {
            "url": url,
            "timeout_s": 10,
            "wsdl": "adapters/soap/wsdl/letter_of_credit.wsdl",
            "service": "LetterOfCredit",
            "port": "LetterOfCreditSoap11",
            "path": "/lc",
            "operations": {"trade.lc_issue": "IssueCredit", "trade.lc_status_query": "QueryCreditStatus"},
            "username": "hub",
            "password_env": "BENCH_SOAP_PASSWORD",
        }
        ctx = AdapterContext("lc-bank", "v1", settings, lambda u: u, document_signer=lambda suite: HUB_KEY.signer())
        adapter = build("soap", ctx)
        assert isinstance(adapter, SoapAdapter)
        issue = LcIssue(
            lc_reference="LC-BENCH-1",
            applicant="A",
            beneficiary="B",
            currency="USD",
            amount=Decimal("10.00"),
            expiry_date=date(2030, 1, 1),
        )
        await adapter.send(adapter.render(Envelope(type="trade.lc_issue", source="b", destination="d", payload=issue)))
        query = Envelope(
            type="trade.lc_status_query", source="b", destination="d", payload=LcStatusQuery(lc_reference="LC-BENCH-1")
        )
        outbound = adapter.render(query)
        results: dict[str, float] = {}
        for concurrency in (int(c) for c in args.concurrency.split(",")):

            async def through_adapter(_n: int) -> bool:
                # A new message each time: the same Idempotency-Key would be answered from the partner's memory.
                await adapter.send(adapter.render(query))
                return True

            results[f"adapter_c{concurrency}"] = await rate(through_adapter, args.seconds, concurrency)
            count = int(results[f"adapter_c{concurrency}"] * args.seconds * 4) + 50
            secured = [adapter.wire(outbound) for _ in range(count)]  # distinct nonces: no replays
            results[f"raw_httpx_c{concurrency}"] = await raw_rate(outbound.target, secured, args.seconds, concurrency)
        await adapter.stop()
        for name, value in results.items():
            print(f"{name:>18}: {value:8.1f} calls/s")
        print(json.dumps({k: round(v, 1) for k, v in results.items()}))
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    asyncio.run(main())
