"""Process settings from the environment (INTERFACES.md, Environment) and config/hub.toml."""

from __future__ import annotations

import tomllib
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from security.keystore import KeyStoreSettings
from security.tls import PartnerTlsSettings, TlsSettings

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class HubSettings(BaseSettings):
    """Where the hub keeps its data and which ports it listens on."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    home: Path = Path("./var")
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_host: str = "127.0.0.1"
    nats_port: int = Field(default=4222, ge=1, le=65535)
    nats_url: str | None = None
    nats_user: str | None = None  # the hub's user on an external NATS (HUB_NATS_URL)
    nats_password: str | None = None
    nats_nkey_seed: Path | None = None  # a file with the hub's nkey seed, instead of a password
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
    tls: TlsSettings = TlsSettings()


class JournalTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_days: int = Field(default=30, gt=0)
    chain_hash: Literal["sha256", "sm3"] = "sha256"  # new chains; existing chains keep theirs
    checkpoint_interval_s: float = Field(default=300, ge=1, description="signed checkpoints of the chain heads")


class NatsTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # "always": an accepted message is on disk before the 202 (see docs/deployment.md).
    sync_interval: str = "always"
    duplicate_window_s: int = Field(default=120, gt=0)


class SecurityTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # production: four eyes on, and the key-encryption key must not lie next to the data it protects.
    mode: Literal["dev", "production"] = "dev"
    four_eyes: bool | None = Field(default=None, description="second operator approves; default: on in production")
    token_ttl_s: int = Field(default=300, ge=30, le=3600, description="institutions' bearer tokens")
    session_ttl_s: int = Field(default=3600, ge=60, le=43200, description="operators' sessions")
    # Sensitive payload fields in the journal: A256GCM, or SM4GCM for the sm suite. Rotate by naming a
    # new field_key_id and moving the old one to field_retired_key_ids (old rows still open).
    field_cipher: Literal["A256GCM", "SM4GCM"] = "A256GCM"
    field_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    field_retired_key_ids: list[str] = Field(default_factory=list)

    @property
    def needs_approval(self) -> bool:
        return self.four_eyes if self.four_eyes is not None else self.mode == "production"


class PaymentsTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ageing_interval_s: float = Field(default=30, gt=0, description="how often ageing payments are looked for")
    hold_recheck_s: float = Field(default=60, gt=0, description="a held payment is looked at again at least this often")


class HubTuning(BaseModel):
    """config/hub.toml: knobs that are not routing."""

    model_config = ConfigDict(extra="forbid")
    gateway: GatewayTuning = GatewayTuning()
    journal: JournalTuning = JournalTuning()
    nats: NatsTuning = NatsTuning()
    tls: PartnerTlsSettings = PartnerTlsSettings()
    security: SecurityTuning = SecurityTuning()
    keys: KeyStoreSettings = KeyStoreSettings()
    payments: PaymentsTuning = PaymentsTuning()

    @classmethod
    def load(cls, config_dir: Path) -> HubTuning:
        path = config_dir / "hub.toml"
        return cls.model_validate(tomllib.loads(path.read_text())) if path.exists() else cls()
