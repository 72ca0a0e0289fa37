"""SWIFT: any currency between any BICs, ISO 20022 (MX) to `/messages`, or FIN text (MT) to `/fin`
for legacy partners (`format: mt`); a status enquiry asks the gpi tracker by UETR."""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

from pydantic import BaseModel

from adapters.base import Outbound, PartnerStatus, PermanentError, TransientError, adapter_kind, protected
from adapters.payments import (
    ChannelSettings,
    PaymentNetworkAdapter,
    is_resend,
    partner_status,
    transfer_of,
)
from canonical.codecs import Decoded
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from canonical.jsonwire import WireModel, load_json, validate_wire
from canonical.swift_mt import SwiftMtCodec
from canonical.swift_mt.codec import to_mt

log = logging.getLogger(__name__)
FIN_CONTENT_TYPE = "text/plain"  # what the network pushes its own FIN answers as
MT_CODEC = SwiftMtCodec()


class SwiftSettings(ChannelSettings):
    format: Literal["mx", "mt"] = "mx"  # mt: FIN text, for legacy partners


class GpiTransaction(WireModel):
    """The gpi tracker's view of one payment (only what an enquiry needs)."""

    uetr: str
    transaction_status: str
    status_reason: str | None = None
    reference: str | None = None  # the network's reference of the payment, when the tracker gives it


@adapter_kind("swift")
class SwiftAdapter(PaymentNetworkAdapter):
    category: ClassVar[str] = "payment"
    settings_model: ClassVar[type[ChannelSettings]] = SwiftSettings
    settings: SwiftSettings

    def receiver_of(self, payload: BaseModel) -> str:
        """The instructed agent (the assignee of a case): SWIFT routes on the receiver's BIC."""
        bic = getattr(payload, "instructed_agent", None) or getattr(payload, "assignee", None)
        if not bic:
            raise PermanentError(f"{self.ctx.name} needs the instructed agent's BIC to address the message")
        return str(bic)

    def encode(self, envelope: Envelope, sender: str, receiver: str) -> tuple[str, bytes, str]:
        if self.settings.format == "mx":
            return super().encode(envelope, sender, receiver)
        try:
            text, warnings = to_mt(envelope.payload, sender, receiver, is_resend(envelope))
        except RejectedInput as exc:
            raise PermanentError(f"cannot render {envelope.type} as MT for {self.ctx.name}: {exc}") from None
        for warning in warnings:  # data MT cannot carry: the message goes, the loss is on record
            log.info("%s MT translation of %s: %s", self.ctx.name, envelope.id, warning)
        return "/fin", text.encode("ascii"), FIN_CONTENT_TYPE

    def decode_answer(self, raw: bytes) -> Decoded:
        if raw.lstrip()[:3] == b"{1:":  # FIN text: the answers to MT traffic (MT199 ...)
            return MT_CODEC.decode(raw)
        return super().decode_answer(raw)

    async def enquire(self, envelope: Envelope) -> PartnerStatus:
        """Ask the gpi tracker what became of the transfer in `envelope`, by its UETR."""
        transfer = transfer_of(envelope, self.ctx.name)
        url = self.endpoint(f"/gpi/payments/{transfer.uetr}/transactions")
        # The query has no body to encrypt: it is signed (over the empty body) like every call.
        _, signed = protected(self.ctx, Outbound(str(envelope.id), url, b""))
        headers = {k: v for k, v in signed.items() if k.lower() != "content-type"}
        response = await self.call("GET", url, None, headers, in_doubt=False)
        if response.status_code == 404:
            return PartnerStatus(known=False, detail={"channel": self.ctx.name, "uetr": transfer.uetr})
        if response.status_code != 200:
            self.raise_refusal(response)
            raise TransientError(f"{self.ctx.name} tracker answered {response.status_code}")
        try:
            tracked = validate_wire(GpiTransaction, load_json(response.content, "gpi"), "gpi")
        except RejectedInput as exc:
            raise TransientError(f"{self.ctx.name} tracker answered unreadably: {exc}") from None
        code, reason = tracked.transaction_status, tracked.status_reason or ""
        detail = {"channel": self.ctx.name, "uetr": transfer.uetr, "status": code}
        return partner_status(code, reason, tracked.reference or tracked.uetr, detail)
