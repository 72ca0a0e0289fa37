"""Routing configuration as validated data: adapters, their versions and policies, and rules.

Loaded from config/routes.yaml; every load validates cross-references (a rule naming an unknown
adapter or version, weights that do not add up to 100) and fails with the path of the bad entry.
`validate_routes` applies the same rules to a routes list proposed at run time (admin API, KV).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from canonical.envelope import ID_PATTERN
from canonical.errors import RejectedInput, Violation
from canonical.registry import TYPE_PATTERN
from desk.calendar import ChannelPolicy
from routes.canary import CanaryPolicy
from security.outbound import SANDBOX, PartnerProtection

NAME = r"^[a-z][a-z0-9-]{0,39}$"
VERSION = r"^v[0-9]{1,3}$"
CURRENCY = r"^[A-Z]{3}$"


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
    # A payment network's hours, calendars and cut-offs (desk.calendar); None: always open.
    channel: ChannelPolicy | None = None
    # Public JWKs the partner signs its callbacks (POST /v1/callbacks/<adapter>) with; for a sandbox
    # partner the hub reads the keys it publishes.
    partner_jwks: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _version_names(self) -> AdapterConfig:
        import re

        for v in self.versions:
            if not re.match(VERSION, v):
                raise ValueError(f"version {v!r} must look like v1, v2 ...")
        return self


class Match(BaseModel):
    """All given conditions must hold; a missing condition matches anything. A condition that can
    never be evaluated (a type that is not '<domain>.<name>' or '<domain>.*', a currency that is not
    ISO 4217, amount_min above amount_max) is refused as `bad_expression`."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = None  # exact, or '<domain>.*'
    destination: str | None = None
    tenant: str | None = None
    currency: str | None = Field(default=None, json_schema_extra={"pattern": CURRENCY})
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    header: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _expressions(self) -> Match:
        problems = []
        if self.type and not (TYPE_PATTERN.match(self.type) or TYPE_PATTERN.match(self.type.replace("*", "x"))):
            problems.append(
                Violation("type", "bad_expression", f"type {self.type!r} must be '<domain>.<name>' or '<domain>.*'")
            )
        if self.currency is not None and not re.match(CURRENCY, self.currency):
            problems.append(Violation("currency", "bad_expression", f"{self.currency!r} is not an ISO 4217 code"))
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            detail = f"amount_max {self.amount_max} is below amount_min {self.amount_min}: nothing could match"
            problems.append(Violation("amount_max", "bad_expression", detail))
        if problems:
            raise _refusal(problems)
        return self


PinKey = Annotated[str, Field(pattern=ID_PATTERN)]  # a key that can never equal an id is a typo


class RoutePins(BaseModel):
    """Versions chosen by who sends a message instead of by weight; `rules.decide` applies them in
    the order header > institution > tenant. Every version named here exists (RoutingConfig checks)."""

    model_config = ConfigDict(extra="forbid")
    # Values of the x-hub-route-version header that stand for a version (`beta` -> v2); a header that
    # names a version of the adapter itself needs no entry.
    header: dict[str, str] = Field(default_factory=dict)
    institution: dict[PinKey, str] = Field(default_factory=dict, description="envelope source -> version")
    tenant: dict[PinKey, str] = Field(default_factory=dict, description="envelope tenant -> version")


class Route(BaseModel):
    """One rule: messages matching `match` go to `adapter`, the version chosen by pins or weights.

    Callers may rely on, for every Route:
    - `weights` are >= 0 and add up to 100 (rules `weight_negative`, `weights_sum`);
    - `shadow` may carry weight too: the router sends no shadow copy of a message routed to it anyway;
    - `withdrawn` (versions a rollback took out; their waiting messages move to the stable version) never
      holds a version with weight: giving a withdrawn version weight again reinstates it. Pins to a
      withdrawn version are ignored by the router until then.
    and for every Route of a RoutingConfig or from `validate_routes`: every version it names exists in
    the adapter, and `stable_version` carries weight > 0 (`stable_without_weight`), so a rollback to it
    ({stable: 100}) sends all traffic where some already goes.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME)
    match: Match = Match()
    adapter: str = Field(pattern=NAME)
    weights: dict[str, int] = Field(default_factory=lambda: {"v1": 100})
    sticky: bool = True
    stable: str | None = None
    pins: RoutePins = RoutePins()
    shadow: str | None = None
    withdrawn: list[str] = Field(default_factory=list)
    # The channel a payment takes when this route's adapter cannot send it (breaker open, closed,
    # past its cut-off) and it was never sent there; its stable version is used.
    backup: str | None = Field(default=None, pattern=NAME)

    @model_validator(mode="after")
    def _weights(self) -> Route:
        problems = [
            Violation(_dotted("weights", v), "weight_negative", f"weight {w} of {v} is below 0")
            for v, w in self.weights.items()
            if w < 0
        ]
        if sum(self.weights.values()) != 100:
            problems.append(Violation("weights", "weights_sum", f"weights {self.weights} must add up to 100"))
        if problems:
            raise _refusal(problems)
        # Weight given back to a rolled-back version is the operator reinstating it.
        self.withdrawn = [v for v in self.withdrawn if self.weights.get(v, 0) <= 0]
        return self

    @property
    def stable_version(self) -> str:
        """`stable`, or else the version with the highest weight (the first listed on a tie)."""
        return self.stable or max(self.weights, key=self.weights.__getitem__)


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
    canary: CanaryPolicy = CanaryPolicy()  # automatic rollback of gray-release candidates

    @model_validator(mode="after")
    def _sandbox_kinds(self) -> RoutingConfig:
        from sandbox import KINDS  # the simulators' registry; config only names them

        for name, kind in self.sandboxes.items():
            if kind not in KINDS:
                raise ValueError(f"sandboxes.{name}: unknown sandbox kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        return self

    @model_validator(mode="after")
    def _references(self) -> RoutingConfig:
        problems = route_violations(self.routes, self.adapters)
        if problems:
            raise _refusal(problems)
        return self

    @classmethod
    def parse(cls, data: Any, origin: str = "routes") -> RoutingConfig:
        """A validated config, or RejectedInput with every violation's path (`routes.1.weights`) and rule."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RejectedInput(f"invalid routing config ({origin})", _violations(exc, origin)) from None

    @classmethod
    def load(cls, path: Path) -> RoutingConfig:
        return cls.parse(yaml.safe_load(path.read_text()), str(path))


def route_violations(routes: list[Route], adapters: Mapping[str, AdapterConfig]) -> list[Violation]:
    """What is wrong with `routes` against `adapters`, each with its path and rule: `duplicate_name`,
    `unknown_adapter`, `unknown_version` (in weights, stable, pins, shadow or withdrawn),
    `stable_without_weight`. Empty: valid."""
    problems: list[Violation] = []
    seen: set[str] = set()
    for i, route in enumerate(routes):
        if route.name in seen:
            problems.append(Violation(f"routes.{i}.name", "duplicate_name", f"duplicate route name {route.name!r}"))
        seen.add(route.name)
        adapter = adapters.get(route.adapter)
        if adapter is None:
            known = ", ".join(sorted(adapters))
            detail = f"unknown adapter {route.adapter!r}; adapters: {known}"
            problems.append(Violation(f"routes.{i}.adapter", "unknown_adapter", detail))
            continue
        versions = ", ".join(adapter.versions)
        for path, version in _versions_named(route):
            if version not in adapter.versions:
                detail = f"unknown version {version} of adapter {route.adapter}; versions: {versions}"
                problems.append(Violation(_dotted("routes", str(i), *path), "unknown_version", detail))
        if route.backup is not None and (route.backup == route.adapter or route.backup not in adapters):
            detail = f"backup {route.backup!r} must be another adapter; adapters: {', '.join(sorted(adapters))}"
            problems.append(Violation(f"routes.{i}.backup", "unknown_backup", detail))
        if route.stable in adapter.versions and route.weights.get(route.stable, 0) <= 0:
            detail = (
                f"stable version {route.stable} carries no weight, so a rollback would send all traffic to a version "
                "that takes none now; give it weight, or promote the version that should take everything"
            )
            problems.append(Violation(f"routes.{i}.stable", "stable_without_weight", detail))
    return problems


def _versions_named(route: Route) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every version `route` names, with its path inside the route."""
    yield from ((("weights", v), v) for v in route.weights)
    if route.stable:
        yield ("stable",), route.stable
    for kind, pins in (
        ("header", route.pins.header),
        ("institution", route.pins.institution),
        ("tenant", route.pins.tenant),
    ):
        yield from ((("pins", kind, key), v) for key, v in pins.items())
    if route.shadow:
        yield ("shadow",), route.shadow
    yield from ((("withdrawn", str(n)), v) for n, v in enumerate(route.withdrawn))


def validate_routes(routes_json: Any, adapters: Mapping[str, AdapterConfig]) -> list[Route]:
    """`routes_json` (a list of routes as JSON: admin API, KV entry) validated against the running
    adapters with the same rules as a config file; RejectedInput names each violation's path
    (`routes.1.weights`) and rule (`weights_sum`, `unknown_adapter`, `unknown_version`, `duplicate_name`,
    `bad_expression`, `stable_without_weight`, `weight_negative`, or pydantic's own for wrong types)."""
    try:
        # The running adapters are validated models already; pydantic takes them as they are.
        config = RoutingConfig.model_validate({"adapters": dict(adapters), "routes": routes_json})
    except ValidationError as exc:
        raise RejectedInput("invalid routes", _violations(exc, "routes")) from None
    return config.routes


def _dotted(*parts: str) -> str:
    # A key that is empty or holds a dot is JSON-quoted, so that the dotted path still names its entry.
    return ".".join(json.dumps(p) if not p or "." in p or p.startswith('"') else p for p in parts)


def _refusal(problems: list[Violation]) -> PydanticCustomError:
    """One pydantic error that carries every violation a validator found, with paths relative to the
    model that failed; `_violations` puts them below that model's own path."""
    return PydanticCustomError(problems[0].rule, "; ".join(map(str, problems)), {"violations": problems})


def _violations(exc: ValidationError, origin: str) -> list[Violation]:
    out: list[Violation] = []
    for err in exc.errors(include_url=False):
        base = _dotted(*(str(p) for p in err["loc"])) if err["loc"] else ""
        inner = (err.get("ctx") or {}).get("violations")
        if inner:
            out += [Violation(f"{base}.{v.loc}" if base else v.loc, v.rule, v.detail) for v in inner]
        else:
            out.append(Violation(base or origin, err["type"], err["msg"]))
    return out
