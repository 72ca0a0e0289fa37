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


class Declarant(BaseModel):
    """Who files the inventory declarations (CEB621) the hub builds from matched sets, and what the three
    documents do not say: the customs broker (申报企业), its DXP channel, the customs office and port."""

    model_config = ConfigDict(extra="forbid")
    agent_code: str = Field(default="3301961234", min_length=10, max_length=18)
    agent_name: str = Field(default="示例报关行", min_length=1, max_length=100)
    dxp_id: str = Field(default="DXPENT0000012345", min_length=1, max_length=30)
    customs_code: str = Field(default="2991", pattern=r"^\d{4}$")
    port_code: str = Field(default="2991", pattern=r"^\d{4}$")
    trade_mode: str = Field(default="9610", pattern=r"^\d{4}$", description="9610 direct purchase, 1210 bonded")
    traf_mode: str = Field(default="5", pattern=r"^\w$", description="5 air, 2 sea, 4 road, 0 none (bonded)")
    country: str = Field(default="116", pattern=r"^\d{3}$", description="departure country (customs code)")
    assure_code: str | None = Field(default=None, max_length=30, description="None: the e-commerce enterprise")
    area_code: str | None = Field(default=None, max_length=18, description="bonded area (1210)")
    ems_no: str | None = Field(default=None, max_length=30, description="bonded account book (1210)")


class CustomsTuning(BaseModel):
    """The three-document match (desk/customs.py) and the inventories it files."""

    model_config = ConfigDict(extra="forbid")
    match_timeout_s: float = Field(default=86400, gt=0, description="an incomplete or held set times out then")
    check_interval_s: float = Field(
        default=30, gt=0, description="how often time-outs and stalled filings are looked for"
    )
    goods_file: str = Field(default="customs-goods.yaml", description="goods catalogue, relative to the config dir")
    declarant: Declarant = Declarant()


class LogisticsTuning(BaseModel):
    """Carrier polling (desk/logistics.py); each carrier's own pace is its adapter's rate_per_s / burst."""

    model_config = ConfigDict(extra="forbid")
    poll_interval_s: float = Field(default=300, gt=0, description="a shipment not yet final is asked again after this")
    round_interval_s: float = Field(default=5, gt=0, description="how often the leader looks for shipments due")
    round_limit: int = Field(default=200, ge=1, le=10_000, description="shipments polled per round at most")
    error_backoff_s: float = Field(default=60, gt=0, description="a failed poll is tried again after this")


class CreditTuning(BaseModel):
    """Credit queries (desk/credit.py): cost per bureau and report kind, monthly quota per tenant, cache TTLs."""

    model_config = ConfigDict(extra="forbid")
    default_cost: int = Field(default=10, ge=0, description="cost units of a query no `costs` entry prices")
    costs: dict[str, dict[str, int]] = Field(default_factory=dict, description="bureau -> report kind -> cost")
    default_quota: int = Field(default=1000, ge=0, description="cost units a tenant may spend per calendar month")
    quotas: dict[str, int] = Field(default_factory=dict, description="tenant -> monthly quota")
    cache_ttl_s: dict[str, float] = Field(
        default_factory=lambda: {"basic_info": 7 * 86400.0, "credit_report": 86400.0, "court_sanction_alerts": 3600.0},
        description="report kind -> how long a report is served from the cache",
    )
    attempts: int = Field(default=2, ge=1, le=5, description="tries of a query that failed before it went out")

    def cost(self, bureau: str, kind: str) -> int:
        return self.costs.get(bureau, {}).get(kind, self.default_cost)

    def quota(self, tenant: str) -> int:
        return self.quotas.get(tenant, self.default_quota)


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
    customs: CustomsTuning = CustomsTuning()
    logistics: LogisticsTuning = LogisticsTuning()
    credit: CreditTuning = CreditTuning()

    @classmethod
    def load(cls, config_dir: Path) -> HubTuning:
        path = config_dir / "hub.toml"
        return cls.model_validate(tomllib.loads(path.read_text())) if path.exists() else cls()
