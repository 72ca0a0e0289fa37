"""JetStream topology of the hub: streams, durable pull consumers, and publishing with dedup ids."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, FetchTimeoutError, NotFoundError
from nats.js.kv import KeyValue

STREAMS: dict[str, list[str]] = {
    "HUB_IN": ["hub.in.>"],
    "HUB_OUT": ["hub.out.>"],
    "HUB_EVT": ["hub.evt.>"],
    "HUB_DLQ": ["hub.dlq.>"],
}
log = logging.getLogger("hub.bus")
ROUTER = "router"
# Headers of messages on HUB_OUT: the correlation (delivery keeps its order without parsing the
# message twice) and the route that chose the adapter (its backup channel, for payments).
CORRELATION_HEADER = "Hub-Correlation"
ROUTE_HEADER = "Hub-Route"
CONFIG_BUCKET = "hub-config"


def delivery_consumer(adapter: str, version: str) -> str:
    return f"deliver-{adapter}-{version}"


def out_subject(adapter: str, version: str) -> str:
    return f"hub.out.{adapter}.{version}"


class NatsAuthRefused(Exception):
    """NATS refused the hub's credentials; retrying would not help, so connect() gives up."""

    def __init__(self, url: str, who: str | None) -> None:
        super().__init__(
            f"NATS at {url} refused {who} (Authorization Violation): the credential does not match the "
            "server's authorization block; regenerate the block with the hub or fix the hub's NATS credential"
            if who
            else f"NATS at {url} requires a user (Authorization Violation): give the hub its NATS credential"
        )


async def connect(
    url: str,
    name: str = "hub",
    *,
    user: str | None = None,
    password: str | None = None,
    nkeys_seed: str | Path | None = None,
) -> NatsClient:
    """Connect with endless reconnects: a NATS restart delays the hub, it does not stop it.

    Authenticate with `user` and `password`, or with the nkey seed file `nkeys_seed` (needs the
    `nkeys` package); with neither, anonymously (an embedded server without users). A refusal of the
    credentials on the first connect raises NatsAuthRefused instead of retrying forever."""
    if password is not None and user is None:
        raise ValueError("a NATS password needs its user: pass user= as well")
    if nkeys_seed is not None and user is not None:
        raise ValueError("connect to NATS with a user and password or with an nkey seed, not both")
    refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def error(exc: Exception) -> None:
        if "authorization violation" in str(exc).lower() and not refused.done():
            refused.set_result(None)
        log.warning("nats: %s: %s", type(exc).__name__, exc)

    nc = NatsClient()
    connecting = asyncio.ensure_future(
        nc.connect(
            url,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]  # typed int, used as seconds to sleep
            connect_timeout=5,
            allow_reconnect=True,
            error_cb=error,
            user=user,
            password=password,
            nkeys_seed=str(nkeys_seed) if nkeys_seed is not None else None,
        )
    )
    await asyncio.wait([connecting, refused], return_when=asyncio.FIRST_COMPLETED)
    if connecting.done():
        refused.cancel()
        connecting.result()  # raises what the connect raised
        return nc
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await connecting
    await nc.close()
    raise NatsAuthRefused(url, f"user {user!r}" if user else "the nkey" if nkeys_seed else None)


async def ensure_streams(js: JetStreamContext, duplicate_window_s: int, replicas: int = 1) -> None:
    """Create or update the hub's streams; safe to run on every start of every instance."""
    for name, subjects in STREAMS.items():
        config = StreamConfig(
            name=name,
            subjects=subjects,
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            duplicate_window=duplicate_window_s,
            num_replicas=replicas,
            max_age=0 if name != "HUB_EVT" else 7 * 86400,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


async def ensure_consumer(js: JetStreamContext, stream: str, durable: str, subject: str, ack_wait_s: float) -> None:
    """Durable pull consumer with explicit ack; dead-lettering is the hub's, so MaxDeliver is unlimited."""
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=subject,
        ack_wait=ack_wait_s,
        max_deliver=-1,
        max_ack_pending=4096,
    )
    try:
        await js.add_consumer(stream, config)
    except BadRequestError:
        # Exists with other settings: update what may change in place.
        info = await js.consumer_info(stream, durable)
        info.config.ack_wait = ack_wait_s
        await js.add_consumer(stream, info.config)


async def config_bucket(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    try:
        return await js.key_value(CONFIG_BUCKET)
    except (NotFoundError, nats.js.errors.BucketNotFoundError):
        return await js.create_key_value(bucket=CONFIG_BUCKET, history=16, replicas=replicas)


async def publish_alert(js: JetStreamContext, level: str, kind: str, **fields: Any) -> None:
    """An alert event on hub.evt.alert.<level>: what monitoring and the console listen to."""
    event = {"level": level, "kind": kind, **fields, "at": datetime.now(UTC).isoformat()}
    await js.publish(f"hub.evt.alert.{level}", json.dumps(event, default=str).encode())


async def pull_loop(
    js: JetStreamContext,
    stream: str,
    durable: str,
    subject: str,
    process: Callable[[Msg], Awaitable[None]],
    stop: asyncio.Event,
    capacity: Callable[[int], Awaitable[int]],
    order_key: Callable[[Msg], str] | None = None,
) -> None:
    """Keep messages flowing until `stop`: pull as many as `capacity(in_flight)` allows, process each
    as its own task (messages with the same `order_key` one after another), and on stop wait for
    those in flight. A message whose processing fails stays unacked, so JetStream redelivers it."""
    sub = await js.pull_subscribe(subject, durable=durable, stream=stream)
    in_flight: set[asyncio.Task[None]] = set()
    tails: dict[str, asyncio.Task[None]] = {}

    async def run(msg: Msg, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.wait([before])
        try:
            await process(msg)
        except Exception:
            log.exception("%s: processing %s failed; it will be redelivered", durable, msg.subject)

    try:
        while not stop.is_set():
            n = await capacity(len(in_flight))
            if n <= 0:
                if in_flight:
                    await asyncio.wait(in_flight, timeout=0.2, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs = await sub.fetch(n, timeout=0.5 if in_flight else 1.0)
            except (FetchTimeoutError, TimeoutError):
                continue
            for msg in msgs:
                key = order_key(msg) if order_key else ""
                task = asyncio.create_task(run(msg, tails.get(key) if key else None))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                if key:
                    tails[key] = task
                    task.add_done_callback(_forget_tail(tails, key))
        if in_flight:
            await asyncio.wait(in_flight)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def _forget_tail(tails: dict[str, asyncio.Task[None]], key: str) -> Callable[[asyncio.Task[None]], None]:
    def forget(task: asyncio.Task[None]) -> None:
        if tails.get(key) is task:
            del tails[key]

    return forget
