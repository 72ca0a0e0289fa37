"""An adapter whose partner is an HTTP API: its settings, one client from start to stop, calls whose
failures say whether the partner may have acted, refusals as the error contract wants them, a health probe.

Payment networks, the single window, carriers, credit bureaus and the CBDC bridge all talk this way;
each subclass says what it renders, how it reads answers and what its partner's refusals mean.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from adapters.base import (
    RETRYABLE_STATUS,
    AdapterContext,
    Health,
    InDoubtError,
    PermanentError,
    RejectedByPartner,
    TransientError,
    partner_client,
)
from canonical.envelope import violations_of
from canonical.errors import RejectedInput
from canonical.jsonwire import WireModel, load_json, validate_wire

log = logging.getLogger("hub.adapters")
# Errors after the request went out: the partner may have acted on it without our hearing it.
IN_DOUBT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
HUB_SETTINGS = frozenset({"protection"})  # keys of an adapter version the hub itself reads


class PartnerSettingsError(ValueError):
    """An adapter version is configured wrongly; the message names the settings key."""


class PartnerSettings(BaseModel):
    """The keys of an adapter version (routes.yaml) every HTTP partner reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # the hub's own keys (protection ...) are not ours

    url: str = Field(min_length=1, description="the partner's base URL, e.g. sandbox:cips")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    health_path: str = Field(default="/_sandbox/health", pattern=r"^/")

    @classmethod
    def of(cls, ctx: AdapterContext) -> Self:
        where = f"adapters.{ctx.name}.versions.{ctx.version}."
        try:
            settings = cls.model_validate(ctx.settings)
        except PydanticValidationError as exc:
            problems = "; ".join(str(v) for v in violations_of(exc, where))
            raise PartnerSettingsError(f"invalid settings of {ctx.name}: {problems}") from None
        # A misspelt key would silently fall back to a default (format: mx for a legacy MT partner): say so.
        for key in sorted(set(ctx.settings) - set(cls.model_fields) - HUB_SETTINGS):
            log.warning("%s%s is not a setting of %s; ignored", where, key, ctx.name)
        return settings


class NetworkNak(WireModel):
    ack: Literal["NAK"]
    reason: str = ""
    detail: str = ""


class NetworkRefusal(RejectedByPartner):
    """The partner refused the message (a NAK) with its reason code (`code`, e.g. an ISO 20022 status
    reason): the message ends rejected with that reason."""

    def __init__(self, reason: str, *, code: str, status: int | None = None) -> None:
        super().__init__(reason, status=status)
        self.code = code


class HttpPartner:
    """The HTTP conversation with one partner; subclasses add render / send / parse_reply."""

    settings_model: ClassVar[type[PartnerSettings]] = PartnerSettings

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self.settings = self.settings_model.of(ctx)
        self._client: httpx.AsyncClient | None = None

    def endpoint(self, path: str) -> str:
        try:
            base = self.ctx.resolve_url(self.settings.url)
        except LookupError as exc:
            raise PermanentError(f"{self.ctx.name}: {exc}") from None
        return base.rstrip("/") + path

    async def call(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], *, in_doubt: bool
    ) -> httpx.Response:
        """One HTTP call; `in_doubt`: a failure after the request went out may have had its effect."""
        if self._client is None:
            await self.start()
        assert self._client is not None
        try:
            return await self._client.request(method, url, content=body, headers=headers)
        except IN_DOUBT as exc:
            if not in_doubt:
                raise TransientError(f"{self.ctx.name} did not answer: {type(exc).__name__}") from None
            why = f"{type(exc).__name__} within {self.settings.timeout_s}s"
            raise InDoubtError(f"{self.ctx.name} may have received it: no answer ({why})") from None
        except httpx.TransportError as exc:  # connect errors, connect / pool timeouts: nothing went out
            raise TransientError(f"{self.ctx.name} unreachable: {type(exc).__name__}: {exc}") from None

    def raise_refusal(self, response: httpx.Response) -> None:
        """Raise the error of a non-200 answer: retryable statuses, the partner's NAK, other 4xx."""
        status, text = response.status_code, response.text[:300]
        if status in RETRYABLE_STATUS or status >= 500:
            raise TransientError(f"{self.ctx.name} answered {status}: {text}", status=status)
        if status == 422:
            try:
                nak = validate_wire(NetworkNak, load_json(response.content, "NAK"), "NAK")
            except RejectedInput:
                raise PermanentError(f"{self.ctx.name} refused (422): {text}", status=status) from None
            reason = f"{self.ctx.name} refused: {nak.reason} {nak.detail}".rstrip()
            raise NetworkRefusal(reason, code=nak.reason, status=status)
        if status >= 400:
            raise PermanentError(f"{self.ctx.name} refused with {status}: {text}", status=status)

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is None:
            self._client = partner_client(self.ctx, self.settings.timeout_s)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def health(self) -> Health:
        try:
            url = self.endpoint(self.settings.health_path)
            response = await self.call("GET", url, None, {}, in_doubt=False)
        except (PermanentError, TransientError) as exc:
            return Health(False, exc.reason)
        return Health(response.status_code < 400, f"{url}: {response.status_code}")
