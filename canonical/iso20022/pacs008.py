"""pacs.008.001.08 FIToFICstmrCdtTrf <-> payment.credit_transfer (one transaction, as CBPR+ requires)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from canonical.iso20022.parties import read_agent, read_bic, read_party, write_agent, write_bic, write_party
from canonical.iso20022.transfer import read_frame, write_frame
from canonical.iso20022.tree import Reader, Writer, amount_text
from canonical.payments import ChargeBearer, CreditTransfer

DEFINITION = "pacs.008.001.08"
ROOT = "FIToFICstmrCdtTrf"


def read(doc: Reader) -> CreditTransfer:
    msg = doc.child(ROOT)
    tx = msg.child("CdtTrfTxInf")
    rate = tx.text("XchgRate")
    return CreditTransfer.model_validate(
        dict(
            **read_frame(msg, tx),
            transaction_id=tx.text("PmtId/TxId"),
            instructed_amount=tx.money("InstdAmt"),
            exchange_rate=Decimal(rate) if rate else None,
            charge_bearer=ChargeBearer(tx.need("ChrgBr")),
            charges=[{"amount": c.money("Amt"), "agent": read_bic(c, "Agt")} for c in tx.all("ChrgsInf")],
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
    doc, tx = write_frame(DEFINITION, ROOT, ct, now, transaction_id=ct.transaction_id)
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
