"""A message's whole path through the running hub: gateway -> HUB_IN -> router -> HUB_OUT ->
adapter -> sandbox partner, with the journal's status history, retries, dead letters and replay."""

from __future__ import annotations

import copy
import itertools
import json
import time
import uuid
from datetime import datetime
from typing import Any

from tests.conftest import ROOT, RunningHub

SAMPLE: dict[str, Any] = json.loads((ROOT / "docs" / "samples" / "invoice.json").read_text())


def invoice(correlation_id: str | None = None, **payload: Any) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE)
    body["payload"]["invoice_no"] = f"T-{uuid.uuid4().hex[:12]}"
    body["payload"].update(payload)
    if correlation_id:
        body["correlation_id"] = correlation_id
    return body


def effects_for(hub: RunningHub, message_id: str) -> list[dict[str, Any]]:
    with hub.sandbox("factor-json") as sb:
        return [r for r in sb.get("/_sandbox/received").json() if r["message_id"] == message_id]


def test_sample_submitted_over_http_completes_with_history(hub: RunningHub) -> None:
    with hub.client() as client:
        answer = client.post("/v1/messages", json=invoice())
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["status_url"] == f"/v1/messages/{body['id']}"
    state = hub.wait_status(body["id"], {"completed", "dead_lettered", "rejected"})
    assert state["status"] == "completed"
    assert [h["status"] for h in state["history"]] == ["accepted", "routed", "sent", "delivered", "completed"]
    assert state["history"][1]["detail"]["adapter"] == "factor-json"
    assert len(effects_for(hub, body["id"])) == 1


def test_institution_sees_its_own_message_status_and_not_others(hub: RunningHub) -> None:
    with hub.client() as client:
        mid = client.post("/v1/messages", json=invoice()).json()["id"]
        assert client.get(f"/v1/messages/{mid}").status_code == 200
    with hub.client("platform-x") as other:
        assert other.get(f"/v1/messages/{mid}").status_code == 404


def test_partner_503_twice_then_200_completes_after_three_attempts_with_growing_delays(hub: RunningHub) -> None:
    correlation = f"retry-{uuid.uuid4()}"
    with hub.sandbox("factor-json") as sb:
        sb.post("/_sandbox/script", json={"correlation_id": correlation, "answers": [503, 503, 200]})
    with hub.client() as client:
        mid = client.post("/v1/messages", json=invoice(correlation)).json()["id"]
    state = hub.wait_status(mid, {"completed", "dead_lettered"})
    assert state["status"] == "completed"
    assert state["attempts"] == 3
    sent = [datetime.fromisoformat(h["at"]) for h in state["history"] if h["status"] == "sent"]
    retrying = [h["detail"] for h in state["history"] if h["status"] == "retrying"]
    assert len(sent) == 3 and len(retrying) == 2
    assert all("503" in r["error"] for r in retrying)
    assert retrying[0]["next_delay_s"] < retrying[1]["next_delay_s"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
    assert gaps[0] < gaps[1], gaps
    assert len(effects_for(hub, mid)) == 1


def test_partner_400_dead_letters_at_once_and_replay_completes_exactly_once(hub: RunningHub) -> None:
    correlation = f"refuse-{uuid.uuid4()}"
    with hub.sandbox("factor-json") as sb:
        sb.post("/_sandbox/script", json={"correlation_id": correlation, "answers": [400]})
    with hub.client() as client:
        mid = client.post("/v1/messages", json=invoice(correlation)).json()["id"]
    state = hub.wait_status(mid, {"completed", "dead_lettered"})
    assert state["status"] == "dead_lettered"
    assert state["attempts"] == 1
    last = state["history"][-1]["detail"]
    assert last["reason"] == "permanent_error" and "400" in last["error"]
    listed = hub.cli("dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert mid in [m["id"] for m in json.loads(listed.stdout)]
    assert effects_for(hub, mid) == []

    replayed = hub.cli("dlq", "replay", mid)  # the sandbox's script is used up: it answers 200 now
    assert replayed.returncode == 0, replayed.stderr
    state = hub.wait_status(mid, {"completed"})
    assert state["status"] == "completed" and state["replays"] == 1
    assert [h["actor"] for h in state["history"] if h["status"] == "retrying"] == ["local-admin"]
    time.sleep(0.5)
    assert len(effects_for(hub, mid)) == 1
    with hub.admin() as admin:
        audit = admin.get("/admin/audit").json()
    assert any(a["action"] == "dlq.replay" and a["target"] == mid for a in audit)


def test_same_idempotency_key_and_payload_returns_first_id_and_delivers_once(hub: RunningHub) -> None:
    body, key = invoice(), f"key-{uuid.uuid4()}"
    with hub.client() as client:
        first = client.post("/v1/messages", json=body, headers={"idempotency-key": key})
        second = client.post("/v1/messages", json=body, headers={"idempotency-key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert hub.wait_status(first.json()["id"], {"completed"})["status"] == "completed"
    assert len(effects_for(hub, first.json()["id"])) == 1


def test_same_idempotency_key_with_other_payload_is_409(hub: RunningHub) -> None:
    key = f"key-{uuid.uuid4()}"
    with hub.client() as client:
        first = client.post("/v1/messages", json=invoice(), headers={"idempotency-key": key})
        other = client.post("/v1/messages", json=invoice(), headers={"idempotency-key": key})
    assert other.status_code == 409
    problem = other.json()
    assert other.headers["content-type"].startswith("application/problem+json")
    assert problem["message_id"] == first.json()["id"]
    assert problem["errors"][0]["loc"] == "idempotency_key"


def test_keys_are_scoped_to_the_sender(hub: RunningHub) -> None:
    key = f"key-{uuid.uuid4()}"
    with hub.client("bank-a") as a, hub.client("platform-x") as x:
        first = a.post("/v1/messages", json=invoice(), headers={"idempotency-key": key})
        second = x.post("/v1/messages", json=invoice(), headers={"idempotency-key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] != second.json()["id"]


def test_institution_webhook_gets_the_final_status(hub: RunningHub) -> None:
    with hub.client() as client:
        mid = client.post("/v1/messages", json=invoice()).json()["id"]
    hub.wait_status(mid, {"completed"})
    deadline = time.monotonic() + 15
    with hub.sandbox("bank-a-inbox") as inbox:
        while time.monotonic() < deadline:
            calls = inbox.get("/_sandbox/received").json()
            if any(c["correlation_id"] == mid for c in calls):
                break
            time.sleep(0.2)
    assert any(c["correlation_id"] == mid for c in calls), calls


def test_paused_adapter_holds_messages_without_attempts_until_resumed(hub: RunningHub) -> None:
    assert hub.cli("adapters", "pause", "factor-json").returncode == 0
    try:
        time.sleep(0.5)  # every instance applies the KV change; one loop turn is enough here
        with hub.client() as client:
            mid = client.post("/v1/messages", json=invoice()).json()["id"]
        time.sleep(2)
        state = hub.wait_status(mid, {"completed"}, timeout=0.1)
        assert state["status"] == "routed" and state["attempts"] == 0
        listed = json.loads(hub.cli("adapters", "--json").stdout)
        assert next(a for a in listed if a["name"] == "factor-json")["paused"] is True
    finally:
        assert hub.cli("adapters", "resume", "factor-json").returncode == 0
    assert hub.wait_status(mid, {"completed"})["status"] == "completed"


def test_adapters_lists_kind_category_versions_weights_and_health(hub: RunningHub) -> None:
    result = hub.cli("adapters", "--json")
    assert result.returncode == 0, result.stderr
    adapters = {a["name"]: a for a in json.loads(result.stdout)}
    factor = adapters["factor-json"]
    assert factor["kind"] == "http-json" and factor["category"] == "generic"
    assert factor["versions"][0]["version"] == "v1" and factor["versions"][0]["weight"] == 100
    assert factor["versions"][0]["healthy"] is True and factor["versions"][0]["breaker"] == "closed"


def test_hub_send_wait_prints_final_status_and_exits_zero(hub: RunningHub) -> None:
    result = hub.cli("send", str(ROOT / "docs" / "samples" / "invoice.json"), "--wait", "30", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads(result.stdout)
    assert state["status"] == "completed"
    status = hub.cli("status", state["id"], "--json")
    assert json.loads(status.stdout)["id"] == state["id"]


def test_hub_send_wait_exits_one_on_dead_letter(hub: RunningHub, tmp_path: Any) -> None:
    correlation = f"refuse-{uuid.uuid4()}"
    with hub.sandbox("factor-json") as sb:
        sb.post("/_sandbox/script", json={"correlation_id": correlation, "answers": [422]})
    path = tmp_path / "m.json"
    path.write_text(json.dumps(invoice(correlation)))
    result = hub.cli("send", str(path), "--wait", "30", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "dead_lettered"


def test_no_matching_route_is_rejected_with_reason(hub: RunningHub) -> None:
    body = invoice()
    body["destination"] = "nobody-routes-here"  # the test config routes trade.* only to factor-json
    with hub.client() as client:
        mid = client.post("/v1/messages", json=body).json()["id"]
    state = hub.wait_status(mid, {"rejected", "completed"})
    assert state["status"] == "rejected"
    assert state["history"][-1]["detail"]["reason"] == "no_route"
    assert "nobody-routes-here" in state["history"][-1]["detail"]["error"]


def test_type_not_allowed_for_institution_is_403(hub: RunningHub) -> None:
    notice = {
        "type": "hub.status_notification",
        "destination": "bank-a",
        "payload": {
            "message_id": "x",
            "message_type": "trade.invoice",
            "status": "completed",
            "at": "2026-11-01T00:00:00Z",
        },
    }
    with hub.client() as client:
        answer = client.post("/v1/messages", json=notice)
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("type-not-allowed")


def test_every_status_change_is_published_as_an_event(hub: RunningHub) -> None:
    import asyncio

    import nats

    async def watch() -> list[dict[str, Any]]:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
        try:
            sub = await nc.jetstream().subscribe(
                "hub.evt.trade.invoice.>", ordered_consumer=True, deliver_policy=nats.js.api.DeliverPolicy.NEW
            )
            with hub.client() as client:
                mid = client.post("/v1/messages", json=invoice()).json()["id"]
            seen: list[dict[str, Any]] = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "completed" not in [e["status"] for e in seen]:
                try:
                    msg = await sub.next_msg(timeout=1)
                except TimeoutError:
                    continue
                event = json.loads(msg.data)
                if event["id"] == mid:
                    seen.append(event)
            return seen
        finally:
            await nc.close()

    events = asyncio.run(watch())
    assert [e["status"] for e in events] == ["accepted", "routed", "sent", "delivered", "completed"]
    assert all(e["type"] == "trade.invoice" and e["source"] == "bank-a" for e in events)


def test_health_reports_nats_store_and_consumers(hub: RunningHub) -> None:
    with hub.client() as client:
        health = client.get("/healthz")
        ready = client.get("/readyz")
    assert health.status_code == 200 and ready.status_code == 200
    body = health.json()
    assert body["ok"] is True and body["nats"] is True and body["store"] is True
    assert "router_pending" in body["consumers"]


def test_export_guard_keeps_core_data_home_and_lets_assessed_important_data_out(hub: RunningHub) -> None:
    core, important, core_allowed = invoice(), invoice(), invoice()
    core["classification"] = "core"  # residency defaults to the home country, CN; factor-json is in DE
    important["classification"] = "important"  # the test config holds an assessment for DE, trade.invoice
    core_allowed.update(classification="core", residency=["CN", "DE"])
    with hub.client() as client:
        ids = [client.post("/v1/messages", json=body).json()["id"] for body in (core, important, core_allowed)]
    states = [hub.wait_status(i, {"completed", "rejected", "dead_lettered"}) for i in ids]
    assert [s["status"] for s in states] == ["rejected", "completed", "completed"]
    refusal = states[0]["history"][-1]["detail"]
    assert refusal["reason"] == "export_guard" and "core data may stay only in CN" in refusal["error"]
    with hub.admin() as admin:
        audit = admin.get("/admin/audit").json()
    assert any(a["action"] == "export_guard.refused" and a["target"] == ids[0] for a in audit)
    assert effects_for(hub, ids[0]) == []


def test_routed_messages_carry_their_correlation_for_ordered_delivery(hub: RunningHub) -> None:
    import asyncio

    import nats

    correlation = f"order-{uuid.uuid4()}"
    with hub.client() as client:
        mid = client.post("/v1/messages", json=invoice(correlation)).json()["id"]
    hub.wait_status(mid, {"completed"})

    async def last_routed() -> Any:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
        try:
            return await nc.jetstream().get_last_msg("HUB_OUT", "hub.out.factor-json.v1")
        finally:
            await nc.close()

    routed = asyncio.run(last_routed())
    assert json.loads(routed.data)["id"] == mid  # tests share the hub one at a time
    assert routed.headers["Hub-Correlation"] == correlation
