"""Status notifications to institutions' webhooks, delivered like any partner message."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from adapters.base import AdapterContext, Health, PermanentError, adapter_kind
from adapters.http_json import HttpJsonAdapter
from canonical.envelope import Envelope


@adapter_kind("webhook")
class WebhookAdapter(HttpJsonAdapter):
    """The URL is the destination institution's webhook, looked up at send time (so a changed
    webhook takes effect for notifications still queued)."""

    category: ClassVar[str] = "generic"

    def __init__(self, ctx: AdapterContext) -> None:
        super().__init__(ctx)
        lookup: Callable[[str], str | None] = ctx.settings.get("webhook_of") or (lambda _i: None)
        self._webhook_of = lookup

    def target(self, envelope: Envelope) -> str:
        url = self._webhook_of(envelope.destination)
        if not url:
            raise PermanentError(f"institution {envelope.destination!r} has no webhook configured")
        return self.ctx.resolve_url(url)

    async def health(self) -> Health:
        return Health(True, "per-institution webhooks")
