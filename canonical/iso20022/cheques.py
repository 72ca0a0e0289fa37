"""What camt.107, camt.108 and camt.109 share: the group header with its cheque count and control sum, and
the identification of each cheque (number, issue date, amount, drawer's agent, payee)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from canonical.cash import ChequeFields, StopChequeFields
from canonical.errors import RejectedInput, Violation
from canonical.iso20022.parties import read_agent, read_party, write_agent, write_party
from canonical.iso20022.tree import Reader, Writer, amount_text, element_path, iso_datetime
from canonical.payments import Party


def read_group(msg: Reader) -> tuple[dict[str, Any], list[Reader]]:
    """Message id, creation time and the Chq elements; RejectedInput when NbOfChqs or CtrlSum disagree."""
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
    return dict(message_id=header.need("MsgId"), created_at=header.datetime("CreDtTm")), cheques


def write_group(msg: Writer, message_id: str, created_at: datetime, cheques: list[Any]) -> None:
    """GrpHdr with the number of cheques and their control sum (the sum of the amounts)."""
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", message_id)
    hdr.add("CreDtTm", iso_datetime(created_at))
    hdr.add("NbOfChqs", str(len(cheques)))
    hdr.add("CtrlSum", amount_text(sum((c.amount.amount for c in cheques), start=Decimal(0))))


def read_cheque(chq: Reader) -> dict[str, Any]:
    """The fields every Chq shares (validated by the caller's model); OrgnlInstrId where the type has it."""
    return dict(
        instruction_id=chq.text("InstrId"),
        cheque_number=chq.need("ChqNb"),
        issue_date=chq.date("IsseDt"),
        settlement_date=chq.date("StlDt"),
        amount=chq.money("Amt"),
        drawer_agent=read_agent(chq.find("DrwrAgt")),
    )


def write_identity(chq: Writer, cheque: ChequeFields) -> None:
    """InstrId, OrgnlInstrId (stop requests and reports only), ChqNb, IsseDt, StlDt and Amt, in XSD order."""
    chq.opt("InstrId", cheque.instruction_id)
    if isinstance(cheque, StopChequeFields):
        chq.opt("OrgnlInstrId", cheque.original_instruction_id)
    chq.add("ChqNb", cheque.cheque_number)
    chq.add("IsseDt", cheque.issue_date.isoformat())
    chq.opt("StlDt", cheque.settlement_date.isoformat() if cheque.settlement_date else None)
    chq.money("Amt", cheque.amount)


def write_drawer_agent(chq: Writer, cheque: ChequeFields) -> None:
    write_agent(chq, "DrwrAgt", cheque.drawer_agent)


def read_payee(chq: Reader) -> Party | None:
    return read_party(chq.find("Pyee"), chq.find("PyeeAcct"))


def write_payee(chq: Writer, payee: Party | None) -> None:
    write_party(chq, "Pyee", payee, "PyeeAcct")
