"""Institutions that may call the hub, and how a call is tied to one of them.

`Institutions.authenticate(credential)` is the seam the gateway calls on every request: today an
API key (sha256 stored, never the key), later tokens and signatures plug in behind the same call.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from canonical.envelope import ID_PATTERN
from canonical.money import CurrencyCode
from security import jose
from security.access import Network, RateLimit
from security.owner_only import write_json

Suite = Literal["jose", "sm"]
SUITE_ALGORITHMS: dict[str, tuple[str, ...]] = {"jose": ("Ed25519", "ES256"), "sm": ("SM2",)}


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    statuses: list[str] = Field(default_factory=lambda: ["completed", "rejected", "dead_lettered"])


class Institution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    allowed_types: list[str] = Field(default_factory=lambda: ["*"], description="message types, '<domain>.*' globs")
    api_key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    webhook: Webhook | None = None
    sandbox: bool = Field(default=False, description="a demo institution: dev credentials are generated")
    ip_allowlist: list[Network] = Field(default_factory=list, description="CIDRs it may call from; empty: any")
    rate_limit: RateLimit | None = None
    jwks: list[dict[str, Any]] = Field(default_factory=list, description="public keys its request signatures use")
    require_signature: bool = Field(default=False, description="refuse its requests without X-Hub-Signature")
    mtls: Literal["optional", "required"] = Field(
        default="optional",
        description="required: every call comes with a TLS client certificate bound to this institution; "
        "a certificate bound to another institution is refused either way",
    )
    suite: Suite = Field(default="jose", description="jose: Ed25519 / ES256 signatures; sm: SM2 with SM3")
    amount_limits: dict[CurrencyCode, Decimal] = Field(
        default_factory=dict, description="largest amount per message by currency; more is intercepted"
    )
    burst_per_minute: int | None = Field(default=None, gt=0, description="more calls in a minute raise an alert")

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return SUITE_ALGORITHMS[self.suite]

    def may_send(self, message_type: str) -> bool:
        return any(fnmatch.fnmatchcase(message_type, pattern) for pattern in self.allowed_types)


class PartnersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    institutions: list[Institution] = Field(default_factory=list)


class NotAuthenticated(Exception):
    """No credential, or one that matches no institution."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Institutions:
    """The registered institutions and their credentials."""

    def __init__(
        self, institutions: list[Institution], dev_keys: Callable[[str], list[jose.HubKey]] | None = None
    ) -> None:
        self._by_id = {i.id: i for i in institutions}
        self._keys = {i.id: [jose.import_jwk(k) for k in i.jwks] for i in institutions}  # refuses bad JWKs early
        self._dev_keys = dev_keys

    @classmethod
    def load(
        cls, path: Path, credentials: Path | None = None, dev_keys: Callable[[str], list[jose.HubKey]] | None = None
    ) -> Institutions:
        """Load partners.yaml. Sandbox institutions without credentials get an API key, kept in
        `credentials` (0600); `dev_keys(id)` gives the public signing keys the hub holds for them."""
        parsed = PartnersFile.model_validate(yaml.safe_load(path.read_text()) or {})
        keys = ensure_dev_credentials(parsed.institutions, credentials) if credentials else {}
        loaded = [
            inst.model_copy(update={"api_key_sha256": _digest(keys[inst.id])}) if inst.id in keys else inst
            for inst in parsed.institutions
        ]
        return cls(loaded, dev_keys)

    def put(self, inst: Institution) -> None:
        """Register or replace one institution (a change seen in the live config)."""
        keys = [jose.import_jwk(k) for k in inst.jwks]  # refuse a bad JWK before changing anything
        self._by_id[inst.id], self._keys[inst.id] = inst, keys

    def remove(self, institution_id: str) -> None:
        self._by_id.pop(institution_id, None)
        self._keys.pop(institution_id, None)

    def keys_of(self) -> dict[str, list[jose.HubKey]]:
        """Every institution's registered public keys, for verifying its signatures (with the dev
        keys the hub holds for sandbox institutions, current and rotated-but-valid)."""
        if self._dev_keys is None:
            return self._keys
        dev = self._dev_keys
        return {iid: [*keys, *dev(iid)] if self._by_id[iid].sandbox else keys for iid, keys in self._keys.items()}

    def get(self, institution_id: str) -> Institution | None:
        return self._by_id.get(institution_id)

    def all(self) -> list[Institution]:
        return list(self._by_id.values())

    def authenticate(self, api_key: str | None) -> Institution:
        if not api_key:
            raise NotAuthenticated("no credential: send X-Api-Key or Authorization: Bearer")
        digest = _digest(api_key)
        for inst in self._by_id.values():
            if inst.api_key_sha256 and hmac.compare_digest(inst.api_key_sha256, digest):
                return inst
        raise NotAuthenticated("the credential matches no registered institution")


def ensure_dev_credentials(institutions: list[Institution], path: Path) -> dict[str, str]:
    """API keys of sandbox institutions, generated once and kept readable by the owner only."""
    keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [i.id for i in institutions if i.sandbox and not i.api_key_sha256 and i.id not in keys]
    if missing:
        keys.update({iid: "hk_" + secrets.token_urlsafe(24) for iid in missing})
        write_json(path, keys)
    return keys
