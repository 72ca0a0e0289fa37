"""Routing rules: which adapter and version a message goes to, and whether a shadow copy goes along.

Pure functions, no I/O. The one source of chance is the `Draw` a non-sticky route uses: live routing
draws at random, a replay (impact assessment) hashes the message id so that two configs can be
compared message by message.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from canonical.envelope import Envelope
from canonical.money import Money
from routes.config import Match, Route, RoutingConfig

PIN_HEADER = "x-hub-route-version"

Draw = Callable[[Envelope], int]
"""Where a message of a non-sticky route falls, 0..99."""


@dataclass(frozen=True)
class Decision:
    route: str
    adapter: str
    version: str
    reason: str  # which rule chose: "pinned by institution bank-a", "sticky bucket 37 of weights {...}"
    shadow: str | None = None  # a version that also gets a copy to render and compare; never `version`

    def as_json(self) -> dict[str, str]:
        out = {"route": self.route, "adapter": self.adapter, "version": self.version, "reason": self.reason}
        if self.shadow:
            out["shadow"] = self.shadow
        return out


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


def bucket(key: str) -> int:
    """0..99, stable for a key: a correlation id keeps one transaction on one version."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100


def random_draw(env: Envelope) -> int:
    """Live routing of a non-sticky route: an independent draw per message."""
    return random.randrange(100)


def replay_draw(env: Envelope) -> int:
    """Replays: a hash of the message id, so a message draws the same under an old and a new config and
    a comparison shows only what the change moves."""
    return bucket(str(env.id))


def layout(weights: dict[str, int]) -> list[tuple[str, int, int]]:
    """(version, first bucket, end bucket) of each weighted version, older versions first: moving
    weight between two versions only moves the buckets at their border."""
    out, start = [], 0
    for version in sorted(weights, key=lambda v: (len(v), v)):  # v2 before v10
        if weights[version] > 0:
            out.append((version, start, start + weights[version]))
            start += weights[version]
    return out


def _pins(route: Route, env: Envelope, versions: Container[str]) -> Iterator[tuple[str, str]]:
    """(version, reason) of every pin that applies to `env`, strongest first."""
    named = env.headers.get(PIN_HEADER)
    if named:
        version = route.pins.header.get(named, named)
        if version in versions:  # a header naming no version of this adapter pins nothing
            yield version, f"pinned by header {PIN_HEADER}: {named}"
    if env.source in route.pins.institution:
        yield route.pins.institution[env.source], f"pinned by institution {env.source}"
    if env.tenant in route.pins.tenant:
        yield route.pins.tenant[env.tenant], f"pinned by tenant {env.tenant}"


def pick_version(route: Route, env: Envelope, versions: Container[str], draw: Draw = random_draw) -> tuple[str, str]:
    """(version, reason): header pin > institution pin > tenant pin > weights. A pin to a version a
    rollback withdrew is passed over (and the reason says so); sticky routes draw by correlation id."""
    passed_over = ""
    for version, reason in _pins(route, env, versions):
        if version not in route.withdrawn:
            return version, reason + passed_over
        passed_over += f"; ignored: {reason} to withdrawn {version}"
    point = bucket(env.correlation_id) if route.sticky else draw(env)
    drawn = "sticky" if route.sticky else "random"
    for version, start, end in layout(route.weights):
        if start <= point < end:
            return version, f"{drawn} bucket {point} of weights {route.weights}{passed_over}"
    raise AssertionError("weights add up to 100")  # guaranteed by Route validation


def decide(config: RoutingConfig, env: Envelope, draw: Draw = random_draw) -> Decision | None:
    """The first route whose match holds, with the chosen version and the route's shadow version
    (None when the message goes to the shadow version itself); None when no rule matches.
    Deterministic for sticky routes and pins; for a non-sticky route as deterministic as `draw`."""
    for route in config.routes:
        if matches(route.match, env):
            version, reason = pick_version(route, env, config.adapters[route.adapter].versions, draw)
            shadow = route.shadow if route.shadow != version else None
            return Decision(route.name, route.adapter, version, reason, shadow)
    return None
