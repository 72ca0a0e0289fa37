"""An adapter that fails with something other than its error contract dead-letters the message
(with the fault as reason) instead of looping through redeliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import nats
import pytest
from nats.js import JetStreamContext

from adapters.base import AdapterContext, Health, Outbound, Receipt, adapter_kind, build
from canonical import Envelope
from routes.config import RoutingConfig
from routes.pipeline import Lane, Pipeline, scope_of
from routes.retry import CircuitBreaker
from store import Store
from tests.conftest import RunningHub
from tests.integration.test_store import envelope


@adapter_kind("fault-test")
class FaultyAdapter:
    category: ClassVar[str] = "generic"

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx

    def render(self, envelope: Envelope) -> Outbound:
        return Outbound(str(envelope.id), "nowhere", b"{}")

    async def send(self, outbound: Outbound) -> Receipt:
        raise RuntimeError("bug in the adapter")

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        raise NotImplementedError

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def health(self) -> Health:
        return Health(True)


@pytest.fixture
async def faulty_lane(hub: RunningHub, tmp_path: Path) -> AsyncIterator[tuple[JetStreamContext, Store]]:
    """A pipeline of its own (own journal) with one lane, `faulty`, on the session hub's NATS."""
    routing = RoutingConfig.parse({"adapters": {"faulty": {"kind": "fault-test", "versions": {"v1": {}}}}})
    config = routing.adapters["faulty"]
    lane = Lane(
        "faulty",
        "v1",
        build("fault-test", AdapterContext("faulty", "v1", {}, str)),
        config,
        CircuitBreaker(config.breaker),
    )
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'journal.sqlite3'}")
    nc = await nats.connect(hub.info["nats_url"], **hub.nats_login)
    js = nc.jetstream()
    pipeline = Pipeline(js, store, routing, {("faulty", "v1"): lane})
    await pipeline.start()
    try:
        yield js, store
    finally:
        await pipeline.stop()
        await js.delete_consumer("HUB_OUT", "deliver-faulty-v1")
        await nc.close()
        await store.close()


async def test_adapter_fault_is_dead_lettered_with_its_reason(faulty_lane: tuple[JetStreamContext, Store]) -> None:
    js, store = faulty_lane
    env = envelope()
    await store.ensure(env, scope_of(env))
    await js.publish("hub.out.faulty.v1", env.to_bytes(), headers={"Nats-Msg-Id": f"{env.id}:out"})
    deadline = time.monotonic() + 15
    view = await store.message(str(env.id))
    while view is not None and view.status != "dead_lettered" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        view = await store.message(str(env.id))
    assert view is not None and view.status == "dead_lettered" and view.attempts == 1
    assert "adapter fault" in (view.last_error or "") and "bug in the adapter" in (view.last_error or "")
    dead = await js.get_last_msg("HUB_DLQ", "hub.dlq.faulty")
    assert dead.headers is not None and dead.headers["Hub-Reason"] == "permanent_error"
    assert Envelope.from_bytes(dead.data).id == env.id


async def test_unreadable_message_on_hub_out_is_termed_and_audited(
    faulty_lane: tuple[JetStreamContext, Store],
) -> None:
    js, store = faulty_lane
    await js.publish("hub.out.faulty.v1", b'{"not": "an envelope"}')
    deadline = time.monotonic() + 10
    audit: list[dict[str, object]] = []
    while time.monotonic() < deadline and not audit:
        await asyncio.sleep(0.1)
        audit = [a for a in await store.audit_log() if a["action"] == "deliver.unreadable"]
    assert audit and audit[0]["target"] == "hub.out.faulty.v1"
    # The audit is written before the term, and the server applies the term asynchronously.
    info = await js.consumer_info("HUB_OUT", "deliver-faulty-v1")
    while info.num_ack_pending and time.monotonic() < deadline + 5:
        await asyncio.sleep(0.05)
        info = await js.consumer_info("HUB_OUT", "deliver-faulty-v1")
    assert info.num_ack_pending == 0 and info.num_pending == 0  # termed, not waiting for redelivery
    assert info.num_redelivered == 0
