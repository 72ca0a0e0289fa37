"""TLS on loopback: the gateway's protocol tells the app which institution a client certificate
belongs to, refuses what it must; a sandbox partner serves HTTPS with mutual TLS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from gateway.tls import peer_institution, uvicorn_options
from security.tls import ClientCerts, DevPki, PartnerTlsSettings, ServerTls, client_context, ensure_dev_pki

ROOT = Path(__file__).resolve().parents[2]
# What a client sees when the server ends the TLS handshake (or never speaks TLS with it).
REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
TLS_1_2, TLS_1_3 = 0x0303, 0x0304


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki") / "tls", ["bank-a"])


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """Another CA, which issues a certificate that also claims to be bank-a."""
    return ensure_dev_pki(tmp_path_factory.mktemp("stranger") / "tls", ["bank-a"])


# ----------------------------------------------------------------------------- the gateway


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        return {"institution": peer_institution(request), "tls": request.scope.get("extensions", {}).get("tls")}

    return app


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()  # the test runner keeps its own signal handlers


@contextlib.asynccontextmanager
async def gateway(tls: ServerTls | None) -> AsyncIterator[str]:
    """uvicorn serving the echo app with the hub's options, on a loopback port bound up front."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(echo_app(), log_level="warning", lifespan="off", access_log=False, **uvicorn_options(tls))
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not task.done(), "uvicorn stopped during startup"
                await asyncio.sleep(0.01)
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def served(pki: DevPki, client_certs: ClientCerts) -> ServerTls:
    return ServerTls(pki.server.cert, pki.server.key, pki.ca, client_certs, pki)


def client(verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=verify, timeout=10, trust_env=False)


@pytest.mark.parametrize("mode", ["optional", "required"])
async def test_the_app_sees_the_institution_of_the_client_certificate(pki: DevPki, mode: ClientCerts) -> None:
    bank = pki.institutions["bank-a"]
    async with gateway(served(pki, mode)) as url, client(client_context(pki.ca, bank.cert, bank.key)) as http:
        answer = (await http.get(f"{url}/whoami")).json()
    assert answer["institution"] == "bank-a"
    tls = answer["tls"]
    assert tls["client_cert_name"] == "CN=bank-a"
    assert tls["client_cert_chain"][0].strip() == bank.cert.read_text().strip()
    assert tls["server_cert"].strip() == pki.server.cert.read_text().strip()
    assert tls["tls_version"] in (TLS_1_2, TLS_1_3)
    assert tls["cipher_suite"] in (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0xCCA9)
    assert tls["client_cert_error"] is None


async def test_optional_mode_admits_a_client_without_certificate(pki: DevPki) -> None:
    async with gateway(served(pki, "optional")) as url, client(client_context(pki.ca)) as http:
        answer = (await http.get(f"{url}/whoami")).json()
    assert answer["institution"] is None
    assert answer["tls"]["client_cert_chain"] == [] and answer["tls"]["client_cert_name"] is None


async def test_the_hub_certificate_names_no_institution(pki: DevPki) -> None:
    hub = pki.hub_client
    async with gateway(served(pki, "required")) as url, client(client_context(pki.ca, hub.cert, hub.key)) as http:
        answer = (await http.get(f"{url}/whoami")).json()
    assert answer["institution"] is None and answer["tls"]["client_cert_name"] == "CN=hub"


async def test_required_mode_refuses_a_client_without_certificate(pki: DevPki) -> None:
    async with gateway(served(pki, "required")) as url, client(client_context(pki.ca)) as http:
        with pytest.raises(REFUSED):
            await http.get(f"{url}/whoami")


@pytest.mark.parametrize("mode", ["optional", "required"])
async def test_a_certificate_from_an_unknown_ca_is_refused(pki: DevPki, stranger: DevPki, mode: ClientCerts) -> None:
    forged = stranger.institutions["bank-a"]
    async with gateway(served(pki, mode)) as url, client(client_context(pki.ca, forged.cert, forged.key)) as http:
        with pytest.raises(REFUSED):
            await http.get(f"{url}/whoami")


async def test_a_plain_http_client_gets_nothing_from_the_tls_port(pki: DevPki) -> None:
    async with gateway(served(pki, "optional")) as url, client() as http:
        with pytest.raises(REFUSED):
            await http.get(url.replace("https://", "http://") + "/whoami")


async def test_plain_http_carries_no_tls_extension() -> None:
    async with gateway(None) as url, client() as http:
        answer = (await http.get(f"{url}/whoami")).json()
    assert answer == {"institution": None, "tls": None}


# ----------------------------------------------------------------------------- a sandbox with TLS


@dataclass
class Sandbox:
    proc: subprocess.Popen[bytes]
    startup: dict[str, Any]

    @property
    def url(self) -> str:
        return f"{self.startup.get('scheme', 'http')}://127.0.0.1:{self.startup['port']}"


def start_sandbox(state: Path, *tls_args: str) -> Sandbox:
    argv = [sys.executable, "-P", "-m", "sandbox", "demo", "--kind", "recorder", "--state", str(state), *tls_args]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)  # the startup line, or give up
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        proc.wait(10)
        raise RuntimeError(f"sandbox did not start: {proc.stderr.read().decode()[-2000:]}")
    return Sandbox(proc, json.loads(line))


def stop_sandbox(sandbox: Sandbox) -> None:
    sandbox.proc.terminate()
    try:
        sandbox.proc.wait(10)
    except subprocess.TimeoutExpired:
        sandbox.proc.kill()
        sandbox.proc.wait(10)
    for stream in (sandbox.proc.stdout, sandbox.proc.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="module")
def mtls_sandbox(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tls = ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key), "--tls-client-ca", str(pki.ca)]
    sandbox = start_sandbox(tmp_path_factory.mktemp("sandbox") / "demo", *tls)
    yield sandbox
    stop_sandbox(sandbox)


def post(url: str, verify: ssl.SSLContext | bool, key: str) -> httpx.Response:
    body = {"id": f"msg-{key}", "correlation_id": f"corr-{key}"}
    with httpx.Client(verify=verify, timeout=10, trust_env=False) as http:
        return http.post(f"{url}/", json=body, headers={"idempotency-key": key})


def test_the_sandbox_announces_https(mtls_sandbox: Sandbox) -> None:
    assert mtls_sandbox.startup["scheme"] == "https" and mtls_sandbox.startup["name"] == "demo"


def test_the_sandbox_answers_the_hub_client_certificate(pki: DevPki, mtls_sandbox: Sandbox) -> None:
    hub = client_context(pki.ca, pki.hub_client.cert, pki.hub_client.key)
    assert post(mtls_sandbox.url, hub, "k-hub").status_code == 200
    with httpx.Client(verify=hub, timeout=10, trust_env=False) as http:
        received = http.get(f"{mtls_sandbox.url}/_sandbox/received").json()
    assert [r["idempotency_key"] for r in received] == ["k-hub"]


def test_the_partner_settings_context_is_what_the_sandbox_wants(pki: DevPki, mtls_sandbox: Sandbox) -> None:
    assert post(mtls_sandbox.url, PartnerTlsSettings().context(pki), "k-partner").status_code == 200


def test_the_sandbox_refuses_a_client_without_certificate(pki: DevPki, mtls_sandbox: Sandbox) -> None:
    with pytest.raises(REFUSED):
        post(mtls_sandbox.url, client_context(pki.ca), "k-anonymous")


def test_the_sandbox_refuses_a_certificate_from_an_unknown_ca(
    pki: DevPki, stranger: DevPki, mtls_sandbox: Sandbox
) -> None:
    forged = stranger.hub_client
    with pytest.raises(REFUSED):
        post(mtls_sandbox.url, client_context(pki.ca, forged.cert, forged.key), "k-forged")


def test_the_sandbox_refuses_plain_http(mtls_sandbox: Sandbox) -> None:
    with pytest.raises(REFUSED):
        post(mtls_sandbox.url.replace("https://", "http://"), True, "k-plain")


def test_without_a_client_ca_the_sandbox_serves_https_to_anyone(pki: DevPki, tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "demo", "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key))
    try:
        assert post(sandbox.url, client_context(pki.ca), "k-open").status_code == 200
    finally:
        stop_sandbox(sandbox)


def test_plain_mode_is_unchanged(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "demo")
    try:
        assert set(sandbox.startup) == {"name", "port"}
        assert post(sandbox.url, True, "k-plain").status_code == 200
    finally:
        stop_sandbox(sandbox)


def test_a_certificate_without_key_is_a_usage_error(pki: DevPki, tmp_path: Path) -> None:
    argv = [sys.executable, "-P", "-m", "sandbox", "demo", "--state", str(tmp_path), "--tls-cert", str(pki.server.cert)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--tls-cert and --tls-key go together" in done.stderr
