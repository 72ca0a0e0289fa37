"""The Adapter protocol every external system implements, its error contract and the registry.

An adapter is narrow on purpose (see STYLE.md): `render` turns an Envelope into an `Outbound`
(plain bytes and headers), `send` makes the partner call and returns a `Receipt`, `parse_reply`
reads a partner's asynchronous answer. The pipeline never knows a concrete adapter: it asks the
registry for the class registered under the configured `kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from canonical.envelope import Envelope

CATEGORIES = ("payment", "dc", "customs", "logistics", "credit", "soap", "generic")


class AdapterError(Exception):
    """Base of the error contract; `retryable` decides NAK-with-delay versus dead letter."""

    retryable: ClassVar[bool] = False

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TransientError(AdapterError):
    """Worth retrying: timeouts, connection failures, 5xx, 429. Counts against the breaker."""

    retryable = True


class PermanentError(AdapterError):
    """Retrying cannot help (the partner refused the content, or it cannot be rendered)."""


@dataclass(frozen=True)
class Outbound:
    message_id: str
    target: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """The partner's synchronous answer. `final`: the answer is business-final (completed)."""

    final: bool
    reference: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class AdapterContext:
    """What the hub gives every adapter: its name, version, settings and how to find endpoints."""

    name: str
    version: str
    settings: dict[str, Any]
    resolve_url: Callable[[str], str]


class Adapter(Protocol):
    category: ClassVar[str]
    ctx: AdapterContext

    def render(self, envelope: Envelope) -> Outbound: ...

    async def send(self, outbound: Outbound) -> Receipt: ...

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def health(self) -> Health: ...


AdapterFactory = Callable[[AdapterContext], Adapter]
_kinds: dict[str, type[Any]] = {}


def adapter_kind(kind: str) -> Callable[[type[Any]], type[Any]]:
    """Class decorator: the adapter class built for config entries with `kind: <kind>`."""

    def register(cls: type[Any]) -> type[Any]:
        if getattr(cls, "category", None) not in CATEGORIES:
            raise ValueError(f"adapter {cls.__name__} needs a category among {CATEGORIES}")
        _kinds[kind] = cls
        return cls

    return register


def build(kind: str, ctx: AdapterContext) -> Adapter:
    cls = _kinds.get(kind)
    if cls is None:
        raise LookupError(f"no adapter kind {kind!r}; known: {', '.join(sorted(_kinds))}")
    adapter: Adapter = cls(ctx)
    return adapter


def kinds() -> dict[str, type[Any]]:
    return dict(_kinds)
