"""Typed errors of the canonical layer: every one names the field path and the rule that failed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (a dotted / slashed path into the input) and which rule."""

    loc: str
    rule: str
    detail: str = ""

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
