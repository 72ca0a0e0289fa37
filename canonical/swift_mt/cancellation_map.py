"""MT192 / MT292 <-> payment.cancellation_request (camt.056) and MT196 / MT296 <-> payment.cancellation_resolution
(camt.029), per the CBPR+ investigation field map.

MT192: 20 -> Assgnmt/Id and Case/Id, 21 -> OrgnlMsgId and OrgnlInstrId, 11S -> OrgnlMsgNmId (MTnnn), 79 line 1
`/CODE/` -> CxlRsnInf/Rsn/Cd (the rest -> AddtlInf), copied 32A -> OrgnlIntrBkSttlmAmt / Dt, block 3 121 -> OrgnlUETR.
MT196: 20 -> Assgnmt/Id, 21 -> RslvdCase/Id, 76 line 1 `/CNCL/`, `/PDCR/[code]` or `/RJCR/code` -> Sts/Conf and
CxlStsRsnInf, 11R/S (or a copied MT192's 11S) and the copied 20 / 32A -> the original payment, 121 -> OrgnlUETR.
"""

from __future__ import annotations

import re
from datetime import date

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import CancellationRequest, CancellationResolution, OriginalReference, ResolutionStatus
from canonical.swift_mt.blocks import MtHeader
from canonical.swift_mt.common import Mt192, Mt196, Mt292, Mt296
from canonical.swift_mt.fields import FieldError, ValueDateAmount
from canonical.swift_mt.to_mt import ISO_MESSAGE, mt_header, not_carried, x_line, x_text
from canonical.swift_mt.values import MessageReference

# CBPR+ camt.056 CxlRsnInf/Rsn/Cd and camt.029 CxlStsRsnInf/Rsn/Cd code sets.
CANCELLATION_REASONS = frozenset("AGNT AM09 COVR CURR CUST CUTA DUPL FRAD TECH UPAY".split())
REJECTION_REASONS = frozenset("AC04 AGNT AM04 ARDT ARPL CUST INDM LEGL NOAS NOOR PTNA RQDA".split())
MX_TO_MT_TYPE = {"pacs.008.001.08": "103", "pacs.009.001.08": "202"}
_CODE_LINE = re.compile(r"^/([A-Z0-9]{4})/(.*)$")


def _refuse(loc: str, rule: str, detail: str) -> RejectedInput:
    return RejectedInput("not translatable", [Violation(loc, rule, detail)])


def _uetr(header: MtHeader) -> str:
    if header.uetr is None:
        raise _refuse("3:121", "uetr_required", "CBPR+ investigations carry the UETR of the original payment")
    return header.uetr


def _information(parts: list[str], tag: str, warnings: list[str]) -> list[str]:
    """At most two AddtlInf of 105 characters: the narrative's lines as they are, or re-cut when they do not fit."""
    parts = [p.strip() for p in parts if p.strip()]
    if len(parts) <= 2:
        return parts
    text = " ".join(parts)
    if len(text) > 210:
        warnings.append(f"{tag}: narrative truncated to 2 x 105 characters")
    return [text[i : i + 105] for i in range(0, min(len(text), 210), 105)]


def _copied(fields: list[tuple[str, str]], tag: str) -> str | None:
    return next((v for t, v in fields if t == tag), None)


def _settlement(fields: list[tuple[str, str]]) -> ValueDateAmount | None:
    value = _copied(fields, "32A")
    if value is None:
        return None
    try:
        return ValueDateAmount.parse(value)
    except FieldError as exc:
        raise _refuse("4:32A", exc.rule, exc.detail) from None


def _date_warning(reference: MessageReference | None, settled: date | None, warnings: list[str]) -> None:
    if reference is not None and reference.day != settled:
        warnings.append(f"11{reference.option}: date of the original message not carried (no OrgnlCreDtTm)")
    if reference is not None and reference.session is not None:
        warnings.append(f"11{reference.option}: session and ISN not carried")


def mt192_to_request(mt: Mt192) -> tuple[CancellationRequest, list[str]]:
    """MT192 / MT292 -> payment.cancellation_request; RejectedInput without UETR, reason code or copied 32A."""
    warnings: list[str] = []
    uetr = _uetr(mt.header)
    first = _CODE_LINE.match(mt.narrative[0]) if mt.narrative else None
    if first is None:
        raise _refuse("4:79", "cancellation_reason_required", "line 1 of 79 must be /CODE/ (e.g. /DUPL/)")
    if first[1] not in CANCELLATION_REASONS:
        raise _refuse("4:79", "cancellation_reason_code", f"{first[1]} is not a CBPR+ cancellation reason")
    settlement = _settlement(mt.original_fields)
    if settlement is None:
        raise _refuse("4:32A", "original_amount_required", "CBPR+ needs OrgnlIntrBkSttlmAmt: copy 32A of the original")
    _date_warning(mt.original_message, settlement.value_date, warnings)
    warnings += [f"{t} (copied): not carried" for t, _ in mt.original_fields if t not in ("32A", "21")]
    sender = mt.header.sender_bic
    request = CancellationRequest(
        assignment_id=mt.sender_reference,
        assigner=sender,
        assignee=mt.header.receiver_bic,
        case_id=mt.sender_reference,
        case_creator=sender,  # the requesting bank opens the case
        original=OriginalReference(
            message_id=mt.related_reference,
            message_type=f"MT{mt.original_message.message_type}",
            instruction_id=mt.related_reference,
            end_to_end_id=_copied(mt.original_fields, "21"),
            uetr=uetr,
        ),
        original_settlement_amount=Money(currency=settlement.currency, amount=settlement.amount),
        original_settlement_date=settlement.value_date,
        reason_code=first[1],
        additional_information=_information([first[2], *mt.narrative[1:]], "79", warnings),
    )
    return request, warnings


def _original_mt(original: OriginalReference) -> str:
    if re.match(r"^MT\d{3}$", original.message_type):
        return original.message_type[2:]
    if original.message_type in MX_TO_MT_TYPE:
        return MX_TO_MT_TYPE[original.message_type]
    raise _refuse("OrgnlGrpInf/OrgnlMsgNmId", "original_type_not_in_mt", original.message_type)


def _lines(texts: list[str], width: int, what: str, warnings: list[str]) -> list[str]:
    out: list[str] = []
    for text in texts:
        clean = x_text(text, what, len(text), warnings)
        out += [x_line(clean[i : i + width], what, width, warnings) for i in range(0, len(clean), width)]
    return out


def request_to_mt192(request: CancellationRequest, sender: str, receiver: str) -> tuple[Mt192, list[str]]:
    """payment.cancellation_request -> MT192 (MT292 when the original is an FI transfer) and the warnings.

    The 11S date is the original settlement date (the canonical reference has no original creation date)."""
    warnings: list[str] = []
    o = request.original
    original_type = _original_mt(o)
    if request.original_settlement_date is None:
        raise _refuse("OrgnlIntrBkSttlmDt", "original_date_required", "11S and the copied 32A need the date")
    warnings.append("11S: date taken from OrgnlIntrBkSttlmDt")
    fi = original_type.startswith("2")
    copy: list[tuple[str, str]] = []
    if o.end_to_end_id and fi:
        copy.append(("21", x_text(o.end_to_end_id, "OrgnlEndToEndId", 16, warnings)))
    elif o.end_to_end_id:
        warnings.append("OrgnlEndToEndId: not carried in MT192")
    amount = request.original_settlement_amount
    copy.append(
        ("32A", ValueDateAmount.dated(request.original_settlement_date, amount.currency, amount.amount).render())
    )
    model = Mt292 if fi else Mt192
    mt = model(
        header=mt_header("292" if fi else "192", sender, receiver, o.uetr),
        sender_reference=x_text(request.assignment_id, "Assgnmt/Id", 16, warnings),
        related_reference=x_text(o.instruction_id or o.message_id, "OrgnlInstrId", 16, warnings),
        original_message=MessageReference(option="S", message_type=original_type, day=request.original_settlement_date),
        narrative=[f"/{request.reason_code}/", *_lines(request.additional_information, 50, "AddtlInf", warnings)],
        original_fields=copy,
    )
    return mt, warnings


_STATUS_LINE = re.compile(r"^/(CNCL|PDCR|RJCR)/([^/]*)(?:/(.*))?$")


def _original_of_answer(mt: Mt196) -> tuple[str, MessageReference]:
    """The original payment's reference and MT: the answer's own 11a when it names the payment, else the 21 and
    11S of the copied MT192; RejectedInput naming 11a when neither is there."""
    own = mt.original_message
    copied_11s = _copied(mt.original_fields, "11S")
    if copied_11s is not None:
        try:
            reference = MessageReference.parse("11S", copied_11s)
        except FieldError as exc:
            raise _refuse("4:11S", exc.rule, f"copied 11S: {exc.detail}") from None
        payment_reference = _copied(mt.original_fields, "21")
    elif own is not None and own.message_type not in ("192", "292"):
        reference, payment_reference = own, _copied(mt.original_fields, "20")
    else:
        raise _refuse("4:11a", "original_message_type_required", "11R/11S or a copied 11S must name the payment")
    if payment_reference is None:
        raise _refuse("4:20", "original_reference_required", "copy the payment's 20 (or the request's 21)")
    return payment_reference, reference


def mt196_to_resolution(mt: Mt196) -> tuple[CancellationResolution, list[str]]:
    """MT196 / MT296 -> payment.cancellation_resolution; RejectedInput without UETR or with an unknown 76 code."""
    warnings: list[str] = []
    uetr = _uetr(mt.header)
    line = _STATUS_LINE.match(mt.answers[0])
    if line is None:
        raise _refuse("4:76", "cancellation_answer_code", "line 1 of 76 must be /CNCL/, /PDCR/ or /RJCR/")
    token, text = line[2], line[3]
    reason = None
    if re.match(r"^[A-Z0-9]{4}$", token):
        if token not in REJECTION_REASONS:
            raise _refuse("4:76", "cancellation_status_reason", f"{token} is not a CBPR+ rejection reason")
        reason = token
    elif token:
        text = token + (f"/{text}" if text else "")
    if line[1] == "RJCR" and reason is None:
        raise _refuse("4:76", "rejection_reason_required", "/RJCR/ must be followed by the reason code")
    payment_reference, reference = _original_of_answer(mt)
    settlement = _settlement(mt.original_fields)
    _date_warning(reference, settlement.value_date if settlement else None, warnings)
    not_carried((("77A", mt.narrative_answer), ("79", mt.narrative)), ISO_MESSAGE, warnings)
    resolution = CancellationResolution(
        assignment_id=mt.sender_reference,
        assigner=mt.header.sender_bic,
        assignee=mt.header.receiver_bic,
        case_id=mt.related_reference,  # 21 is the request's 20, which opened the case
        case_creator=mt.header.receiver_bic,  # the answer goes back to the bank that asked
        status=ResolutionStatus(line[1]),
        original=OriginalReference(
            message_id=payment_reference,
            message_type=f"MT{reference.message_type}",
            instruction_id=payment_reference,
            uetr=uetr,
        ),
        reason_code=reason,
        additional_information=_information([text or "", *mt.answers[1:]], "76", warnings),
        original_settlement_amount=Money(currency=settlement.currency, amount=settlement.amount)
        if settlement
        else None,
        original_settlement_date=settlement.value_date if settlement else None,
    )
    return resolution, warnings


def resolution_to_mt196(res: CancellationResolution, sender: str, receiver: str) -> tuple[Mt196, list[str]]:
    """payment.cancellation_resolution -> MT196 (MT296 for an FI transfer) and the warnings.

    11R names the original payment (its date is the original settlement date); the copy carries its 20 and 32A."""
    warnings: list[str] = []
    o = res.original
    original_type = _original_mt(o)
    if res.original_settlement_date is None:
        raise _refuse("OrgnlIntrBkSttlmDt", "original_date_required", "11R needs the date of the original")
    warnings.append("11R: date taken from OrgnlIntrBkSttlmDt")
    if o.end_to_end_id:
        warnings.append("OrgnlEndToEndId: not carried in MT196")
    copy = [("20", x_text(o.instruction_id or o.message_id, "OrgnlInstrId", 16, warnings))]
    amount = res.original_settlement_amount
    if amount is not None:
        copy.append(
            ("32A", ValueDateAmount.dated(res.original_settlement_date, amount.currency, amount.amount).render())
        )
    answers = [
        f"/{res.status.value}/{res.reason_code or ''}",
        *_lines(res.additional_information, 35, "AddtlInf", warnings),
    ]
    if len(answers) > 6:
        warnings.append("AddtlInf: 76 holds 6 lines, the rest is not carried")
    fi = original_type.startswith("2")
    model = Mt296 if fi else Mt196
    mt = model(
        header=mt_header("296" if fi else "196", sender, receiver, o.uetr),
        sender_reference=x_text(res.assignment_id, "Assgnmt/Id", 16, warnings),
        related_reference=x_text(res.case_id, "RslvdCase/Id", 16, warnings),
        answers=answers[:6],
        original_message=MessageReference(option="R", message_type=original_type, day=res.original_settlement_date),
        original_fields=copy,
    )
    return mt, warnings
