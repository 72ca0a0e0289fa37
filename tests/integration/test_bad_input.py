"""Bad input gets a specific problem+json naming the field and rule, and leaves no trace: nothing
is published to HUB_IN and nothing is journalled as accepted."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import nats
import pytest

from tests.conftest import RunningHub
from tests.integration.test_flow import invoice


def hub_in_last_seq(hub: RunningHub) -> int:
    """Messages callers submitted to HUB_IN (not the hub's own webhook notifications, which follow
    earlier tests' messages at their own pace)."""

    async def read() -> int:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
        try:
            info = await nc.jetstream().stream_info("HUB_IN", subjects_filter="hub.in.trade.>")
            return sum((info.state.subjects or {}).values())
        finally:
            await nc.close()

    return asyncio.run(read())


def journal_count(hub: RunningHub) -> int:
    with sqlite3.connect(hub.home / "journal.sqlite3") as db:
        query = "SELECT count(*) FROM messages WHERE type != 'hub.status_notification'"  # as above
        return int(db.execute(query).fetchone()[0])


@pytest.fixture
def untouched(hub: RunningHub) -> Iterator[None]:
    """Asserts after the test that the stream and the journal did not grow."""
    seq, rows = hub_in_last_seq(hub), journal_count(hub)
    yield
    assert hub_in_last_seq(hub) == seq, "something was published to HUB_IN"
    assert journal_count(hub) == rows, "something was journalled"


def post(
    hub: RunningHub,
    content: bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    institution: str | None = "bank-a",
) -> Any:
    with hub.client(institution or "bank-a", signed=institution is not None) as client:
        if institution is None:
            client.headers.pop("x-api-key")
        answer = client.post(
            "/v1/messages",
            content=content,
            json=json_body,
            headers={"content-type": "application/json", **(headers or {})},
        )
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body = answer.json()
    assert body["status"] == answer.status_code and body["title"] and body["type"].startswith("urn:tradehub:problem:")
    return answer.status_code, body


def locs(problem: dict[str, Any]) -> dict[str, str]:
    return {e["loc"]: e["rule"] for e in problem.get("errors", [])}


@pytest.mark.usefixtures("untouched")
class TestRefusedWithoutTrace:
    def test_malformed_json_names_line_and_column(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b'{"type": "trade.invoice",, }')
        assert status == 400 and locs(problem) == {"body": "json_syntax"}
        assert "line 1 column" in problem["detail"]

    def test_deeply_nested_json_is_refused_before_parsing(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b"[" * 10_000 + b"]" * 10_000)
        assert status == 400 and locs(problem) == {"body": "max_depth"}

    def test_duplicate_keys_are_refused(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b'{"type": "trade.invoice", "type": "trade.other"}')
        assert status == 400 and locs(problem) == {"body": "duplicate_key"}

    def test_body_that_is_not_utf8(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b'{"type": "trade.invoice", "destination": "\xff\xfe"}')
        assert status == 400 and locs(problem) == {"body": "utf8"}

    def test_unknown_type_lists_the_known_ones(self, hub: RunningHub) -> None:
        body = invoice()
        body["type"] = "trade.unicorn"
        status, problem = post(hub, json_body=body)
        assert status == 422 and locs(problem)["type"] == "unknown_message_type"
        assert "trade.invoice" in next(e["detail"] for e in problem["errors"] if e["loc"] == "type")

    def test_missing_field_is_named_by_path(self, hub: RunningHub) -> None:
        body = invoice()
        del body["payload"]["seller"]["country"]
        status, problem = post(hub, json_body=body)
        assert status == 422 and locs(problem) == {"payload.seller.country": "missing"}

    def test_wrongly_typed_field_is_named_by_path(self, hub: RunningHub) -> None:
        body = invoice()
        body["payload"]["lines"][0]["quantity"] = "many"
        status, problem = post(hub, json_body=body)
        assert status == 422 and locs(problem) == {"payload.lines.0.quantity": "int_parsing"}

    def test_too_many_decimals_for_the_currency(self, hub: RunningHub) -> None:
        body = invoice()
        body["payload"]["total"] = {"currency": "JPY", "amount": "100.5"}
        status, problem = post(hub, json_body=body)
        assert status == 422 and "payload.total" in locs(problem)
        assert "JPY allows at most 0 decimals" in problem["detail"]

    def test_unknown_currency(self, hub: RunningHub) -> None:
        body = invoice()
        body["payload"]["total"]["currency"] = "XYZ"
        status, problem = post(hub, json_body=body)
        assert status == 422 and "payload.total.currency" in locs(problem)

    def test_body_over_the_size_limit(self, hub: RunningHub) -> None:
        body = invoice()
        body["payload"]["lines"] = [{"description": "x" * 200, "quantity": 1}] * 6000  # > 1 MiB
        status, problem = post(hub, content=json.dumps(body).encode())
        assert status == 413 and locs(problem) == {"body": "max_size"}

    def test_server_assigned_fields_are_refused(self, hub: RunningHub) -> None:
        body = {**invoice(), "id": "01a207fe-7952-72fc-ad73-a458f41dce6a"}
        status, problem = post(hub, json_body=body)
        assert status == 422 and locs(problem) == {"id": "server_assigned"}

    def test_unknown_envelope_field(self, hub: RunningHub) -> None:
        status, problem = post(hub, json_body={**invoice(), "priority": "urgent"})
        assert status == 422 and locs(problem) == {"priority": "extra_forbidden"}

    def test_not_an_object(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b"[1, 2]")
        assert status == 422 and locs(problem) == {"body": "object_type"}

    def test_source_other_than_the_caller(self, hub: RunningHub) -> None:
        status, problem = post(hub, json_body={**invoice(), "source": "platform-x"})
        assert status == 403 and locs(problem) == {"source": "authenticated_institution"}

    def test_no_credential(self, hub: RunningHub) -> None:
        status, problem = post(hub, json_body=invoice(), institution=None)
        assert status == 401 and "X-Api-Key" in problem["detail"]

    def test_wrong_credential(self, hub: RunningHub) -> None:
        status, _problem = post(hub, json_body=invoice(), headers={"x-api-key": "hk_not-a-key"})
        assert status == 401

    def test_unsupported_document(self, hub: RunningHub) -> None:
        status, problem = post(hub, content=b"%PDF-1.7 ...", headers={"content-type": "application/pdf"})
        assert status == 415 and "application/json" in problem["detail"]

    def test_idempotency_key_header_and_body_disagree(self, hub: RunningHub) -> None:
        body = {**copy.deepcopy(invoice()), "idempotency_key": "a"}
        status, problem = post(hub, json_body=body, headers={"idempotency-key": "b"})
        assert status == 422 and locs(problem) == {"idempotency_key": "matches_header"}


def from_address(hub: RunningHub, address: str, institution: str = "limited-bank") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(
        base_url=hub.url,
        transport=transport,
        headers={"x-api-key": hub.api_key(institution)},
        timeout=10,
        trust_env=False,
    )


@pytest.mark.usefixtures("untouched")
def test_call_from_an_address_outside_the_allowlist_is_refused_and_audited(hub: RunningHub) -> None:
    with from_address(hub, "127.0.0.2") as client:
        answer = client.post("/v1/messages", json=invoice())
    assert answer.status_code == 403 and answer.json()["type"].endswith("ip-not-allowed")
    assert answer.json()["address"] == "127.0.0.2"
    with hub.admin() as admin:
        audit = admin.get("/admin/audit").json()
    assert any(a["action"] == "gateway.refused" and a["detail"]["address"] == "127.0.0.2" for a in audit)


def test_forwarded_for_counts_only_behind_a_trusted_proxy(hub: RunningHub) -> None:
    unknown = "/v1/messages/00000000-0000-7000-8000-000000000000"  # 404 once the caller is let in
    with from_address(hub, "127.0.0.4") as proxy:  # a trusted proxy in the test config
        assert proxy.get(unknown, headers={"x-forwarded-for": "127.0.0.3"}).status_code == 404
        assert proxy.get(unknown, headers={"x-forwarded-for": "127.0.0.9"}).status_code == 403
    with from_address(hub, "127.0.0.2") as stranger:  # not a proxy: its header changes nothing
        assert stranger.get(unknown, headers={"x-forwarded-for": "127.0.0.3"}).status_code == 403


def test_rate_limit_answers_429_with_retry_after_and_raises_an_alert(hub: RunningHub) -> None:
    async def alert_after(trigger: Callable[[], list[int]]) -> tuple[list[int], dict[str, Any] | None]:
        nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
        try:
            sub = await nc.jetstream().subscribe(
                "hub.evt.alert.>", ordered_consumer=True, deliver_policy=nats.js.api.DeliverPolicy.NEW
            )
            statuses = await asyncio.to_thread(trigger)
            try:
                msg = await sub.next_msg(timeout=5)
            except TimeoutError:
                return statuses, None
            return statuses, json.loads(msg.data)
        finally:
            await nc.close()

    unknown = "/v1/messages/00000000-0000-7000-8000-000000000001"
    answers: list[httpx.Response] = []

    def burst() -> list[int]:
        time.sleep(1.6)  # a full bucket (3 at 2/s), whatever other tests of limited-bank spent
        with from_address(hub, "127.0.0.3") as client:
            answers.extend(client.get(unknown) for _ in range(6))
        return [a.status_code for a in answers]

    statuses, alert = asyncio.run(alert_after(burst))
    assert statuses[:3] == [404, 404, 404] and statuses[-1] == 429
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["type"].endswith("rate-limited")
    assert alert is not None and alert["kind"] == "rate_limit" and alert["institution"] == "limited-bank"
