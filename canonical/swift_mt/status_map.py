"""MT199 / MT299 status <-> payment.status_report (pacs.002.001.10).

Two narrative forms of field 79 are translated:
- the gpi status confirmation: `//YYMMDDHHMM+HHMM` (when) -> CreDtTm, `//STATUS[/REASON]` -> TxSts and
  StsRsnInf/Rsn/Cd, then optional lines: `//ORIGINATOR BIC[/FORWARDED-TO BIC]` -> InstgAgt, `//CCYAMOUNT`
  (the confirmed amount, warned: pacs.002 has no place for it);
- the reject (Payments Reject guidelines): `/REJT/[tag]`, `/REASON/[narrative]`, `/MREF/ref`, `/TEXT/...` ->
  TxSts RJCT with its reason code, the narrative and texts as AddtlInf.
20 -> MsgId, 21 (or /MREF/) -> OrgnlMsgId and OrgnlInstrId, 121 -> OrgnlUETR; an MT199 answers an MT103, an
MT299 an FI transfer (MT202). pacs.002 -> MT199 / MT299 writes a reject for RJCT, a gpi confirmation otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from canonical.payments import BIC_RE, OriginalReference, StatusReport, TransactionStatus
from canonical.swift_mt.common import Mt199, Mt299
from canonical.swift_mt.fields import FieldError
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.return_map import FI_ORIGINALS, read_notice
from canonical.swift_mt.to_mt import mt_header, not_carried, x_text
from canonical.swift_mt.translate import uetr_of
from canonical.swift_mt.values import DateTimeIndication

_STATUS = re.compile(r"^//([A-Z]{4})(?:/([A-Z0-9]{4}))?$")
_AGENTS = re.compile(r"^//([A-Z0-9]{8,11})(?:/([A-Z0-9]{8,11}))?$")
_AMOUNT = re.compile(r"^//[A-Z]{3}\d[\d,]*$")
ADDITIONAL_INFO_MAX = 105  # characters of one StsRsnInf/AddtlInf
_NARRATIVE_WIDTH = 50  # characters of one line of 79


def _when(line: str) -> datetime:
    try:
        moment = DateTimeIndication.parse(line[2:])
    except FieldError as exc:
        raise refuse("4:79", exc.rule, f"line 1: {exc.detail}") from None
    sign = -1 if moment.utc_offset[0] == "-" else 1
    offset = timedelta(hours=int(moment.utc_offset[1:3]), minutes=int(moment.utc_offset[3:]))
    clock = datetime.strptime(moment.time, "%H%M").time()
    return datetime.combine(moment.day, clock, tzinfo=timezone(sign * offset))


def _status(code: str) -> TransactionStatus:
    try:
        return TransactionStatus(code)
    except ValueError:
        known = ", ".join(s.value for s in TransactionStatus)
        raise refuse("4:79", "status_code", f"{code} is not a payment status ({known})") from None


def _gpi_detail(lines: list[str], warnings: list[str]) -> str | None:
    """Lines 3 on of a gpi status: the status originator's BIC (returned), the forwarded-to agent, the
    confirmed amount and the rate (warned: pacs.002 has no place for them)."""
    originator = None
    for n, line in enumerate(lines, 3):
        agents = _AGENTS.match(line)
        if _AMOUNT.match(line):
            warnings.append(f"79 line {n}: confirmed amount {line[2:]} not carried")
        elif agents is not None and BIC_RE.match(agents[1]) and originator is None:
            originator = agents[1]
            if agents[2]:
                warnings.append(f"79 line {n}: forwarded-to agent {agents[2]} not carried")
        else:
            warnings.append(f"79 line {n}: {line[:24]!r} not carried")
    return originator


def _gpi(mt: Mt199, warnings: list[str]) -> dict[str, object]:
    lines = mt.narrative
    status = _STATUS.match(lines[1]) if len(lines) > 1 else None
    if status is None:
        raise refuse("4:79", "status_format", "line 2 must be //STATUS[/REASON], e.g. //ACSP/G000")
    if mt.related_reference is None:
        raise refuse("4:21", "original_reference_required", "21 must give field 20 of the payment")
    originator = _gpi_detail(lines[2:], warnings)
    return dict(
        created_at=_when(lines[0]),
        status=_status(status[1]),
        reason_code=status[2],
        reference=mt.related_reference,
        instructing_agent=originator or mt.header.sender_bic,
    )


def _information(parts: list[str]) -> list[str]:
    """Narrative pieces as AddtlInf of at most 105 characters each."""
    return [
        part[i : i + ADDITIONAL_INFO_MAX] for part in parts if part for i in range(0, len(part), ADDITIONAL_INFO_MAX)
    ]


def _reject(mt: Mt199, warnings: list[str]) -> dict[str, object]:
    notice = read_notice(mt.narrative, "79", default_reference=mt.related_reference)
    if notice.field_tag:
        warnings.append(f"79: field tag {notice.field_tag} of the original not carried")
    if notice.charges:
        warnings.append("79: /CHGS/ not carried")
    return dict(
        status=TransactionStatus.RJCT,
        reason_code=notice.reason,
        reference=notice.reference,
        additional_information=_information([notice.narrative, *notice.text]),
        instructing_agent=mt.header.sender_bic,
    )


def mt199_to_status(mt: Mt199) -> tuple[StatusReport, list[str]]:
    """MT199 / MT299 with a gpi status or a reject in 79 -> payment.status_report; RejectedInput naming the
    field for any other free-format message."""
    warnings: list[str] = []
    uetr = uetr_of(mt.header)
    first = mt.narrative[0] if mt.narrative else ""
    if first.startswith("//"):
        found = _gpi(mt, warnings)
    elif first.startswith("/REJT/"):
        found = _reject(mt, warnings)
    else:
        detail = "line 1 of 79 must be //YYMMDDHHMM+HHMM (gpi status) or /REJT/ (reject)"
        raise refuse("4:79", "status_format", detail)
    reference = str(found.pop("reference"))
    original_type = "MT202" if isinstance(mt, Mt299) else "MT103"
    report = StatusReport.model_validate(
        dict(
            message_id=mt.sender_reference,
            original=OriginalReference(
                message_id=reference, message_type=original_type, instruction_id=reference, uetr=uetr
            ),
            instructed_agent=mt.header.receiver_bic,
            **found,
        )
    )
    return report, warnings


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    assert delta is not None
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{rest:02d}"


def _gpi_lines(sr: StatusReport, sender: str, warnings: list[str]) -> list[str]:
    if sr.created_at is None or sr.created_at.utcoffset() is None:
        raise refuse("GrpHdr/CreDtTm", "utc_offset_required", "line 1 of 79 needs the time with its UTC offset")
    lines = [f"//{sr.created_at.strftime('%y%m%d%H%M')}{_offset(sr.created_at)}"]
    lines.append(f"//{sr.status.value}" + (f"/{sr.reason_code}" if sr.reason_code else ""))
    if sr.instructing_agent and sr.instructing_agent != sender:
        lines.append(f"//{sr.instructing_agent}")
    if sr.additional_information:
        warnings.append("StsRsnInf/AddtlInf: a gpi status has no narrative; not carried")
    return lines


def _reject_lines(sr: StatusReport, reference: str, warnings: list[str]) -> list[str]:
    if sr.reason_code is None:
        raise refuse("TxInfAndSts/StsRsnInf/Rsn/Cd", "rejection_reason_required", "/REJT/ needs the reason code")
    lines = ["/REJT/", f"/{sr.reason_code}/", f"/MREF/{reference}"]
    for text in sr.additional_information:
        clean = x_text(text, "AddtlInf", len(text), warnings)
        head = _NARRATIVE_WIDTH - len("/TEXT/")
        lines.append("/TEXT/" + clean[:head])
        rest = clean[head:]
        step = _NARRATIVE_WIDTH - 2
        lines += ["//" + rest[i : i + step] for i in range(0, len(rest), step)]
    return lines


def status_to_mt199(sr: StatusReport, sender: str, receiver: str) -> tuple[Mt199, list[str]]:
    """payment.status_report -> MT199 (MT299 when the original is an FI transfer) and the warnings."""
    warnings: list[str] = []
    o = sr.original
    reference = x_text(o.instruction_id or o.message_id, "OrgnlInstrId", 16, warnings)
    lost = (
        ("OrgnlMsgId", o.instruction_id is not None and o.instruction_id != o.message_id),
        ("OrgnlEndToEndId", o.end_to_end_id is not None),
        ("InstdAgt", sr.instructed_agent not in (None, receiver)),
    )
    not_carried(lost, "MT199 / MT299", warnings)
    if sr.status is TransactionStatus.RJCT:
        if sr.instructing_agent not in (None, sender):
            warnings.append("InstgAgt: not carried in a reject")
        narrative = _reject_lines(sr, reference, warnings)
    else:
        narrative = _gpi_lines(sr, sender, warnings)
    fi = o.message_type in FI_ORIGINALS
    model = Mt299 if fi else Mt199
    mt = model(
        header=mt_header("299" if fi else "199", sender, receiver, o.uetr),
        sender_reference=x_text(sr.message_id, "MsgId", 16, warnings),
        related_reference=reference,
        narrative=narrative,
    )
    return mt, warnings
