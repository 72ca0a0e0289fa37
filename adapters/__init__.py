"""Adapters to external systems; importing this package registers every adapter kind."""

from adapters import bureaus as bureaus
from adapters import carriers as carriers
from adapters import cips as cips
from adapters import customs as customs
from adapters import dcbridge as dcbridge
from adapters import http_json as http_json
from adapters import soap as soap
from adapters import swift as swift
from adapters import webhook as webhook
from adapters.base import (
    POSSIBLE_DUPLICATE,
    Adapter,
    AdapterContext,
    AdapterError,
    Health,
    InDoubtError,
    Outbound,
    PartnerStatus,
    PaymentChannel,
    PermanentError,
    Receipt,
    TransientError,
    adapter_kind,
    build,
    kinds,
)

__all__ = [
    "POSSIBLE_DUPLICATE",
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "Health",
    "InDoubtError",
    "Outbound",
    "PartnerStatus",
    "PaymentChannel",
    "PermanentError",
    "Receipt",
    "TransientError",
    "adapter_kind",
    "build",
    "kinds",
]
