"""Routing configuration as validated data: adapters, their versions and policies, and rules.

Loaded from config/routes.yaml; every load validates cross-references (a rule naming an unknown
adapter or version, weights that do not add up to 100) and fails with the path of the bad entry.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from canonical.errors import RejectedInput, Violation
from canonical.registry import TYPE_PATTERN
from security.outbound import SANDBOX, PartnerProtection

NAME = r"^[a-z][a-z0-9-]{0,39}$"
VERSION = r"^v[0-9]{1,3}$"


class RetryPolicy(BaseModel):
    """Exponential backoff: delay(n) = min(cap, base * factor**(n-1)) * jitter in [1-jitter, 1]."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay_s: float = Field(default=1.0, gt=0)
    factor: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=300.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, lt=0.5)


class BreakerPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    failure_threshold: int = Field(default=5, ge=1)
    reset_after_s: float = Field(default=15.0, gt=0)


class AdapterVersion(BaseModel):
    model_config = ConfigDict(extra="allow")  # adapter-specific settings are checked by the adapter
    url: str = ""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    # How calls to this version are signed / encrypted; by default signed with the hub's jose key.
    protection: PartnerProtection = Field(default_factory=PartnerProtection)

    @model_validator(mode="after")
    def _sandbox_recipient(self) -> AdapterVersion:
        if self.protection.recipient == SANDBOX and not self.url.startswith("sandbox:"):
            raise ValueError(
                "protection.recipient: 'sandbox' is the key of the sandbox partner this version calls, "
                f"so url must be 'sandbox:NAME', not {self.url!r}; otherwise give the partner's public JWK"
            )
        return self


class AdapterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="where the partner system is")
    versions: dict[str, AdapterVersion] = Field(min_length=1)
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    concurrency: int = Field(default=64, ge=1, le=512)

    @model_validator(mode="after")
    def _version_names(self) -> AdapterConfig:
        import re

        for v in self.versions:
            if not re.match(VERSION, v):
                raise ValueError(f"version {v!r} must look like v1, v2 ...")
        return self


class Match(BaseModel):
    """All given conditions must hold; a missing condition matches anything."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = None  # exact, or '<domain>.*'
    destination: str | None = None
    tenant: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    header: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _type_pattern(self) -> Match:
        if self.type and not (TYPE_PATTERN.match(self.type) or TYPE_PATTERN.match(self.type.replace("*", "x"))):
            raise ValueError(f"type {self.type!r} must be '<domain>.<name>' or '<domain>.*'")
        return self


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME)
    match: Match = Match()
    adapter: str = Field(pattern=NAME)
    weights: dict[str, int] = Field(default_factory=lambda: {"v1": 100})
    sticky: bool = True

    @model_validator(mode="after")
    def _weights(self) -> Route:
        if sum(self.weights.values()) != 100 or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights {self.weights} must be >= 0 and add up to 100")
        return self


class ExportAssessment(BaseModel):
    """A completed cross-border data export assessment that lets important data leave."""

    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=64)
    destination: str = Field(pattern=r"^[A-Z]{2}$")
    types: list[str] = Field(min_length=1)
    valid_from: date
    valid_until: date


class DataExport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    home_country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    assessments: list[ExportAssessment] = Field(default_factory=list)


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    adapters: dict[str, AdapterConfig]
    routes: list[Route] = Field(default_factory=list)
    # Sandbox partners `hub run` starts, by name, with their simulator kind; a name used in a
    # "sandbox:NAME" url and not listed here is a `recorder`.
    sandboxes: dict[str, str] = Field(default_factory=dict)
    data_export: DataExport = DataExport()

    @model_validator(mode="after")
    def _sandbox_kinds(self) -> RoutingConfig:
        from sandbox import KINDS  # the simulators' registry; config only names them

        for name, kind in self.sandboxes.items():
            if kind not in KINDS:
                raise ValueError(f"sandboxes.{name}: unknown sandbox kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        return self

    @model_validator(mode="after")
    def _references(self) -> RoutingConfig:
        seen: set[str] = set()
        for i, route in enumerate(self.routes):
            if route.name in seen:
                raise ValueError(f"routes.{i}.name: duplicate route name {route.name!r}")
            seen.add(route.name)
            adapter = self.adapters.get(route.adapter)
            if adapter is None:
                raise ValueError(f"routes.{i}.adapter: unknown adapter {route.adapter!r}")
            for version in route.weights:
                if version not in adapter.versions:
                    raise ValueError(f"routes.{i}.weights: {route.adapter} has no version {version!r}")
        return self

    @classmethod
    def parse(cls, data: Any, origin: str = "routes") -> RoutingConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            violations = [
                Violation(".".join(str(p) for p in e["loc"]) or origin, e["type"], e["msg"])
                for e in exc.errors(include_url=False)
            ]
            raise RejectedInput(f"invalid routing config ({origin})", violations) from None

    @classmethod
    def load(cls, path: Path) -> RoutingConfig:
        return cls.parse(yaml.safe_load(path.read_text()), str(path))
