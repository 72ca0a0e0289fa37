"""What the gateway needs from the running hub, gathered in one object built by hub.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from routes.live import InstitutionDirectory, RouteTable
from routes.pipeline import Pipeline
from routes.settings import HubTuning
from security import jose
from security.institutions import Institutions
from security.keystore import KeyStore
from security.origin import IngressSeal
from security.signatures import NonceGuard
from security.tokens import TokenIssuer
from store import Store
from store.approvals import Approvals
from store.operators import Operators


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
    tokens: TokenIssuer | None = None  # bearer JWTs for institutions and operators
    keys: KeyStore | None = None
    directory: InstitutionDirectory | None = None  # institutions in the live config
    on_keys_rotated: Callable[[], None] = lambda: None  # e.g. republish the hub's JWKS to sandboxes
    operators: Operators | None = None  # operator accounts and their roles
    approvals: Approvals | None = None  # four eyes
    checkpoint: Callable[[], Awaitable[Any]] | None = None  # a signed journal checkpoint now
    seal: IngressSeal | None = None  # marks what the gateway publishes as authenticated by it
    routes: RouteTable | None = None  # the routes in force (live configuration)
    # Keys each partner signs its callbacks with (POST /v1/callbacks/<adapter>), by adapter name.
    partner_keys: Callable[[str], list[jose.HubKey]] = lambda adapter: []
    started: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
