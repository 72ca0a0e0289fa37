"""The security layer through the running hub: tokens, operators and roles, reveal, live
institutions, amount limits, the JWKS, key rotation under traffic, journal checkpoints and NATS
users. Four eyes and TLS are in test_hardened_hub.py (a hub in production mode)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import secrets
import threading
import time
from typing import Any

import httpx
import nats
import pytest

from canonical.envelope import idempotency_scope, parse_envelope
from security import jose
from security.keystore import HUB, KeyStoreSettings, Purpose, Suite, open_keystore
from security.tokens import API_AUDIENCE, TokenIssuer
from tests.conftest import RunningHub
from tests.integration.test_flow import invoice

FINAL = {"completed", "rejected", "dead_lettered"}


def token_for(hub: RunningHub, institution: str = "platform-x", secret: str | None = None) -> httpx.Response:
    with httpx.Client(base_url=hub.url, trust_env=False, timeout=10) as client:
        return client.post(
            "/v1/token",
            data={"grant_type": "client_credentials"},
            auth=(institution, secret or hub.api_key(institution)),
        )


def login(hub: RunningHub, name: str, password: str) -> httpx.Client:
    with httpx.Client(base_url=hub.url, trust_env=False, timeout=10) as client:
        answer = client.post("/admin/login", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    return httpx.Client(
        base_url=hub.url,
        headers={"authorization": f"Bearer {answer.json()['access_token']}"},
        timeout=30,
        trust_env=False,
    )


def add_operator(hub: RunningHub, role: str) -> tuple[str, str]:
    name, password = f"{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    with hub.admin() as admin:
        assert admin.post("/admin/users", json={"name": name, "role": role, "password": password}).status_code == 201
    return name, password


def submit_with_bearer(hub: RunningHub, bearer: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=hub.url, trust_env=False, timeout=10) as client:
        return client.post("/v1/messages", json=body, headers={"authorization": f"Bearer {bearer}"})


class TestTokens:
    def test_client_credentials_give_a_bearer_token_that_submits(self, hub: RunningHub) -> None:
        answer = token_for(hub)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        issued = answer.json()
        assert issued["token_type"] == "Bearer" and issued["expires_in"] == 300
        accepted = submit_with_bearer(hub, issued["access_token"], invoice())
        assert accepted.status_code == 202, accepted.text
        assert hub.wait_status(accepted.json()["id"], FINAL)["source"] == "platform-x"

    def test_a_wrong_secret_is_an_invalid_client(self, hub: RunningHub) -> None:
        answer = token_for(hub, secret="hk_not-the-key")
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"

    def test_another_institutions_secret_does_not_give_its_id(self, hub: RunningHub) -> None:
        answer = token_for(hub, "platform-x", secret=hub.api_key("bank-a"))
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"

    def test_only_client_credentials_is_granted(self, hub: RunningHub) -> None:
        with httpx.Client(base_url=hub.url, trust_env=False, timeout=10) as client:
            answer = client.post("/v1/token", data={"grant_type": "password"}, auth=("platform-x", "x"))
        assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"

    def test_an_expired_token_is_refused_as_expired(self, hub: RunningHub) -> None:
        keys = open_keystore(KeyStoreSettings(), hub.home)  # the hub's own token key, clock an hour back
        issuer = TokenIssuer(
            lambda: keys.signer(HUB, Purpose.TOKENS, Suite.JOSE),
            lambda: keys.verifying_keys(HUB, Purpose.TOKENS),
            clock=lambda: time.time() - 3600,
        )
        answer = submit_with_bearer(hub, issuer.issue("platform-x", API_AUDIENCE, 300), invoice())
        assert answer.status_code == 401 and answer.json()["type"].endswith(":token-expired"), answer.text

    def test_a_token_signed_by_a_stranger_is_refused(self, hub: RunningHub) -> None:
        stranger = jose.generate_key("Ed25519", "hub-tk-jose-forged")
        forged = TokenIssuer(lambda: stranger.signer(), lambda: [stranger.public()])
        answer = submit_with_bearer(hub, forged.issue("platform-x", API_AUDIENCE, 300), invoice())
        assert answer.status_code == 401 and answer.json()["type"].endswith(":unknown-kid")


def test_the_hub_publishes_its_public_keys_only(hub: RunningHub) -> None:
    with httpx.Client(base_url=hub.url, trust_env=False) as client:
        keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert {k["use"] for k in keys} == {"sig", "enc"}
    assert {k["alg"] for k in keys} >= {"Ed25519", "SM2", "ECDH-ES"}
    assert all("d" not in k for k in keys)


class TestOperators:
    def test_the_first_admin_logs_in_with_the_generated_password(self, hub: RunningHub) -> None:
        first = json.loads((hub.home / "initial-admin.json").read_text())
        with login(hub, first["name"], first["password"]) as admin:
            assert admin.get("/admin/whoami").json() == {"name": "admin", "role": "admin", "via": "password"}

    def test_a_wrong_password_is_refused_and_audited(self, hub: RunningHub) -> None:
        with httpx.Client(base_url=hub.url, trust_env=False) as client:
            answer = client.post("/admin/login", json={"name": "admin", "password": "not-the-password"})
        assert answer.status_code == 401
        with hub.admin() as admin:
            assert any(a["action"] == "users.login_failed" for a in admin.get("/admin/audit").json())

    def test_a_viewer_reads_but_may_not_pause(self, hub: RunningHub) -> None:
        with login(hub, *add_operator(hub, "viewer")) as viewer:
            assert viewer.get("/admin/adapters").status_code == 200
            refused = viewer.post("/admin/adapters/factor-json/pause")
            assert refused.status_code == 403 and refused.json()["required"] == "adapters.pause"
            assert viewer.get("/admin/audit").status_code == 403

    def test_an_auditor_reads_the_audit_log_but_changes_nothing(self, hub: RunningHub) -> None:
        with login(hub, *add_operator(hub, "auditor")) as auditor:
            assert auditor.get("/admin/audit").status_code == 200
            assert auditor.post("/admin/keys/rotate", json={"owner": "hub"}).status_code == 403

    def test_the_cli_adds_an_operator(self, hub: RunningHub) -> None:
        name = f"cli-{secrets.token_hex(3)}"
        done = hub.cli("users", "add", name, "--role", "operator", "--password-stdin", input=b"long-enough-pw-1\n")
        assert done.returncode == 0, done.stderr
        weak = hub.cli("users", "add", name + "x", "--role", "operator", "--password-stdin", input=b"short\n")
        assert weak.returncode == 1 and "12" in weak.stderr
        with login(hub, name, "long-enough-pw-1") as operator:
            assert operator.get("/admin/whoami").json()["role"] == "operator"

    def test_admin_actions_are_audited_with_the_actor(self, hub: RunningHub) -> None:
        name, password = add_operator(hub, "operator")
        with login(hub, name, password) as operator:
            assert operator.post("/admin/adapters/factor-json/pause").status_code == 200
            assert operator.post("/admin/adapters/factor-json/resume").status_code == 200
        with hub.admin() as admin:
            audit = admin.get("/admin/audit").json()
        assert any(a["actor"] == name and a["action"] == "adapter.pause" for a in audit)


class TestSensitiveFields:
    def test_views_mask_them_and_reveal_needs_the_role_and_a_reason(self, hub: RunningHub) -> None:
        with hub.client() as client:
            mid = client.post("/v1/messages", json=invoice()).json()["id"]
        with login(hub, *add_operator(hub, "viewer")) as viewer:
            seen = viewer.get(f"/admin/messages/{mid}").json()["envelope"]["payload"]["seller"]
            assert seen["registration_id"] != "91330200MA2AB3CD4E" and seen["name"].startswith("Ningbo")
            assert viewer.get(f"/admin/messages/{mid}?reveal=true&reason=check").status_code == 403
        with login(hub, *add_operator(hub, "auditor")) as auditor:
            assert auditor.get(f"/admin/messages/{mid}?reveal=true").status_code == 422
            revealed = auditor.get(f"/admin/messages/{mid}?reveal=true&reason=case%2042").json()
            assert revealed["envelope"]["payload"]["seller"]["registration_id"] == "91330200MA2AB3CD4E"
        with hub.admin() as admin:
            audit = admin.get("/admin/audit").json()
        assert any(a["action"] == "sensitive.reveal" and a["detail"]["reason"] == "case 42" for a in audit)

    def test_the_journal_holds_them_sealed(self, hub: RunningHub) -> None:
        import sqlite3

        with hub.client() as client:
            mid = client.post("/v1/messages", json=invoice()).json()["id"]
        with sqlite3.connect(hub.home / "journal.sqlite3") as db:
            raw = db.execute("SELECT envelope FROM messages WHERE id = ?", (mid,)).fetchone()[0]
        assert b"91330200MA2AB3CD4E" not in raw and b"$sealed:v1:" in raw and b"Ningbo" in raw


class TestLiveInstitutions:
    def test_an_institution_put_at_run_time_can_call_at_once(self, hub: RunningHub) -> None:
        key = "hk_" + secrets.token_urlsafe(24)
        iid = f"newbank-{secrets.token_hex(2)}"
        entry = {"id": iid, "allowed_types": ["trade.*"], "api_key_sha256": hashlib.sha256(key.encode()).hexdigest()}
        with hub.admin() as admin:
            put = admin.put(f"/admin/institutions/{iid}", json=entry)
            assert put.status_code == 200, put.text
        deadline, answer = time.monotonic() + 10, None
        with httpx.Client(base_url=hub.url, trust_env=False, headers={"x-api-key": key}) as client:
            while time.monotonic() < deadline:
                answer = client.post("/v1/messages", json=invoice())
                if answer.status_code == 202:
                    break
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 202, answer.text if answer else None

    def test_an_invalid_institution_is_refused_naming_the_field(self, hub: RunningHub) -> None:
        with hub.admin() as admin:
            answer = admin.put("/admin/institutions/bad", json={"id": "bad", "suite": "rot13"})
        assert answer.status_code == 422 and answer.json()["errors"][0]["loc"] == "suite"


def test_an_amount_over_the_limit_is_intercepted_with_a_critical_alert(hub: RunningHub) -> None:
    iid, key = f"capped-{secrets.token_hex(2)}", "hk_" + secrets.token_urlsafe(24)
    entry = {
        "id": iid,
        "api_key_sha256": hashlib.sha256(key.encode()).hexdigest(),
        "amount_limits": {"EUR": "10000"},
    }
    alerts: list[dict[str, Any]] = []

    async def scenario() -> httpx.Response:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)

        async def collect(msg: Any) -> None:
            alerts.append(json.loads(msg.data))

        sub = await nc.subscribe("hub.evt.alert.critical", cb=collect)
        with hub.admin() as admin:
            assert admin.put(f"/admin/institutions/{iid}", json=entry).status_code == 200
        answer = None
        async with httpx.AsyncClient(base_url=hub.url, trust_env=False, headers={"x-api-key": key}) as client:
            for _ in range(50):  # until the watch has applied the new institution
                answer = await client.post("/v1/messages", json=invoice())
                if answer.status_code != 401:
                    break
                await asyncio.sleep(0.1)
            for _ in range(20):
                if alerts:
                    break
                await asyncio.sleep(0.1)
        await sub.unsubscribe()
        await nc.close()
        assert answer is not None
        return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == 403 and answer.json()["errors"][0] == {
        "loc": "payload.total",
        "rule": "amount_limit",
        "detail": "at most EUR 10000 per message",
    }
    assert alerts and alerts[0]["kind"] == "amount_limit" and alerts[0]["institution"] == iid


def test_key_rotation_while_traffic_flows_loses_nothing(hub: RunningHub) -> None:
    """bank-a keeps signing with the key it had; the hub rotates bank-a's and its own keys midway.
    Every message completes, and the partner verified every call the hub made."""
    signer = hub.signer("bank-a")
    assert signer is not None
    ids: list[str] = []
    errors: list[str] = []

    def traffic() -> None:
        with httpx.Client(base_url=hub.url, trust_env=False, timeout=30, auth=signer) as client:
            for n in range(40):
                body = copy.deepcopy(invoice())
                body["payload"]["invoice_no"] = f"ROT-{secrets.token_hex(4)}-{n}"
                answer = client.post("/v1/messages", json=body)
                (ids.append(answer.json()["id"]) if answer.status_code == 202 else errors.append(answer.text))

    sender = threading.Thread(target=traffic)
    sender.start()
    time.sleep(0.3)
    for owner in ("bank-a", "hub"):
        done = hub.cli("keys", "rotate", "--owner", owner, "--purpose", "request_signing")
        assert done.returncode == 0, done.stderr
    sender.join(120)
    assert not errors and len(ids) == 40
    states = [hub.wait_status(mid, FINAL, timeout=60)["status"] for mid in ids]
    assert states == ["completed"] * 40
    with hub.sandbox("factor-json") as partner:
        calls = {r["message_id"]: r for r in partner.get("/_sandbox/received").json()}
    assert all(calls[mid]["signature"] == "valid" and calls[mid]["encrypted"] for mid in ids)
    assert len({calls[mid]["signature_kid"] for mid in ids}) >= 1
    with hub.admin() as admin:
        keys = admin.get("/admin/keys").json()
    retired = [k for k in keys if k["owner"] == "bank-a" and k["retired_at"]]
    assert retired, "bank-a's first key was retired"


def test_journal_checkpoints_are_signed_and_verified(hub: RunningHub) -> None:
    made = hub.cli("journal", "checkpoint")
    assert made.returncode == 0, made.stderr
    verified = hub.cli("journal", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "signed checkpoint" in verified.stdout and " 0 signed" not in verified.stdout


def test_nats_refuses_anonymous_clients(hub: RunningHub) -> None:
    async def anonymous() -> None:
        await nats.connect(hub.info["nats_url"], allow_reconnect=False, max_reconnect_attempts=0)

    with pytest.raises(Exception, match=r"(?i)authorization"):
        asyncio.run(anonymous())


class TestInternalPublishers:
    """A service publishes on hub.in as its NATS user; the router believes only what it may send."""

    def publish(self, hub: RunningHub, source: str, msg_id: str | None = None) -> str:
        ledger = json.loads((hub.home / "nats-credentials.json").read_text())["ledger"]
        body = copy.deepcopy(invoice())
        body["payload"]["invoice_no"] = f"SVC-{secrets.token_hex(4)}"
        env = parse_envelope({**body, "source": source})

        async def send() -> None:
            nc = await nats.connect(
                hub.info["nats_url"],
                user=ledger["user"],
                password=ledger["password"],
                inbox_prefix=ledger["inbox_prefix"],
            )
            scope = msg_id or idempotency_scope(env.source, env.idempotency_key or str(env.id))
            await nc.jetstream().publish(env.subject, env.to_bytes(), headers={"Nats-Msg-Id": scope})
            await nc.close()

        asyncio.run(send())
        return str(env.id)

    def refusal(self, hub: RunningHub, message_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + 10
        with hub.admin() as admin:
            while time.monotonic() < deadline:
                for row in admin.get("/admin/audit").json():
                    if row["action"] == "router.refused_origin" and row["target"] == message_id:
                        return dict(row["detail"])
                time.sleep(0.1)
        return None

    def test_a_service_sending_its_own_type_under_its_own_id_is_routed(self, hub: RunningHub) -> None:
        mid = self.publish(hub, "ledger")
        assert hub.wait_status(mid, FINAL)["status"] == "completed"

    def test_a_service_posing_as_an_institution_is_refused(self, hub: RunningHub) -> None:
        mid = self.publish(hub, "bank-a")
        assert self.refusal(hub, mid) == {"source": "bank-a", "type": "trade.invoice", "rule": "source_not_permitted"}
        with hub.admin() as admin:
            assert admin.get(f"/v1/messages/{mid}").status_code == 404  # never accepted, never journalled

    def test_a_chosen_dedup_id_is_refused(self, hub: RunningHub) -> None:
        mid = self.publish(hub, "ledger", msg_id="0" * 64)
        assert (self.refusal(hub, mid) or {}).get("rule") == "msg_id_mismatch"
