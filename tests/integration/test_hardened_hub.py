"""A hub as production runs it: production mode (four eyes, a KEK from the environment), HTTPS on
the gateway and the sandboxes, and an institution that must show its client certificate."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml

from security.tls import client_context
from tests.conftest import ROOT, RunningHub, hub_config, start_hub, stop_hub

SAMPLE = str(ROOT / "docs" / "samples" / "invoice.json")


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hardened")
    config = hub_config(base / "config")
    toml = (config / "hub.toml").read_text()
    toml = toml.replace('mode = "dev"', 'mode = "production"').replace("enabled = false", "enabled = true", 1)
    toml = toml.replace("warn_days = 30", "warn_days = 400")  # every key and certificate is near its end
    (config / "hub.toml").write_text(toml)
    partners = yaml.safe_load((config / "partners.yaml").read_text())
    next(i for i in partners["institutions"] if i["id"] == "bank-a")["mtls"] = "required"
    (config / "partners.yaml").write_text(yaml.safe_dump(partners))
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    running = start_hub(base / "home", config, extra_env={"HUB_KEK": kek})
    yield running
    stop_hub(running)


def tls_client(hub: RunningHub, institution: str | None) -> httpx.Client:
    tls = hub.info["tls"]
    pair = tls["institutions"][institution] if institution else {"cert": None, "key": None}
    return httpx.Client(
        base_url=hub.url,
        verify=client_context(tls["ca_files"], pair["cert"], pair["key"]),
        headers={"x-api-key": hub.api_key(institution or "bank-a")},
        auth=hub.signer(institution or "bank-a"),
        trust_env=False,
        timeout=30,
    )


def test_the_gateway_speaks_https_and_the_cli_follows(hardened: RunningHub) -> None:
    assert hardened.url.startswith("https://")
    sent = hardened.cli("send", SAMPLE, "--as", "bank-a", "--wait", "30", "--json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["status"] == "completed"
    received = hardened.cli("sandbox", "received", "factor-json", "--json")
    assert received.returncode == 0 and json.loads(received.stdout)[-1]["signature"] == "valid"


def test_an_institution_that_must_show_its_certificate_is_refused_without_it(hardened: RunningHub) -> None:
    with tls_client(hardened, None) as client:
        answer = client.post(
            "/v1/messages", content=Path(SAMPLE).read_bytes(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 403 and answer.json()["type"].endswith(":client-certificate")


def test_another_institutions_certificate_is_refused(hardened: RunningHub) -> None:
    with tls_client(hardened, "platform-x") as client:
        client.headers["x-api-key"] = hardened.api_key("bank-a")
        client.auth = hardened.signer("bank-a")
        answer = client.post(
            "/v1/messages", content=Path(SAMPLE).read_bytes(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 403 and "platform-x" in answer.json()["detail"]


def test_plain_http_to_the_https_gateway_fails(hardened: RunningHub) -> None:
    with pytest.raises(httpx.HTTPError), httpx.Client(trust_env=False, timeout=5) as client:
        client.get(hardened.url.replace("https://", "http://") + "/healthz")


def test_key_rotation_needs_a_second_operator(hardened: RunningHub) -> None:
    proposed = hardened.cli("keys", "rotate", "--owner", "hub", "--purpose", "tokens", "--suite", "jose")
    assert proposed.returncode == 0, proposed.stderr
    approval = re.search(r"approval (\S+) waits", proposed.stdout)
    assert approval, proposed.stdout
    before = {k["kid"] for k in json.loads(hardened.cli("keys", "list", "--json").stdout)}
    first = json.loads((hardened.home / "initial-admin.json").read_text())
    decided = hardened.cli(
        "approvals", "approve", approval.group(1), "--as", first["name"], input=(first["password"] + "\n").encode()
    )
    assert decided.returncode == 0 and "approved" in decided.stdout, decided.stderr
    after = {k["kid"] for k in json.loads(hardened.cli("keys", "list", "--json").stdout)}
    assert len(after - before) == 1


def test_the_proposer_cannot_approve_their_own_proposal(hardened: RunningHub) -> None:
    first = json.loads((hardened.home / "initial-admin.json").read_text())
    tls = hardened.info["tls"]
    verify = client_context(tls["ca_files"], tls["client_cert"], tls["client_key"])
    with httpx.Client(base_url=hardened.url, verify=verify, trust_env=False, timeout=30) as client:
        session = client.post("/admin/login", json={"name": first["name"], "password": first["password"]}).json()
        client.headers["authorization"] = f"Bearer {session['access_token']}"
        proposal = client.post("/admin/keys/rotate", json={"owner": "hub", "purpose": "tokens"})
        assert proposal.status_code == 202
        approval_id = proposal.json()["approval"]["id"]
        own = client.post(f"/admin/approvals/{approval_id}/approve", json={})
        assert own.status_code == 409 and own.json()["type"].endswith(":same-operator")
        refused = hardened.cli(
            "approvals", "refuse", approval_id, "--as", first["name"], input=(first["password"] + "\n").encode()
        )
        assert refused.returncode == 1  # still the proposer
        client.headers["authorization"] = f"Bearer {hardened.info['admin_token']}"  # another principal
        decided = client.post(f"/admin/approvals/{approval_id}/refuse", json={"reason": "not now"})
        assert decided.status_code == 200 and decided.json()["approval"]["status"] == "refused"


def test_alerts_fire_before_keys_and_certificates_expire(hardened: RunningHub) -> None:
    alerts: list[dict[str, Any]] = []

    async def scenario() -> None:
        nc = await nats.connect(hardened.info["nats_url"], **hardened.nats_login)

        async def collect(msg: Any) -> None:
            alerts.append(json.loads(msg.data))

        sub = await nc.subscribe("hub.evt.alert.warning", cb=collect)
        made = await asyncio.to_thread(hardened.cli, "journal", "checkpoint")  # runs the security round now
        assert made.returncode == 0, made.stderr
        for _ in range(50):
            if {"key_expiring", "certificate_expiring"} <= {a["kind"] for a in alerts}:
                break
            await asyncio.sleep(0.1)
        await sub.unsubscribe()
        await nc.close()

    asyncio.run(scenario())
    kinds = {a["kind"] for a in alerts}
    assert {"key_expiring", "certificate_expiring"} <= kinds, alerts
    assert any(a["kind"] == "key_expiring" and a["kid"].startswith("hub-tk-") for a in alerts)


def test_a_route_change_in_production_needs_a_second_operator(hardened: RunningHub) -> None:
    proposed = hardened.cli("routes", "set", "trade-invoices", "--sticky")
    assert proposed.returncode == 0 and "proposed: approval" in proposed.stdout, proposed.stdout + proposed.stderr
    approval = re.search(r"approval (\S+) waits", proposed.stdout)
    assert approval
    first = json.loads((hardened.home / "initial-admin.json").read_text())
    decided = hardened.cli(
        "approvals", "approve", approval.group(1), "--as", first["name"], input=(first["password"] + "\n").encode()
    )
    assert decided.returncode == 0 and "approved" in decided.stdout, decided.stderr
    history = json.loads(hardened.cli("routes", "history", "--json").stdout)
    assert history and history[0]["actor"] == "local-admin"  # the proposer's change, run on approval
