"""What the payment-network adapters (CIPS, SWIFT) share: their settings, the ISO 20022 rendering of
a payment with its Business Application Header, the conversation with the network (ACK, NAK, in
doubt), status enquiries, and reading the network's asynchronous answers into Envelopes.

The network contract is docs/payment-channels.md. A resend after an in-doubt attempt renders the
same bytes as the first attempt apart from the possible-duplicate flag: every reference and both
timestamps come from the Envelope, never from the clock.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from adapters.base import (
    POSSIBLE_DUPLICATE,
    InDoubtError,
    Outbound,
    PartnerStatus,
    PermanentError,
    Receipt,
    TransientError,
    protected,
)
from adapters.partner import HttpPartner, PartnerSettings
from canonical.codecs import Decoded
from canonical.envelope import Envelope, violations_of
from canonical.errors import RejectedInput, Violation
from canonical.iso20022 import CBPR_SERVICE, BusinessHeader, Iso20022Codec, Iso20022Message, render
from canonical.iso20022.codec import definition_for
from canonical.jsonwire import WireModel, load_json, validate_wire
from canonical.money import Money
from canonical.payments import Bic, FiTransfer, InterbankTransfer, StatusReport
from canonical.swift_mt.codec import COVER_SERVICE

log = logging.getLogger(__name__)

# What the hub sends over a payment network (the other payment types are the network's answers).
CARRIED_TYPES = frozenset(
    {"payment.credit_transfer", "payment.fi_transfer", "payment.status_request", "payment.cancellation_request"}
)
ANSWER_TYPES = frozenset(
    {
        "payment.status_report",
        "payment.cancellation_resolution",
        "payment.return",
        "payment.account_statement",
        "payment.account_notification",
    }
)
COMPLETED = frozenset({"ACSC", "ACCC"})
REJECTED = frozenset({"RJCT"})
ISO_CODEC = Iso20022Codec()


class ChannelSettings(PartnerSettings):
    """The keys of an adapter version (routes.yaml) a payment channel reads."""

    sender_bic: Bic | None = Field(default=None, description="AppHdr Fr when the payload names no instructing agent")


class NetworkAck(WireModel):
    ack: Literal["ACK"]
    reference: str = ""
    uetr: str = ""
    duplicate: bool = False


def business_message_id(payload: BaseModel) -> str:
    """BizMsgIdr: the payload's own message id (a camt.056 has its assignment id instead)."""
    return str(getattr(payload, "message_id", None) or getattr(payload, "assignment_id", ""))


def amounts_of(payload: BaseModel) -> list[Money]:
    """The interbank amounts a payload moves or refers to (what a network checks its currency on)."""
    found = (getattr(payload, "settlement_amount", None), getattr(payload, "original_settlement_amount", None))
    return [m for m in found if isinstance(m, Money)]


def partner_status(code: str, reason: str, reference: str, detail: dict[str, Any]) -> PartnerStatus:
    """A network's transaction status code as the hub's word for it."""
    if code in COMPLETED:
        return PartnerStatus(True, "completed", reference=reference, detail=detail)
    if code in REJECTED:
        return PartnerStatus(True, "rejected", reason=reason, reference=reference, detail=detail)
    return PartnerStatus(True, "delivered", reference=reference, detail=detail)  # ACSP, ACTC, PDNG ...


class PaymentNetworkAdapter(HttpPartner):
    """One payment network behind an HTTP API: subclasses say whom a message is addressed to, what
    the network cannot carry, and how to ask it about a payment (`enquire`)."""

    category: ClassVar[str] = "payment"
    settings_model: ClassVar[type[PartnerSettings]] = ChannelSettings
    settings: ChannelSettings

    # --- what a network decides ------------------------------------------------------------------

    def receiver_of(self, payload: BaseModel) -> str:
        """AppHdr To (MT block 2 receiver)."""
        raise NotImplementedError

    def check_carriable(self, payload: BaseModel) -> None:
        """Raise PermanentError for a payload the network refuses whatever the attempt."""

    def encode(self, envelope: Envelope, sender: str, receiver: str) -> tuple[str, bytes, str]:
        """(path on the network, body, content type): the ISO 20022 SWIFT envelope by default."""
        return "/messages", self.iso_envelope(envelope, sender, receiver), "application/xml"

    # --- render ----------------------------------------------------------------------------------

    def render(self, envelope: Envelope) -> Outbound:
        if envelope.type not in CARRIED_TYPES:
            raise PermanentError(f"{self.ctx.name} does not carry {envelope.type}")
        self.check_carriable(envelope.payload)
        path, body, content_type = self.encode(
            envelope, self.sender_of(envelope.payload), self.receiver_of(envelope.payload)
        )
        headers = {"content-type": content_type, "idempotency-key": str(envelope.id)}
        if "traceparent" in envelope.headers:
            headers["traceparent"] = envelope.headers["traceparent"]
        return Outbound(str(envelope.id), self.endpoint(path), body, headers)

    def sender_of(self, payload: BaseModel) -> str:
        """AppHdr Fr: the instructing agent (the assigner of a case), else the configured sending BIC."""
        bic = (
            getattr(payload, "instructing_agent", None)
            or getattr(payload, "assigner", None)
            or self.settings.sender_bic
        )
        if not bic:
            raise PermanentError(f"{self.ctx.name}: no instructing agent in the payload and no sender_bic configured")
        return str(bic)

    def iso_envelope(self, envelope: Envelope, sender: str, receiver: str) -> bytes:
        payload = envelope.payload
        cover = isinstance(payload, FiTransfer) and payload.cover
        try:
            header = BusinessHeader(
                from_bic=sender,
                to_bic=receiver,
                business_message_id=business_message_id(payload),
                message_definition=definition_for(payload).id,
                business_service=COVER_SERVICE if cover else CBPR_SERVICE,
                created_at=envelope.created_at,
                possible_duplicate=is_resend(envelope),
            )
            return render(Iso20022Message(header, payload), clock=lambda: envelope.created_at)
        except RejectedInput as exc:
            raise PermanentError(f"cannot render {envelope.type} for {self.ctx.name}: {exc}") from None
        except PydanticValidationError as exc:
            problems = "; ".join(map(str, violations_of(exc, "AppHdr.")))
            raise PermanentError(f"cannot render {envelope.type} for {self.ctx.name}: {problems}") from None

    # --- the network call ------------------------------------------------------------------------

    async def send(self, outbound: Outbound) -> Receipt:
        body, headers = protected(self.ctx, outbound)
        response = await self.call("POST", outbound.target, body, headers, in_doubt=True)
        status = response.status_code
        if status == 200 and "xml" in response.headers.get("content-type", ""):
            return self.status_receipt(response.content)
        if status == 200:
            ack = self.read_ack(response.content)
            detail = {"channel": self.ctx.name, "ack": ack.ack, "duplicate": ack.duplicate, "uetr": ack.uetr}
            return Receipt(final=False, reference=ack.reference, detail=detail)
        self.raise_refusal(response)
        raise PermanentError(f"{self.ctx.name} answered {status}: {response.text[:300]}", status=status)

    def read_ack(self, raw: bytes) -> NetworkAck:
        try:
            return validate_wire(NetworkAck, load_json(raw, "ACK"), "ACK")
        except RejectedInput as exc:
            # The network answered 200 with something else than an ack: it may have taken the payment.
            raise InDoubtError(f"{self.ctx.name} answered 200 without a readable ack: {exc}") from None

    def status_receipt(self, raw: bytes) -> Receipt:
        """The synchronous pacs.002 answering a pacs.028: the enquiry itself is complete."""
        report = self.read_status_report(raw)
        status, reason = report.status.value, report.reason_code or ""
        detail = {"channel": self.ctx.name, "ack": "ACK", "duplicate": False, "status": status, "reason": reason}
        return Receipt(final=True, reference=report.message_id, detail=detail)

    def read_status_report(self, raw: bytes) -> StatusReport:
        """The network's synchronous pacs.002; TransientError if the answer is not one."""
        try:
            payload = ISO_CODEC.decode(raw).payload
        except RejectedInput as exc:
            raise TransientError(f"{self.ctx.name} answered an unreadable status report: {exc}") from None
        if not isinstance(payload, StatusReport):
            raise TransientError(f"{self.ctx.name} answered a {type(payload).__name__} instead of a status report")
        return payload

    # --- asynchronous answers --------------------------------------------------------------------

    def parse_reply(self, raw: bytes, headers: dict[str, str]) -> Envelope:
        """The network's answer (pacs.002, camt.029, pacs.004, camt.053, camt.054) as an Envelope from
        this adapter to the hub, correlated by the original's UETR; RejectedInput if it is not one."""
        decoded = self.decode_answer(raw)
        if decoded.type not in ANSWER_TYPES:
            violation = Violation("/AppHdr/MsgDefIdr", "not_a_network_answer", decoded.type)
            raise RejectedInput(f"{self.ctx.name} answers with {', '.join(sorted(ANSWER_TYPES))}", [violation])
        try:
            return Envelope(
                type=decoded.type,
                source=self.ctx.name,
                destination="hub",
                correlation_id=decoded.correlation_id,
                idempotency_key=decoded.idempotency_key,
                payload=decoded.payload,
            )
        except PydanticValidationError as exc:
            raise RejectedInput(f"{self.ctx.name} answer rejected", violations_of(exc)) from None

    def decode_answer(self, raw: bytes) -> Decoded:
        return ISO_CODEC.decode(raw)


def is_resend(envelope: Envelope) -> bool:
    return envelope.headers.get(POSSIBLE_DUPLICATE) == "true"


def transfer_of(envelope: Envelope, channel: str) -> InterbankTransfer:
    """The payment an enquiry is about: only a transfer has a status at the network."""
    if not isinstance(envelope.payload, InterbankTransfer):
        raise PermanentError(f"{channel} cannot be asked about a {envelope.type}, only about a transfer")
    return envelope.payload
