"""Internal services on the hub's NATS: each publishes its own types and reads its own events, and
nothing of the hub's (dead letters, live config, the JetStream API). Against a real nats-server
started with the authorization block the hub renders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nkeys
import pytest
import pytest_asyncio
import yaml
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig

from routes import bus
from routes.children import (
    Children,
    StoreEncryptionMismatch,
    check_store_encryption,
    check_streams_loaded,
    nats_server_binary,
    write_nats_config,
)
from security.nats_users import (
    DEV_CREDENTIALS,
    NatsAccess,
    conf_string,
    ensure_event_consumers,
    hash_password,
    hub_nats_access,
)
from tests.conftest import ROOT, free_port

REFUSED_WITHIN_S = 1  # a refused JetStream request gets no answer; the violation is the assertion


def start_nats(home: Path, authorization: str | None, encryption_key: str | None = None) -> tuple[Children, str]:
    """nats-server with JetStream in `home`, on a free loopback port, as the embedded hub starts it."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = write_nats_config(home, port, "always", authorization=authorization, encryption_key=encryption_key)
    children = Children(home)
    proc = children.spawn("nats-server", [nats_server_binary(), "-c", str(conf)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return children, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    children.stop_all()
    raise RuntimeError(f"nats-server did not start: {(home / 'logs' / 'nats-server.log').read_text()[-2000:]}")


@dataclass
class Server:
    url: str
    home: Path
    access: NatsAccess
    payments_seed: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shipped services.yaml (ledger, dev password) plus an nkey service with durable events and a
    service that only listens."""
    base = tmp_path_factory.mktemp("nats-users")
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(seed).public_key.decode()
    config = yaml.safe_load((ROOT / "config" / "services.yaml").read_text())
    config["services"] += [
        {
            "id": "payments",
            "publish": ["payment.*"],
            "subscribe": ["payment.*.completed"],
            "durable_events": True,
            "auth": {"nkey": public},
        },
        {"id": "watcher", "subscribe": ["trade.>"]},
    ]
    (base / "config").mkdir()
    (base / "config" / "services.yaml").write_text(yaml.safe_dump(config))
    home = base / "home"
    access = hub_nats_access(home, base / "config")
    children, url = start_nats(home, access.authorization)
    yield Server(url, home, access, seed.decode())
    children.stop_all()


@pytest_asyncio.fixture(scope="module")
async def hub_nc(server: Server) -> AsyncIterator[NatsClient]:
    """The hub's own connection: full rights, creates the topology as `hub run` does."""
    nc = await bus.connect(server.url, user=server.access.hub_user, password=server.access.hub_password)
    js = nc.jetstream()
    await bus.ensure_streams(js, 120)
    kv = await bus.config_bucket(js)
    await kv.put("routes", b"original")
    await ensure_event_consumers(js, server.access.services)
    yield nc
    await nc.close()


@dataclass
class Service:
    nc: NatsClient
    errors: asyncio.Queue[str]

    async def violation(self) -> str:
        """The next error the server reported to this client (a permissions violation, here)."""
        return await asyncio.wait_for(self.errors.get(), 10)


@contextlib.asynccontextmanager
async def service(server: Server, sid: str, **auth: Any) -> AsyncIterator[Service]:
    """Connect as a service would: its credential and its own inbox prefix."""
    if not auth:
        creds = json.loads((server.home / DEV_CREDENTIALS).read_text())[sid]
        auth = {"user": creds["user"], "password": creds["password"]}
    errors: asyncio.Queue[str] = asyncio.Queue()

    async def error(exc: Exception) -> None:
        errors.put_nowait(str(exc))

    nc = await nats.connect(
        server.url, name=sid, inbox_prefix=f"_INBOX_{sid}", error_cb=error, allow_reconnect=False, **auth
    )
    try:
        yield Service(nc, errors)
    finally:
        await nc.close()


def publish_refused(subject: str) -> str:
    # nats-py hands the server's -ERR text on in lower case.
    return f'nats: permissions violation for publish to "{subject.lower()}"'


def subscribe_refused(subject: str) -> str:
    return f'nats: permissions violation for subscription to "{subject.lower()}"'


async def test_a_service_publishes_its_own_type_and_the_hub_finds_it_in_hub_in(
    server: Server, hub_nc: NatsClient
) -> None:
    async with service(server, "ledger") as ledger:
        msg_id = str(uuid.uuid4())
        ack = await ledger.nc.jetstream().publish("hub.in.trade.invoice", b'{"n": 1}', headers={"Nats-Msg-Id": msg_id})
    assert ack.stream == "HUB_IN" and not ack.duplicate
    stored = await hub_nc.jetstream().get_msg("HUB_IN", ack.seq)
    assert (stored.subject, stored.data) == ("hub.in.trade.invoice", b'{"n": 1}')


async def test_publishing_a_type_it_does_not_own_is_refused(server: Server, hub_nc: NatsClient) -> None:
    async with service(server, "ledger") as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.nc.jetstream().publish("hub.in.payment.credit_transfer", b"{}", timeout=REFUSED_WITHIN_S)
        assert await ledger.violation() == publish_refused("hub.in.payment.credit_transfer")
    info = await hub_nc.jetstream().stream_info("HUB_IN", subjects_filter="hub.in.payment.>")
    assert not info.state.subjects


@pytest.mark.parametrize("subject", ["hub.evt.trade.invoice.completed", "hub.out.cips.v1", "hub.dlq.cips"])
async def test_publishing_events_outbound_or_dead_letters_is_refused(server: Server, subject: str) -> None:
    async with service(server, "ledger") as ledger:
        await ledger.nc.publish(subject, b"forged")
        assert await ledger.violation() == publish_refused(subject)


async def test_a_service_with_no_publish_rights_can_publish_nothing(server: Server) -> None:
    async with service(server, "watcher") as watcher:
        await watcher.nc.publish("hub.in.trade.invoice", b"{}")
        assert await watcher.violation() == publish_refused("hub.in.trade.invoice")


@pytest.mark.parametrize(
    "subject",
    [
        "hub.evt.payment.credit_transfer.completed",  # another domain
        "hub.evt.trade.invoice.rejected",  # another status
        "hub.evt.>",  # wider than what it is entitled to
        "hub.dlq.>",
        "hub.in.>",
        "_INBOX.>",  # the hub's replies
        "_INBOX_payments.>",  # another service's replies
        "$KV.hub-config.>",
    ],
)
async def test_subscribing_to_what_it_is_not_entitled_to_is_refused(server: Server, subject: str) -> None:
    async with service(server, "ledger") as ledger:
        await ledger.nc.subscribe(subject)
        assert await ledger.violation() == subscribe_refused(subject)


async def test_an_entitled_subscription_receives_the_events_the_hub_publishes(
    server: Server, hub_nc: NatsClient
) -> None:
    async with service(server, "ledger") as ledger:
        received: asyncio.Queue[str] = asyncio.Queue()

        async def on_event(msg: Any) -> None:
            received.put_nowait(msg.subject)

        await ledger.nc.subscribe("hub.evt.trade.invoice.completed", cb=on_event)
        await ledger.nc.subscribe("hub.evt.alert.*", cb=on_event)
        await ledger.nc.subscribe("hub.evt.trade.invoice.rejected", cb=on_event)
        assert await ledger.violation() == subscribe_refused("hub.evt.trade.invoice.rejected")
        await ledger.nc.flush()
        js = hub_nc.jetstream()
        # One publisher, one subscriber connection: delivery keeps this order, so a leak would show first.
        for subject in ("hub.evt.trade.invoice.rejected", "hub.evt.trade.invoice.completed", "hub.evt.alert.critical"):
            await js.publish(subject, b"{}")
        got = [await asyncio.wait_for(received.get(), 10) for _ in range(2)]
    assert got == ["hub.evt.trade.invoice.completed", "hub.evt.alert.critical"]


async def test_writing_the_config_bucket_is_refused(server: Server, hub_nc: NatsClient) -> None:
    async with service(server, "ledger") as ledger:
        js = ledger.nc.jetstream(timeout=REFUSED_WITHIN_S)
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish("$KV.hub-config.routes", b"forged", timeout=REFUSED_WITHIN_S)
        assert await ledger.violation() == publish_refused("$KV.hub-config.routes")
        with pytest.raises(nats.errors.TimeoutError):
            await js.key_value("hub-config")  # the KV API starts with the JetStream API, shut too
        assert await ledger.violation() == publish_refused("$JS.API.STREAM.INFO.KV_hub-config")
    kv = await hub_nc.jetstream().key_value("hub-config")
    assert (await kv.get("routes")).value == b"original"


async def test_reading_the_dead_letter_stream_through_the_jetstream_api_is_refused(
    server: Server, hub_nc: NatsClient
) -> None:
    ack = await hub_nc.jetstream().publish("hub.dlq.cips", b"dead letter")
    async with service(server, "ledger") as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.nc.jetstream(timeout=REFUSED_WITHIN_S).get_msg("HUB_DLQ", ack.seq)
        assert await ledger.violation() == publish_refused("$JS.API.STREAM.MSG.GET.HUB_DLQ")


async def test_a_service_with_durable_events_cannot_read_the_dead_letters_either(server: Server) -> None:
    async with service(server, "payments", nkeys_seed_str=server.payments_seed) as payments:
        js = payments.nc.jetstream(timeout=REFUSED_WITHIN_S)
        with pytest.raises(nats.errors.TimeoutError):
            await js.add_consumer("HUB_DLQ", ConsumerConfig(name="peek"))
        assert await payments.violation() == publish_refused("$JS.API.CONSUMER.CREATE.HUB_DLQ.peek")
        with pytest.raises(nats.errors.TimeoutError):
            await js.stream_info("HUB_DLQ")
        assert await payments.violation() == publish_refused("$JS.API.STREAM.INFO.HUB_DLQ")


async def test_an_nkey_service_reads_the_events_published_while_it_was_away(server: Server, hub_nc: NatsClient) -> None:
    await hub_nc.jetstream().publish("hub.evt.payment.credit_transfer.rejected", b"not for it")
    await hub_nc.jetstream().publish("hub.evt.payment.credit_transfer.completed", b"for it")
    async with service(server, "payments", nkeys_seed_str=server.payments_seed) as payments:
        sub = await payments.nc.jetstream().pull_subscribe_bind("svc-payments", stream="HUB_EVT")
        [msg] = await sub.fetch(1, timeout=10)
        assert (msg.subject, msg.data) == ("hub.evt.payment.credit_transfer.completed", b"for it")
        await msg.ack_sync()
        ack = await payments.nc.jetstream().publish("hub.in.payment.credit_transfer", b"{}")
    assert ack.stream == "HUB_IN"
    info = await hub_nc.jetstream().consumer_info("HUB_EVT", "svc-payments")
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_changed_subscriptions_change_the_durable_consumer_filters(server: Server, hub_nc: NatsClient) -> None:
    [payments] = [s for s in server.access.services if s.id == "payments"]
    wider = payments.model_copy(update={"subscribe": ["payment.*.completed", "payment.*.rejected"]})
    js = hub_nc.jetstream()
    await ensure_event_consumers(js, [wider])
    info = await js.consumer_info("HUB_EVT", "svc-payments")
    assert info.config.filter_subjects == ["hub.evt.payment.*.completed", "hub.evt.payment.*.rejected"]
    await ensure_event_consumers(js, [payments])  # back as configured, for the other tests


async def test_a_wrong_password_is_refused(server: Server) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(server.url, user="ledger", password="wrong", allow_reconnect=False)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(server.url, allow_reconnect=False)  # anonymous


async def test_the_hub_with_a_wrong_password_stops_instead_of_retrying(server: Server) -> None:
    with pytest.raises(bus.NatsAuthRefused, match="refused user 'hub'"):
        await bus.connect(server.url, user="hub", password="wrong")


async def test_config_strings_cannot_leave_their_quotes(tmp_path: Path) -> None:
    hostile = 'x" }\n  {user: "intruder", password: "open"} ] }\nauthorization { users = [ {user: "y\\ $HOME \t'
    user = f"{{user: {conf_string(hostile)}, password: {conf_string(hash_password('pw'))}}}"
    block = f"authorization {{\n  users = [\n    {user}\n  ]\n}}\n"
    children, url = start_nats(tmp_path, block)
    try:
        nc = await nats.connect(url, user=hostile, password="pw", allow_reconnect=False)
        await nc.close()
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, user="intruder", password="open", allow_reconnect=False)
    finally:
        children.stop_all()


async def _hub_streams(url: str, access: NatsAccess) -> NatsClient:
    return await bus.connect(url, user=access.hub_user, password=access.hub_password)


async def test_switching_encryption_on_keeps_the_existing_streams(tmp_path: Path) -> None:
    access = hub_nats_access(tmp_path, tmp_path)  # no services.yaml: the hub alone
    children, url = start_nats(tmp_path, access.authorization)
    nc = await _hub_streams(url, access)
    await bus.ensure_streams(nc.jetstream(), 120)
    ack = await nc.jetstream().publish("hub.in.trade.invoice", b"before encryption")
    await nc.close()
    children.stop_all()

    check_store_encryption(tmp_path, "key-1")
    children, url = start_nats(tmp_path, access.authorization, encryption_key="key-1")
    try:
        nc = await _hub_streams(url, access)
        check_streams_loaded(tmp_path, [i.config.name for i in await nc.jetstream().streams_info()])
        assert (await nc.jetstream().get_msg("HUB_IN", ack.seq)).data == b"before encryption"
        await nc.close()
    finally:
        children.stop_all()
    assert (tmp_path / "jetstream" / "jetstream" / "$G" / "streams" / "HUB_IN" / "meta.key").exists()


async def test_an_encrypted_store_opened_without_its_key_is_refused_before_anything_is_lost(tmp_path: Path) -> None:
    access = hub_nats_access(tmp_path, tmp_path)
    children, url = start_nats(tmp_path, access.authorization, encryption_key="key-1")
    nc = await _hub_streams(url, access)
    await bus.ensure_streams(nc.jetstream(), 120)
    ack = await nc.jetstream().publish("hub.in.trade.invoice", b"kept")
    await nc.close()
    children.stop_all()

    with pytest.raises(StoreEncryptionMismatch, match=r"encrypted \(.*HUB_IN.*\) but no key is configured"):
        check_store_encryption(tmp_path, None)

    children, url = start_nats(tmp_path, access.authorization, encryption_key="another-key")
    try:
        nc = await _hub_streams(url, access)
        with pytest.raises(StoreEncryptionMismatch, match="did not load the streams HUB_DLQ, HUB_EVT, HUB_IN, HUB_OUT"):
            check_streams_loaded(tmp_path, [i.config.name for i in await nc.jetstream().streams_info()])
        await nc.close()
    finally:
        children.stop_all()

    children, url = start_nats(tmp_path, access.authorization, encryption_key="key-1")
    try:
        nc = await _hub_streams(url, access)
        assert (await nc.jetstream().get_msg("HUB_IN", ack.seq)).data == b"kept"
        await nc.close()
    finally:
        children.stop_all()
