"""The `swift_mt` DocumentCodec and the MT <-> MX translations built on the canonical models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import UnionType
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from canonical.codecs import Decoded
from canonical.envelope import violations_of
from canonical.errors import RejectedInput, Violation
from canonical.iso20022 import BusinessHeader, Iso20022Message
from canonical.iso20022 import parse as parse_mx
from canonical.iso20022 import render as render_mx
from canonical.iso20022.codec import definition_for
from canonical.payments import (
    AccountStatement,
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    DirectDebit,
    FiDirectDebit,
    FiTransfer,
    PaymentInitiation,
    PaymentReturn,
    StatusReport,
)
from canonical.swift_mt.blocks import MtHeader, fin_text, split_rje
from canonical.swift_mt.cancellation_map import (
    mt192_to_request,
    mt196_to_resolution,
    request_to_mt192,
    resolution_to_mt196,
)
from canonical.swift_mt.cash_maps import cash_to_canonical, cash_to_mt
from canonical.swift_mt.catalogue import parse_message
from canonical.swift_mt.common import Mt192, Mt196, Mt199
from canonical.swift_mt.direct_debit_map import (
    direct_debit_to_mt107,
    fi_direct_debit_to_mt204,
    mt107_to_direct_debit,
    mt204_to_fi_direct_debit,
)
from canonical.swift_mt.fi_transfer_map import fi_transfer_to_mt205, mt200_to_fi_transfer, mt205_to_fi_transfer
from canonical.swift_mt.initiation_map import initiation_to_mt101, mt101_to_initiation
from canonical.swift_mt.layout import MtMessage
from canonical.swift_mt.messages import Mt103, Mt202, render
from canonical.swift_mt.return_map import is_return, mt103_to_return, mt202_to_return, return_to_mt
from canonical.swift_mt.statement_map import canonical_to_statement, statement_to_canonical
from canonical.swift_mt.statements import Mt940, Mt950
from canonical.swift_mt.status_map import mt199_to_status, status_to_mt199
from canonical.swift_mt.to_mt import credit_transfer_to_mt103, fi_transfer_to_mt202
from canonical.swift_mt.transfers import Mt101, Mt107, Mt200, Mt204, Mt205
from canonical.swift_mt.translate import mt103_to_credit_transfer, mt202_to_fi_transfer

Clock = Callable[[], datetime]
CBPR_SERVICE = "swift.cbprplus.02"
COVER_SERVICE = "swift.cbprplus.cov.02"
# The translations of the payment MTs (the cash management ones are in cash_maps), by MT.
_TO_CANONICAL: tuple[tuple[type[MtMessage] | UnionType, Callable[[Any], tuple[BaseModel, list[str]]]], ...] = (
    (Mt103, mt103_to_credit_transfer),
    (Mt202, mt202_to_fi_transfer),
    (Mt205, mt205_to_fi_transfer),  # and MT205COV
    (Mt200, mt200_to_fi_transfer),
    (Mt101, mt101_to_initiation),
    (Mt107, mt107_to_direct_debit),
    (Mt204, mt204_to_fi_direct_debit),
    (Mt199, mt199_to_status),  # and MT299
    (Mt940 | Mt950, statement_to_canonical),
    (Mt192, mt192_to_request),  # and MT292
    (Mt196, mt196_to_resolution),  # and MT296
)
# The translations to MT that take the payload, the sender and the receiver only, by payload type.
_TO_MT: tuple[tuple[type[BaseModel], Callable[[Any, str, str], tuple[MtMessage, list[str]]]], ...] = (
    (PaymentReturn, return_to_mt),
    (StatusReport, status_to_mt199),
    (PaymentInitiation, initiation_to_mt101),
    (DirectDebit, direct_debit_to_mt107),
    (FiDirectDebit, fi_direct_debit_to_mt204),
    (AccountStatement, canonical_to_statement),
    (CancellationRequest, request_to_mt192),
    (CancellationResolution, resolution_to_mt196),
)


def _mapped(mt: MtMessage) -> tuple[BaseModel, list[str]]:
    if isinstance(mt, Mt103 | Mt202 | Mt205) and is_return(mt.sender_to_receiver_information):
        return mt103_to_return(mt) if isinstance(mt, Mt103) else mt202_to_return(mt)
    translate = next((f for kind, f in _TO_CANONICAL if isinstance(mt, kind)), None)
    if translate is not None:
        return translate(mt)
    cash = cash_to_canonical(mt)
    if cash is not None:
        return cash
    detail = f"MT{mt.header.message_type} has no canonical payment mapping"
    raise RejectedInput("no canonical mapping", [Violation("2", "unsupported_message_type", detail)])


def to_canonical(mt: MtMessage) -> tuple[BaseModel, list[str]]:
    """The canonical payload of a typed MT and the translation warnings.

    MT103 -> credit transfer, MT202/COV, MT205/COV and MT200 -> FI transfer, MT103 / MT202 / MT205 with
    /RETN/ in 72 -> payment return, MT101 -> payment initiation, MT107 -> direct debit, MT204 -> FI direct
    debit, MT199/299 (gpi status or reject) -> status report, MT940/MT950 -> account statement, MT192/292 ->
    cancellation request, MT196/296 -> cancellation resolution, MT900/MT910 -> account notification,
    MT941/MT942 -> account report, MT920 -> account reporting request, MT210 -> notice to receive, MT190/290 ->
    charges notification, MT191/291 -> charges request, MT110 -> cheque presentment, MT111 -> cheque stop
    request, MT112 -> cheque stop report. RejectedInput
    names the field and rule when the MT cannot be carried (e.g. `3:121` `uetr_required`)."""
    try:
        return _mapped(mt)
    except PydanticValidationError as exc:
        raise RejectedInput("MT content not valid for CBPR+", violations_of(exc, "payload.")) from None


def _business_id(payload: BaseModel) -> str:
    return str(getattr(payload, "message_id", None) or getattr(payload, "assignment_id", ""))


def mt_to_mx(text: str, clock: Clock = lambda: datetime.now(UTC)) -> tuple[bytes, list[str]]:
    """The ISO 20022 translation of one MT (SWIFT envelope form, XSD-valid) and the warnings.

    MT103 -> pacs.008, MT202/MT202COV, MT205/MT205COV and MT200 -> pacs.009, MT103 / MT202 / MT205 RETN ->
    pacs.004, MT101 -> pain.001, MT107 -> pacs.003, MT204 -> pacs.010, MT199/299 -> pacs.002,
    MT940/MT950 -> camt.053, MT192/292 -> camt.056, MT196/296 -> camt.029, MT900/MT910 -> camt.054,
    MT941/MT942 -> camt.052, MT920 -> camt.060, MT210 -> camt.057, MT190/290 -> camt.105, MT191/291 -> camt.106,
    MT110 -> camt.107, MT111 -> camt.108, MT112 -> camt.109."""
    mt = parse_message(text)
    payload, warnings = to_canonical(mt)
    cover = isinstance(payload, FiTransfer) and payload.cover
    header = BusinessHeader(
        from_bic=mt.header.sender_bic,
        to_bic=mt.header.receiver_bic,
        business_message_id=_business_id(payload),
        message_definition=definition_for(payload).id,
        business_service=COVER_SERVICE if cover else CBPR_SERVICE,
        created_at=clock(),
        possible_duplicate=mt.header.possible_duplicate,
    )
    return render_mx(Iso20022Message(header, payload), clock), warnings


def to_mt(
    payload: BaseModel, sender: str, receiver: str, possible_duplicate: bool = False, mt_type: str | None = None
) -> tuple[str, list[str]]:
    """FIN text (CRLF) of a canonical payload and the warnings; RejectedInput if it has no MT form.

    `mt_type` asks for one MT where a payload has several: "205" renders an FI transfer as MT205(COV)
    instead of MT202(COV), "941" / "942" an account report as that MT, "290" / "291" charges in their
    category 2 form; RejectedInput (`mt_type_not_available`)
    if the payload has no such MT form."""
    mt: MtMessage
    translate = next((f for kind, f in _TO_MT if isinstance(payload, kind)), None)
    if isinstance(payload, CreditTransfer):
        mt, warnings = credit_transfer_to_mt103(payload, sender, receiver, possible_duplicate)
    elif isinstance(payload, FiTransfer) and mt_type == "205":
        mt, warnings = fi_transfer_to_mt205(payload, sender, receiver, possible_duplicate)
    elif isinstance(payload, FiTransfer):
        mt, warnings = fi_transfer_to_mt202(payload, sender, receiver, possible_duplicate)
    elif translate is not None:
        mt, warnings = translate(payload, sender, receiver)
    elif (cash := cash_to_mt(payload, sender, receiver, mt_type)) is not None:
        mt, warnings = cash
    else:
        kind = getattr(type(payload), "__message_type__", type(payload).__name__)
        raise RejectedInput("no MT translation", [Violation("type", "unsupported_message_type", kind)])
    if mt_type is not None and mt.header.message_type != mt_type:
        detail = f"this message translates to MT{mt.header.message_type}, not MT{mt_type}"
        raise RejectedInput("no such MT form", [Violation("mt_type", "mt_type_not_available", detail)])
    if possible_duplicate and not mt.header.possible_duplicate:
        mt = mt.model_copy(update={"header": mt.header.model_copy(update={"trailer": [("PDE", "")]})})
    return render(mt), warnings


def mx_to_mt(xml: bytes, mt_type: str | None = None) -> tuple[str, list[str]]:
    """pacs.008 -> MT103, pacs.009 -> MT202(COV) (MT205(COV) with `mt_type` "205"), pacs.004 -> MT103 / MT202
    with RETN, pacs.002 -> MT199 / MT299, pain.001 -> MT101, pacs.003 -> MT107, pacs.010 -> MT204,
    camt.053 -> MT940, camt.056 -> MT192/292, camt.029 -> MT196/296, camt.054 -> MT900 (DBIT) / MT910 (CRDT),
    camt.052 -> MT942 (MT941 for balances only, or with `mt_type` "941"), camt.060 -> MT920, camt.057 -> MT210,
    camt.105 -> MT190/290, camt.106 -> MT191/291, camt.107 -> MT110, camt.108 -> MT111, camt.109 -> MT112
    (FIN text, CRLF) and the warnings."""
    message = parse_mx(xml)
    h = message.header
    try:
        return to_mt(message.payload, h.from_bic, h.to_bic, h.possible_duplicate, mt_type)
    except RejectedInput as exc:
        if exc.violations and exc.violations[0].loc == "type":
            violation = Violation("/AppHdr/MsgDefIdr", "unsupported_message_type", h.message_definition)
            raise RejectedInput("no MT translation", [violation]) from None
        raise


def idempotency_key(header: MtHeader, sender_reference: str) -> str:
    """Sender BIC + field 20 (+ 108 MUR when present), as for every raw document."""
    mur = header.mur
    return f"{header.sender_bic}:{sender_reference}" + (f":{mur}" if mur else "")


def _correlation(payload: BaseModel) -> str:
    original = getattr(payload, "original", None)
    return str(getattr(payload, "uetr", None) or getattr(original, "uetr", None) or "")


class SwiftMtCodec:
    """DocumentCodec for SWIFT FIN: MT103, MT202 / MT202COV, MT205 / MT205COV, MT200, returns (RETN), MT101,
    MT107, MT204, MT199 / MT299 status, MT940 / MT950, MT192 / MT292, MT196 / MT296, MT900 / MT910, MT941 /
    MT942, MT920, MT210, MT190 / MT290, MT191 / MT291, MT110, MT111, MT112."""

    name = "swift_mt"

    def detect(self, body: bytes, content_type: str) -> bool:
        return body.lstrip()[:3] == b"{1:"

    def decode(self, body: bytes) -> Decoded:
        messages = split_rje(fin_text(body))
        if len(messages) != 1:
            raise RejectedInput("one message expected", [Violation("message", "single_message", str(len(messages)))])
        mt = parse_message(messages[0])
        payload, warnings = to_canonical(mt)
        return Decoded(
            type=getattr(type(payload), "__message_type__", ""),
            payload=payload,
            idempotency_key=idempotency_key(mt.header, str(getattr(mt, "sender_reference", ""))),
            destination=mt.header.receiver_bic,
            correlation_id=_correlation(payload),
            warnings=warnings,
        )

    def encode(self, payload: BaseModel, sender: str, receiver: str) -> str:
        return to_mt(payload, sender, receiver)[0]
