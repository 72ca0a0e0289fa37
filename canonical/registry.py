"""Registry of payload models by message type (`<domain>.<name>`).

A payload model registers itself with `@message_type("payment.credit_transfer")`; the Envelope, the
gateway and the router find it here, so adding a business message is one decorated class.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

_M = TypeVar("_M", bound=type[BaseModel])
_payloads: dict[str, type[BaseModel]] = {}


def message_type(name: str) -> Callable[[_M], _M]:
    """Class decorator: register `cls` as the payload model of message type `name`."""
    if not TYPE_PATTERN.match(name):
        raise ValueError(f"message type {name!r} must be two tokens '<domain>.<name>'")

    def register(cls: _M) -> _M:
        existing = _payloads.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"message type {name!r} is already registered to {existing.__name__}")
        _payloads[name] = cls
        cls.__message_type__ = name  # type: ignore[attr-defined]
        return cls

    return register


def payload_model(name: str) -> type[BaseModel] | None:
    return _payloads.get(name)


def message_types() -> list[str]:
    return sorted(_payloads)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every registered payload, by message type."""
    return {name: model.model_json_schema() for name, model in sorted(_payloads.items())}
