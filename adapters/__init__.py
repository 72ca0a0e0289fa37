"""Adapters to external systems; importing this package registers every adapter kind."""

from adapters import http_json as http_json
from adapters import webhook as webhook
from adapters.base import (
    Adapter,
    AdapterContext,
    AdapterError,
    Health,
    Outbound,
    PermanentError,
    Receipt,
    TransientError,
    adapter_kind,
    build,
    kinds,
)

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "Health",
    "Outbound",
    "PermanentError",
    "Receipt",
    "TransientError",
    "adapter_kind",
    "build",
    "kinds",
]
