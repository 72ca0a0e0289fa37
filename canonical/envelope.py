"""The Envelope that wraps every business message inside the hub (see ARCHITECTURE.md, Messages)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError
from uuid6 import uuid7

from canonical.errors import RejectedInput, Violation
from canonical.registry import TYPE_PATTERN, message_types, payload_model

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Classification(StrEnum):
    """GB/T 43697 data grades."""

    GENERAL = "general"
    IMPORTANT = "important"
    CORE = "core"


class Envelope(BaseModel):
    """One business message with its routing and audit metadata; `payload` is the model of `type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid7)
    type: str = Field(pattern=TYPE_PATTERN.pattern, description="<domain>.<name>")
    schema_version: str = Field(default="1", max_length=16)
    source: str = Field(pattern=ID_PATTERN, description="institution or service that sent it")
    destination: str = Field(pattern=ID_PATTERN, description="institution, partner or service it is for")
    tenant: str = Field(default="default", pattern=ID_PATTERN)
    correlation_id: str = Field(default="", max_length=128)
    causation_id: str | None = Field(default=None, max_length=128)
    idempotency_key: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    classification: Classification = Classification.GENERAL
    residency: list[str] = Field(default_factory=list, description="ISO 3166 codes the data may go to; empty: anywhere")
    headers: dict[str, str] = Field(default_factory=dict)
    payload: Any
    signature: str | None = Field(default=None, description="detached JWS over the JCS bytes of the payload")

    @field_validator("payload", mode="plain")
    @classmethod
    def _typed_payload(cls, value: Any, info: ValidationInfo) -> BaseModel:
        model = payload_model(str(info.data.get("type", "")))
        if model is None:
            raise ValueError("no payload model for this message type")
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        return model.model_validate(value)

    @field_validator("residency")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 code")
        return value

    def model_post_init(self, context: Any, /) -> None:
        # The correlation defaults to the message itself, so one-message conversations need no id.
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", str(self.id))

    @property
    def subject(self) -> str:
        return f"hub.in.{self.type}"

    def payload_json(self) -> dict[str, Any]:
        return self.payload.model_dump(mode="json")  # type: ignore[no-any-return]

    def payload_digest(self) -> str:
        """SHA-256 of the payload's canonical JSON: what idempotency compares."""
        return hashlib.sha256(canonical_json(self.payload_json())).hexdigest()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        return cls.model_validate_json(data)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces); RFC 8785 for the JSON the hub produces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def idempotency_scope(source: str, key: str) -> str:
    """Keys are scoped to the sender: the Nats-Msg-Id and the store's key of one submission."""
    return hashlib.sha256(f"{source}\x1f{key}".encode()).hexdigest()


def _path_part(part: int | str) -> str:
    # A key that is empty or holds a dot is JSON-quoted, so that the dotted path still names its field.
    if isinstance(part, str) and (not part or "." in part or part.startswith('"')):
        return json.dumps(part, ensure_ascii=False)
    return str(part)


def violations_of(error: PydanticValidationError, prefix: str = "") -> list[Violation]:
    """Pydantic errors as Violations whose `loc` is the dotted field path."""
    out = []
    for err in error.errors(include_url=False):
        loc = ".".join(_path_part(p) for p in err["loc"])
        rule = err["type"]
        detail = err["msg"]
        if loc == "payload" and rule == "value_error" and "no payload model" in detail:
            loc, rule, detail = "type", "unknown_message_type", f"known types: {', '.join(message_types())}"
        out.append(Violation(prefix + loc if loc else prefix.rstrip("."), rule, detail))
    return out


def parse_envelope(data: dict[str, Any]) -> Envelope:
    """Validate a plain dict into an Envelope, or raise RejectedInput naming every broken field."""
    try:
        return Envelope.model_validate(data)
    except PydanticValidationError as exc:
        raise RejectedInput("invalid envelope", violations_of(exc)) from None
