"""The single charges record (Chrgs/Sngl) that camt.105 and camt.106 share, around their charges account.

The hub carries one record per message (what an MT190 / MT191 holds): a message listing its charges per
transaction (PerTx) or per type (PerTp) is refused, naming Chrgs/Sngl.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from canonical.cash import ChargesFields
from canonical.errors import RejectedInput, Violation
from canonical.iso20022.parties import read_agent, write_agent
from canonical.iso20022.statements import read_date_choice
from canonical.iso20022.tree import Reader, Writer, element_path, iso_datetime


def single_record(doc: Reader, root: str) -> tuple[Reader, Reader]:
    """The message element and its one Chrgs/Sngl; RejectedInput `single_charges_record` otherwise."""
    msg = doc.find(root)
    assert msg is not None  # the XSD has already checked the root element
    record = msg.find("Chrgs/Sngl")
    if record is None:
        loc = f"{element_path(msg.el)}/Chrgs/Sngl"
        detail = "charges per transaction or per type have no single-record form"
        raise RejectedInput("charges not translatable", [Violation(loc, "single_charges_record", detail)])
    return msg, record


def read_record(msg: Reader, record: Reader) -> dict[str, Any]:
    """The ChargesFields of a message and its record (validated by the caller's model)."""
    return dict(
        message_id=msg.need("GrpHdr/MsgId"),
        created_at=msg.datetime("GrpHdr/CreDtTm"),
        charges_id=record.text("ChrgsId"),
        underlying=dict(
            message_id=record.text("UndrlygTx/MsgId"),
            message_name=record.text("UndrlygTx/MsgNmId"),
            instruction_id=record.text("UndrlygTx/InstrId"),
            end_to_end_id=record.text("UndrlygTx/EndToEndId"),
            uetr=record.text("UndrlygTx/UETR"),
        ),
        amount=record.money("Amt"),
        credit_debit=record.text("CdtDbtInd"),
        value_date=read_date_choice(record, "ValDt"),
        debtor_agent=read_agent(record.find("DbtrAgt")),
        charge_type=record.text("Tp/Cd"),
        instruction=record.text("InstrForInstdAgt/InstrInf"),
        additional_information=record.text("AddtlInf"),
    )


def write_record(
    definition: str, root: str, charges: ChargesFields, now: datetime, account: Callable[[Writer], None]
) -> Writer:
    """The Document in XSD order; `account` writes what sits between DbtrAgt and Tp (the charges account)."""
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{definition}", "Document")
    msg = doc.add(root)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", charges.message_id)
    hdr.add("CreDtTm", iso_datetime(charges.created_at or now))
    record = msg.add("Chrgs/Sngl")
    record.opt("ChrgsId", charges.charges_id)
    u = charges.underlying
    tx = record.add("UndrlygTx")
    tx.opt("MsgId", u.message_id)
    tx.opt("MsgNmId", u.message_name)
    tx.opt("InstrId", u.instruction_id)
    tx.opt("EndToEndId", u.end_to_end_id)
    tx.opt("UETR", u.uetr)
    record.money("Amt", charges.amount)
    record.opt("CdtDbtInd", charges.credit_debit.value if charges.credit_debit else None)
    record.opt("ValDt/Dt", charges.value_date.isoformat() if charges.value_date else None)
    write_agent(record, "DbtrAgt", charges.debtor_agent)
    account(record)
    record.opt("Tp/Cd", charges.charge_type)
    record.opt("InstrForInstdAgt/InstrInf", charges.instruction)
    record.opt("AddtlInf", charges.additional_information)
    return doc
