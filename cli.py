"""The `hub` command line: `hub run` starts a hub (hub.py); every other command finds the running hub
through $HUB_HOME/run.json and talks to its admin API, or opens the journal or key store directly."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml

from canonical.ceb.offline import Source, match_messages, match_report, mismatch_line
from canonical.errors import RejectedInput, Violation
from canonical.swift_mt import mt_to_mx, mx_to_mt
from canonical.validation import one_fin_message, validate
from desk.reconcile import summary_lines
from hub import StartupError, serve
from routes.config import RoutingConfig
from routes.settings import HubSettings, HubTuning
from security import jose
from security.institutions import Institutions
from security.keystore import KeyStoreSettings, Purpose, open_keystore
from security.nats_users import (
    DEV_CREDENTIALS,
    HUB_CREDENTIALS,
    SERVICES_FILE,
    ServicesFile,
    ensure_dev_passwords,
    ensure_hub_credentials,
    render_authorization,
)
from security.passwords import WeakPassword
from security.signatures import SignedRequests
from security.tls import client_context
from store import Store
from store.checkpoints import JournalReport, verify_journal
from store.operators import DuplicateOperator, InvalidOperator, Operators

app = typer.Typer(help="Trade-finance integration hub.", no_args_is_help=True, add_completion=False)
dlq_app = typer.Typer(help="Dead letters: list and replay.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandbox partners.", no_args_is_help=True)
adapters_app = typer.Typer(help="Adapters: list, pause, resume.", invoke_without_command=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
nats_app = typer.Typer(help="NATS users of internal services.", no_args_is_help=True)
journal_app = typer.Typer(help="The journal.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(adapters_app, name="adapters")
app.add_typer(config_app, name="config")
app.add_typer(nats_app, name="nats")
app.add_typer(journal_app, name="journal")
keys_app = typer.Typer(help="The hub's keys: list and rotate.", no_args_is_help=True)
users_app = typer.Typer(help="Operators of the admin API and console.", no_args_is_help=True)
approvals_app = typer.Typer(help="Four eyes: proposals waiting for a second operator.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(approvals_app, name="approvals")
routes_app = typer.Typer(help="Routes: live configuration and gray release.", no_args_is_help=True)
app.add_typer(routes_app, name="routes")
translate_app = typer.Typer(help="Translate SWIFT MT <-> ISO 20022 (no running hub needed).", no_args_is_help=True)
app.add_typer(translate_app, name="translate")
customs_app = typer.Typer(help="China customs (CEB) checks, offline (no running hub needed).", no_args_is_help=True)
app.add_typer(customs_app, name="customs")
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


def _verify(info: dict[str, Any], institution: str | None = None) -> ssl.SSLContext | bool:
    """How the CLI checks the hub and its sandboxes found in run.json: the dev CA (and public CAs,
    for a gateway with its own certificate), showing the institution's dev client certificate for
    `--as`, else the hub's."""
    tls = info.get("tls")
    if not tls:
        return True
    pair = tls["institutions"].get(institution or "") or {"cert": tls["client_cert"], "key": tls["client_key"]}
    return client_context(tls["ca_files"], pair["cert"], pair["key"], public_cas=True)


def _admin() -> httpx.Client:
    info = _run_info()
    return httpx.Client(
        verify=_verify(info),
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
    signer = dev_signer(Path(info["home"]), who)
    auth: httpx.Auth | None = SignedRequests(signer, creds[who]) if signer else None
    with httpx.Client(
        base_url=info["http_url"], timeout=30, trust_env=False, auth=auth, verify=_verify(info, who)
    ) as client:
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


def dev_signer(
    home: Path, institution: str, settings: KeyStoreSettings | None = None, environ: dict[str, str] | None = None
) -> jose.Signer | None:
    """The newest request-signing key the hub holds for a sandbox institution (None: it has none)."""
    logging.getLogger("security.keystore").setLevel(logging.ERROR)  # the dev-KEK warning is for `hub run`
    keys = open_keystore(settings or HubTuning.load(HubSettings().config_dir).keys, home, environ=environ)
    active = [r for r in keys.records(institution) if r.purpose == Purpose.REQUEST_SIGNING and r.retired_at is None]
    newest = max(active, key=lambda r: r.created_at, default=None)
    return keys.signer(institution, Purpose.REQUEST_SIGNING, newest.suite) if newest else None


@app.command()
def status(message_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Status history of one message."""
    with _admin() as client:
        _print(_check(client.get(f"/v1/messages/{message_id}")), as_json)


@app.command("reconcile")
def reconcile_statement(
    file: Annotated[str, typer.Argument(help="camt.053 / camt.052 / camt.054 XML or MT940 / MT950 file, or -")],
    channel: Annotated[str | None, typer.Option(help="the channel the statement is of, e.g. cips")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reconcile a bank statement against the journal: exit 0 when every entry matched and nothing
    is missing, 1 when anything is unmatched, mismatched or missing."""
    if file != "-" and not Path(file).is_file():
        raise _fail(f"no such file: {file}")
    body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    fin = body.lstrip()[:2] == b"{1"
    with _admin() as client:
        answer = client.post(
            "/admin/reconciliation",
            content=body,
            params={"channel": channel} if channel else None,
            headers={"content-type": "text/plain" if fin else "application/xml"},
        )
        report = _check(answer)
    if as_json:
        _print(report, True)
    else:
        for line in summary_lines(report):
            typer.echo(line)
    raise typer.Exit(0 if report["balanced"] else 1)


@sandbox_app.command("received")
def sandbox_received(
    partner: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    all_calls: Annotated[bool, typer.Option("--all", help="every call, not only effects")] = False,
) -> None:
    """What a sandbox partner received (its effects: message id, idempotency key, time)."""
    info = _run_info()
    endpoints = info["sandboxes"]
    if partner not in endpoints:
        raise _fail(f"no sandbox partner {partner!r}; running: {', '.join(endpoints)}")
    rows = _check(
        httpx.get(
            f"{endpoints[partner]}/_sandbox/received" + ("?all=1" if all_calls else ""),
            trust_env=False,
            verify=_verify(info),
        )
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
        services = ServicesFile.load(settings.config_dir / SERVICES_FILE).services
        from adapters.base import kinds

        unknown = sorted({a.kind for a in routing.adapters.values()} - set(kinds()))
        if unknown:
            raise ValueError(f"adapters: unknown kind(s) {', '.join(unknown)}; known: {', '.join(sorted(kinds()))}")
    except Exception as exc:
        raise _fail(f"config invalid: {exc}") from None
    typer.echo(
        f"config valid: {len(routing.adapters)} adapters, {len(routing.routes)} routes, "
        f"{len(institutions.all())} institutions, {len(services)} internal services"
    )


@config_app.command("export")
def config_export(directory: Path) -> None:
    """Write the live configuration (routes and institutions, from the KV bucket) to DIRECTORY as
    routes.yaml and partners.yaml fragments, to keep in version control or move to another hub."""
    with _admin() as client:
        routes = _check(client.get("/admin/routes"))
        institutions = _check(client.get("/admin/institutions"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "routes.yaml").write_text(
        yaml.safe_dump({"revision": routes["revision"], "routes": routes["routes"]}, sort_keys=False)
    )
    (directory / "partners.yaml").write_text(yaml.safe_dump({"institutions": institutions}, sort_keys=False))
    typer.echo(
        f"exported {len(routes['routes'])} routes (revision {routes['revision']}) and "
        f"{len(institutions)} institutions to {directory}"
    )


@config_app.command("import")
def config_import(directory: Path) -> None:
    """Apply DIRECTORY's routes.yaml and partners.yaml to the live configuration: the routes as one
    compare-and-set write on the revision they were exported at, each institution as a put."""
    with _admin() as client:
        if (directory / "routes.yaml").exists():
            routes = yaml.safe_load((directory / "routes.yaml").read_text()) or {}
            current = _check(client.get("/admin/routes"))
            revision = routes.get("revision", current["revision"])
            _routes_change(client, "/admin/routes", {"revision": revision, "routes": routes.get("routes", [])})
        if (directory / "partners.yaml").exists():
            for inst in (yaml.safe_load((directory / "partners.yaml").read_text()) or {}).get("institutions", []):
                _check(client.put(f"/admin/institutions/{inst['id']}", json=inst))
                typer.echo(f"institution {inst['id']} applied")


@journal_app.command("verify")
def journal_verify() -> None:
    """Recompute the hash chains and check the signed checkpoints; exit 1 naming the first break."""
    settings = HubSettings()

    async def verify() -> JournalReport:
        keys = open_keystore(HubTuning.load(settings.config_dir).keys, settings.home.resolve())
        store = await Store.open(settings.database)
        try:
            return await verify_journal(store, keys.public_key)
        finally:
            await store.close()

    logging.getLogger("security.keystore").setLevel(logging.ERROR)  # the dev-KEK warning is for `hub run`
    report = asyncio.run(verify())
    if not report.ok:
        raise _fail(report.summary())
    typer.echo(report.summary())


@journal_app.command("checkpoint")
def journal_checkpoint() -> None:
    """Sign a checkpoint of every chain head now (the hub also does so periodically)."""
    with _admin() as client:
        done = _check(client.post("/admin/journal/checkpoint"))
    typer.echo(f"checkpoint {done['number']} signed by {done['kid']} over {len(done['chains'])} chains")


@keys_app.command("rotate")
def keys_rotate(
    owner: Annotated[str, typer.Option("--owner", help="hub, or a sandbox institution id")],
    purpose: Annotated[str | None, typer.Option(help="request_signing, payload_encryption, tokens, ...")] = None,
    suite: Annotated[str | None, typer.Option(help="jose or sm")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a new key per purpose and suite; the previous ones keep verifying for overlap_days."""
    with _admin() as client:
        answer = client.post("/admin/keys/rotate", json={"owner": owner, "purpose": purpose, "suite": suite})
        done = _check(answer)
    if answer.status_code == 202:
        typer.echo(
            f"proposed: approval {done['approval']['id']} waits for a second operator "
            f"(`hub approvals approve {done['approval']['id']} --as NAME`)"
        )
        return
    if as_json:
        _print(done, True)
        return
    for r in done:
        typer.echo(f"new key {r['kid']} ({r['alg']}, {r['purpose']})")


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key the hub holds: kid, owner, purpose, suite, expiry, retirement."""
    with _admin() as client:
        _print(_check(client.get("/admin/keys")), as_json)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="viewer, operator, admin or auditor")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Add an operator (password hashed with argon2id) straight into the journal database."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )

    async def add() -> str:
        store = await Store.open(HubSettings().database)
        try:
            added = await Operators(store).add(name, role, password, by="cli")
            return f"operator {added.name} added with role {added.role.value}"
        finally:
            await store.close()

    try:
        typer.echo(asyncio.run(add()))
    except (InvalidOperator, WeakPassword, DuplicateOperator) as exc:
        raise _fail(str(exc)) from None


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Operators with their role and state."""
    with _admin() as client:
        _print(_check(client.get("/admin/users")), as_json)


@approvals_app.command("list")
def approvals_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Proposals waiting for a second operator."""
    with _admin() as client:
        _print(_check(client.get("/admin/approvals")), as_json)


def _decide(approval_id: str, operator: str, decision: str, reason: str | None) -> None:
    password = (
        typer.prompt(f"password of {operator}", hide_input=True)
        if sys.stdin.isatty()
        else (sys.stdin.readline().rstrip("\n"))
    )
    info = _run_info()
    with httpx.Client(base_url=info["http_url"], timeout=30, trust_env=False, verify=_verify(info)) as client:
        session = _check(client.post("/admin/login", json={"name": operator, "password": password}))
        headers = {"authorization": f"Bearer {session['access_token']}"}
        done = _check(
            client.post(f"/admin/approvals/{approval_id}/{decision}", json={"reason": reason}, headers=headers)
        )
    typer.echo(f"approval {approval_id}: {done['approval']['status']} by {operator}")


@approvals_app.command("approve")
def approvals_approve(
    approval_id: str,
    as_: Annotated[str, typer.Option("--as", help="the approving operator (not the proposer)")],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Approve a proposal as a second operator (password from the prompt, or stdin); it runs at once."""
    _decide(approval_id, as_, "approve", reason)


@approvals_app.command("refuse")
def approvals_refuse(
    approval_id: str,
    as_: Annotated[str, typer.Option("--as", help="the deciding operator")],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Refuse a proposal as a second operator."""
    _decide(approval_id, as_, "refuse", reason)


@routes_app.command("show")
def routes_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The routes in force, with their revision."""
    with _admin() as client:
        current = _check(client.get("/admin/routes"))
    if as_json:
        _print(current, True)
        return
    typer.echo(f"revision {current['revision']} (in force: {current['in_force']})")
    for r in current["routes"]:
        weights = ", ".join(f"{r['adapter']}@{v}={w}" for v, w in r.get("weights", {"v1": 100}).items())
        match = {k: v for k, v in r.get("match", {}).items() if v not in (None, {}, [])}
        pins = {k: v for k, v in (r.get("pins") or {}).items() if v}
        extra = {"stable": r.get("stable"), "shadow": r.get("shadow"), "pins": pins, "withdrawn": r.get("withdrawn")}
        shown = "".join(f"  {k}={v}" for k, v in extra.items() if v) + ("" if r.get("sticky", True) else "  random")
        typer.echo(f"{r['name']:<24} {json.dumps(match)}  {weights}{shown}")


def _weights(spec: str, adapter: str) -> tuple[str, dict[str, int]]:
    """'cips@v1=90,cips@v2=10' (or 'v1=90,v2=10') -> (adapter, {v1: 90, v2: 10})."""
    weights: dict[str, int] = {}
    adapters = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        target, _, weight = part.partition("=")
        name, _, version = target.rpartition("@")
        if not weight.isdigit() or not version:
            raise _fail(f"--weights: {part!r} is not ADAPTER@VERSION=PERCENT", 2)
        adapters.add(name or adapter)
        weights[version] = int(weight)
    if len(adapters) != 1:
        raise _fail(f"--weights: one adapter per route, not {', '.join(sorted(adapters))}", 2)
    return adapters.pop(), weights


def _routes_change(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
    answer = client.request("PUT" if path == "/admin/routes" else "POST", path, json=body)
    done = _check(answer)
    if answer.status_code == 202:
        typer.echo(f"proposed: approval {done['approval']['id']} waits for a second operator")
    elif done.get("dry_run"):
        _print(done["impact"], True)
    else:
        typer.echo(f"routes now at revision {done['revision']}")


@routes_app.command("set")
def routes_set(
    route: str,
    weights: Annotated[str | None, typer.Option(help="cips@v1=90,cips@v2=10")] = None,
    sticky: Annotated[bool | None, typer.Option("--sticky/--no-sticky", help="same version per correlation")] = None,
    pin: Annotated[list[str] | None, typer.Option(help="header|tenant|institution:VALUE=VERSION (repeatable)")] = None,
    shadow: Annotated[str | None, typer.Option(help="a version that renders shadow copies; 'none' removes it")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report what would move where; change nothing")] = False,
) -> None:
    """Change one route (compare-and-set on the revision read)."""
    with _admin() as client:
        current = _check(client.get("/admin/routes"))
        routes = current["routes"]
        target = next((r for r in routes if r["name"] == route), None)
        if target is None:
            raise _fail(f"no route {route!r}; routes: {', '.join(r['name'] for r in routes)}")
        if weights:
            target["adapter"], target["weights"] = _weights(weights, target["adapter"])
        if sticky is not None:
            target["sticky"] = sticky
        for spec in pin or []:
            kind, _, rest = spec.partition(":")
            value, _, version = rest.rpartition("=")
            if kind not in ("header", "tenant", "institution") or not value or not version:
                raise _fail(f"--pin: {spec!r} is not header|tenant|institution:VALUE=VERSION", 2)
            target.setdefault("pins", {}).setdefault(kind, {})[value] = version
        if shadow is not None:
            target["shadow"] = None if shadow == "none" else shadow
        _routes_change(client, "/admin/routes", {"revision": current["revision"], "routes": routes, "dry_run": dry_run})


@routes_app.command("promote")
def routes_promote(route: str, version: str) -> None:
    """Give `version` all of the route's traffic and make it the stable version."""
    with _admin() as client:
        _routes_change(client, f"/admin/routes/{route}/promote", {"version": version})


@routes_app.command("rollback")
def routes_rollback(route: str) -> None:
    """All traffic back to the stable version; the candidates' waiting messages follow it."""
    with _admin() as client:
        _routes_change(client, f"/admin/routes/{route}/rollback", {})


@routes_app.command("history")
def routes_history(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every change of the routes: when, who, what changed."""
    with _admin() as client:
        rows = _check(client.get("/admin/routes/history"))
    if as_json:
        _print(rows, True)
        return
    for row in rows:
        typer.echo(f"{row['at']}  revision {row['target']:<5} {row['actor']:<14} {json.dumps(row['detail'])[:200]}")


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


@nats_app.command("authorization")
def nats_authorization(
    hub_nkey: Annotated[str | None, typer.Option(help="the hub's public nkey (cluster)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the block here (owner-only) instead of stdout")] = None,
) -> None:
    """Print the nats-server authorization block for config/services.yaml; include it on every node."""
    settings = HubSettings()
    home = settings.home.resolve()
    try:
        services = ServicesFile.load(settings.config_dir / SERVICES_FILE).services
        dev = ensure_dev_passwords(services, home / DEV_CREDENTIALS)
        hub_hash = None if hub_nkey else ensure_hub_credentials(home / HUB_CREDENTIALS).password_bcrypt
        block = render_authorization(hub_hash, services, dev, hub_nkey=hub_nkey)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if out is None:
        typer.echo(block, nl=False)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(block)
    where = "the hub's nkey seed" if hub_nkey else f"user hub, password in {home / HUB_CREDENTIALS}"
    typer.echo(f"wrote {out}: hub ({where}) + {len(services)} service(s); include it on every node", err=True)


def _document(file: str) -> bytes:
    """The bytes of FILE, or of stdin for `-`."""
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise _fail(f"{file}: cannot read ({exc.strerror})") from None


def _refused(violations: list[Violation]) -> typer.Exit:
    """One `location: rule: detail` line per broken rule on stderr, and exit 1."""
    for v in violations:
        typer.echo(f"{v.loc}: {v.rule}" + (f": {v.detail}" if v.detail else ""), err=True)
    return typer.Exit(1)


def _translated(text: str, warnings: list[str]) -> None:
    for warning in warnings:  # what the target format cannot carry: on stderr, one per line
        typer.echo(warning, err=True)
    typer.echo(text, nl=not text.endswith("\n"))


@translate_app.command("mt2mx")
def translate_mt2mx(file: Annotated[str, typer.Argument(help="FIN message file, or - for stdin")]) -> None:
    """Print the ISO 20022 translation of one MT (a SWIFT Envelope holding AppHdr and Document)."""
    try:
        xml, warnings = mt_to_mx(one_fin_message(_document(file)))
    except RejectedInput as exc:
        raise _refused(exc.violations) from None
    _translated(xml.decode(), warnings)


@translate_app.command("mx2mt")
def translate_mx2mt(
    file: Annotated[str, typer.Argument(help="ISO 20022 message file (AppHdr + Document), or - for stdin")],
    mt: Annotated[str | None, typer.Option("--mt", help="the MT to produce where there is a choice: 205")] = None,
) -> None:
    """Print the MT (FIN text) translation of one ISO 20022 message."""
    try:
        _translated(*mx_to_mt(_document(file), mt))
    except RejectedInput as exc:
        raise _refused(exc.violations) from None


@customs_app.command("match")
def customs_match(
    order: Annotated[str, typer.Argument(help="CEB311 order file, or - for stdin")],
    payment: Annotated[str, typer.Argument(help="CEB411 payment file, or - for stdin")],
    waybill: Annotated[str, typer.Argument(help="CEB511 waybill file, or - for stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="print {consistent, mismatches} as JSON")] = False,
) -> None:
    """三单对碰: check that an order, its payment and its waybill agree; exit 0 consistent, 1 not."""
    if [order, payment, waybill].count("-") > 1:
        raise _fail("only one of ORDER, PAYMENT, WAYBILL can be - (stdin)")
    try:
        found = match_messages(*(Source(f, _document(f)) for f in (order, payment, waybill)))
    except RejectedInput as exc:
        raise _refused(exc.violations) from None
    if as_json:
        typer.echo(json.dumps(match_report(found), ensure_ascii=False))
    else:
        for line in [mismatch_line(m) for m in found] or ["consistent"]:
            typer.echo(line)
    if found:
        raise typer.Exit(1)


@app.command("validate")
def validate_document(file: Annotated[str, typer.Argument(help="MT, ISO 20022 or CEB file, or - for stdin")]) -> None:
    """Check a message against its format (FIN rules, XSD and CBPR+ rules, CEB XSD); exit 0 valid, 1 not."""
    found = validate(_document(file))
    if not found.valid:
        raise _refused(found.violations)
    typer.echo("valid")


def main() -> None:
    app()
