"""The `swift_mt` DocumentCodec and the MT <-> MX translations built on the canonical models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from canonical.codecs import Decoded
from canonical.envelope import violations_of
from canonical.errors import RejectedInput, Violation
from canonical.iso20022 import BusinessHeader, Iso20022Message
from canonical.iso20022 import parse as parse_mx
from canonical.iso20022 import render as render_mx
from canonical.payments import CreditTransfer, FiTransfer
from canonical.swift_mt.blocks import MAX_MESSAGE_CHARS, split_rje
from canonical.swift_mt.messages import Mt103, Mt202, TypedMt, parse, render
from canonical.swift_mt.to_mt import credit_transfer_to_mt103, fi_transfer_to_mt202
from canonical.swift_mt.translate import mt103_to_credit_transfer, mt202_to_fi_transfer

Clock = Callable[[], datetime]
COVER_SERVICE = "swift.cbprplus.cov.02"


def to_canonical(mt: TypedMt) -> tuple[CreditTransfer | FiTransfer, list[str]]:
    """The canonical payload of a typed MT (MT103 -> credit transfer, MT202/COV -> FI transfer)."""
    try:
        if isinstance(mt, Mt103):
            return mt103_to_credit_transfer(mt)
        return mt202_to_fi_transfer(mt)
    except PydanticValidationError as exc:
        raise RejectedInput("MT content not valid for CBPR+", violations_of(exc, "payload.")) from None


def mt_to_mx(text: str, clock: Clock = lambda: datetime.now(UTC)) -> tuple[bytes, list[str]]:
    """MT103 -> pacs.008, MT202/MT202COV -> pacs.009 (SWIFT envelope form, XSD-valid) and the warnings."""
    mt = parse(text)
    payload, warnings = to_canonical(mt)
    definition = "pacs.008.001.08" if isinstance(payload, CreditTransfer) else "pacs.009.001.08"
    header = BusinessHeader(
        from_bic=mt.header.sender_bic,
        to_bic=mt.header.receiver_bic,
        business_message_id=payload.message_id,
        message_definition=definition,
        business_service=COVER_SERVICE if isinstance(payload, FiTransfer) and payload.cover else "swift.cbprplus.02",
        created_at=clock(),
        possible_duplicate=mt.header.possible_duplicate,
    )
    return render_mx(Iso20022Message(header, payload), clock), warnings


def mx_to_mt(xml: bytes) -> tuple[str, list[str]]:
    """pacs.008 -> MT103, pacs.009 -> MT202 / MT202COV (FIN text, CRLF) and the warnings."""
    message = parse_mx(xml)
    h, payload = message.header, message.payload
    mt: TypedMt
    if isinstance(payload, CreditTransfer):
        mt, warnings = credit_transfer_to_mt103(payload, h.from_bic, h.to_bic, h.possible_duplicate)
    elif isinstance(payload, FiTransfer):
        mt, warnings = fi_transfer_to_mt202(payload, h.from_bic, h.to_bic, h.possible_duplicate)
    else:
        raise RejectedInput(
            "no MT translation", [Violation("/AppHdr/MsgDefIdr", "unsupported_message_type", h.message_definition)]
        )
    return render(mt), warnings


def idempotency_key(mt: Mt103 | Mt202) -> str:
    mur = mt.header.mur
    return f"{mt.header.sender_bic}:{mt.sender_reference}" + (f":{mur}" if mur else "")


class SwiftMtCodec:
    """DocumentCodec for SWIFT FIN MT103 / MT202 / MT202COV."""

    name = "swift_mt"

    def detect(self, body: bytes, content_type: str) -> bool:
        return body.lstrip()[:3] == b"{1:"

    def decode(self, body: bytes) -> Decoded:
        if len(body) > MAX_MESSAGE_CHARS:
            raise RejectedInput("message too large", [Violation("message", "too_large", f"{len(body)} bytes")])
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as exc:
            where = f"offset {exc.start}"
            raise RejectedInput("not FIN text", [Violation(where, "x_character_set", "non-ASCII")]) from None
        messages = split_rje(text)
        if len(messages) != 1:
            raise RejectedInput("one message expected", [Violation("message", "single_message", str(len(messages)))])
        mt = parse(messages[0])
        payload, warnings = to_canonical(mt)
        return Decoded(
            type="payment.credit_transfer" if isinstance(payload, CreditTransfer) else "payment.fi_transfer",
            payload=payload,
            idempotency_key=idempotency_key(mt),
            destination=mt.header.receiver_bic,
            correlation_id=payload.uetr,
            warnings=warnings,
        )

    def encode(self, payload: BaseModel, sender: str, receiver: str) -> str:
        if isinstance(payload, CreditTransfer):
            return render(credit_transfer_to_mt103(payload, sender, receiver)[0])
        if isinstance(payload, FiTransfer):
            return render(fi_transfer_to_mt202(payload, sender, receiver)[0])
        raise RejectedInput("no MT rendering", [Violation("type", "unsupported_message_type", type(payload).__name__)])
