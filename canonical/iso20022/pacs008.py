"""pacs.008.001.08 FIToFICstmrCdtTrf <-> payment.credit_transfer (one transaction, as CBPR+ requires)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from canonical.iso20022.parties import read_agent, read_bic, read_party, write_agent, write_bic, write_party
from canonical.iso20022.tree import Reader, Writer, amount_text, iso_datetime
from canonical.payments import ChargeBearer, CreditTransfer, SettlementMethod

DEFINITION = "pacs.008.001.08"
ROOT = "FIToFICstmrCdtTrf"


def read(doc: Reader) -> CreditTransfer:
    msg = doc.find(ROOT)
    assert msg is not None  # the XSD guarantees the root
    tx = msg.find("CdtTrfTxInf")
    assert tx is not None
    rate = tx.text("XchgRate")
    return CreditTransfer.model_validate(
        dict(
            message_id=msg.need("GrpHdr/MsgId"),
            created_at=msg.datetime("GrpHdr/CreDtTm"),
            settlement_method=SettlementMethod(msg.need("GrpHdr/SttlmInf/SttlmMtd")),
            instructing_reimbursement_agent=read_bic(msg, "GrpHdr/SttlmInf/InstgRmbrsmntAgt"),
            instructed_reimbursement_agent=read_bic(msg, "GrpHdr/SttlmInf/InstdRmbrsmntAgt"),
            instruction_id=tx.text("PmtId/InstrId"),
            end_to_end_id=tx.need("PmtId/EndToEndId"),
            transaction_id=tx.text("PmtId/TxId"),
            uetr=tx.need("PmtId/UETR"),
            settlement_amount=tx.money("IntrBkSttlmAmt"),
            settlement_date=tx.date("IntrBkSttlmDt"),
            instructed_amount=tx.money("InstdAmt"),
            exchange_rate=Decimal(rate) if rate else None,
            charge_bearer=ChargeBearer(tx.need("ChrgBr")),
            charges=[{"amount": c.money("Amt"), "agent": read_bic(c, "Agt")} for c in tx.all("ChrgsInf")],
            instructing_agent=read_bic(tx, "InstgAgt"),
            instructed_agent=read_bic(tx, "InstdAgt"),
            intermediary_agent=read_agent(tx.find("IntrmyAgt1")),
            debtor=read_party(tx.find("Dbtr"), tx.find("DbtrAcct")),
            debtor_agent=read_agent(tx.find("DbtrAgt")),
            creditor_agent=read_agent(tx.find("CdtrAgt")),
            creditor=read_party(tx.find("Cdtr"), tx.find("CdtrAcct")),
            instructions_for_creditor_agent=tx.texts("InstrForCdtrAgt/InstrInf"),
            instructions_for_next_agent=tx.texts("InstrForNxtAgt/InstrInf"),
            remittance_information=tx.texts("RmtInf/Ustrd"),
        )
    )


def write(ct: CreditTransfer, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", ct.message_id)
    hdr.add("CreDtTm", iso_datetime(ct.created_at or now))
    hdr.add("NbOfTxs", "1")
    sttlm = hdr.add("SttlmInf")
    sttlm.add("SttlmMtd", ct.settlement_method.value)
    write_bic(sttlm, "InstgRmbrsmntAgt", ct.instructing_reimbursement_agent)
    write_bic(sttlm, "InstdRmbrsmntAgt", ct.instructed_reimbursement_agent)
    tx = msg.add("CdtTrfTxInf")
    pmt = tx.add("PmtId")
    pmt.opt("InstrId", ct.instruction_id)
    pmt.add("EndToEndId", ct.end_to_end_id)
    pmt.opt("TxId", ct.transaction_id)
    pmt.add("UETR", ct.uetr)
    tx.money("IntrBkSttlmAmt", ct.settlement_amount)
    tx.add("IntrBkSttlmDt", ct.settlement_date.isoformat())
    tx.money("InstdAmt", ct.instructed_amount)
    if ct.exchange_rate is not None:
        tx.add("XchgRate", amount_text(ct.exchange_rate))
    tx.add("ChrgBr", ct.charge_bearer.value)
    for charge in ct.charges:
        c = tx.add("ChrgsInf")
        c.money("Amt", charge.amount)
        write_bic(c, "Agt", charge.agent)
    write_bic(tx, "InstgAgt", ct.instructing_agent)
    write_bic(tx, "InstdAgt", ct.instructed_agent)
    write_agent(tx, "IntrmyAgt1", ct.intermediary_agent)
    write_party(tx, "Dbtr", ct.debtor, "DbtrAcct")
    write_agent(tx, "DbtrAgt", ct.debtor_agent)
    write_agent(tx, "CdtrAgt", ct.creditor_agent)
    write_party(tx, "Cdtr", ct.creditor, "CdtrAcct")
    for text in ct.instructions_for_creditor_agent:
        tx.add("InstrForCdtrAgt/InstrInf", text)
    for text in ct.instructions_for_next_agent:
        tx.add("InstrForNxtAgt/InstrInf", text)
    if ct.remittance_information:
        rmt = tx.add("RmtInf")
        for text in ct.remittance_information:
            rmt.add("Ustrd", text)
    return doc
