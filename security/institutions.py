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
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from canonical.envelope import ID_PATTERN
from security import jose
from security.access import Network, RateLimit
from security.owner_only import write_json


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

    def __init__(self, institutions: list[Institution]) -> None:
        self._by_id = {i.id: i for i in institutions}
        self._keys = {i.id: [jose.import_jwk(k) for k in i.jwks] for i in institutions}  # refuses bad JWKs early

    @classmethod
    def load(cls, path: Path, credentials: Path | None = None) -> Institutions:
        """Load partners.yaml. Sandbox institutions without credentials get an API key and an
        Ed25519 signing key, kept in `credentials` and `<credentials>.keys` (0600)."""
        parsed = PartnersFile.model_validate(yaml.safe_load(path.read_text()) or {})
        keys = ensure_dev_credentials(parsed.institutions, credentials) if credentials else {}
        signing = ensure_dev_signing_keys(parsed.institutions, dev_keys_path(credentials)) if credentials else {}
        loaded = []
        for inst in parsed.institutions:
            update: dict[str, Any] = {}
            if inst.id in keys:
                update["api_key_sha256"] = _digest(keys[inst.id])
            if inst.id in signing:
                update["jwks"] = [*inst.jwks, jose.import_jwk(signing[inst.id]).public_jwk()]
            loaded.append(inst.model_copy(update=update))
        return cls(loaded)

    def keys_of(self) -> dict[str, list[jose.HubKey]]:
        """Every institution's registered public keys, for verifying its signatures."""
        return self._keys

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


def dev_keys_path(credentials: Path) -> Path:
    return credentials.with_name("signing-keys.json")


def ensure_dev_signing_keys(institutions: list[Institution], path: Path) -> dict[str, dict[str, Any]]:
    """Private signing JWKs of sandbox institutions that register no keys, generated once."""
    keys: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [i.id for i in institutions if i.sandbox and not i.jwks and i.id not in keys]
    if missing:
        keys.update({iid: jose.generate_key("Ed25519", f"{iid}-dev-1").private_jwk() for iid in missing})
        write_json(path, keys)
    return keys


def ensure_dev_credentials(institutions: list[Institution], path: Path) -> dict[str, str]:
    """API keys of sandbox institutions, generated once and kept readable by the owner only."""
    keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [i.id for i in institutions if i.sandbox and not i.api_key_sha256 and i.id not in keys]
    if missing:
        keys.update({iid: "hk_" + secrets.token_urlsafe(24) for iid in missing})
        write_json(path, keys)
    return keys
