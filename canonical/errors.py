"""Typed errors of the canonical layer: every one names the field path and the rule that failed.

A `Violation`'s detail never echoes the value of a field declared Sensitive (see canonical.sensitive).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canonical.sensitive import withhold_in_detail


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (a dotted / slashed path into the input) and which rule."""

    loc: str
    rule: str
    detail: str = ""

    def __post_init__(self) -> None:
        # Every producer of errors (validators, codecs, the gateway) goes through here: the detail never
        # repeats a sensitive value, since problem documents, logs and rejection events all carry it.
        object.__setattr__(self, "detail", withhold_in_detail(self.loc, self.detail))

    def __str__(self) -> str:
        return f"{self.loc}: {self.rule}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class RejectedInput(Exception):
    """Input the hub refuses; never retried. `violations` says exactly what is wrong."""

    title: str
    violations: list[Violation] = field(default_factory=list)
    status: int = 422

    def __str__(self) -> str:
        return self.title + ("" if not self.violations else ": " + "; ".join(map(str, self.violations)))
