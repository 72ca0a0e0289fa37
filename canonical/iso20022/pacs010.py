"""pacs.010.001.03 FIDrctDbt <-> payment.fi_direct_debit: one CdtInstr holding one DrctDbtTxInf (CBPR+)."""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.parties import read_account, read_agent, read_bic, write_account, write_agent, write_bic
from canonical.iso20022.single import need_uetr, only
from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import FiDirectDebit

DEFINITION = "pacs.010.001.03"
ROOT = "FIDrctDbt"


def read(doc: Reader) -> FiDirectDebit:
    """The one credit instruction and its one debit; RejectedInput naming the element otherwise."""
    msg = doc.find(ROOT)
    assert msg is not None  # the XSD has already checked the root element
    credit = only(msg, "CdtInstr")
    tx = only(credit, "DrctDbtTxInf")
    return FiDirectDebit.model_validate(
        dict(
            message_id=msg.need("GrpHdr/MsgId"),
            created_at=msg.datetime("GrpHdr/CreDtTm"),
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
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", dd.message_id)
    hdr.add("CreDtTm", iso_datetime(dd.created_at or now))
    hdr.add("NbOfTxs", "1")
    credit = msg.add("CdtInstr")
    credit.add("CdtId", dd.credit_id)
    write_bic(credit, "InstgAgt", dd.instructing_agent)
    write_bic(credit, "InstdAgt", dd.instructed_agent)
    write_agent(credit, "CdtrAgt", dd.creditor_agent)
    write_agent(credit, "Cdtr", dd.creditor)
    write_account(credit, "CdtrAcct", dd.creditor_account)
    tx = credit.add("DrctDbtTxInf")
    pid = tx.add("PmtId")
    pid.opt("InstrId", dd.instruction_id)
    pid.add("EndToEndId", dd.end_to_end_id)
    pid.add("UETR", dd.uetr)
    tx.money("IntrBkSttlmAmt", dd.settlement_amount)
    tx.add("IntrBkSttlmDt", dd.settlement_date.isoformat())
    write_agent(tx, "Dbtr", dd.debtor)
    write_account(tx, "DbtrAcct", dd.debtor_account)
    tx.opt("InstrForDbtrAgt", dd.instructions_for_debtor_agent)
    return doc
