"""Logistics and credit through a running hub with its shipped config and sandboxes: `hub track`,
signed carrier webhooks into GET /v1/shipments, refused signatures, `hub credit report` with consent,
cache and masking."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from canonical.credit import uscc_check_character
from sandbox.carriers import journey
from tests.conftest import RunningHub

NUMBERS = [f"T{i}" for i in range(2000)]


def _wait_events(hub: RunningHub, shipment_id: str, count: int) -> dict[str, Any]:
    with hub.admin() as admin:
        for _ in range(150):  # bounded: the sandbox pushes within a fraction of a second
            r = admin.get(f"/v1/shipments/{shipment_id}")
            if r.status_code == 200 and len(r.json()["timeline"]) >= count:
                return dict(r.json())
            time.sleep(0.1)
    raise AssertionError(f"{shipment_id}: {count} events never arrived")


def _intents(number: str, domestic: bool) -> list[str | None]:
    return [None if s.intent == "unknown" else s.intent for s in journey(number, domestic)]


def test_hub_track_prints_the_normalized_timeline(hub: RunningHub) -> None:
    done = hub.cli("track", "carrier-domestic", "CLIDOM1", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["shipment_id"] == "carrier-domestic:CLIDOM1"
    assert [e["code"] for e in found["timeline"]] == _intents("CLIDOM1", True)
    number = next(n for n in NUMBERS if any(s.intent == "unknown" for s in journey(n)))
    text = hub.cli("track", "carrier-intl", number)
    assert text.returncode == 0 and "UNKNOWN(unknown)" in text.stdout and "arrived_hub" in text.stdout


def test_every_carrier_tracks_through_the_admin_api(hub: RunningHub) -> None:
    with hub.admin() as admin:
        for carrier in ("carrier-intl", "carrier-ocean"):
            r = admin.post("/admin/shipments/track", json={"carrier": carrier, "tracking_number": "API1"})
            assert r.status_code == 200, r.text
            assert [e["code"] for e in r.json()["timeline"]] == _intents("API1", False)
        assert (
            admin.post("/admin/shipments/track", json={"carrier": "nope", "tracking_number": "X1"}).status_code == 404
        )


def test_an_operator_reads_an_overseas_warehouses_stock(hub: RunningHub) -> None:
    with hub.admin() as admin:
        stock = admin.get("/admin/warehouses/carrier-intl/DE-FRA-01/stock")
        assert stock.status_code == 200, stock.text
        assert stock.json()["warehouse_id"] == "DE-FRA-01" and len(stock.json()["levels"]) == 5
        assert admin.get("/admin/warehouses/nope/X/stock").status_code == 404


def test_hub_track_refuses_an_invalid_tracking_number(hub: RunningHub) -> None:
    bad = hub.cli("track", "carrier-intl", "../etc")
    assert bad.returncode == 1 and "tracking number" in bad.stderr


def test_a_signed_webhook_push_lands_on_the_timeline_once(hub: RunningHub) -> None:
    number = next(n for n in NUMBERS if any(s.intent == "exception" for s in journey(n, True)))
    steps = len(journey(number, True))
    with hub.sandbox("carrier-domestic") as sandbox:
        assert sandbox.post("/_sandbox/push", json={"tracking_number": number, "count": 3}).status_code == 200
        found = _wait_events(hub, f"carrier-domestic:{number}", 3)
        assert [e["code"] for e in found["timeline"]] == [s.intent for s in journey(number, True)[:3]]
        # The rest, newest first and twice: order and duplicates do not matter.
        sandbox.post("/_sandbox/push", json={"tracking_number": number, "reverse": True, "repeat": 2})
    found = _wait_events(hub, f"carrier-domestic:{number}", steps)
    assert [e["code"] for e in found["timeline"]] == [s.intent for s in journey(number, True)]
    assert found["status"] == journey(number, True)[-1].intent and found["final"]


def test_a_webhook_with_a_bad_signature_is_refused(hub: RunningHub) -> None:
    with hub.sandbox("carrier-intl") as sandbox:
        body = sandbox.get("/track/shipments", params={"trackingNumber": "SIG1"}).content
    with httpx.Client(base_url=hub.url, trust_env=False) as client:
        unsigned = client.post("/v1/callbacks/carrier-intl", content=body)
        forged = client.post(
            "/v1/callbacks/carrier-intl",
            content=body,
            headers={"x-hub-signature": "eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ..c2lnbmF0dXJl"},
        )
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    with hub.admin() as admin:
        assert admin.get("/v1/shipments/carrier-intl:SIG1").status_code == 404


def test_an_institution_sees_only_its_own_shipments(hub: RunningHub) -> None:
    with hub.client("bank-a") as bank:
        r = bank.post("/v1/shipments", json={"carrier": "carrier-ocean", "tracking_number": "OWN1"})
        assert r.status_code == 200, r.text
        assert bank.get("/v1/shipments/carrier-ocean:OWN1").json()["timeline"]
    with hub.client("platform-x", signed=False) as other:
        assert other.get("/v1/shipments/carrier-ocean:OWN1").status_code == 404


def _uscc(seed: int) -> str:
    first = f"91440300{seed:09d}"
    return first + uscc_check_character(first)


def test_hub_credit_report_masks_and_caches(hub: RunningHub) -> None:
    first = hub.cli("credit", "report", _uscc(42), "--bureau", "bureau-a", "--json")
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["masked"] and answer["report"]["entity"]["registration_id"] == "***"
    assert not answer["cached"] and answer["cost"] == 10
    with hub.admin() as admin:
        again = admin.post("/admin/credit/reports", json={"bureau": "bureau-a", "entity_id": _uscc(42)}).json()
    assert again["cached"] and again["cost"] == 0
    text = hub.cli("credit", "report", _uscc(42), "--bureau", "bureau-b", "--reveal")
    assert text.returncode == 0 and _uscc(42) in text.stdout and "score" in text.stdout


def test_a_person_query_without_consent_is_refused(hub: RunningHub) -> None:
    refused = hub.cli("credit", "report", "P7654321", "--bureau", "bureau-b", "--person", "--country", "GB")
    assert refused.returncode == 1 and "consent" in refused.stderr
    with hub.admin() as admin:
        consent = admin.post(
            "/admin/credit/consents",
            json={"tenant": "operations", "subject_id": "P7654321", "purpose": "KYC of a guarantor", "valid_days": 30},
        ).json()
    ok = hub.cli(
        "credit", "report", "P7654321", "--bureau", "bureau-b", "--person", "--country", "GB",
        "--consent", consent["consent_id"], "--json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["report"]["entity"]["kind"] == "person"


def test_an_institution_gets_its_report_in_clear(hub: RunningHub) -> None:
    with hub.client("bank-a") as bank:
        r = bank.post("/v1/credit/reports", json={"bureau": "bureau-b", "entity_id": "HRB12345", "country": "DE"})
        assert r.status_code == 200, r.text
        assert r.json()["report"]["entity"]["registration_id"] == "HRB12345"
        person = bank.post(
            "/v1/credit/reports",
            json={"bureau": "bureau-b", "entity_id": "P1", "entity_kind": "person", "country": "DE"},
        )
        assert person.status_code == 403 and "consent" in person.json()["detail"]
    with hub.admin() as admin:
        usage = admin.get("/admin/credit/usage/bank-a").json()
    assert usage["spent"] >= 20 and usage["quota"] == 1000


def test_an_electronic_waybill_goes_to_the_carrier_the_envelope_names(hub: RunningHub) -> None:
    waybill = {
        "direction": "import",
        "logisticsCode": "SF0001",
        "logisticsName": "顺丰速运",
        "logisticsNo": "SFHUB0000001",
        "orderNo": "ORD-HUB-1",
        "freight": "12.50",
        "currency": "CNY",
        "weight": "1.2",
        "goodsInfo": "cosmetics",
        "consignee": "张三",
        "consigneeAddress": "上海市黄浦区",
        "consigneeTelephone": "13800000000",
    }
    envelope = {"type": "logistics.waybill", "destination": "carrier-domestic", "payload": waybill}
    with hub.client("bank-a") as bank:
        answer = bank.post("/v1/messages", json=envelope)
        assert answer.status_code == 202, answer.text
    state = hub.wait_status(answer.json()["id"], {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "completed", state
    with hub.sandbox("carrier-domestic") as sandbox:
        effects = sandbox.get("/_sandbox/received").json()
    assert [e["body"]["logisticsNo"] for e in effects if isinstance(e["body"], dict)].count("SFHUB0000001") == 1


def test_new_tracking_events_are_published_for_internal_subscribers(hub: RunningHub) -> None:
    import asyncio

    import nats

    async def watch() -> list[tuple[str, dict[str, Any]]]:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
        try:
            sub = await nc.jetstream().subscribe(
                "hub.evt.logistics.tracking_event.>",
                ordered_consumer=True,
                deliver_policy=nats.js.api.DeliverPolicy.NEW,
            )
            with hub.admin() as admin:
                admin.post("/admin/shipments/track", json={"carrier": "carrier-ocean", "tracking_number": "EVT1"})
            seen: list[tuple[str, dict[str, Any]]] = []
            for _ in range(40):  # bounded
                if len(seen) == len(journey("EVT1")):
                    break
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except TimeoutError:
                    continue
                event = json.loads(msg.data)
                if event["shipment_id"] == "carrier-ocean:EVT1":
                    seen.append((msg.subject, event))
            return seen
        finally:
            await nc.close()

    events = asyncio.run(watch())
    assert [s.rsplit(".", 1)[1] for s, _ in events] == [s.intent for s in journey("EVT1")]
    assert all(e["via"] == "poll" and e["carrier"] == "MAEU" for _, e in events)
