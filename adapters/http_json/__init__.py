"""Generic adapter: POST the canonical message as JSON to a partner URL.

The partner gets `Idempotency-Key: <message id>` on every attempt (and on DLQ replays), so a
partner that honours the header applies each message once however often it is sent. With a
`protect` in the context, every attempt is signed (and encrypted) anew just before it is sent.
"""

from __future__ import annotations

import json
from typing import ClassVar

import httpx

from adapters.base import (
    RETRYABLE_STATUS,
    AdapterContext,
    Health,
    Outbound,
    PermanentError,
    Receipt,
    TransientError,
    adapter_kind,
    partner_client,
    protected,
)
from canonical.envelope import Envelope


@adapter_kind("http-json")
class HttpJsonAdapter:
    category: ClassVar[str] = "generic"

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self.timeout = float(ctx.settings.get("timeout_s", 10.0))
        self._client: httpx.AsyncClient | None = None

    def target(self, envelope: Envelope) -> str:
        return self.ctx.resolve_url(str(self.ctx.settings.get("url", "")))

    def render(self, envelope: Envelope) -> Outbound:
        body = {
            "id": str(envelope.id),
            "type": envelope.type,
            "source": envelope.source,
            "destination": envelope.destination,
            "correlation_id": envelope.correlation_id,
            "created_at": envelope.created_at.isoformat(),
            "payload": envelope.payload_json(),
        }
        headers = {
            "content-type": "application/json",
            "idempotency-key": str(envelope.id),
            "x-hub-message-type": envelope.type,
        }
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.target(envelope), json.dumps(body).encode(), headers)

    async def send(self, outbound: Outbound) -> Receipt:
        if self._client is None:
            await self.start()
        assert self._client is not None
        body, headers = protected(self.ctx, outbound)
        try:
            response = await self._client.post(outbound.target, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout after {self.timeout}s: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection failed: {type(exc).__name__}: {exc}") from None
        text = response.text[:500]
        if response.status_code in RETRYABLE_STATUS:
            raise TransientError(f"partner answered {response.status_code}: {text}", status=response.status_code)
        if response.status_code >= 400:
            raise PermanentError(f"partner refused with {response.status_code}: {text}", status=response.status_code)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        reference = str(answer.get("reference", "")) if isinstance(answer, dict) else ""
        status = answer.get("status") if isinstance(answer, dict) else None
        return Receipt(
            final=status in (None, "completed"), reference=reference, detail={"http_status": response.status_code}
        )

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        raise PermanentError("the http-json adapter receives no asynchronous answers")

    async def start(self) -> None:
        if self._client is None:
            self._client = partner_client(self.ctx, self.timeout)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def health(self) -> Health:
        return Health(True, self.target_hint())

    def target_hint(self) -> str:
        try:
            return self.ctx.resolve_url(str(self.ctx.settings.get("url", "")))
        except LookupError as exc:
            return f"unresolved: {exc}"
