"""Composition root of the hub: builds the running hub from config, and the `hub` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

import adapters  # noqa: F401 - registers the adapter kinds
import canonical
from adapters.base import AdapterContext, PaymentChannel, Protect, build
from adapters.bureaus import BureauAdapter
from adapters.carriers import CarrierAdapter
from desk.ageing import PaymentAgeing
from desk.calendar import ChannelPolicy, utc_now
from desk.credit import CreditDesk
from desk.customs import CustomsDesk, GoodsCatalogue
from desk.logistics import ShipmentBook, TrackingPoller, adapter_lanes
from gateway.app import create_app
from gateway.ingress import accept
from gateway.services import Services
from gateway.tls import uvicorn_options
from routes import bus, gray
from routes.canary import CanaryAnalysis
from routes.children import (
    Children,
    PortInUse,
    StoreEncryptionMismatch,
    check_port_free,
    check_store_encryption,
    check_streams_loaded,
    nats_server_binary,
    write_nats_config,
)
from routes.config import Route, RoutingConfig, validate_routes
from routes.lease import LeaderLease
from routes.live import InstitutionDirectory, PauseSwitches, RouteTable
from routes.outbox import OutboxRelay
from routes.pipeline import Lane, Pipeline
from routes.retry import CircuitBreaker
from routes.security_jobs import SecurityJobs
from routes.settings import HubSettings, HubTuning
from security import jose
from security.fieldcrypt import FieldSealer
from security.file_keys import load_kek
from security.institutions import Institutions
from security.keystore import (
    HUB,
    CurrentSigner,
    KeyStoreError,
    Purpose,
    Suite,
    keys_directory,
    open_keystore,
)
from security.masking import install_masking
from security.nats_users import (
    DEV_CREDENTIALS,
    ServicesConfigError,
    derive_jetstream_key,
    ensure_event_consumers,
    hub_nats_access,
)
from security.origin import IngressSeal
from security.outbound import (
    CALLBACK_FILE,
    HUB_JWKS_FILE,
    PARTNER_JWKS_FILE,
    ProtectionConfigError,
    ProtectionError,
    Protector,
    publish_jwks,
)
from security.owner_only import write_json
from security.signatures import NonceGuard
from security.tls import DEFAULT_HOSTS, DevPki, ServerTls, TlsError, ensure_dev_pki
from security.tokens import TokenIssuer
from store import Store
from store.approvals import Approvals
from store.operators import Operators

SANDBOX_PREFIX = "sandbox:"
log = logging.getLogger("hub")
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
        self.tls: ServerTls | None = None  # the gateway's HTTPS, None: plain HTTP
        self.dev_pki: DevPki | None = None  # what sandboxes serve with when the hub runs with TLS
        self.sandbox_jwks: dict[str, dict[str, Any]] = {}  # sandbox partners' public keys
        self._sandbox_names: list[str] = []
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
            self.nats_access = hub_nats_access(self.home, s.config_dir)
        except (PortInUse, ServicesConfigError) as exc:
            raise StartupError(str(exc)) from None
        self._open_keys()
        nats_url = s.nats_url or await self._start_nats()
        institutions = Institutions.load(
            s.config_dir / "partners.yaml",
            self.home / "credentials.json",
            dev_keys=lambda iid: self.keys.verifying_keys(iid, Purpose.REQUEST_SIGNING),
        )
        for inst in institutions.all():
            if inst.sandbox and not inst.jwks:  # the hub holds sandbox institutions' keys, for `hub send`
                self.keys.ensure(inst.id, Purpose.REQUEST_SIGNING, inst.suite)
        gateway_options, partner_tls = self._tls(institutions)
        if self.with_sandboxes:
            # All at once, then each one's port: a sandbox takes a second or two to import and bind.
            started = {name: self._spawn_sandbox(name, kind) for name, kind in self._sandboxes(institutions).items()}
            for name, proc in started.items():
                self._sandbox_names.append(name)
                self.endpoints[name] = self._sandbox_endpoint(name, proc)
        sec = self.tuning.security
        sealer = FieldSealer.from_kek(self.kek.key, sec.field_key_id, sec.field_retired_key_ids, sec.field_cipher)
        journal = self.tuning.journal
        self.store = await Store.open(s.database, journal.idempotency_days, journal.chain_hash, sealer=sealer)
        self.operators, self.approvals = Operators(self.store), Approvals(self.store)
        self.first_admin = await self.operators.ensure_first_admin()
        if self.first_admin:  # shown once: the password goes to an owner-only file, never to a log
            write_json(self.home / "initial-admin.json", {"name": self.first_admin[0], "password": self.first_admin[1]})
        try:
            self.nc = await bus.connect(nats_url, **self._nats_login())
        except bus.NatsAuthRefused as exc:
            raise StartupError(str(exc)) from None
        self.js = self.nc.jetstream()
        if not s.nats_url:
            try:  # before any stream is created: a store opened with the wrong key would be replaced
                check_streams_loaded(self.home, [i.config.name or "" for i in await self.js.streams_info()])
            except StoreEncryptionMismatch as exc:
                raise StartupError(str(exc)) from None
        await bus.ensure_streams(self.js, self.tuning.nats.duplicate_window_s)
        kv = await bus.config_bucket(self.js)
        await ensure_event_consumers(self.js, self.nats_access.services)
        self.directory = InstitutionDirectory(kv, institutions)
        await self.directory.start(institutions.all())
        lanes = self._lanes(institutions, partner_tls)
        self.seal = IngressSeal.from_kek(self.kek.key)
        services = {svc.id: svc for svc in self.nats_access.services}
        self.pipeline = Pipeline(
            self.js,
            self.store,
            self.routing,
            lanes,
            self.seal,
            lambda source, message_type: source in services and services[source].may_publish(message_type),
            hold_recheck_s=self.tuning.payments.hold_recheck_s,
        )
        self.route_table = RouteTable(
            kv, lambda value: validate_routes(value, self.routing.adapters), self._apply_routes, self._invalid_routes
        )
        await self.route_table.start(self.routing.routes)
        await self.pipeline.start()
        self.relay = OutboxRelay(self.js, self.store, lambda iid: _webhook_statuses(institutions, iid), self.seal)
        self.relay.start()

        def apply(name: str, paused: bool) -> None:
            for lane in lanes.values():
                if lane.name == name:
                    (lane.paused.set if paused else lane.paused.clear)()

        self.switches = PauseSwitches(kv, apply)
        await self.switches.start(sorted(self.routing.adapters))
        self.admin_token = secrets.token_urlsafe(32)
        nonces = await NonceGuard.open(self.js)
        tokens = TokenIssuer(
            lambda: self.keys.signer(HUB, Purpose.TOKENS, Suite.JOSE),
            lambda: self.keys.verifying_keys(HUB, Purpose.TOKENS),
        )
        self.security_jobs = SecurityJobs(
            self.js,
            self.store,
            self.keys,
            self.approvals,
            await LeaderLease.open(self.js, "security-jobs"),
            journal.checkpoint_interval_s,
            self.tuning.keys.warn_days,
            lambda: self.dev_pki.certificates() if self.dev_pki else [],
        )
        self.security_jobs.start()
        self.canary_lease = await LeaderLease.open(self.js, "canary-analysis")
        self.canary = CanaryAnalysis(
            self.store,
            lambda: self.route_table.routes,
            self._canary_rollback,
            self.canary_lease.held,
            self.routing.canary,
        )
        self.canary.start()
        self.ageing = PaymentAgeing(
            self.js,
            self.store,
            self._payment_channels,
            await LeaderLease.open(self.js, "payment-ageing"),
            self.tuning.payments.ageing_interval_s,
            utc_now,
        )
        self.ageing.start()
        self.customs = CustomsDesk(
            self.js,
            self.store,
            self.tuning.customs,
            GoodsCatalogue.load(s.config_dir / self.tuning.customs.goods_file),
            lambda env: accept(self.store, self.js, env, self.seal),
            lambda iid: bool((inst := institutions.get(iid)) and inst.webhook),
            await LeaderLease.open(self.js, "customs-desk"),
        )
        await self.customs.start()
        self.tracking = TrackingPoller(
            ShipmentBook(self.store),
            lambda: adapter_lanes(self.pipeline.lanes, CarrierAdapter),
            self.tuning.logistics,
            await LeaderLease.open(self.js, "carrier-polling"),
        )
        self.tracking.start()
        subject_key = hmac.new(self.kek.key, b"tradehub credit subjects", hashlib.sha256).digest()
        self.credit = CreditDesk(
            self.store,
            lambda: adapter_lanes(self.pipeline.lanes, BureauAdapter),
            self.tuning.credit,
            sealer,
            subject_key,
        )
        callback_keys = self._callback_keys()
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
            tokens=tokens,
            keys=self.keys,
            directory=self.directory,
            on_keys_rotated=self._publish_hub_jwks,
            operators=self.operators,
            approvals=self.approvals,
            checkpoint=self.security_jobs.run_once,
            seal=self.seal,
            routes=self.route_table,
            partner_keys=lambda adapter: callback_keys.get(adapter, []),
        )
        self.services.extra.update(logistics=self.tracking, credit=self.credit)
        self.server = _Server(
            uvicorn.Config(
                create_app(self.services),
                host=s.http_host,
                port=s.http_port,
                log_level="warning",
                lifespan="off",
                access_log=False,
                **gateway_options,
            )
        )
        install_masking()  # after uvicorn.Config, which installs its own handlers
        self.server_task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.server_task.done():
                raise StartupError(f"the gateway could not listen on {s.http_host}:{s.http_port} (HUB_HTTP_PORT)")
            await asyncio.sleep(0.02)
        self.services.started = True
        self._publish_callback_urls()
        self._write_run_file(nats_url)

    def _payment_channels(self) -> dict[tuple[str, str], tuple[PaymentChannel, ChannelPolicy]]:
        """The running payment channels with their hours and calendars (for the ageing job)."""
        return {
            key: (lane.adapter, lane.config.channel)
            for key, lane in self.pipeline.lanes.items()
            if isinstance(lane.adapter, PaymentChannel) and lane.config.channel is not None
        }

    def _callback_keys(self) -> dict[str, list[jose.HubKey]]:
        """The keys each adapter's partner signs its callbacks with: configured, or those its sandbox
        publishes. Read once: adapter definitions and sandbox keys do not change while the hub runs."""
        out: dict[str, list[jose.HubKey]] = {}
        for name, cfg in self.routing.adapters.items():
            jwks = list(cfg.partner_jwks)
            for version in cfg.versions.values():
                url = str(version.url)
                if url.startswith(SANDBOX_PREFIX):
                    jwks += self.sandbox_jwks.get(url.removeprefix(SANDBOX_PREFIX), {}).get("keys", [])
            try:
                out[name] = [jose.import_jwk(k) for k in jwks if k.get("use") != "enc" and k.get("crv") != "X25519"]
            except jose.JoseError as exc:
                raise StartupError(f"adapters.{name}.partner_jwks: {exc}") from None
        return out

    def _publish_callback_urls(self) -> None:
        """Where each sandbox network pushes its answers: the callback URL of the adapter calling it."""
        host = "127.0.0.1" if self.settings.http_host in ("0.0.0.0", "::") else self.settings.http_host
        base = _url(self.settings.model_copy(update={"http_host": host}), self.tls is not None)
        cafile = str(self.dev_pki.ca) if self.dev_pki is not None else None
        for name, cfg in self.routing.adapters.items():
            for version in cfg.versions.values():
                sandbox = str(version.url).removeprefix(SANDBOX_PREFIX)
                if str(version.url).startswith(SANDBOX_PREFIX) and sandbox in self._sandbox_names:
                    target = {"url": f"{base}/v1/callbacks/{name}", "cafile": cafile}
                    write_json(self.home / "sandbox" / sandbox / CALLBACK_FILE, target)

    def _apply_routes(self, routes: list[Route]) -> None:
        self.pipeline.routing = self.pipeline.routing.model_copy(update={"routes": routes})

    async def _canary_rollback(self, route: str, candidate: str, reason: str, figures: dict[str, Any]) -> None:
        """Canary analysis found `candidate` worse than the stable version: withdraw it, audit, alert."""
        before = self.route_table.routes
        changed = gray.rollback(before, route, candidate)
        # A conflict propagates: canary analysis logs it and judges the routes then in force next round.
        revision = await self.route_table.set(changed, self.route_table.latest)
        detail = {"diff": gray.diff(before, changed), "rolled_back": candidate, "reason": reason, "figures": figures}
        await self.store.audit("canary", "routes.changed", str(revision), detail)
        await bus.publish_alert(
            self.js, "critical", "canary_rollback", route=route, version=candidate, reason=reason, figures=figures
        )
        log.warning("canary: %s rolled back on route %s: %s", candidate, route, reason)

    async def _invalid_routes(self, revision: int, error: str) -> None:
        await bus.publish_alert(self.js, "critical", "config_invalid", key="routes", revision=revision, error=error)
        await self.store.audit("hub", "routes.invalid", str(revision), {"error": error[:2000]})

    def _open_keys(self) -> None:
        """The key store, with every key the hub signs, decrypts and checkpoints with."""
        settings = self.tuning.keys
        try:
            self.kek = load_kek(keys_directory(settings, self.home))
            if self.kek.beside_data and self.tuning.security.mode == "production":
                raise KeyStoreError(
                    f"production mode refuses a key-encryption key stored beside the data ({self.kek.source}): "
                    "set HUB_KEK or HUB_KEK_FILE"
                )
            self.keys = open_keystore(settings, self.home, kek=self.kek)
            suites = (Suite.JOSE, Suite.SM) if settings.backend == "file" else (Suite.JOSE,)
            for purpose in Purpose:
                for suite in suites:
                    self.keys.ensure(HUB, purpose, suite)
        except KeyStoreError as exc:
            raise StartupError(f"keys: {exc}") from None

    def _publish_hub_jwks(self) -> None:
        """Sandbox partners verify the hub's signatures with these (rewritten after a rotation)."""
        for name in self._sandbox_names:
            publish_jwks(self.home / "sandbox" / name / HUB_JWKS_FILE, self._signing_keys())

    def _signing_keys(self) -> list[jose.HubKey]:
        """What partners verify the hub's signatures with: on calls (X-Hub-Signature) and on documents (XMLDSig)."""
        return [
            *self.keys.verifying_keys(HUB, Purpose.REQUEST_SIGNING),
            *self.keys.verifying_keys(HUB, Purpose.DOCUMENT_SIGNING),
        ]

    def _tls(self, institutions: Institutions) -> tuple[dict[str, Any], ssl.SSLContext]:
        """The gateway's uvicorn TLS options and the context for partner calls, from hub.toml."""
        required = [i.id for i in institutions.all() if i.mtls == "required"]
        try:
            host = self.settings.http_host
            hosts = DEFAULT_HOSTS if host in ("0.0.0.0", "::") else (*DEFAULT_HOSTS, host)
            dev_ids = [i.id for i in institutions.all() if i.sandbox]
            self.tls = self.tuning.gateway.tls.server_tls(self.home, dev_ids, hosts)
            if self.tls is not None:  # sandboxes speak TLS too, always with the dev PKI
                self.dev_pki = self.tls.dev or ensure_dev_pki(self.home / "tls", dev_ids, hosts)
            if required and (self.tls is None or self.tls.client_certs == "none"):
                raise TlsError(
                    f"institutions {', '.join(required)} set mtls: required, but [gateway.tls] is off or "
                    'client_certs = "none": enable it with client_certs = "optional" or "required"'
                )
            return uvicorn_options(self.tls), self.tuning.tls.context(self.dev_pki)
        except TlsError as exc:
            raise StartupError(f"TLS: {exc}") from None

    def _nats_login(self) -> dict[str, Any]:
        """Embedded: the generated hub user. External NATS: HUB_NATS_USER/HUB_NATS_PASSWORD or HUB_NATS_NKEY_SEED."""
        s = self.settings
        if not s.nats_url:
            return {"user": self.nats_access.hub_user, "password": self.nats_access.hub_password}
        return {"user": s.nats_user, "password": s.nats_password, "nkeys_seed": s.nats_nkey_seed}

    def _jetstream_key(self) -> str:
        return derive_jetstream_key(self.kek.key)

    async def _start_nats(self) -> str:
        key = self._jetstream_key()
        try:
            check_store_encryption(self.home, key)
        except StoreEncryptionMismatch as exc:
            raise StartupError(str(exc)) from None
        conf = write_nats_config(
            self.home,
            self.settings.nats_port,
            self.tuning.nats.sync_interval,
            authorization=self.nats_access.authorization,
            encryption_key=key,
        )
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

    def _spawn_sandbox(self, name: str, kind: str) -> subprocess.Popen[bytes]:
        state = self.home / "sandbox" / name
        publish_jwks(state / HUB_JWKS_FILE, self._signing_keys())
        argv = [
            sys.executable,
            "-P",
            "-m",
            "sandbox",
            name,
            "--kind",
            kind,
            "--state",
            str(state),
        ]
        if self.dev_pki is not None:  # HTTPS with mutual TLS: the hub shows its dev client certificate
            dev = self.dev_pki
            argv += [
                "--tls-cert",
                str(dev.server.cert),
                "--tls-key",
                str(dev.server.key),
                "--tls-client-ca",
                str(dev.ca),
            ]
        return self.children.spawn(f"sandbox-{name}", argv, stdout=subprocess.PIPE)

    def _sandbox_endpoint(self, name: str, proc: subprocess.Popen[bytes]) -> str:
        """The URL a spawned sandbox serves on, from the first line it prints."""
        state = self.home / "sandbox" / name
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise StartupError(f"sandbox {name} did not start; see {self.home / 'logs' / f'sandbox-{name}.log'}")
        started = json.loads(line)
        if (state / PARTNER_JWKS_FILE).exists():  # its public keys, for `protection: {recipient: sandbox}`
            self.sandbox_jwks[name] = json.loads((state / PARTNER_JWKS_FILE).read_text())
        return f"{started.get('scheme', 'http')}://127.0.0.1:{started['port']}"

    def _lanes(self, institutions: Institutions, tls: ssl.SSLContext) -> dict[tuple[str, str], Lane]:
        lanes = {}
        for name, cfg in self.routing.adapters.items():
            for version, vcfg in cfg.versions.items():
                settings: dict[str, Any] = vcfg.model_dump()
                if cfg.kind == "webhook":
                    settings["webhook_of"] = lambda iid: (
                        i.webhook.url if (i := institutions.get(iid)) and i.webhook else None
                    )
                context = AdapterContext(
                    name,
                    version,
                    settings,
                    self.resolve_url,
                    protect=self._protect(name, version),
                    tls=tls,
                    document_signer=lambda suite: self.keys.signer(HUB, Purpose.DOCUMENT_SIGNING, suite),
                )
                adapter = build(cfg.kind, context)
                lanes[(name, version)] = Lane(name, version, adapter, cfg, CircuitBreaker(cfg.breaker))
        return lanes

    def _protect(self, name: str, version: str) -> Protect:
        """Signs (and encrypts, if the partner requires it) every call of one adapter version."""
        vcfg = self.routing.adapters[name].versions[version]
        url = str(vcfg.url)
        sandbox = url.removeprefix(SANDBOX_PREFIX) if url.startswith(SANDBOX_PREFIX) else None
        signer = CurrentSigner(self.keys, HUB, Purpose.REQUEST_SIGNING, vcfg.protection.suite)
        try:
            return Protector.for_partner(vcfg.protection, signer, self.sandbox_jwks.get(sandbox or "")).protect
        except ProtectionConfigError as exc:
            if self.with_sandboxes or sandbox is None:
                raise StartupError(f"adapters.{name}.versions.{version}.protection: {exc}") from None
            why = str(exc)

            def refuse(body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
                raise ProtectionError(why)  # --no-sandbox: refuse each call, never send it in clear

            return refuse

    async def _adapter_info(self) -> list[dict[str, Any]]:
        out = []
        for name, cfg in self.routing.adapters.items():
            weights = next((r.weights for r in self.pipeline.routing.routes if r.adapter == name), {})
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
            "http_url": _url(self.settings, self.tls is not None),
            "tls": self._run_tls(),
            "nats_url": nats_url,
            "admin_token": self.admin_token,
            "sandboxes": self.endpoints,
            "children": {n: p.pid for n, p in self.children.procs.items()},
        }
        write_json(self.settings.run_file.resolve(), info)  # holds the admin token: owner only

    def _run_tls(self) -> dict[str, Any] | None:
        """What the CLI needs to reach this hub and its sandboxes over TLS (run.json "tls")."""
        if self.dev_pki is None:
            return None
        dev = self.dev_pki
        return {
            "ca_files": [str(dev.ca)],
            "client_cert": str(dev.hub_client.cert),
            "client_key": str(dev.hub_client.key),
            "institutions": {i: {"cert": str(p.cert), "key": str(p.key)} for i, p in dev.institutions.items()},
        }

    async def stop(self) -> None:
        """Stop pulling, finish or leave unacked what is in flight, then stop everything else."""
        if hasattr(self, "server"):
            self.server.should_exit = True
            await self.server_task
        if hasattr(self, "pipeline"):
            await self.pipeline.stop()
            await self.relay.stop()
            await self.switches.stop()
        # Before the drain: these pull from NATS or give their leader lease back through it.
        if hasattr(self, "tracking"):
            await self.tracking.stop()
        if hasattr(self, "customs"):
            await self.customs.stop()
        if hasattr(self, "security_jobs"):
            await self.security_jobs.stop()
        if hasattr(self, "ageing"):
            await self.ageing.stop()
        if hasattr(self, "canary"):
            await self.canary.stop()
            await self.canary_lease.release()
        if hasattr(self, "nc"):
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if hasattr(self, "directory"):
            await self.directory.stop()
        if hasattr(self, "route_table"):
            await self.route_table.stop()
        if hasattr(self, "store"):
            await self.store.close()
        if hasattr(self, "keys"):
            self.keys.close()
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
            f"hub running: console and API at {_url(settings, hub.tls is not None)}/  "
            f"(health {_url(settings, hub.tls is not None)}/healthz)",
            flush=True,
        )
        print(
            f"  HUB_HOME={hub.home}  NATS {hub.settings.nats_url or f'nats://127.0.0.1:{settings.nats_port}'}",
            flush=True,
        )
        if not settings.nats_url:
            ids = [svc.id for svc in hub.nats_access.services]
            print(
                f"  NATS users: hub + {len(ids)} internal service(s){' (' + ', '.join(ids) + ')' if ids else ''}; "
                f"dev passwords in {hub.home / DEV_CREDENTIALS}; clients set inbox_prefix _INBOX_<id>",
                flush=True,
            )
            print("  JetStream encryption at rest: on (chachapoly, key derived from the KEK)", flush=True)
        if hub.first_admin:
            print(
                f"  operator {hub.first_admin[0]!r} created: its password is in {hub.home / 'initial-admin.json'}; "
                "log in with POST /admin/login, add operators with `hub users add NAME --role ROLE`",
                flush=True,
            )
        if hub.keys.warning:
            print(f"  keys: {hub.keys.warning}", flush=True)
        for name, url in hub.endpoints.items():
            print(f"  sandbox {name}: {url}", flush=True)
        demo_task = asyncio.create_task(_demo_traffic(hub, stop)) if demo else None
        await stop.wait()
        if demo_task:
            await demo_task
    finally:
        await hub.stop()


def _url(settings: HubSettings, tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://{settings.http_host}:{settings.http_port}"


async def _demo_traffic(hub: Hub, stop: asyncio.Event) -> None:
    """--demo: a sample invoice every two seconds, and a small CBDC bridge demand every six (at most
    500 per run, far inside the demo payer's daily limit), submitted like an institution would."""
    from gateway.ingress import accept

    sample = json.loads(DEMO_SAMPLE.read_text())
    beneficiaries = (("BANK-HK-A", "HKD"), ("BANK-TH-A", "THB"), ("BANK-AE-A", "AED"))
    n = 0
    while not stop.is_set():
        n += 1
        sample["payload"]["invoice_no"] = f"DEMO-{int(time.time())}-{n}"
        env = canonical.parse_envelope({**sample, "source": "bank-a"})
        await accept(hub.store, hub.js, env, hub.seal)
        if n % 3 == 0 and n // 3 <= 500:
            beneficiary, currency = beneficiaries[(n // 3) % len(beneficiaries)]
            demand = {
                "originator": "BANK-CN-A",
                "beneficiary": beneficiary,
                "amount": f"{100 + n % 50}.00",
                "source_currency": "CNY",
                "target_currency": currency,
                "purpose": "demo trade settlement",
                "trade_reference": f"DEMO-{int(time.time())}-{n}",
            }
            dc = {"type": "dc.demand", "destination": "dcbridge", "source": "bank-a", "payload": demand}
            await accept(hub.store, hub.js, canonical.parse_envelope(dc), hub.seal)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def main() -> None:
    from cli import main as cli_main  # the CLI imports this module: import it only when run

    cli_main()


if __name__ == "__main__":
    main()
