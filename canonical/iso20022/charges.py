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
from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_agent, write_agent
from canonical.iso20022.statements import read_date_choice
from canonical.iso20022.tree import Reader, Writer, element_path, new_document


def read_record(doc: Reader, root: str) -> tuple[dict[str, Any], Reader]:
    """The ChargesFields of message `root` (validated by the caller's model) and its one Chrgs/Sngl, where the
    caller reads its charges account; RejectedInput `single_charges_record` when there is no single record."""
    msg = doc.child(root)
    record = msg.find("Chrgs/Sngl")
    if record is None:
        loc = f"{element_path(msg.el)}/Chrgs/Sngl"
        detail = "charges per transaction or per type have no single-record form"
        raise RejectedInput("charges not translatable", [Violation(loc, "single_charges_record", detail)])
    return _read_fields(msg, record), record


def _read_fields(msg: Reader, record: Reader) -> dict[str, Any]:
    return dict(
        **read_group_header(msg),
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
    doc, msg = new_document(definition, root)
    write_group_header(msg, charges, now)
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
