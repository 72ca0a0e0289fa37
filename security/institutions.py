"""Institutions that may call the hub, and how a call is tied to one of them.

`Institutions.authenticate(credential)` is the seam the gateway calls on every request: today an
API key (sha256 stored, never the key), later tokens and signatures plug in behind the same call.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from canonical.envelope import ID_PATTERN
from security.access import Network, RateLimit


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

    @classmethod
    def load(cls, path: Path, credentials: Path | None = None) -> Institutions:
        """Load partners.yaml; sandbox institutions without a key get one kept in `credentials` (0600)."""
        parsed = PartnersFile.model_validate(yaml.safe_load(path.read_text()) or {})
        keys = ensure_dev_credentials(parsed.institutions, credentials) if credentials else {}
        return cls(
            [
                i.model_copy(update={"api_key_sha256": _digest(keys[i.id])}) if i.id in keys else i
                for i in parsed.institutions
            ]
        )

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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(keys, fh, indent=2)
        tmp.replace(path)
    return keys
