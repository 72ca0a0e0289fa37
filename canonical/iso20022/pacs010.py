"""pacs.010.001.03 FIDrctDbt <-> payment.fi_direct_debit: one CdtInstr holding one DrctDbtTxInf (CBPR+)."""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, read_agent, read_bic, write_account, write_agent, write_bic
from canonical.iso20022.single import need_uetr, only
from canonical.iso20022.transfer import write_payment
from canonical.iso20022.tree import Reader, Writer, new_document
from canonical.payments import FiDirectDebit

DEFINITION = "pacs.010.001.03"
ROOT = "FIDrctDbt"


def read(doc: Reader) -> FiDirectDebit:
    """The one credit instruction and its one debit; RejectedInput naming the element otherwise."""
    msg = doc.child(ROOT)
    credit = only(msg, "CdtInstr")
    tx = only(credit, "DrctDbtTxInf")
    return FiDirectDebit.model_validate(
        dict(
            **read_group_header(msg),
            credit_id=credit.need("CdtId"),
            uetr=need_uetr(tx, "PmtId/UETR"),
            instruction_id=tx.text("PmtId/InstrId"),
            end_to_end_id=tx.need("PmtId/EndToEndId"),
            settlement_amount=tx.money("IntrBkSttlmAmt"),
            settlement_date=tx.date("IntrBkSttlmDt") or credit.date("IntrBkSttlmDt") or tx.need("IntrBkSttlmDt"),
            instructing_agent=read_bic(credit, "InstgAgt"),
            instructed_agent=read_bic(credit, "InstdAgt"),
            creditor_agent=read_agent(credit.find("CdtrAgt")),
            creditor=read_agent(credit.find("Cdtr")),
            creditor_account=read_account(credit.find("CdtrAcct")),
            debtor=read_agent(tx.find("Dbtr")),
            debtor_account=read_account(tx.find("DbtrAcct")),
            instructions_for_debtor_agent=tx.text("InstrForDbtrAgt"),
        )
    )


def write(dd: FiDirectDebit, now: datetime) -> Writer:
    """The Document in XSD order; the settlement date and agents go where CBPR+ puts them."""
    doc, msg = new_document(DEFINITION, ROOT)
    write_group_header(msg, dd, now).add("NbOfTxs", "1")
    credit = msg.add("CdtInstr")
    credit.add("CdtId", dd.credit_id)
    write_bic(credit, "InstgAgt", dd.instructing_agent)
    write_bic(credit, "InstdAgt", dd.instructed_agent)
    write_agent(credit, "CdtrAgt", dd.creditor_agent)
    write_agent(credit, "Cdtr", dd.creditor)
    write_account(credit, "CdtrAcct", dd.creditor_account)
    tx = credit.add("DrctDbtTxInf")
    write_payment(tx, dd)
    write_agent(tx, "Dbtr", dd.debtor)
    write_account(tx, "DbtrAcct", dd.debtor_account)
    tx.opt("InstrForDbtrAgt", dd.instructions_for_debtor_agent)
    return doc
