"""Shadow release: a candidate version renders a copy of what the stable version sends, and the two
renderings are compared and recorded. The copy never reaches the partner, and never touches the
message's idempotency record, status or the candidate's circuit breaker."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from adapters.base import Adapter, Outbound
from canonical.envelope import Envelope

SHADOW_HEADER = "Hub-Shadow-Of"  # on a shadow copy in HUB_OUT: the version that really sends it
MAX_DIFF_CHARS = 4000


@dataclass(frozen=True)
class ShadowResult:
    stable: str
    candidate: str
    equal: bool
    diff: str = ""
    error: str | None = None  # the candidate could not render the message: a finding, not a failure

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stable": self.stable, "candidate": self.candidate, "equal": self.equal}
        if self.diff:
            out["diff"] = self.diff
        if self.error:
            out["error"] = self.error
        return out


def _lines(outbound: Outbound) -> list[str]:
    headers = [f"{k.lower()}: {v}" for k, v in sorted(outbound.headers.items())]
    return [f"target: {outbound.target}", *headers, "", *outbound.body.decode("utf-8", "replace").splitlines()]


def compare(stable: Adapter, candidate: Adapter, env: Envelope, stable_version: str, version: str) -> ShadowResult:
    """Render `env` with both adapters and compare target, headers and body line by line."""
    base = stable.render(env)
    try:
        shadow = candidate.render(env)
    except Exception as exc:  # whatever the candidate raises is what the comparison reports
        return ShadowResult(stable_version, version, False, error=f"{type(exc).__name__}: {exc}"[:MAX_DIFF_CHARS])
    before, after = _lines(base), _lines(shadow)
    if before == after:
        return ShadowResult(stable_version, version, True)
    diff = "\n".join(difflib.unified_diff(before, after, stable_version, version, lineterm="", n=1))
    return ShadowResult(stable_version, version, False, diff[:MAX_DIFF_CHARS])
