"""Routing rules: which adapter and version a message goes to. Pure functions, no I/O."""

from __future__ import annotations

import fnmatch
import hashlib
import random
from dataclasses import dataclass

from pydantic import BaseModel

from canonical.envelope import Envelope
from canonical.money import Money
from routes.config import Match, Route, RoutingConfig

PIN_HEADER = "x-hub-route-version"


@dataclass(frozen=True)
class Decision:
    route: str
    adapter: str
    version: str
    reason: str  # why this version: weight bucket, sticky hash, pin

    def as_json(self) -> dict[str, str]:
        return {"route": self.route, "adapter": self.adapter, "version": self.version, "reason": self.reason}


def money_of(payload: BaseModel) -> Money | None:
    """The amount a rule's currency / amount conditions look at: the payload's first Money field."""
    for name in type(payload).model_fields:
        value = getattr(payload, name, None)
        if isinstance(value, Money):
            return value
    return None


def matches(match: Match, env: Envelope) -> bool:
    if match.type and not fnmatch.fnmatchcase(env.type, match.type):
        return False
    if match.destination and match.destination != env.destination:
        return False
    if match.tenant and match.tenant != env.tenant:
        return False
    if any(env.headers.get(k) != v for k, v in match.header.items()):
        return False
    if match.currency or match.amount_min is not None or match.amount_max is not None:
        money = money_of(env.payload)
        if money is None:
            return False
        if match.currency and money.currency != match.currency:
            return False
        if match.amount_min is not None and money.amount < match.amount_min:
            return False
        if match.amount_max is not None and money.amount > match.amount_max:
            return False
    return True


def bucket(correlation_id: str) -> int:
    """0..99, stable for a correlation id, so one transaction always takes the same version."""
    return int.from_bytes(hashlib.sha256(correlation_id.encode()).digest()[:8], "big") % 100


def pick_version(route: Route, env: Envelope, config: RoutingConfig) -> tuple[str, str]:
    pinned = env.headers.get(PIN_HEADER)
    if pinned and pinned in config.adapters[route.adapter].versions:
        return pinned, f"pinned by header {PIN_HEADER}"
    point = bucket(env.correlation_id) if route.sticky else random.randrange(100)
    cumulative = 0
    for version in sorted(route.weights):
        cumulative += route.weights[version]
        if point < cumulative:
            return version, f"{'sticky' if route.sticky else 'random'} bucket {point} of weights {route.weights}"
    raise AssertionError("weights add up to 100")  # guaranteed by Route validation


def decide(config: RoutingConfig, env: Envelope) -> Decision | None:
    """The first route whose match holds, with the chosen version; None when no rule matches."""
    for route in config.routes:
        if matches(route.match, env):
            version, reason = pick_version(route, env, config)
            return Decision(route.name, route.adapter, version, reason)
    return None
