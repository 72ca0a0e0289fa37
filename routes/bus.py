"""JetStream topology of the hub: streams, durable pull consumers, and publishing with dedup ids."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NatsClient
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
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

STREAMS: dict[str, list[str]] = {
    "HUB_IN": ["hub.in.>"],
    "HUB_OUT": ["hub.out.>"],
    "HUB_EVT": ["hub.evt.>"],
    "HUB_DLQ": ["hub.dlq.>"],
}
log = logging.getLogger("hub.bus")
ROUTER = "router"
CONFIG_BUCKET = "hub-config"


def delivery_consumer(adapter: str, version: str) -> str:
    return f"deliver-{adapter}-{version}"


def out_subject(adapter: str, version: str) -> str:
    return f"hub.out.{adapter}.{version}"


async def connect(url: str, name: str = "hub") -> NatsClient:
    """Connect with endless reconnects: a NATS restart delays the hub, it does not stop it."""

    async def error(exc: Exception) -> None:
        log.warning("nats: %s: %s", type(exc).__name__, exc)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
        error_cb=error,
    )


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
