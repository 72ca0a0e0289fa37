"""The Adapter protocol every external system implements, its error contract and the registry.

An adapter is narrow on purpose (see STYLE.md): `render` turns an Envelope into an `Outbound`
(plain bytes and headers), `send` makes the partner call and returns a `Receipt`, `parse_reply`
reads a partner's asynchronous answer. The pipeline never knows a concrete adapter: it asks the
registry for the class registered under the configured `kind`.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from canonical.envelope import Envelope
from security.jose import Signer
from security.outbound import ProtectionError

CATEGORIES = ("payment", "dc", "customs", "logistics", "credit", "soap", "generic")
# HTTP answers a later attempt may cure: the partner timed out, is busy, or is (partly) down.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


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


class InDoubtError(TransientError):
    """The call may have reached the partner: the request went out and no answer came back (a read
    timeout, a connection lost before the answer). A payment in doubt never goes to another channel;
    its next attempt first asks the partner (`PaymentChannel.enquire`) and resends only what the
    partner does not know, flagged as a possible duplicate."""


class PermanentError(AdapterError):
    """Retrying cannot help (the partner refused the content, or it cannot be rendered)."""


class RejectedByPartner(PermanentError):
    """The partner's definitive business refusal (a payment network's NAK with its reason code): the
    message ends `rejected` with that reason, not in the dead-letter queue, since replaying it cannot help."""


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


# Envelope header the pipeline sets on a resend after an in-doubt attempt: the adapter renders the
# network's possible-duplicate flag (MX AppHdr PssblDplct, MT PDE) with the same references.
POSSIBLE_DUPLICATE = "hub-possible-duplicate"


@dataclass(frozen=True)
class PartnerStatus:
    """A partner's word on one message it may have been sent, from a status enquiry or a tracker.

    `known` False: the partner never received it, so sending it (again) is safe. Otherwise `status`
    is "delivered" (received, not final yet), "completed" or "rejected" (with the partner's reason).
    """

    known: bool
    status: str = ""
    reason: str = ""
    reference: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


# (body, content type) -> (body to send, headers to set): signs and maybe encrypts one partner call.
# `security.outbound.Protector.protect` is one; it raises `security.outbound.ProtectionError`.
Protect = Callable[[bytes, str], tuple[bytes, dict[str, str]]]
# suite ("jose" | "sm") -> the hub's current document-signing key (XML signatures over documents the
# adapter files). Asked per document, so a key rotation applies at once.
DocumentSigner = Callable[[str], Signer]


@dataclass(frozen=True)
class AdapterContext:
    """What the hub gives every adapter: its name, version, settings and how to find endpoints.

    `protect`, when given, is applied by the adapter to every partner call it makes, right before
    the call (so each attempt is signed anew); its headers replace same-named rendered headers.
    """

    name: str
    version: str
    settings: dict[str, Any]
    resolve_url: Callable[[str], str]
    protect: Protect | None = None
    tls: ssl.SSLContext | None = None  # checks partners' HTTPS servers; None: httpx's default
    document_signer: DocumentSigner | None = None


def protected(ctx: AdapterContext, outbound: Outbound) -> tuple[bytes, dict[str, str]]:
    """The body and headers to put on the wire for `outbound`: as rendered without `ctx.protect`,
    else signed / encrypted by it, its headers replacing same-named ones whatever their case.
    A call that cannot be protected is a PermanentError (retrying does not fix a key or size)."""
    if ctx.protect is None:
        return outbound.body, outbound.headers
    content_type = next((v for k, v in outbound.headers.items() if k.lower() == "content-type"), "")
    try:
        body, extra = ctx.protect(outbound.body, content_type or "application/octet-stream")
    except ProtectionError as exc:
        raise PermanentError(f"cannot sign/encrypt the call to {ctx.name}@{ctx.version}: {exc}") from None
    replaced = {k.lower() for k in extra}
    return body, {**{k: v for k, v in outbound.headers.items() if k.lower() not in replaced}, **extra}


def partner_client(ctx: AdapterContext, timeout_s: float) -> httpx.AsyncClient:
    """The HTTP client an adapter keeps from `start` to `stop`: its timeout, no proxy settings from
    the environment, a bounded pool and the hub's checks of partners' HTTPS servers."""
    return httpx.AsyncClient(
        timeout=timeout_s,
        trust_env=False,
        limits=httpx.Limits(max_connections=16),  # httpcore scans every pooled connection per request
        verify=ctx.tls or True,
    )


class Adapter(Protocol):
    category: ClassVar[str]
    ctx: AdapterContext

    def render(self, envelope: Envelope) -> Outbound: ...

    async def send(self, outbound: Outbound) -> Receipt: ...

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def health(self) -> Health: ...


@runtime_checkable
class PaymentChannel(Adapter, Protocol):
    """An adapter of a payment network (CIPS, SWIFT): it can also be asked what became of a message."""

    async def enquire(self, envelope: Envelope) -> PartnerStatus: ...


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
