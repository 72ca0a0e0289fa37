"""Impact assessment of a routing change (`hub routes set ... --dry-run`): the routing decisions of
given messages replayed under the config in force and the proposed one, and what would move where.

Replays are deterministic: sticky routes and pins decide as they do live, and a non-sticky route
draws by a hash of the message id (`rules.replay_draw`), so a message draws the same under both
configs and only the change itself moves it. Nothing is sent, stored or published.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from canonical.envelope import Envelope
from routes.config import RoutingConfig
from routes.rules import Decision, decide, replay_draw

NO_ROUTE = "no route"


@dataclass(frozen=True)
class Move:
    """`count` messages that `route` would send to `target` instead of `source` ("adapter@version" or
    "no route"). `route` is the route that decides under the new config, or under the old one when
    the new config routes the message nowhere."""

    route: str
    source: str
    target: str
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"route": self.route, "from": self.source, "to": self.target, "count": self.count}


@dataclass(frozen=True)
class ImpactReport:
    """`total` messages replayed; `unchanged` go to the same adapter@version under both configs; `moved`
    the others, grouped, largest first. `before` / `after` count messages per adapter@version (and "no
    route"); `shadow_before` / `shadow_after` the shadow copies each adapter@version would render."""

    total: int
    unchanged: int
    moved: list[Move]
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    shadow_before: dict[str, int] = field(default_factory=dict)
    shadow_after: dict[str, int] = field(default_factory=dict)

    def share(self, target: str) -> tuple[float, float]:
        """The share (0..1) of the messages `target` receives before and after; 0 of no messages."""
        if not self.total:
            return 0.0, 0.0
        return self.before.get(target, 0) / self.total, self.after.get(target, 0) / self.total

    def as_json(self) -> dict[str, Any]:
        """{total, unchanged, moved: [{route, from, to, count}], shares: {target: {before, after, count_before,
        count_after}}, shadow: {target: {before, after}}}; shares are fractions rounded to 4 places."""
        shares = {}
        for target in sorted(self.before.keys() | self.after.keys()):
            before, after = self.share(target)
            shares[target] = {
                "before": round(before, 4),
                "after": round(after, 4),
                "count_before": self.before.get(target, 0),
                "count_after": self.after.get(target, 0),
            }
        shadow = {
            target: {"before": self.shadow_before.get(target, 0), "after": self.shadow_after.get(target, 0)}
            for target in sorted(self.shadow_before.keys() | self.shadow_after.keys())
        }
        return {
            "total": self.total,
            "unchanged": self.unchanged,
            "moved": [m.as_json() for m in self.moved],
            "shares": shares,
            "shadow": shadow,
        }


def _target(decision: Decision | None) -> str:
    return f"{decision.adapter}@{decision.version}" if decision else NO_ROUTE


def impact(old: RoutingConfig, new: RoutingConfig, envelopes: Iterable[Envelope]) -> ImpactReport:
    """Replay the routing of `envelopes` under `old` and `new` (each read once) and report the difference."""
    total = unchanged = 0
    moves: Counter[tuple[str, str, str]] = Counter()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    shadow_before: Counter[str] = Counter()
    shadow_after: Counter[str] = Counter()
    for env in envelopes:
        was, will = decide(old, env, replay_draw), decide(new, env, replay_draw)
        source, target = _target(was), _target(will)
        total += 1
        before[source] += 1
        after[target] += 1
        if was and was.shadow:
            shadow_before[f"{was.adapter}@{was.shadow}"] += 1
        if will and will.shadow:
            shadow_after[f"{will.adapter}@{will.shadow}"] += 1
        if source == target:
            unchanged += 1
            continue
        decider = will or was
        assert decider is not None  # source != target, so at least one config routes the message
        moves[(decider.route, source, target)] += 1
    moved = [Move(route, source, target, n) for (route, source, target), n in moves.items()]
    moved.sort(key=lambda m: (-m.count, m.route, m.source, m.target))
    return ImpactReport(total, unchanged, moved, dict(before), dict(after), dict(shadow_before), dict(shadow_after))
