"""MT103 / MT202 / MT205 returns <-> payment.return (pacs.004.001.09), per the SWIFT return conventions.

A return carries in field 72: line 1 `/RETN/` and the tag of the original's field at fault, line 2 the
return reason `/CODE/` (with optional narrative), then `/MREF/` the original's field 20, optionally
`/TREF/` its end-to-end (or related) reference, `/CHGS/` the charges taken and `/TEXT/` narrative.
Mapped: 20 -> MsgId and RtrId, 121 -> OrgnlUETR, 32A -> RtrdIntrBkSttlmAmt and IntrBkSttlmDt, reason ->
RtrRsnInf/Rsn/Cd, /MREF/ -> OrgnlMsgId and OrgnlInstrId, /TREF/ -> OrgnlEndToEndId; MT103: 50a / 59a ->
RtrChain/Dbtr / Cdtr, 33B -> OrgnlTxRef/IntrBkSttlmAmt, 71A -> ChrgBr; MT202 / MT205: 52a (else the Sender) /
58a -> RtrChain/Dbtr / Cdtr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from canonical.payments import OriginalReference, Party, PaymentReturn
from canonical.swift_mt.fields import PartyField, ValueDateAmount
from canonical.swift_mt.mapping import amount_field, money, party_field, refuse
from canonical.swift_mt.messages import Mt103, Mt202
from canonical.swift_mt.to_mt import CHARGES_TO_MT, mt_header, not_carried, x_text
from canonical.swift_mt.transfers import Mt205
from canonical.swift_mt.translate import CHARGES_TO_MX, customer_of, uetr_of

RETURN_CODE = "/RETN/"
REJECT_CODE = "/REJT/"
_FIRST = re.compile(r"^/(RETN|REJT)/(\d{2}[A-Z]?)?$")
_REASON = re.compile(r"^/([A-Z0-9]{4})/(.*)$")
_KEYED = re.compile(r"^/(MREF|TREF|CHGS|TEXT)/(.*)$")
CUSTOMER_ORIGINALS = frozenset({"pacs.008.001.08", "pacs.003.001.08", "pain.001.001.09", "MT103", "MT101", "MT107"})
FI_ORIGINALS = frozenset({"pacs.009.001.08", "pacs.010.001.03", "MT202", "MT205", "MT200", "MT204"})


@dataclass
class ReturnNotice:
    """The reject / return block of a narrative field (72 of a return, 79 of a reject)."""

    code: str  # RETN or REJT
    field_tag: str | None
    reason: str
    narrative: str
    reference: str
    related: str | None = None
    charges: str | None = None
    text: list[str] = field(default_factory=list)


def is_return(lines: list[str]) -> bool:
    """True if field 72 opens with `/RETN/` (a return) or `/REJT/` (a reject of a settled payment, returned)."""
    return bool(lines) and lines[0].startswith((RETURN_CODE, REJECT_CODE))


def read_notice(lines: list[str], tag: str, default_reference: str | None = None) -> ReturnNotice:
    """Parse the reject / return lines; RejectedInput naming `4:<tag>` without reason code, or without /MREF/
    when there is no `default_reference` (the field 21 of an MT199 reject) either."""
    first = _FIRST.match(lines[0]) if lines else None
    if first is None:
        raise refuse(f"4:{tag}", "return_format", "line 1 must be /RETN/ or /REJT/ and the tag of the field at fault")
    reason = _REASON.match(lines[1]) if len(lines) > 1 else None
    if reason is None or reason[1] in ("MREF", "TREF", "CHGS", "TEXT"):
        raise refuse(f"4:{tag}", "return_reason_required", "line 2 must be the reason code, e.g. /AC04/")
    keyed: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in lines[2:]:
        match = _KEYED.match(line)
        if match is not None:
            last = keyed.setdefault(match[1], [])
            last.append(match[2])
        elif line.startswith("//") and last is not None:
            last[-1] += line[2:]  # continuation of the previous line
        else:
            raise refuse(f"4:{tag}", "return_format", f"{line!r} is not /MREF/, /TREF/, /CHGS/, /TEXT/ or //")
    reference = _first(keyed, "MREF") or default_reference
    if not reference:
        raise refuse(f"4:{tag}", "return_reference_required", "/MREF/ must give field 20 of the original message")
    return ReturnNotice(
        code=first[1],
        field_tag=first[2],
        reason=reason[1],
        narrative=reason[2],
        reference=reference,
        related=_first(keyed, "TREF"),
        charges=_first(keyed, "CHGS"),
        text=keyed.get("TEXT", []),
    )


def _first(keyed: dict[str, list[str]], key: str) -> str | None:
    values = keyed.get(key)
    return values[0] if values else None


def _notice_warnings(notice: ReturnNotice, tag: str, warnings: list[str]) -> None:
    if notice.code == "REJT":
        warnings.append(f"{tag}: /REJT/ carried as a return (pacs.004 has no separate reject)")
    if notice.field_tag:
        warnings.append(f"{tag}: field tag {notice.field_tag} of the original not carried")
    for what, present in (("reason narrative", notice.narrative), ("/CHGS/", notice.charges), ("/TEXT/", notice.text)):
        if present:
            warnings.append(f"{tag}: {what} not carried (PaymentReturn has no field for it)")


def _returned(mt: Mt103 | Mt202 | Mt205, notice: ReturnNotice, message_type: str, uetr: str) -> dict[str, Any]:
    """What an MT103, MT202 or MT205 return carries alike: 20 -> MsgId and RtrId, the notice and 121 ->
    the original (an MT of `message_type`), 32A -> RtrdIntrBkSttlmAmt and IntrBkSttlmDt, the Sender / Receiver
    -> InstgAgt / InstdAgt and the reason code."""
    original = OriginalReference(
        message_id=notice.reference,
        message_type=message_type,
        instruction_id=notice.reference,
        end_to_end_id=notice.related,
        uetr=uetr,
    )
    return dict(
        message_id=mt.sender_reference,
        return_id=mt.sender_reference,
        original=original,
        returned_amount=money(mt.settlement),
        settlement_date=mt.settlement.value_date,
        instructing_agent=mt.header.sender_bic,
        instructed_agent=mt.header.receiver_bic,
        reason_code=notice.reason,
    )


def mt103_to_return(mt: Mt103) -> tuple[PaymentReturn, list[str]]:
    """An MT103 whose 72 opens with /RETN/ -> payment.return."""
    warnings: list[str] = []
    notice = read_notice(mt.sender_to_receiver_information, "72")
    _notice_warnings(notice, "72", warnings)
    uetr = uetr_of(mt.header)
    dropped = (
        ("13C", mt.time_indications),
        ("23E", mt.instruction_codes),
        ("26T", mt.transaction_type),
        ("36", mt.exchange_rate),
        ("51A", mt.sending_institution),
        ("52a", mt.ordering_institution),
        ("53a", mt.senders_correspondent),
        ("54a", mt.receivers_correspondent),
        ("55a", mt.third_reimbursement_institution),
        ("56a", mt.intermediary),
        ("57a", mt.account_with_institution),
        ("70", mt.remittance_information),
        ("71F", mt.senders_charges),
        ("71G", mt.receivers_charges),
        ("77B", mt.regulatory_reporting),
        ("77T", mt.envelope_contents),
    )
    not_carried(dropped, "the payment return", warnings)
    returned = PaymentReturn(
        **_returned(mt, notice, "MT103", uetr),
        charge_bearer=CHARGES_TO_MX[mt.details_of_charges],
        return_debtor=_without_account(customer_of(mt.ordering_customer, "50a", warnings), "50a", warnings),
        return_creditor=_without_account(customer_of(mt.beneficiary, "59a", warnings), "59a", warnings),
        original_settlement_amount=money(mt.instructed_amount),
    )
    return returned, warnings


def _without_account(party: Party | None, tag: str, warnings: list[str]) -> Party | None:
    # The return chain carries the parties by name and identification, not their accounts.
    if party is None or party.account is None:
        return party
    warnings.append(f"{tag}: account not carried in the payment return")
    return party.model_copy(update={"account": None})


def _institution(field: PartyField | None, tag: str, default_bic: str | None, warnings: list[str]) -> Party | None:
    if field is None:
        return Party(bic=default_bic) if default_bic else None
    if field.identifier:
        warnings.append(f"{tag}: party identifier {field.identifier!r} not carried")
    if field.bic is not None:
        return Party(bic=field.bic)
    return Party(name=" ".join(field.lines)[:140] or None)


def mt202_to_return(mt: Mt202 | Mt205) -> tuple[PaymentReturn, list[str]]:
    """An MT202 / MT205 whose 72 opens with /RETN/ -> payment.return."""
    warnings: list[str] = []
    notice = read_notice(mt.sender_to_receiver_information, "72")
    _notice_warnings(notice, "72", warnings)
    uetr = uetr_of(mt.header)
    if mt.related_reference != notice.reference:
        warnings.append("21: not carried (/MREF/ names the original)")
    dropped = (
        ("13C", mt.time_indications),
        ("53a", mt.senders_correspondent),
        ("54a", getattr(mt, "receivers_correspondent", None)),
        ("56a", mt.intermediary),
        ("57a", mt.account_with_institution),
        ("sequence B", mt.underlying),
    )
    not_carried(dropped, "the payment return", warnings)
    returned = PaymentReturn(
        **_returned(mt, notice, f"MT{mt.header.message_type}", uetr),
        return_debtor=_institution(mt.ordering_institution, "52a", mt.header.sender_bic, warnings),
        return_creditor=_institution(mt.beneficiary_institution, "58a", None, warnings),
    )
    return returned, warnings


def _notice_lines(pr: PaymentReturn, warnings: list[str]) -> list[str]:
    o = pr.original
    if o.instruction_id and o.instruction_id != o.message_id:
        warnings.append("OrgnlMsgId: not carried (/MREF/ carries OrgnlInstrId)")
    lines = [
        RETURN_CODE,
        f"/{pr.reason_code}/",
        "/MREF/" + x_text(o.instruction_id or o.message_id, "MREF", 16, warnings),
    ]
    if o.end_to_end_id:
        lines.append("/TREF/" + x_text(o.end_to_end_id, "OrgnlEndToEndId", 16, warnings))
    return lines


def _common_warnings(pr: PaymentReturn, warnings: list[str]) -> None:
    if pr.reason_originator is not None:
        warnings.append("RtrRsnInf/Orgtr: not carried in MT")
    if pr.original_settlement_date is not None:
        warnings.append("OrgnlTxRef/IntrBkSttlmDt: not carried in MT")
    if pr.return_id and pr.return_id != pr.message_id:
        warnings.append("MsgId: not carried (20 carries RtrId)")


def _settlement(pr: PaymentReturn) -> ValueDateAmount:
    if pr.settlement_date is None:
        raise refuse("TxInf/IntrBkSttlmDt", "settlement_date_required", "32A needs the settlement date of the return")
    return ValueDateAmount.dated(pr.settlement_date, pr.returned_amount.currency, pr.returned_amount.amount)


def is_fi_original(original: OriginalReference) -> bool:
    """True if the returned payment was an FI transfer (MT2nn / pacs.009 / pacs.010), False for a customer one."""
    if original.message_type in FI_ORIGINALS:
        return True
    if original.message_type in CUSTOMER_ORIGINALS:
        return False
    raise refuse("OrgnlGrpInf/OrgnlMsgNmId", "original_type_not_in_mt", f"{original.message_type} has no MT return")


def return_to_mt(pr: PaymentReturn, sender: str, receiver: str) -> tuple[Mt103 | Mt202, list[str]]:
    """payment.return -> MT103 with RETN (customer payment) or MT202 with RETN (FI transfer), and the warnings."""
    warnings: list[str] = []
    _common_warnings(pr, warnings)
    reference = x_text(pr.return_id or pr.message_id, "RtrId", 16, warnings)
    if is_fi_original(pr.original):
        return _to_mt202(pr, reference, sender, receiver, warnings), warnings
    return _to_mt103(pr, reference, sender, receiver, warnings), warnings


def _to_mt103(pr: PaymentReturn, reference: str, sender: str, receiver: str, warnings: list[str]) -> Mt103:
    if pr.charge_bearer is None or pr.charge_bearer not in CHARGES_TO_MT:
        raise refuse("TxInf/ChrgBr", "charge_bearer_not_in_mt", "71A needs DEBT, SHAR or CRED")
    debtor = pr.return_debtor or pr.original_creditor
    creditor = pr.return_creditor or pr.original_debtor
    if debtor is None or creditor is None:
        where = "TxInf/RtrChain/" + ("Dbtr" if debtor is None else "Cdtr")
        raise refuse(where, "party_required", "MT103 needs 50a and 59a: the return chain (or the original parties)")
    original = pr.original_settlement_amount
    if original is not None and original.currency != pr.returned_amount.currency:
        warnings.append("OrgnlTxRef/IntrBkSttlmAmt: in another currency than 32A; 33B would need a rate (36)")
        original = None
    return Mt103(
        header=mt_header("103", sender, receiver, pr.original.uetr),
        sender_reference=reference,
        bank_operation_code="CRED",
        settlement=_settlement(pr),
        instructed_amount=amount_field(original),
        ordering_customer=party_field(debtor, "50", "TxInf/RtrChain/Dbtr", warnings),
        beneficiary=party_field(creditor, "59", "TxInf/RtrChain/Cdtr", warnings),
        details_of_charges=CHARGES_TO_MT[pr.charge_bearer],
        sender_to_receiver_information=_notice_lines(pr, warnings),
    )


def _to_mt202(pr: PaymentReturn, reference: str, sender: str, receiver: str, warnings: list[str]) -> Mt202:
    creditor = pr.return_creditor or pr.original_debtor
    if creditor is None or creditor.bic is None:
        raise refuse("TxInf/RtrChain/Cdtr", "bic_required", "MT202 58A needs the BIC of the institution paid back")
    debtor = pr.return_debtor or pr.original_creditor
    if debtor is not None and debtor.bic is None:
        warnings.append("RtrChain/Dbtr: a party without BIC has no 52A; not carried")
    if pr.charge_bearer is not None:
        warnings.append("ChrgBr: MT202 has no charges field; not carried")
    if pr.original_settlement_amount is not None:
        warnings.append("OrgnlTxRef/IntrBkSttlmAmt: MT202 has no 33B; not carried")
    ordering = None if debtor is None or debtor.bic in (None, sender) else PartyField(option="A", bic=debtor.bic)
    return Mt202(
        header=mt_header("202", sender, receiver, pr.original.uetr),
        sender_reference=reference,
        related_reference=x_text(pr.original.instruction_id or pr.original.message_id, "OrgnlInstrId", 16, warnings),
        settlement=_settlement(pr),
        ordering_institution=ordering,
        beneficiary_institution=PartyField(option="A", bic=creditor.bic),
        sender_to_receiver_information=_notice_lines(pr, warnings),
    )
