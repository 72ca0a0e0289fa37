"""Process settings from the environment (INTERFACES.md, Environment) and config/hub.toml."""

from __future__ import annotations

import tomllib
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class HubSettings(BaseSettings):
    """Where the hub keeps its data and which ports it listens on."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    home: Path = Path("./var")
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_host: str = "127.0.0.1"
    nats_port: int = Field(default=4222, ge=1, le=65535)
    nats_url: str | None = None
    database_url: str | None = None
    config_dir: Path = CONFIG_DIR

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home.resolve() / 'journal.sqlite3'}"

    @property
    def run_file(self) -> Path:
        return self.home / "run.json"


class GatewayTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Proxies whose X-Forwarded-For is believed; from anyone else the socket's address counts.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)


class JournalTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_days: int = Field(default=30, gt=0)


class NatsTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # "always": an accepted message is on disk before the 202 (see docs/deployment.md).
    sync_interval: str = "always"
    duplicate_window_s: int = Field(default=120, gt=0)


class HubTuning(BaseModel):
    """config/hub.toml: knobs that are not routing."""

    model_config = ConfigDict(extra="forbid")
    gateway: GatewayTuning = GatewayTuning()
    journal: JournalTuning = JournalTuning()
    nats: NatsTuning = NatsTuning()

    @classmethod
    def load(cls, config_dir: Path) -> HubTuning:
        path = config_dir / "hub.toml"
        return cls.model_validate(tomllib.loads(path.read_text())) if path.exists() else cls()
