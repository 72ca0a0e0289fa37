"""pacs.003.001.08 FIToFICstmrDrctDbt <-> payment.direct_debit (one transaction, as CBPR+ requires)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.pain001 import read_initiating_party, write_initiating_party
from canonical.iso20022.parties import read_agent, read_bic, read_party, write_agent, write_bic, write_party
from canonical.iso20022.single import need_uetr, only
from canonical.iso20022.transfer import write_payment
from canonical.iso20022.tree import Reader, Writer, amount_text, new_document
from canonical.payments import DirectDebit

DEFINITION = "pacs.003.001.08"
ROOT = "FIToFICstmrDrctDbt"


def read(doc: Reader) -> DirectDebit:
    """The one DrctDbtTxInf; RejectedInput naming the element without UETR or with more transactions."""
    msg = doc.child(ROOT)
    tx = only(msg, "DrctDbtTxInf")
    rate = tx.text("XchgRate")
    return DirectDebit.model_validate(
        dict(
            **read_group_header(msg),
            settlement_method=msg.need("GrpHdr/SttlmInf/SttlmMtd"),
            instruction_id=tx.text("PmtId/InstrId"),
            end_to_end_id=tx.need("PmtId/EndToEndId"),
            uetr=need_uetr(tx, "PmtId/UETR"),
            settlement_amount=tx.money("IntrBkSttlmAmt"),
            settlement_date=tx.date("IntrBkSttlmDt") or msg.date("GrpHdr/IntrBkSttlmDt") or tx.need("IntrBkSttlmDt"),
            instructed_amount=tx.money("InstdAmt"),
            exchange_rate=Decimal(rate) if rate else None,
            charge_bearer=tx.need("ChrgBr"),
            requested_collection_date=tx.date("ReqdColltnDt"),
            mandate_id=tx.text("DrctDbtTx/MndtRltdInf/MndtId"),
            creditor=read_party(tx.find("Cdtr"), tx.find("CdtrAcct")),
            creditor_agent=read_agent(tx.find("CdtrAgt")),
            initiating_party=read_initiating_party(tx.find("InitgPty")),
            instructing_agent=read_bic(tx, "InstgAgt"),
            instructed_agent=read_bic(tx, "InstdAgt"),
            debtor=read_party(tx.find("Dbtr"), tx.find("DbtrAcct")),
            debtor_agent=read_agent(tx.find("DbtrAgt")),
            remittance_information=tx.texts("RmtInf/Ustrd"),
        )
    )


def write(dd: DirectDebit, now: datetime) -> Writer:
    """The Document in XSD order; the agents go on the transaction."""
    doc, msg = new_document(DEFINITION, ROOT)
    hdr = write_group_header(msg, dd, now)
    hdr.add("NbOfTxs", "1")
    hdr.add("SttlmInf/SttlmMtd", dd.settlement_method.value)
    tx = msg.add("DrctDbtTxInf")
    write_payment(tx, dd)
    tx.money("InstdAmt", dd.instructed_amount)
    if dd.exchange_rate is not None:
        tx.add("XchgRate", amount_text(dd.exchange_rate))
    tx.add("ChrgBr", dd.charge_bearer.value)
    tx.opt("ReqdColltnDt", dd.requested_collection_date.isoformat() if dd.requested_collection_date else None)
    tx.opt("DrctDbtTx/MndtRltdInf/MndtId", dd.mandate_id)
    write_party(tx, "Cdtr", dd.creditor, "CdtrAcct")
    write_agent(tx, "CdtrAgt", dd.creditor_agent)
    write_initiating_party(tx, "InitgPty", dd.initiating_party)
    write_bic(tx, "InstgAgt", dd.instructing_agent)
    write_bic(tx, "InstdAgt", dd.instructed_agent)
    write_party(tx, "Dbtr", dd.debtor, "DbtrAcct")
    write_agent(tx, "DbtrAgt", dd.debtor_agent)
    if dd.remittance_information:
        rmt = tx.add("RmtInf")
        for text in dd.remittance_information:
            rmt.add("Ustrd", text)
    return doc
