"""Who may call from where, and how often: IP allowlists and per-institution rate limits.

The address judged is the socket's peer; X-Forwarded-For is believed only when that peer is a
configured proxy, and then the right-most address no proxy of ours added is the client.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from pydantic import BaseModel, ConfigDict, Field

Network = IPv4Network | IPv6Network


class RateLimit(BaseModel):
    """A token bucket: `burst` calls at once, refilled at `per_second`."""

    model_config = ConfigDict(extra="forbid")
    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: Sequence[Network]) -> str:
    """The address to judge: the peer, or behind our proxies the first hop none of them added."""
    if not forwarded_for or not _in(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def allowed(address: str, allowlist: Sequence[Network]) -> bool:
    """True if `allowlist` is empty (no restriction) or holds `address`."""
    return not allowlist or _in(address, allowlist)


class RateLimiter:
    """Token buckets by key; `take` answers (allowed, seconds until a token is free)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, limit: RateLimit) -> tuple[bool, float]:
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return True, 0.0
        self._buckets[key] = (tokens, now)
        return False, (1 - tokens) / limit.per_second


class BurstDetector:
    """Counts calls per key in a sliding minute; `hit` is True when the count first passes the limit
    within a minute (once per minute per key, so an alert is raised once, not per call)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._alerted: dict[str, float] = {}

    def hit(self, key: str, per_minute: int) -> bool:
        now = self._clock()
        calls = self._calls.setdefault(key, deque(maxlen=per_minute + 1))
        calls.append(now)
        over = len(calls) > per_minute and now - calls[0] < 60
        if over and now - self._alerted.get(key, -60.0) >= 60:
            self._alerted[key] = now
            return True
        return False
