"""What the gateway needs from the running hub, gathered in one object built by hub.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from routes.pipeline import Pipeline
from routes.settings import HubTuning
from security.institutions import Institutions
from security.signatures import NonceGuard
from store import Store


@dataclass
class Services:
    store: Store
    nc: NatsClient
    js: JetStreamContext
    institutions: Institutions
    tuning: HubTuning
    pipeline: Pipeline
    admin_token: str
    adapters: Callable[[], Awaitable[list[dict[str, Any]]]]
    set_paused: Callable[[str, bool, str], Awaitable[None]]
    nonces: NonceGuard | None = None  # request-signature replay guard (NATS KV)
    started: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
