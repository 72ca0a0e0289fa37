"""What camt.107, camt.108 and camt.109 share: the group header with its cheque count and control sum, the
cheques in order and what identifies each (number, issue date, amount, drawer's agent, payee), and the reason
or status a stop request or report gives a cheque."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from canonical.cash import (
    ChequeFields,
    ChequePresentmentNotification,
    ChequeStopReport,
    ChequeStopRequest,
    StopChequeFields,
    StopReason,
    StopStatus,
)
from canonical.errors import RejectedInput, Violation
from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_agent, read_party, write_agent, write_party
from canonical.iso20022.tree import Reader, Writer, amount_text, element_path, new_document
from canonical.payments import Party

ChequeMessage = ChequePresentmentNotification | ChequeStopRequest | ChequeStopReport


def read_cheques(doc: Reader, root: str, read_one: Callable[[Reader], ChequeFields]) -> dict[str, Any]:
    """Message id, creation time and the cheques (each Chq read by `read_one`), validated by the caller's model;
    RejectedInput when NbOfChqs or CtrlSum disagree with the cheques."""
    msg = doc.child(root)
    cheques = msg.all("Chq")
    header = msg.find("GrpHdr")
    assert header is not None  # the XSD has already checked it
    where = element_path(header.el)
    count = header.need("NbOfChqs")
    if int(count) != len(cheques):
        detail = f"NbOfChqs is {count}, the message holds {len(cheques)}"
        raise RejectedInput("cheque count", [Violation(f"{where}/NbOfChqs", "number_of_cheques", detail)])
    control = header.text("CtrlSum")
    total = sum((Decimal(c.need("Amt")) for c in cheques), start=Decimal(0))
    if control is not None and Decimal(control) != total:
        detail = f"CtrlSum is {control}, the amounts add up to {amount_text(total)}"
        raise RejectedInput("control sum", [Violation(f"{where}/CtrlSum", "control_sum", detail)])
    return dict(**read_group_header(msg), cheques=[read_one(c) for c in cheques])


def read_cheque(chq: Reader) -> dict[str, Any]:
    """The fields every Chq shares (validated by the caller's model)."""
    return dict(
        instruction_id=chq.text("InstrId"),
        cheque_number=chq.need("ChqNb"),
        issue_date=chq.date("IsseDt"),
        settlement_date=chq.date("StlDt"),
        amount=chq.money("Amt"),
        drawer_agent=read_agent(chq.find("DrwrAgt")),
    )


def read_payee(chq: Reader) -> Party | None:
    return read_party(chq.find("Pyee"), chq.find("PyeeAcct"))


def read_stop_cheque(chq: Reader) -> dict[str, Any]:
    """The fields every Chq of a stop request or report has: those of every Chq, OrgnlInstrId and the payee."""
    return dict(**read_cheque(chq), original_instruction_id=chq.text("OrgnlInstrId"), payee=read_payee(chq))


def read_code(r: Reader | None, kind: str) -> dict[str, str | None]:
    """A ChqCxlOrStopRsn (`kind` Rsn) or ChqCxlOrStopSts (Sts): its code or proprietary text and AddtlInf
    (all None when the element is absent)."""
    return dict(
        code=r.text(f"{kind}/Cd") if r else None,
        proprietary=r.text(f"{kind}/Prtry") if r else None,
        information=r.text("AddtlInf") if r else None,
    )


def write_code(chq: Writer, tag: str, kind: str, value: StopReason | StopStatus | None) -> None:
    """`tag` (ChqCxlOrStopRsn or ChqCxlOrStopSts) with `kind`/Cd or `kind`/Prtry and AddtlInf, unless absent."""
    if value is None:
        return
    w = chq.add(tag)
    w.opt(f"{kind}/Cd", value.code)
    w.opt(f"{kind}/Prtry", value.proprietary)
    w.opt("AddtlInf", value.information)


ChequeWriter = Callable[[Writer, Any], None]


def write_cheques(
    definition: str,
    root: str,
    message: ChequeMessage,
    now: datetime,
    *,
    after_amount: ChequeWriter | None = None,
    after_payee: ChequeWriter | None = None,
) -> Writer:
    """The Document in XSD order: GrpHdr with the number of cheques and their control sum (the sum of the
    amounts), then each Chq; `after_amount` and `after_payee` write what the message type has there."""
    doc, msg = new_document(definition, root)
    hdr = write_group_header(msg, message, now)
    hdr.add("NbOfChqs", str(len(message.cheques)))
    hdr.add("CtrlSum", amount_text(sum((c.amount.amount for c in message.cheques), start=Decimal(0))))
    for cheque in message.cheques:
        chq = msg.add("Chq")
        _write_identity(chq, cheque)
        if after_amount is not None:
            after_amount(chq, cheque)
        write_agent(chq, "DrwrAgt", cheque.drawer_agent)
        write_party(chq, "Pyee", cheque.payee, "PyeeAcct")
        if after_payee is not None:
            after_payee(chq, cheque)
    return doc


def _write_identity(chq: Writer, cheque: ChequeFields) -> None:
    """InstrId, OrgnlInstrId (stop requests and reports only), ChqNb, IsseDt, StlDt and Amt, in XSD order."""
    chq.opt("InstrId", cheque.instruction_id)
    if isinstance(cheque, StopChequeFields):
        chq.opt("OrgnlInstrId", cheque.original_instruction_id)
    chq.add("ChqNb", cheque.cheque_number)
    chq.add("IsseDt", cheque.issue_date.isoformat())
    chq.opt("StlDt", cheque.settlement_date.isoformat() if cheque.settlement_date else None)
    chq.money("Amt", cheque.amount)
