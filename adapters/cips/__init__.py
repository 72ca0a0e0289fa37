"""CIPS: CNY payments between its participants, ISO 20022 only; every message is addressed to the
network's own BIC, and a status enquiry is a pacs.028 answered at once with a pacs.002."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel

from adapters.base import PartnerStatus, PermanentError, TransientError, adapter_kind, protected
from adapters.payments import (
    ChannelSettings,
    PaymentNetworkAdapter,
    amounts_of,
    partner_status,
    transfer_of,
)
from canonical.envelope import Envelope
from canonical.iso20022.codec import definition_for
from canonical.payments import Bic, InterbankTransfer, OriginalReference, StatusRequest

CIPS_CURRENCY = "CNY"


class CipsSettings(ChannelSettings):
    network_bic: Bic  # AppHdr To of every message: CIPS itself


@adapter_kind("cips")
class CipsAdapter(PaymentNetworkAdapter):
    category: ClassVar[str] = "payment"
    settings_model: ClassVar[type[ChannelSettings]] = CipsSettings
    settings: CipsSettings

    def receiver_of(self, payload: BaseModel) -> str:
        return self.settings.network_bic

    def check_carriable(self, payload: BaseModel) -> None:
        for money in amounts_of(payload):
            if money.currency != CIPS_CURRENCY:
                raise PermanentError(f"{self.ctx.name} settles only {CIPS_CURRENCY}, not {money.currency}")

    async def enquire(self, envelope: Envelope) -> PartnerStatus:
        """Ask CIPS (pacs.028) what became of the transfer in `envelope`, by its UETR."""
        transfer = transfer_of(envelope, self.ctx.name)
        outbound = self.render(self.status_request(envelope, transfer))
        body, headers = protected(self.ctx, outbound)
        response = await self.call("POST", outbound.target, body, headers, in_doubt=False)
        if response.status_code == 404:
            return PartnerStatus(known=False, detail={"channel": self.ctx.name, "uetr": transfer.uetr})
        if response.status_code != 200:
            self.raise_refusal(response)
            raise TransientError(f"{self.ctx.name} answered the status request with {response.status_code}")
        report = self.read_status_report(response.content)
        detail = {"channel": self.ctx.name, "uetr": transfer.uetr, "status": report.status.value}
        return partner_status(report.status.value, report.reason_code or "", report.message_id, detail)

    def status_request(self, envelope: Envelope, transfer: InterbankTransfer) -> Envelope:
        """A fresh pacs.028 (its own message id and idempotency key: every enquiry is a new question)."""
        request = StatusRequest(
            message_id="ENQ" + uuid.uuid4().hex,
            original=OriginalReference(
                message_id=transfer.message_id,
                message_type=definition_for(transfer).id,
                instruction_id=transfer.instruction_id,
                end_to_end_id=transfer.end_to_end_id,
                uetr=transfer.uetr,
            ),
            instructing_agent=self.sender_of(transfer),
            instructed_agent=self.settings.network_bic,
            original_settlement_amount=transfer.settlement_amount,
            original_settlement_date=transfer.settlement_date,
        )
        headers = {k: v for k, v in envelope.headers.items() if k == "traceparent"}
        return Envelope(
            type="payment.status_request",
            source="hub",
            destination=self.ctx.name,
            tenant=envelope.tenant,
            correlation_id=transfer.uetr,
            causation_id=str(envelope.id),
            headers=headers,
            payload=request,
        )
