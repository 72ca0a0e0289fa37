"""Composition root of the hub: builds the running hub from config, and the `hub` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn

import adapters  # noqa: F401 - registers the adapter kinds
import canonical
from adapters.base import AdapterContext, build
from gateway.app import create_app
from gateway.services import Services
from routes import bus
from routes.children import Children, PortInUse, check_port_free, nats_server_binary, write_nats_config
from routes.config import RoutingConfig
from routes.live import PauseSwitches
from routes.outbox import OutboxRelay
from routes.pipeline import Lane, Pipeline
from routes.retry import CircuitBreaker
from routes.settings import HubSettings, HubTuning
from security import jose
from security.institutions import Institutions, dev_keys_path
from security.owner_only import write_json
from security.signatures import NonceGuard, SignedRequests
from store import Store
from store.chain import ChainReport

SANDBOX_PREFIX = "sandbox:"
DEMO_SAMPLE = Path(__file__).resolve().parent / "docs" / "samples" / "invoice.json"


class StartupError(Exception):
    """The hub cannot start; the message says what to change."""


class _Server(uvicorn.Server):
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()  # the hub owns SIGINT / SIGTERM and stops uvicorn itself


class Hub:
    """One running hub instance: children, store, NATS, pipeline and gateway."""

    def __init__(self, settings: HubSettings, sandboxes: bool = True) -> None:
        self.settings, self.with_sandboxes = settings, sandboxes
        self.home = settings.home.resolve()
        self.tuning = HubTuning.load(settings.config_dir)
        self.routing = RoutingConfig.load(settings.config_dir / "routes.yaml")
        self.children = Children(self.home)
        self.endpoints: dict[str, str] = {}
        self.stopped = asyncio.Event()

    def resolve_url(self, url: str) -> str:
        if not url.startswith(SANDBOX_PREFIX):
            return url
        name = url.removeprefix(SANDBOX_PREFIX)
        if name not in self.endpoints:
            raise LookupError(f"sandbox partner {name!r} is not running (started without sandboxes?)")
        return self.endpoints[name]

    def _sandboxes(self, institutions: Institutions) -> dict[str, str]:
        """Every sandbox partner to start, with its kind: those listed, and those urls name."""
        urls = [str(v.url) for a in self.routing.adapters.values() for v in a.versions.values()]
        urls += [i.webhook.url for i in institutions.all() if i.webhook]
        named = {u.removeprefix(SANDBOX_PREFIX) for u in urls if u.startswith(SANDBOX_PREFIX)}
        return {**dict.fromkeys(sorted(named), "recorder"), **self.routing.sandboxes}

    def _lock(self) -> None:
        pidfile = self.home / "hub.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text() or 0)
            cmdline = Path(f"/proc/{pid}/cmdline")
            if pid != os.getpid() and cmdline.exists() and b"hub" in cmdline.read_bytes():
                raise StartupError(f"another hub (pid {pid}) runs on HUB_HOME={self.home}; stop it or set HUB_HOME")
        pidfile.write_text(str(os.getpid()))
        self.owns_home = True

    async def start(self) -> None:
        s = self.settings
        for sub in ("logs", "sandbox"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self._lock()
        self.settings.run_file.unlink(missing_ok=True)  # a killed hub's file must not point at dead ports
        self.children.reap_stale()
        try:
            check_port_free(s.http_port, "HUB_HTTP_PORT", s.http_host)
            if not s.nats_url:
                check_port_free(s.nats_port, "HUB_NATS_PORT")
        except PortInUse as exc:
            raise StartupError(str(exc)) from None
        nats_url = s.nats_url or await self._start_nats()
        institutions = Institutions.load(s.config_dir / "partners.yaml", self.home / "credentials.json")
        if self.with_sandboxes:
            for name, kind in self._sandboxes(institutions).items():
                self.endpoints[name] = self._start_sandbox(name, kind)
        self.store = await Store.open(s.database, self.tuning.journal.idempotency_days)
        self.nc = await bus.connect(nats_url)
        self.js = self.nc.jetstream()
        await bus.ensure_streams(self.js, self.tuning.nats.duplicate_window_s)
        kv = await bus.config_bucket(self.js)
        lanes = self._lanes(institutions)
        self.pipeline = Pipeline(self.js, self.store, self.routing, lanes)
        await self.pipeline.start()
        self.relay = OutboxRelay(self.js, self.store, lambda iid: _webhook_statuses(institutions, iid))
        self.relay.start()

        def apply(name: str, paused: bool) -> None:
            for lane in lanes.values():
                if lane.name == name:
                    (lane.paused.set if paused else lane.paused.clear)()

        self.switches = PauseSwitches(kv, apply)
        await self.switches.start(sorted(self.routing.adapters))
        self.admin_token = secrets.token_urlsafe(32)
        nonces = await NonceGuard.open(self.js)
        self.services = Services(
            self.store,
            self.nc,
            self.js,
            institutions,
            self.tuning,
            self.pipeline,
            self.admin_token,
            self._adapter_info,
            self._set_paused,
            nonces=nonces,
        )
        self.server = _Server(
            uvicorn.Config(
                create_app(self.services),
                host=s.http_host,
                port=s.http_port,
                log_level="warning",
                lifespan="off",
                access_log=False,
            )
        )
        self.server_task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.server_task.done():
                raise StartupError(f"the gateway could not listen on {s.http_host}:{s.http_port} (HUB_HTTP_PORT)")
            await asyncio.sleep(0.02)
        self.services.started = True
        self._write_run_file(nats_url)

    async def _start_nats(self) -> str:
        conf = write_nats_config(self.home, self.settings.nats_port, self.tuning.nats.sync_interval)
        self.children.spawn("nats-server", [nats_server_binary(), "-c", str(conf)])
        url = f"nats://127.0.0.1:{self.settings.nats_port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", self.settings.nats_port)
                w.close()
                return url
            except OSError:
                await asyncio.sleep(0.05)
        raise StartupError(f"nats-server did not start; see {self.home / 'logs' / 'nats-server.log'}")

    def _start_sandbox(self, name: str, kind: str) -> str:
        argv = [
            sys.executable,
            "-P",
            "-m",
            "sandbox",
            name,
            "--kind",
            kind,
            "--state",
            str(self.home / "sandbox" / name),
        ]
        proc = self.children.spawn(f"sandbox-{name}", argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise StartupError(f"sandbox {name} did not start; see {self.home / 'logs' / f'sandbox-{name}.log'}")
        return f"http://127.0.0.1:{json.loads(line)['port']}"

    def _lanes(self, institutions: Institutions) -> dict[tuple[str, str], Lane]:
        lanes = {}
        for name, cfg in self.routing.adapters.items():
            for version, vcfg in cfg.versions.items():
                settings: dict[str, Any] = vcfg.model_dump()
                if cfg.kind == "webhook":
                    settings["webhook_of"] = lambda iid: (
                        i.webhook.url if (i := institutions.get(iid)) and i.webhook else None
                    )
                adapter = build(cfg.kind, AdapterContext(name, version, settings, self.resolve_url))
                lanes[(name, version)] = Lane(name, version, adapter, cfg, CircuitBreaker(cfg.breaker))
        return lanes

    async def _adapter_info(self) -> list[dict[str, Any]]:
        out = []
        for name, cfg in self.routing.adapters.items():
            weights = next((r.weights for r in self.routing.routes if r.adapter == name), {})
            versions = []
            for version in cfg.versions:
                lane = self.pipeline.lanes[(name, version)]
                health = await lane.adapter.health()
                versions.append(
                    {
                        "version": version,
                        "weight": weights.get(version, 0),
                        "healthy": health.ok,
                        "detail": health.detail,
                        "breaker": lane.breaker.state.value,
                        "in_flight": lane.in_flight,
                    }
                )
            first = self.pipeline.lanes[(name, next(iter(cfg.versions)))]
            out.append(
                {
                    "name": name,
                    "kind": cfg.kind,
                    "category": type(first.adapter).category,
                    "paused": first.paused.is_set(),
                    "versions": versions,
                }
            )
        return out

    async def _set_paused(self, name: str, paused: bool, actor: str) -> None:
        await self.switches.set(name, paused)
        await self.store.audit(actor, "adapter.pause" if paused else "adapter.resume", name)

    def _write_run_file(self, nats_url: str) -> None:
        info = {
            "pid": os.getpid(),
            "home": str(self.home),
            "http_url": f"http://{self.settings.http_host}:{self.settings.http_port}",
            "nats_url": nats_url,
            "admin_token": self.admin_token,
            "sandboxes": self.endpoints,
            "children": {n: p.pid for n, p in self.children.procs.items()},
        }
        write_json(self.settings.run_file.resolve(), info)  # holds the admin token: owner only

    async def stop(self) -> None:
        """Stop pulling, finish or leave unacked what is in flight, then stop everything else."""
        if hasattr(self, "server"):
            self.server.should_exit = True
            await self.server_task
        if hasattr(self, "pipeline"):
            await self.pipeline.stop()
            await self.relay.stop()
            await self.switches.stop()
        if hasattr(self, "nc"):
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if hasattr(self, "store"):
            await self.store.close()
        if not getattr(self, "owns_home", False):
            return  # refused at start (another hub owns HUB_HOME): touch nothing of it
        self.children.stop_all()
        for name in ("run.json", "hub.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.home / name).unlink()


def _webhook_statuses(institutions: Institutions, institution_id: str) -> list[str]:
    inst = institutions.get(institution_id)
    return inst.webhook.statuses if inst and inst.webhook else []


async def serve(settings: HubSettings, sandboxes: bool, demo: bool) -> None:
    hub = Hub(settings, sandboxes)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await hub.start()
        print(
            f"hub running: console and API at {hub.services and _url(settings)}/  (health {_url(settings)}/healthz)",
            flush=True,
        )
        print(
            f"  HUB_HOME={hub.home}  NATS {hub.settings.nats_url or f'nats://127.0.0.1:{settings.nats_port}'}",
            flush=True,
        )
        for name, url in hub.endpoints.items():
            print(f"  sandbox {name}: {url}", flush=True)
        demo_task = asyncio.create_task(_demo_traffic(hub, stop)) if demo else None
        await stop.wait()
        if demo_task:
            await demo_task
    finally:
        await hub.stop()


def _url(settings: HubSettings) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


async def _demo_traffic(hub: Hub, stop: asyncio.Event) -> None:
    """--demo: a sample invoice every two seconds, submitted like an institution would."""
    from gateway.ingress import accept

    sample = json.loads(DEMO_SAMPLE.read_text())
    n = 0
    while not stop.is_set():
        n += 1
        sample["payload"]["invoice_no"] = f"DEMO-{int(time.time())}-{n}"
        env = canonical.parse_envelope({**sample, "source": "bank-a"})
        await accept(hub.store, hub.js, env)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


# ----------------------------------------------------------------------------- the CLI

app = typer.Typer(help="Trade-finance integration hub.", no_args_is_help=True, add_completion=False)
dlq_app = typer.Typer(help="Dead letters: list and replay.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandbox partners.", no_args_is_help=True)
adapters_app = typer.Typer(help="Adapters: list, pause, resume.", invoke_without_command=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
journal_app = typer.Typer(help="The journal.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(adapters_app, name="adapters")
app.add_typer(config_app, name="config")
app.add_typer(journal_app, name="journal")
FINAL_STATUSES = {"completed": 0, "rejected": 1, "dead_lettered": 1}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _run_info() -> dict[str, Any]:
    path = HubSettings().run_file
    if not path.exists():
        raise _fail(f"no running hub found ({path} is missing): start one with `hub run` or set HUB_HOME")
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def _admin() -> httpx.Client:
    info = _run_info()
    return httpx.Client(
        base_url=info["http_url"],
        headers={"authorization": f"Bearer {info['admin_token']}"},
        timeout=30,
        trust_env=False,
    )


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = body.get("detail", "")
            errors = "".join(f"\n  {e['loc']}: {e['rule']} {e.get('detail', '')}" for e in body.get("errors", []))
        except ValueError:
            detail, errors = response.text, ""
        raise _fail(f"error {response.status_code}: {detail}{errors}")
    return response.json()


def _print(value: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(value, default=str))
    elif isinstance(value, list):
        for row in value:
            typer.echo("  ".join(f"{k}={v}" for k, v in row.items() if not isinstance(v, (dict, list))))
    else:
        typer.echo(json.dumps(value, indent=2, default=str))


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="add live sample traffic")] = False,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="start no sandbox partners")] = False,
) -> None:
    """Start the hub with embedded NATS, journal, sandbox partners and the gateway."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "alembic"):  # one line per request or migration step: not for a hub
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(serve(HubSettings(), not no_sandbox, demo))
    except StartupError as exc:
        raise _fail(f"hub: {exc}") from None


@app.command()
def send(
    file: Annotated[str, typer.Argument(help="message file, or - for stdin")],
    as_: Annotated[str | None, typer.Option("--as", help="sandbox institution to send as")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
    wait: Annotated[float | None, typer.Option(help="seconds to wait for a final status")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Submit a message through the gateway as an institution."""
    info = _run_info()
    body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    creds = json.loads((Path(info["home"]) / "credentials.json").read_text())
    who = as_ or next(iter(creds))
    if who not in creds:
        raise _fail(f"no credentials for institution {who!r}; sandbox institutions: {', '.join(creds)}")
    is_json = body.lstrip()[:1] in (b"{", b"[")
    headers = {"x-api-key": creds[who], "content-type": "application/json" if is_json else "application/xml"}
    if body.lstrip()[:2] == b"{1":
        headers["content-type"] = "text/plain"  # SWIFT FIN
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    signing = dev_keys_path(Path(info["home"]) / "credentials.json")
    keys = json.loads(signing.read_text()) if signing.exists() else {}
    auth: httpx.Auth | None = SignedRequests(jose.import_jwk(keys[who]), creds[who]) if who in keys else None
    with httpx.Client(base_url=info["http_url"], timeout=30, trust_env=False, auth=auth) as client:
        accepted = _check(client.post("/v1/messages", content=body, headers=headers))
        if wait is None:
            _print(accepted, as_json)
            return
        deadline = time.monotonic() + wait
        while True:
            state = _check(client.get(accepted["status_url"], headers={"x-api-key": creds[who]}))
            if state["status"] in FINAL_STATUSES or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    _print(state, True if as_json else False)
    raise typer.Exit(FINAL_STATUSES.get(state["status"], 124))


@app.command()
def status(message_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Status history of one message."""
    with _admin() as client:
        _print(_check(client.get(f"/v1/messages/{message_id}")), as_json)


@sandbox_app.command("received")
def sandbox_received(
    partner: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    all_calls: Annotated[bool, typer.Option("--all", help="every call, not only effects")] = False,
) -> None:
    """What a sandbox partner received (its effects: message id, idempotency key, time)."""
    endpoints = _run_info()["sandboxes"]
    if partner not in endpoints:
        raise _fail(f"no sandbox partner {partner!r}; running: {', '.join(endpoints)}")
    rows = _check(
        httpx.get(f"{endpoints[partner]}/_sandbox/received" + ("?all=1" if all_calls else ""), trust_env=False)
    )
    _print(rows, as_json)


@dlq_app.command("list")
def dlq_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Dead-lettered messages with their reason."""
    with _admin() as client:
        _print(_check(client.get("/admin/dlq")), as_json)


@dlq_app.command("replay")
def dlq_replay(
    message_id: Annotated[str | None, typer.Argument()] = None, all_: Annotated[bool, typer.Option("--all")] = False
) -> None:
    """Send dead letters back to their adapter (keeps their idempotency key)."""
    if not message_id and not all_:
        raise _fail("name a message ID or --all", 2)
    with _admin() as client:
        ids = [message_id] if message_id else [m["id"] for m in _check(client.get("/admin/dlq"))]
        for mid in ids:
            _check(client.post(f"/admin/dlq/{mid}/replay"))
            typer.echo(f"replayed {mid}")


@adapters_app.callback()
def adapters_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Registered adapters with kind, versions, weights and health."""
    if ctx.invoked_subcommand:
        return
    with _admin() as client:
        rows = _check(client.get("/admin/adapters"))
    if as_json:
        _print(rows, True)
        return
    for a in rows:
        versions = ", ".join(
            f"{v['version']}={v['weight']}% {v['breaker']}{'' if v['healthy'] else ' UNHEALTHY'}" for v in a["versions"]
        )
        typer.echo(f"{a['name']:<16} {a['category']:<10} {a['kind']:<10} {'PAUSED ' if a['paused'] else ''}{versions}")


@adapters_app.command("pause")
def adapters_pause(name: str) -> None:
    """Stop delivering to one partner; its messages wait."""
    with _admin() as client:
        _check(client.post(f"/admin/adapters/{name}/pause"))
    typer.echo(f"{name} paused")


@adapters_app.command("resume")
def adapters_resume(name: str) -> None:
    """Resume delivery to a paused partner."""
    with _admin() as client:
        _check(client.post(f"/admin/adapters/{name}/resume"))
    typer.echo(f"{name} resumed")


@config_app.command("check")
def config_check() -> None:
    """Validate config/*.yaml and hub.toml without starting anything."""
    settings = HubSettings()
    try:
        HubTuning.load(settings.config_dir)
        routing = RoutingConfig.load(settings.config_dir / "routes.yaml")
        institutions = Institutions.load(settings.config_dir / "partners.yaml")
        from adapters.base import kinds

        unknown = sorted({a.kind for a in routing.adapters.values()} - set(kinds()))
        if unknown:
            raise ValueError(f"adapters: unknown kind(s) {', '.join(unknown)}; known: {', '.join(sorted(kinds()))}")
    except Exception as exc:
        raise _fail(f"config invalid: {exc}") from None
    typer.echo(
        f"config valid: {len(routing.adapters)} adapters, {len(routing.routes)} routes, "
        f"{len(institutions.all())} institutions"
    )


@journal_app.command("verify")
def journal_verify() -> None:
    """Recompute the journal's hash chains; exit 1 naming the first broken record."""

    async def verify() -> ChainReport:
        store = await Store.open(HubSettings().database)
        try:
            return await store.verify_chains()
        finally:
            await store.close()

    report = asyncio.run(verify())
    if not report.ok:
        raise _fail(f"journal broken: {report.broken} ({report.records} records verified before it)")
    typer.echo(f"journal verified: {report.records} records in {report.chains} chains")


@app.command()
def bench(
    seconds: Annotated[float, typer.Option(help="how long to publish")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Throughput and latency of the hub end to end, against a raw baseline in the same run."""
    import runpy

    script = Path(__file__).resolve().parent / "bench" / "hub_bench.py"
    if not script.exists():
        raise _fail("bench/hub_bench.py is not here: run `hub bench` from a checkout of the hub")
    runpy.run_path(str(script))["main"](seconds, as_json)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
