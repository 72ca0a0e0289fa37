"""NATS users of the hub's internal services, and the subject permissions the hub derives for them.

Internal services (config/services.yaml) connect to the hub's NATS as users. A service may publish only
its own message types on `hub.in.<domain>.<name>` and subscribe only to the events it is entitled to on
`hub.evt.>`; the dead-letter stream, the KV buckets `hub-config` / `hub-nonces`, the outbound stream and
the JetStream API stay the hub's. The hub connects as its own user (`hub`) with full rights.

What a caller may rely on:
- `ServicesFile.load` returns validated services (a missing file: none) or raises `ServicesConfigError`
  whose message names the file, the service and the field.
- `permissions_for` and `render_authorization` are pure: the same services give the same text. Every
  value written into nats.conf goes through `conf_string`, so no config value can leave its quotes.
- nats.conf never holds a password, only bcrypt hashes (cost >= 11). Generated passwords live in
  owner-only JSON files under HUB_HOME, generated once and then reused.
- A service's replies (JetStream acks, pull responses) arrive on its own inbox prefix
  `_INBOX_<id>`; its client must connect with `inbox_prefix="_INBOX_<id>"`, or it gets no acks.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from canonical.envelope import ID_PATTERN
from security.owner_only import write_json

HUB_USER = "hub"
BCRYPT_COST = 11  # what nats-server's own `nats server passwd` uses; lower is refused in config
HUB_CREDENTIALS = "nats-hub.json"
DEV_CREDENTIALS = "nats-credentials.json"
SERVICES_FILE = "services.yaml"
EVENT_STREAM = "HUB_EVT"
# The statuses of ARCHITECTURE.md (store.journal.STATUSES, which security may not import).
STATUSES = ("accepted", "routed", "sent", "delivered", "completed", "rejected", "retrying", "dead_lettered")

_TOKEN = r"[a-z][a-z0-9_]*"
_PUBLISH = re.compile(rf"^{_TOKEN}\.({_TOKEN}|\*)$")
_EVENT_TOKEN = re.compile(rf"^({_TOKEN}|\*)$")
_BCRYPT = re.compile(r"^\$2[ab]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_NKEY_USER_PREFIX = 20 << 3  # the version byte that base32-encodes to 'U'

# Hub-only subjects, denied outright so that a later, wider allow cannot open them by accident.
_PUBLISH_DENY = ("hub.out.>", "hub.evt.>", "hub.dlq.>", "$KV.hub-config.>", "$KV.hub-nonces.>", "$JS.ACK.HUB_DLQ.>")
# With a durable event consumer a service needs three JetStream API subjects; everything else stays shut.
_JS_API_DENY = (
    "$JS.API.STREAM.>",
    "$JS.API.DIRECT.>",
    "$JS.API.CONSUMER.CREATE.>",
    "$JS.API.CONSUMER.DURABLE.>",
    "$JS.API.CONSUMER.DELETE.>",
    "$JS.API.CONSUMER.MSG.NEXT.HUB_DLQ.>",
)
_SUBSCRIBE_DENY = (
    "hub.in.>",
    "hub.out.>",
    "hub.dlq.>",
    "$KV.hub-config.>",
    "$KV.hub-nonces.>",
    "$JS.API.>",
    "_INBOX.>",  # the hub's own replies, which carry DLQ and config reads
)


class ServicesConfigError(ValueError):
    """services.yaml (or a credentials file) is not usable; the message says where and what to change."""


def _crc16(data: bytes) -> int:
    """CRC-16/XMODEM, the checksum nkeys carry in their last two bytes."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def is_public_user_nkey(value: str) -> bool:
    """True for a well-formed public user nkey ('U' + 55 base32 characters, checksum intact)."""
    if len(value) != 56 or not value.startswith("U"):
        return False
    try:
        raw = base64.b32decode(value)  # 35 bytes are exactly 56 characters: no padding
    except (binascii.Error, ValueError):
        return False
    body, checksum = raw[:-2], int.from_bytes(raw[-2:], "little")
    return len(raw) == 35 and body[0] == _NKEY_USER_PREFIX and _crc16(body) == checksum


class ServiceAuth(BaseModel):
    """How a service proves who it is. Neither given: the hub generates a dev password."""

    model_config = ConfigDict(extra="forbid")
    nkey: str | None = Field(default=None, description="its public user nkey 'U...'; the service keeps the seed")
    password_bcrypt: str | None = Field(default=None, description="bcrypt hash ($2a$/$2b$, cost >= 11)")

    @field_validator("nkey")
    @classmethod
    def _public_nkey(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("S"):
            raise ValueError("this is an nkey seed, a secret: put the public key ('U...') here, keep the seed")
        if not is_public_user_nkey(value):
            raise ValueError("not a public user nkey: 56 characters starting with 'U' (`nk -gen user -pubout`)")
        return value

    @field_validator("password_bcrypt")
    @classmethod
    def _bcrypt_hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = _BCRYPT.match(value)
        if not found:
            raise ValueError("not a bcrypt hash: expected '$2a$' or '$2b$', a two-digit cost and 53 characters")
        if int(found.group(1)) < BCRYPT_COST:
            raise ValueError(f"bcrypt cost {found.group(1)} is too low: hash with cost >= {BCRYPT_COST}")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> ServiceAuth:
        if self.nkey and self.password_bcrypt:
            raise ValueError("give either nkey or password_bcrypt, not both")
        return self


class InternalService(BaseModel):
    """One internal service of the platform and what it may publish and subscribe to."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN, description="its NATS user name, one subject token")
    name: str = ""
    publish: list[str] = Field(default_factory=list, description="message types it sends, or '<domain>.*'")
    subscribe: list[str] = Field(
        default_factory=list, description="events: '<domain>.<name>.<status>', 'alert.<level>'; '*' and '>' allowed"
    )
    durable_events: bool = Field(
        default=False, description="the hub keeps a durable consumer svc-<id> on HUB_EVT for its subscriptions"
    )
    auth: ServiceAuth = Field(default_factory=ServiceAuth)

    @field_validator("id")
    @classmethod
    def _one_token(cls, value: str) -> str:
        # A dot would make '_INBOX_<id>' several tokens, and one service's inbox a prefix of another's.
        if "." in value:
            raise ValueError(f"{value!r} contains '.': a service id is one subject token (use '-' or '_')")
        if value == HUB_USER:
            raise ValueError(f"{HUB_USER!r} is the hub's own NATS user: choose another id")
        return value

    @field_validator("publish")
    @classmethod
    def _message_types(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            if not _PUBLISH.match(value):
                raise ValueError(f"[{i}] {value!r} is not a message type '<domain>.<name>' or glob '<domain>.*'")
        return values

    @field_validator("subscribe")
    @classmethod
    def _event_patterns(cls, values: list[str]) -> list[str]:
        for i, value in enumerate(values):
            problem = _event_pattern_problem(value)
            if problem:
                raise ValueError(f"[{i}] {value!r}: {problem}")
        return values

    @property
    def inbox_prefix(self) -> str:
        """The inbox prefix its client must use (nats-py `inbox_prefix`, nats.go `nats.CustomInboxPrefix`)."""
        return f"_INBOX_{self.id}"

    def may_publish(self, message_type: str) -> bool:
        """The same rule nats-server applies to its hub.in subjects ('*' is one token)."""
        return any(
            fnmatch.fnmatchcase(message_type, t) and t.count(".") == message_type.count(".") for t in self.publish
        )

    @property
    def event_consumer(self) -> str:
        """Name of its durable consumer on HUB_EVT (only with durable_events)."""
        return f"svc-{self.id}"


def _event_pattern_problem(value: str) -> str | None:
    tokens = value.split(".")
    if any(t == ">" for t in tokens[:-1]):
        return "'>' may only be the last token"
    head = tokens[:-1] if tokens[-1] == ">" else tokens
    if not all(_EVENT_TOKEN.match(t) for t in head):
        return "tokens are lower-case names or '*'"
    if tokens[-1] == ">":
        return None if len(tokens) <= 3 else "too many tokens before '>'"
    if tokens[0] == "alert":
        return None if len(tokens) == 2 else "an alert pattern is 'alert.<level>'"
    if len(tokens) != 3:
        return "an event pattern is '<domain>.<name>.<status>' (or 'alert.<level>')"
    if tokens[2] != "*" and tokens[2] not in STATUSES:
        return f"unknown status {tokens[2]!r}: one of {', '.join(STATUSES)} or '*'"
    return None


class ServicesFile(BaseModel):
    """config/services.yaml: the internal services that connect to the hub's NATS."""

    model_config = ConfigDict(extra="forbid")
    services: list[InternalService] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ServicesFile:
        seen: set[str] = set()
        for service in self.services:
            if service.id in seen:
                raise ValueError(f"service {service.id!r} is listed twice: ids are NATS user names, one each")
            seen.add(service.id)
        return self

    @classmethod
    def load(cls, path: Path) -> ServicesFile:
        """Validated services of `path`; a missing file means no internal services."""
        if not path.exists():
            return cls()
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ServicesConfigError(f"{path}: not valid YAML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ServicesConfigError(f"{path}: " + "; ".join(_describe(raw, e) for e in exc.errors())) from None


def _describe(raw: Any, error: Any) -> str:
    """One validation error as 'service <id>: <field>: <what is wrong>'."""
    loc = list(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    where = []
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int):
        entries = raw.get("services") if isinstance(raw, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        sid = entry.get("id") if isinstance(entry, dict) else None
        where.append(f"service {sid!r}" if sid else f"services[{loc[1]}]")
        loc = loc[2:]
    if loc:
        where.append(".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "["))
    return ": ".join([*where, message])


def permissions_for(service: InternalService) -> dict[str, Any]:
    """The nats-server `permissions` block of `service`: its publish and subscribe allow and deny lists."""
    inbox = f"{service.inbox_prefix}.>"
    publish = [f"hub.in.{t}" for t in service.publish]
    subscribe = [f"hub.evt.{p}" for p in service.subscribe]
    publish_deny = list(_PUBLISH_DENY)
    if service.durable_events:
        # Read and ack its own consumer; creating or changing it stays the hub's (so do its filters).
        consumer = f"{EVENT_STREAM}.{service.event_consumer}"
        publish += [
            f"$JS.API.CONSUMER.INFO.{consumer}",
            f"$JS.API.CONSUMER.MSG.NEXT.{consumer}",
            f"$JS.ACK.{consumer}.>",
        ]
        publish_deny += _JS_API_DENY
    else:
        publish_deny.append("$JS.API.>")  # a core subscription and a JetStream publish need none of it
    if not publish:
        publish_deny = [">"]  # nats-server reads an empty allow list as "allow everything"
    return {
        "publish": {"allow": publish, "deny": publish_deny},
        "subscribe": {"allow": [*subscribe, inbox], "deny": list(_SUBSCRIBE_DENY)},
    }


def conf_string(value: str) -> str:
    """`value` as a double-quoted nats.conf string: quotes, backslashes and control characters escaped,
    so it can neither end its string nor start a `$variable` (which only unquoted values are)."""
    named = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = []
    for ch in value:
        if ch in named:
            out.append(named[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _conf_value(value: Any, indent: int) -> str:
    pad = "  " * indent
    if isinstance(value, str):
        return conf_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        items = [_conf_value(v, indent + 1) for v in value]
        inline = "[" + ", ".join(items) + "]"
        return inline if len(inline) <= 80 else "[\n" + "".join(f"{pad}  {i}\n" for i in items) + pad + "]"
    if isinstance(value, dict):
        body = "".join(f"{pad}  {key}: {_conf_value(v, indent + 1)}\n" for key, v in value.items())
        return "{\n" + body + pad + "}"
    raise TypeError(f"cannot write {type(value).__name__} into nats.conf")


def render_authorization(
    hub_password_hash: str | None,
    services: Iterable[InternalService],
    dev_password_hashes: Mapping[str, str],
    *,
    hub_nkey: str | None = None,
) -> str:
    """The nats-server `authorization { users = [...] }` block: the hub with full rights (by bcrypt hash
    or, for a cluster, by its public nkey), then each service with `permissions_for(service)`.

    `dev_password_hashes` maps service ids to bcrypt hashes of generated dev passwords; a service with
    no auth in config and no entry there raises ServicesConfigError."""
    if (hub_password_hash is None) == (hub_nkey is None):
        raise ValueError("the hub user needs exactly one of a bcrypt password hash or a public nkey")
    try:
        ServiceAuth(nkey=hub_nkey, password_bcrypt=hub_password_hash)  # the same rules as for services
    except ValidationError as exc:
        raise ValueError(f"the hub's NATS credential: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    hub: dict[str, Any] = {"nkey": hub_nkey} if hub_nkey else {"user": HUB_USER, "password": hub_password_hash}
    users = [hub]
    for service in services:
        user: dict[str, Any]
        if service.auth.nkey:
            user = {"nkey": service.auth.nkey}
        else:
            hashed = service.auth.password_bcrypt or dev_password_hashes.get(service.id)
            if not hashed:
                raise ServicesConfigError(
                    f"service {service.id!r} has no NATS credential: set auth.nkey or auth.password_bcrypt "
                    f"in {SERVICES_FILE}, or generate a dev password (ensure_dev_passwords)"
                )
            user = {"user": service.id, "password": ServiceAuth(password_bcrypt=hashed).password_bcrypt}
        users.append({**user, "permissions": permissions_for(service)})
    entries = "".join(f"    {_conf_value(u, 2)}\n" for u in users)
    return (
        "# Generated by the hub from config/services.yaml: change that file, not this block.\n"
        f"authorization {{\n  users = [\n{entries}  ]\n}}\n"
    )


def hash_password(password: str) -> str:
    """bcrypt hash of `password` in the form nats-server accepts (`$2b$`, cost BCRYPT_COST)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()


@dataclass(frozen=True)
class HubCredentials:
    """The hub's own NATS user."""

    user: str
    password: str
    password_bcrypt: str


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text())
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ServicesConfigError(f"{path} is not a JSON object: delete it and the hub generates new credentials")
    return value


def ensure_hub_credentials(path: Path) -> HubCredentials:
    """The hub's NATS user and password, generated once into `path` (owner-only JSON) and reused after."""
    stored = _read_json(path)
    if {"user", "password", "password_bcrypt"} <= stored.keys():
        return HubCredentials(str(stored["user"]), str(stored["password"]), str(stored["password_bcrypt"]))
    password = secrets.token_urlsafe(32)
    creds = HubCredentials(HUB_USER, password, hash_password(password))
    write_json(path, {"user": creds.user, "password": creds.password, "password_bcrypt": creds.password_bcrypt})
    return creds


def ensure_dev_passwords(services: Iterable[InternalService], path: Path) -> dict[str, str]:
    """bcrypt hashes of the dev passwords of services that configure no auth, by service id.

    Passwords are generated once into `path` (owner-only JSON: user, password, inbox_prefix per
    service, for the developer who runs the service) and reused on every later start."""
    stored = _read_json(path)
    hashes: dict[str, str] = {}
    changed = False
    for service in services:
        if service.auth.nkey or service.auth.password_bcrypt:
            continue
        entry = stored.get(service.id)
        if not (isinstance(entry, dict) and {"password", "password_bcrypt"} <= entry.keys()):
            password = secrets.token_urlsafe(24)
            entry = {"user": service.id, "password": password, "password_bcrypt": hash_password(password)}
            changed = True
        entry["inbox_prefix"] = service.inbox_prefix
        stored[service.id] = entry
        hashes[service.id] = str(entry["password_bcrypt"])
    if changed:
        write_json(path, stored)
    return hashes


@dataclass(frozen=True)
class NatsAccess:
    """What the composition root needs: the block for nats.conf, and how the hub itself connects."""

    authorization: str
    hub_user: str
    hub_password: str
    services: list[InternalService]


def hub_nats_access(home: Path, config_dir: Path) -> NatsAccess:
    """Load `<config_dir>/services.yaml`, make sure the hub's and the dev credentials exist in `home`
    ($HUB_HOME/nats-hub.json, $HUB_HOME/nats-credentials.json, both 0600) and render the block."""
    services = ServicesFile.load(config_dir / SERVICES_FILE).services
    hub = ensure_hub_credentials(home / HUB_CREDENTIALS)
    dev = ensure_dev_passwords(services, home / DEV_CREDENTIALS)
    return NatsAccess(render_authorization(hub.password_bcrypt, services, dev), hub.user, hub.password, services)


def event_consumer_config(service: InternalService) -> ConsumerConfig:
    """The durable pull consumer on HUB_EVT for a service with durable_events: filtered to exactly its
    subscriptions, starting with events published after it was first created."""
    return ConsumerConfig(
        durable_name=service.event_consumer,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.NEW,
        filter_subjects=[f"hub.evt.{p}" for p in service.subscribe],
        ack_wait=30,
        max_ack_pending=1024,
    )


async def ensure_event_consumers(js: JetStreamContext, services: Iterable[InternalService]) -> None:
    """Create, or bring in line with config, the durable HUB_EVT consumer of each durable_events service."""
    for service in services:
        if not service.durable_events or not service.subscribe:
            continue
        config = event_consumer_config(service)
        try:
            await js.add_consumer(EVENT_STREAM, config)
        except BadRequestError:
            # Exists with other settings (deliver policy cannot change): keep its position, update the filters.
            info = await js.consumer_info(EVENT_STREAM, service.event_consumer)
            info.config.filter_subjects = config.filter_subjects
            info.config.filter_subject = None
            await js.add_consumer(EVENT_STREAM, info.config)


def derive_jetstream_key(kek: bytes) -> str:
    """The JetStream at-rest key for nats.conf, derived from the hub's key-encryption key (HKDF-SHA256):
    the same KEK gives the same key on every start, so there is no second secret to keep or back up."""
    if len(kek) < 16:
        raise ValueError("the key-encryption key is too short to derive a JetStream key: use >= 16 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tradehub jetstream at rest v1")
    return hkdf.derive(kek).hex()
