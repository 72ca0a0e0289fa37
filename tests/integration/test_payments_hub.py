"""Payments end to end on a running hub: CIPS and SWIFT sandboxes, asynchronous status reports by
signed callback, failover to the backup channel without double-send, in-doubt payments resolved by
status enquiry, future-dated holds, cancellations, ageing and GET /v1/payments/{uetr}.

One hub of its own (short timeouts, a quick breaker, ageing every second) for the module; the
shipped configuration is exercised on the session hub by the acceptance test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
import yaml

from security import jose
from tests.conftest import RunningHub, hub_config, start_hub, stop_hub

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT.parent / "shared" / "data" / "iso20022" / "samples" / "pacs008_credit_transfer_sample.xml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_today() -> date:
    return datetime.now(SHANGHAI).date()


def payment(currency: str = "CNY", settles: date | None = None) -> tuple[bytes, str]:
    """The shared pacs.008 sample made a new payment: fresh ids and UETR, `currency`, settling `settles`."""
    uetr, n = str(uuid.uuid4()), uuid.uuid4().hex[:12]
    text = SAMPLE.read_text()
    for old, new in (
        ("P008-20260413-5017", f"P008-{n}"),
        ("IN20260413-5017", f"IN-{n}"),
        ("E2E-04138234", f"E2E-{n}"),
        ("a1b2c3d4-e5f6-4890-abcd-ef1234567890", uetr),
        ('Ccy="EUR"', f'Ccy="{currency}"'),
        ("<pacs:IntrBkSttlmDt>2026-04-13<", f"<pacs:IntrBkSttlmDt>{settles or shanghai_today()}<"),
    ):
        text = text.replace(old, new)
    return text.encode(), uetr


def cancellation(uetr: str, currency: str = "CNY") -> bytes:
    """A camt.056 asking to cancel the payment with `uetr` (as the sender's bank would send it)."""
    from canonical.iso20022 import BusinessHeader, Iso20022Message, render
    from canonical.payments import CancellationRequest, OriginalReference

    n = uuid.uuid4().hex[:12]
    request = CancellationRequest(
        assignment_id=f"CXL-{n}",
        assigner="FNTXDE2X",
        assignee="GLPBES2X",
        case_id=f"CASE-{n}",
        case_creator="FNTXDE2X",
        original=OriginalReference(message_id="unknown", message_type="pacs.008.001.08", uetr=uetr),
        original_settlement_amount={"amount": "750000", "currency": currency},
        reason_code="CUST",
    )
    header = BusinessHeader(
        from_bic="FNTXDE2X",
        to_bic="GLPBES2X",
        business_message_id=f"CXL-{n}",
        message_definition="camt.056.001.08",
        created_at=datetime.now(SHANGHAI),
    )
    return render(Iso20022Message(header, request))


@pytest.fixture(scope="module")
def pay_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("payments")
    config = hub_config(base / "config")
    routes = yaml.safe_load((config / "routes.yaml").read_text())
    cips = routes["adapters"]["cips"]
    cips["versions"]["v1"]["timeout_s"] = 2
    # Open after two failures and closed long enough for a failover to be seen on a loaded machine.
    cips["breaker"] = {"failure_threshold": 2, "reset_after_s": 8}
    cips["retry"] = {"max_attempts": 30, "base_delay_s": 0.3, "max_delay_s": 1.0}
    holiday = shanghai_today() + timedelta(days=3)
    cips["channel"] = {
        "timezone": "Asia/Shanghai",
        "currencies": ["CNY"],
        "holidays": {"CNY": [str(holiday)]},
        "status_timeout_s": 2,
    }
    routes["adapters"]["swift"]["channel"]["status_timeout_s"] = 2
    (config / "routes.yaml").write_text(yaml.safe_dump(routes))
    toml = (config / "hub.toml").read_text()
    (config / "hub.toml").write_text(toml + "\n[payments]\nageing_interval_s = 1\nhold_recheck_s = 1\n")
    running = start_hub(base / "home", config)
    yield running
    stop_hub(running)


def submit(hub: RunningHub, body: bytes) -> str:
    with hub.client() as client:
        answer = client.post("/v1/messages", content=body, headers={"content-type": "application/xml"})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def track(hub: RunningHub, uetr: str, **params: str) -> dict[str, Any]:
    with hub.client() as client:
        answer = client.get(f"/v1/payments/{uetr}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def knob(hub: RunningHub, network: str, name: str, value: dict[str, Any]) -> None:
    with hub.sandbox(network) as sb:
        assert sb.post(f"/_sandbox/{name}", json=value).status_code == 200


def received(hub: RunningHub, network: str, uetr: str, effects_only: bool = True) -> list[dict[str, Any]]:
    with hub.sandbox(network) as sb:
        calls = sb.get("/_sandbox/received", params={} if effects_only else {"all": "1"}).json()
    return [c for c in calls if c.get("correlation_id") == uetr]


def breaker(hub: RunningHub, adapter: str) -> str:
    with hub.admin() as admin:
        entries = admin.get("/admin/adapters").json()
    [entry] = [a for a in entries if a["name"] == adapter]
    return str(entry["versions"][0]["breaker"])


def wait_for(check: Any, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(state: dict[str, Any]) -> list[str]:
    return [t["status"] for t in state["history"]]


# -- the acceptance test on the shipped configuration --------------------------------------------------


def test_the_sample_eur_payment_completes_through_the_swift_sandbox(hub: RunningHub) -> None:
    result = hub.cli("send", str(SAMPLE), "--wait", "60", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads(result.stdout)
    assert state["status"] == "completed" and state["adapter"] == "swift"
    answer = track(hub, "a1b2c3d4-e5f6-4890-abcd-ef1234567890")
    assert answer["channel"] == "swift" and answer["status"] == "completed"
    assert statuses(answer)[-2:] == ["delivered", "completed"]
    assert answer["history"][-1]["actor"] == "swift"  # the network's pacs.002, by signed callback
    assert [r["type"] for r in answer["related"]] == ["payment.status_report"]


def test_a_cny_payment_completes_through_cips_on_the_shipped_config(hub: RunningHub) -> None:
    body, uetr = payment()
    state = hub.wait_status(submit(hub, body), {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "completed" and state["adapter"] == "cips", state
    assert len(received(hub, "cips", uetr)) == 1


# -- the payments hub ----------------------------------------------------------------------------------


def test_a_network_rejection_ends_rejected_with_its_reason(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    knob(pay_hub, "cips", "script", {"uetr": uetr, "outcome": "RJCT", "reason": "AC04"})
    state = pay_hub.wait_status(submit(pay_hub, body), {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "rejected", state
    last = state["history"][-1]
    assert last["actor"] == "cips" and last["detail"]["reason"] == "partner_rejected"
    assert "AC04" in last["detail"]["error"]


def test_a_payment_the_network_refuses_at_once_is_rejected_not_dead_lettered(pay_hub: RunningHub) -> None:
    body, _uetr = payment()
    body = body.replace(b"GLPBES2X", b"UNKNDEFFXXX")  # no CIPS participant
    state = pay_hub.wait_status(submit(pay_hub, body), {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "rejected" and state["history"][-1]["detail"]["by"] == "cips", state
    assert "RC01" in state["history"][-1]["detail"]["error"]


def test_future_dated_payment_is_held_and_a_cancellation_cancels_it_locally(pay_hub: RunningHub) -> None:
    body, uetr = payment(settles=shanghai_today() + timedelta(days=2))
    mid = submit(pay_hub, body)
    held = wait_for(
        lambda: next((t for t in pay_hub.wait_status(mid, {"routed"})["history"] if "held_until" in t["detail"]), None),
        what="the hold",
    )
    assert "future-dated" in held["detail"]["reason"]
    cancel_id = submit(pay_hub, cancellation(uetr))
    cancel = pay_hub.wait_status(cancel_id, {"completed", "rejected"})
    assert cancel["status"] == "completed" and cancel["history"][-1]["detail"]["resolution"] == "CNCL"
    state = pay_hub.wait_status(mid, {"rejected"})
    assert state["history"][-1]["detail"]["reason"] == "cancelled"
    assert received(pay_hub, "cips", uetr, effects_only=False) == []  # the network never saw either


def test_a_sent_payment_is_cancelled_through_its_network(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    knob(pay_hub, "cips", "hold", {"uetr": uetr})
    mid = submit(pay_hub, body)
    pay_hub.wait_status(mid, {"delivered"})
    cancel = pay_hub.wait_status(submit(pay_hub, cancellation(uetr)), {"completed", "rejected"})
    assert cancel["status"] == "completed" and cancel["adapter"] == "cips", cancel
    state = pay_hub.wait_status(mid, {"rejected"})
    assert state["history"][-1]["detail"] == {
        "reason": "cancelled",
        "error": "cancelled at the sender's request",
        "by": "cips",
    }
    answer = track(pay_hub, uetr)
    assert {r["type"] for r in answer["related"]} >= {"payment.cancellation_request", "payment.cancellation_resolution"}


def test_a_settlement_date_on_a_cny_holiday_fails_over_to_swift_where_it_waits_for_its_date(
    pay_hub: RunningHub,
) -> None:
    body, uetr = payment(settles=shanghai_today() + timedelta(days=3))
    mid = submit(pay_hub, body)

    def held_on_swift() -> dict[str, Any] | None:
        state = pay_hub.wait_status(mid, {"routed"})
        held = [t for t in state["history"] if "held_until" in t["detail"]]
        return state if held and state["adapter"] == "swift" else None

    state = wait_for(held_on_swift, what="the payment held on swift")
    [failover] = [t for t in state["history"] if t["detail"].get("failover")]
    assert failover["detail"]["failover"] == "cips -> swift"
    assert "not a business day for CNY" in failover["detail"]["reason"]
    assert received(pay_hub, "cips", uetr, effects_only=False) == []
    assert received(pay_hub, "swift", uetr, effects_only=False) == []  # held there until its date


def test_swallowed_payment_is_in_doubt_and_resolved_by_enquiry_without_a_second_send(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    knob(pay_hub, "cips", "hold", {"uetr": uetr})  # unsettled until released: only an enquiry can tell
    knob(pay_hub, "cips", "swallow", {"count": 1})
    mid = submit(pay_hub, body)
    wait_for(
        lambda: any(
            t["detail"].get("via") == "status enquiry" for t in pay_hub.wait_status(mid, {"delivered"})["history"]
        ),
        what="the enquiry's answer",
    )
    knob(pay_hub, "cips", "hold", {"uetr": uetr, "release": True})
    state = pay_hub.wait_status(mid, {"completed", "rejected", "dead_lettered"}, timeout=40)
    assert state["status"] == "completed" and state["adapter"] == "cips", state
    retrying = [t for t in state["history"] if t["status"] == "retrying"]
    assert retrying and retrying[0]["detail"]["in_doubt"] is True, json.dumps(state["history"])
    assert len(received(pay_hub, "cips", uetr)) == 1  # one effect at the network
    assert received(pay_hub, "swift", uetr, effects_only=False) == []  # never on the other channel
    with pay_hub.admin() as admin:
        audit = admin.get("/admin/audit", params={"limit": 200}).json()
    enquiries = [a for a in audit if a["action"] == "payment.enquiry" and a["target"] == mid]
    assert enquiries and enquiries[0]["detail"]["known"] is True


def test_cips_down_in_doubt_payment_waits_while_new_ones_fail_over_to_swift(pay_hub: RunningHub) -> None:
    first, first_uetr = payment()
    knob(pay_hub, "cips", "mode", {"mode": "down"})
    try:
        first_id = submit(pay_hub, first)
        wait_for(lambda: breaker(pay_hub, "cips") == "open", what="the CIPS breaker to open")
        second, second_uetr = payment()
        state = pay_hub.wait_status(submit(pay_hub, second), {"completed", "rejected", "dead_lettered"})
        assert state["status"] == "completed" and state["adapter"] == "swift", json.dumps(state["history"])
        [failover] = [t for t in state["history"] if t["detail"].get("failover")]
        assert failover["detail"]["failover"] == "cips -> swift" and "breaker" in failover["detail"]["reason"]
        view = pay_hub.wait_status(first_id, {"retrying"})
        assert view["adapter"] == "cips"  # in doubt: it stays where it may already be
    finally:
        knob(pay_hub, "cips", "mode", {"mode": "ok"})
    state = pay_hub.wait_status(first_id, {"completed", "rejected", "dead_lettered"}, timeout=60)
    assert state["status"] == "completed" and state["adapter"] == "cips", state
    [effect] = received(pay_hub, "cips", first_uetr)
    assert "<head:PssblDplct>true</head:PssblDplct>" in json.dumps(effect["body"]) or "PssblDplct" in str(effect)
    assert received(pay_hub, "swift", first_uetr, effects_only=False) == []
    assert received(pay_hub, "cips", second_uetr, effects_only=False) == []


def test_an_ageing_payment_raises_an_alert_and_is_enquired(pay_hub: RunningHub) -> None:
    wait_for(lambda: breaker(pay_hub, "cips") == "closed", what="CIPS to take payments")
    body, uetr = payment()
    knob(pay_hub, "cips", "hold", {"uetr": uetr})

    async def alert() -> dict[str, Any]:
        nc = await nats.connect(pay_hub.info["nats_url"], **pay_hub.nats_login)
        try:
            sub = await nc.subscribe("hub.evt.alert.warning")
            mid = submit(pay_hub, body)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                msg = await sub.next_msg(timeout=deadline - time.monotonic())
                event = json.loads(msg.data)
                if event.get("kind") == "payment_ageing" and event.get("message_id") == mid:
                    return event  # type: ignore[no-any-return]
            raise AssertionError("no ageing alert")
        finally:
            await nc.close()

    event = asyncio.run(alert())
    assert event["uetr"] == uetr and event["channel"] == "cips"
    knob(pay_hub, "cips", "hold", {"uetr": uetr, "release": True})
    pay_hub.wait_status(event["message_id"], {"completed"})


def test_payment_status_is_visible_to_its_sender_and_operators_only(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    pay_hub.wait_status(submit(pay_hub, body), {"completed"})
    answer = track(pay_hub, uetr, track="true")
    assert answer["network"]["available"] is True and answer["network"]["status"] == "completed"
    with pay_hub.client("platform-x", signed=False) as other:
        assert other.get(f"/v1/payments/{uetr}").status_code == 404
    with pay_hub.admin() as admin:
        assert admin.get(f"/v1/payments/{uetr}").json()["status"] == "completed"


def test_callbacks_must_be_signed_by_the_network(pay_hub: RunningHub) -> None:
    url = f"{pay_hub.url}/v1/callbacks/cips"
    with httpx.Client(trust_env=False, timeout=10) as client:
        unsigned = client.post(url, content=b"<x/>", headers={"content-type": "application/xml"})
        assert unsigned.status_code == 401 and unsigned.json()["errors"][0]["rule"] == "signature_required"
        forged_key = jose.generate_key("Ed25519", "not-the-network")
        token = jose.sign_detached_with(b"<x/>", forged_key.signer(), {"iat": int(time.time()), "nonce": "n" * 16})
        forged = client.post(url, content=b"<x/>", headers={"x-hub-signature": token})
        assert forged.status_code == 401 and forged.json()["errors"][0]["rule"] == "unknown_kid"
        assert client.post(f"{pay_hub.url}/v1/callbacks/nobody", content=b"").status_code == 404


def test_a_signed_but_unreadable_callback_is_refused_naming_the_problem(pay_hub: RunningHub) -> None:
    keys = json.loads((pay_hub.home / "sandbox" / "cips" / "partner-keys.json").read_text())["keys"]
    [signing] = [jose.import_jwk(k) for k in keys if k.get("crv") == "Ed25519"]
    body = b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10'><broken/></Document>"
    header = {"iat": int(time.time()), "nonce": uuid.uuid4().hex}
    token = jose.sign_detached_with(body, signing.signer(), header)
    with httpx.Client(trust_env=False, timeout=10) as client:
        answer = client.post(f"{pay_hub.url}/v1/callbacks/cips", content=body, headers={"x-hub-signature": token})
        assert answer.status_code == 400 and answer.json()["type"].endswith("invalid-answer"), answer.text
        replay = client.post(f"{pay_hub.url}/v1/callbacks/cips", content=body, headers={"x-hub-signature": token})
        assert replay.status_code == 409 and replay.json()["errors"][0]["rule"] == "replayed"


def test_a_statement_the_network_pushes_is_reconciled_against_the_journal(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    pay_hub.wait_status(submit(pay_hub, body), {"completed"})
    extra = {"amount": "12.50", "credit_debit": "CRDT", "end_to_end_id": "NOT-OURS-1"}
    knob(pay_hub, "cips", "statement", {"account": "CIPS-SETTLEMENT-1", "currency": "CNY", "extra_entries": [extra]})

    def report() -> dict[str, Any] | None:
        with pay_hub.admin() as admin:
            reports = admin.get("/admin/reconciliation", params={"limit": 5}).json()
        return next((r for r in reports if r["report"]["channel"] == "cips"), None) if reports else None

    found = wait_for(report, what="the reconciliation of the pushed statement")["report"]
    assert uetr in {m["uetr"] for m in found["matched"]}
    assert [u["references"].get("end_to_end_id") for u in found["unmatched_entries"]] == ["NOT-OURS-1"]


def test_a_return_the_network_pushes_is_journalled_with_its_payment(pay_hub: RunningHub) -> None:
    body, uetr = payment()
    mid = submit(pay_hub, body)
    pay_hub.wait_status(mid, {"completed"})
    knob(pay_hub, "cips", "return", {"uetr": uetr, "reason": "AC04"})
    # Journalled on arrival (accepted), completed once applied to its payment.
    related = wait_for(
        lambda: [
            r for r in track(pay_hub, uetr)["related"] if r["type"] == "payment.return" and r["status"] == "completed"
        ],
        what="the return applied",
    )
    assert related[0]["destination"] == "bank-a"
    with pay_hub.admin() as admin:
        audit = admin.get("/admin/audit").json()
    [returned] = [a for a in audit if a["action"] == "payment.returned" and a["target"] == mid]
    assert returned["actor"] == "cips" and returned["detail"]["reason"] == "AC04"


def test_a_payment_cips_refuses_for_the_hour_fails_over_to_swift(pay_hub: RunningHub) -> None:
    """The hub's calendar says open, the network says closed (NAK TM01, nothing taken): the backup carries it."""
    other_day = datetime.now(UTC).isoweekday() % 7 + 1
    knob(pay_hub, "cips", "hours", {"timezone": "UTC", "days": [other_day]})
    try:
        body, uetr = payment()
        state = pay_hub.wait_status(submit(pay_hub, body), {"completed", "rejected", "dead_lettered"})
    finally:
        knob(pay_hub, "cips", "hours", {})
    assert state["status"] == "completed" and state["adapter"] == "swift", json.dumps(state["history"])
    [failover] = [t for t in state["history"] if t["detail"].get("failover")]
    assert "refused it for the hour" in failover["detail"]["reason"] and "TM01" in failover["detail"]["reason"]
    assert received(pay_hub, "cips", uetr) == []  # a NAK has no effect


def test_with_the_cips_network_gone_a_cny_payment_completes_over_swift(pay_hub: RunningHub) -> None:
    """Last in the module: it stops the CIPS sandbox for good. Nothing reaches CIPS (connection refused),
    so the payment was never sent there and may fail over once the breaker opens."""
    os.kill(pay_hub.info["children"]["sandbox-cips"], signal.SIGTERM)
    body, uetr = payment()
    state = pay_hub.wait_status(submit(pay_hub, body), {"completed", "rejected", "dead_lettered"}, timeout=60)
    assert state["status"] == "completed" and state["adapter"] == "swift", json.dumps(state["history"])
    attempts = [t for t in state["history"] if t["status"] == "retrying"]
    assert attempts and all(not t["detail"].get("in_doubt") for t in attempts)  # refused connections: not in doubt
    assert len(received(pay_hub, "swift", uetr)) == 1
