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
customs_app = typer.Typer(help="China customs (CEB): offline checks, and the sets in the hub.", no_args_is_help=True)
app.add_typer(customs_app, name="customs")
dc_app = typer.Typer(help="Digital currency on the CBDC bridge, through the hub.", no_args_is_help=True)
app.add_typer(dc_app, name="dc")
evidence_app = typer.Typer(help="Evidence of settlements.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
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
    from hub import StartupError, serve  # only `hub run` needs the whole hub: the other commands start faster

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
    body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    state, code = _submit(body, as_, idempotency_key, wait)
    _print(state, as_json)
    if code is not None:
        raise typer.Exit(code)


def _submit(
    body: bytes, as_: str | None, idempotency_key: str | None, wait: float | None
) -> tuple[dict[str, Any], int | None]:
    """Submit `body` through the gateway as a sandbox institution (its API key, signed with its dev
    key): the 202 answer, or with `wait` the last status seen and its exit code (None without wait)."""
    info = _run_info()
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
        accepted: dict[str, Any] = _check(client.post("/v1/messages", content=body, headers=headers))
        if wait is None:
            return accepted, None
        deadline = time.monotonic() + wait
        while True:
            state: dict[str, Any] = _check(client.get(accepted["status_url"], headers={"x-api-key": creds[who]}))
            if state["status"] in FINAL_STATUSES or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    return state, FINAL_STATUSES.get(state["status"], 124)


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
        from desk.reconcile import summary_lines  # the journal's modules load only where used

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
    from store import Store
    from store.checkpoints import JournalReport, verify_journal

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
    from store import Store
    from store.operators import DuplicateOperator, InvalidOperator, Operators

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


@customs_app.command("status")
def customs_status(
    order_no: Annotated[str, typer.Argument(help="the order number (orderNo)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An order's three-document set in the running hub: its status, documents, receipts and inventory."""
    with _admin() as client:
        found = _check(client.get(f"/v1/customs/orders/{order_no}"))
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False))
        return
    typer.echo(f"order {found['order_no']}: {found['status']} (revision {found['revision']})")
    if found["missing"]:
        typer.echo(f"  missing: {', '.join(found['missing'])}  (deadline {found['deadline']})")
    if found.get("reason"):
        typer.echo(f"  reason: {found['reason']}")
    for m in found["mismatches"]:
        typer.echo(f"  mismatch {m['rule']}: {m['left']} = {m['left_value']}, {m['right']} = {m['right_value']}")
    for doc in found["documents"]:
        last = doc["receipts"][-1] if doc["receipts"] else None
        said = f"  last receipt {last['status']} {last['info']}" if last else ""
        typer.echo(f"  {doc['kind']:<9} {doc['key']:<24} {doc['status']:<10} from {doc['source']}{said}")
    if "inventory" in found:
        typer.echo(f"  inventory message {found['inventory']['message_id']}: {found['inventory']['status']}")


@app.command("validate")
def validate_document(file: Annotated[str, typer.Argument(help="MT, ISO 20022 or CEB file, or - for stdin")]) -> None:
    """Check a message against its format (FIN rules, XSD and CBPR+ rules, CEB XSD); exit 0 valid, 1 not."""
    found = validate(_document(file))
    if not found.valid:
        raise _refused(found.violations)
    if found.older_pack:
        why = "; ".join(f"{v.loc}: {v.rule}" for v in found.refused_by_current)
        typer.echo(f"valid under the CEB {found.older_pack} schema pack only (202205 refuses: {why})")
        return
    typer.echo("valid")


@dc_app.command("pay")
def dc_pay(
    from_: Annotated[str, typer.Option("--from", help="the paying bridge participant, e.g. BANK-CN-A")],
    to: Annotated[str, typer.Option("--to", help="the receiving bridge participant")],
    amount: Annotated[str, typer.Option(help="decimal amount in --currency, e.g. 1000.00")],
    currency: Annotated[str, typer.Option(help="the currency paid, e.g. CNY")],
    to_currency: Annotated[str | None, typer.Option("--to-currency", help="the currency received (PvP FX)")] = None,
    purpose: Annotated[str, typer.Option(help="purpose of the payment")] = "trade settlement",
    trade_reference: Annotated[str | None, typer.Option("--trade-reference")] = None,
    as_: Annotated[str | None, typer.Option("--as", help="sandbox institution to send as")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key")] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for a final status")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pay through the multilateral bridge: publish a demand, take the best quote, settle; print the
    final state with the settlement id and its proof (exit 0 completed, 1 rejected, 124 wait ran out)."""
    from pydantic import ValidationError

    from canonical.dc import PaymentDemand

    payload: dict[str, Any] = {
        "originator": from_,
        "beneficiary": to,
        "amount": amount,
        "source_currency": currency.upper(),
        "target_currency": (to_currency or currency).upper(),
        "purpose": purpose,
    }
    if trade_reference:
        payload["trade_reference"] = trade_reference
    options = {"originator": "--from", "beneficiary": "--to", "source_currency": "--currency"}
    try:
        PaymentDemand.model_validate(payload)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = str(err["loc"][0]) if err["loc"] else ""
            option = options.get(field, "--" + field.replace("_", "-")) if field else "options"
            typer.echo(f"{option}: {err['type']}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    envelope = {"type": "dc.demand", "destination": "dcbridge", "payload": payload}
    state, code = _submit(json.dumps(envelope).encode(), as_, idempotency_key, wait)
    outcome = _dc_outcome(state)
    if as_json:
        _print(outcome, True)
    else:
        for line in _dc_lines(outcome):
            typer.echo(line)
    raise typer.Exit(code if code is not None else 124)


def _dc_outcome(state: dict[str, Any]) -> dict[str, Any]:
    """The message's final state with the settlement, its id and proof (or the refusal) lifted up."""
    history = state.get("history", [])
    delivered: dict[str, Any] = next((t["detail"] for t in reversed(history) if t["status"] == "delivered"), {})
    final = ("rejected", "dead_lettered")
    refused: dict[str, Any] = next((t["detail"] for t in reversed(history) if t["status"] in final), {})
    return {
        "id": state.get("id"),
        "status": state.get("status"),
        "settlement_id": delivered.get("settlement_id"),
        "settlement": delivered.get("settlement"),
        "proof": delivered.get("proof"),
        "steps": delivered.get("steps", []),
        "reason": refused.get("error") or refused.get("reason"),
        "history": history,
    }


def _dc_lines(outcome: dict[str, Any]) -> list[str]:
    lines = [f"{outcome['status']}  message {outcome['id']}"]
    if outcome["settlement"]:
        settlement, proof = outcome["settlement"], outcome["proof"]
        lines.append(f"settlement {outcome['settlement_id']} ({settlement['kind']}) at {settlement['settled_at']}")
        for leg in settlement["legs"]:
            lines.append(f"  {leg['payer']} -> {leg['payee']}: {leg['amount']} {leg['currency']}")
        if settlement.get("rate"):
            lines.append(f"  rate {settlement['rate']} quoted by {settlement.get('liquidity_provider')}")
        lines.append(f"proof: position {proof['position']} tx_hash {proof['tx_hash']}")
        lines.append(f"       chain head {proof['chain_head']} at {proof['head_position']}")
    elif outcome["reason"]:
        lines.append(f"reason: {outcome['reason']}")
    return lines


@dc_app.command("balances")
def dc_balances(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reserves: Annotated[bool, typer.Option("--reserves", help="also the reserve accounts at central banks")] = False,
) -> None:
    """Every wallet on the CBDC bridge (participant, currency, balance), asked through the hub."""
    with _admin() as client:
        rows = [r for r in _check(client.get("/admin/dc/balances")) if reserves or r["account"] == "wallet"]
    if as_json:
        _print(rows, True)
        return
    for r in rows:
        typer.echo(f"{r['participant']:<12} {r['account']:<8} {r['currency']}  {r['balance']:>20}")


@evidence_app.command("verify")
def evidence_verify(
    ident: Annotated[str, typer.Argument(metavar="ID", help="the hub message id or the settlement id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check a settlement's proof against the hub journal's anchored copy and the bridge's chain now;
    exit 0 when everything matches, 1 naming what does not."""
    with _admin() as client:
        verdict = _check(client.get(f"/admin/evidence/{ident}"))
    if as_json:
        _print(verdict, True)
    else:
        typer.echo(f"settlement {verdict['settlement_id']} (message {verdict['id']})")
        for check in verdict["checks"]:
            typer.echo(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    if not verdict["ok"]:
        failed = ", ".join(c["name"] for c in verdict["checks"] if not c["ok"])
        raise _fail(f"evidence does not verify: {failed}")
    if not as_json:
        typer.echo("verified")


# -- logistics and credit (docs/logistics.md, docs/credit.md) --------------------------------------

credit_app = typer.Typer(help="Credit bureaus, through the hub (consent, quota and cache apply).", no_args_is_help=True)
app.add_typer(credit_app, name="credit")


@app.command("track")
def track(
    carrier: Annotated[str, typer.Argument(help="the carrier adapter: carrier-intl, carrier-domestic, carrier-ocean")],
    tracking_number: Annotated[str, typer.Argument(help="the carrier's tracking number")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A shipment's normalized tracking timeline: asks the carrier now (at its pace) and keeps tracking it."""
    with _admin() as client:
        found = _check(
            client.post("/admin/shipments/track", json={"carrier": carrier, "tracking_number": tracking_number})
        )
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False))
        return
    typer.echo(
        f"shipment {found['shipment_id']}: {found['status'] or 'no status yet'}{' (final)' if found['final'] else ''}"
    )
    poll = found["poll"]
    if poll["error"] or poll["retry_after_s"]:
        typer.echo(f"  carrier not asked now: {poll['error'] or 'rate limit'} (retry after {poll['retry_after_s']} s)")
    for e in found["timeline"]:
        code = e["code"] or f"UNKNOWN({e['raw_code']})"
        loc = e.get("location") or {}
        where = ", ".join(filter(None, [loc.get("city"), loc.get("country")]))
        typer.echo(f"  {e['occurred_at']}  {code:<17} {where:<24} {e['raw_description']}")


@credit_app.command("report")
def credit_report(
    entity_id: Annotated[str, typer.Argument(help="the subject: a USCC, a registration number or a person's id")],
    bureau: Annotated[str, typer.Option("--bureau", help="bureau-a or bureau-b")],
    consent: Annotated[
        str | None, typer.Option("--consent", help="the subject's consent id (required for a person)")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="basic_info, credit_report or court_sanction_alerts")
    ] = "credit_report",
    person: Annotated[bool, typer.Option("--person", help="the subject is a person")] = False,
    country: Annotated[str, typer.Option("--country")] = "CN",
    tenant: Annotated[str, typer.Option("--tenant", help="whose quota the query counts against")] = "operations",
    reveal: Annotated[bool, typer.Option("--reveal", help="show sensitive fields in clear (sensitive.reveal)")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A bureau's canonical credit report about ENTITY_ID (sensitive fields masked unless --reveal)."""
    query = {
        "bureau": bureau,
        "entity_id": entity_id,
        "entity_kind": "person" if person else "enterprise",
        "country": country,
        "report_kind": kind,
        "consent_id": consent,
        "tenant": tenant,
        "reveal": reveal,
    }
    with _admin() as client:
        found = _check(client.post("/admin/credit/reports", json=query))
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False))
        return
    report = found["report"]
    source = "cache" if found["cached"] else f"{found['bureau']} (cost {found['cost']})"
    typer.echo(
        f"{report['bureau']} report {report.get('report_id') or '-'} from {source}, valid until {report['valid_until']}"
    )
    entity = report["entity"]
    typer.echo(f"  {entity['kind']} {entity['name']} ({entity['registration_id']}, {entity['country']})")
    if report.get("score"):
        sc = report["score"]
        typer.echo(f"  score {sc['value']}/1000 {sc['band']} (bureau: {sc['raw_score']} on {sc['raw_scale']})")
    for r in report["risk_items"]:
        typer.echo(f"  risk {r['severity']:<6} {r['kind']}: {r['description']}")
    for a in report["alerts"]:
        typer.echo(f"  alert {a['kind']} {a['reference']} {a['status']} {a.get('source') or ''}")
    if found["has_sanction"]:
        typer.echo("  SANCTIONED: an open sanctions-list alert")


def main() -> None:
    app()
