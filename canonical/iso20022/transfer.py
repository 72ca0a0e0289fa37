"""The frame pacs.008 and pacs.009 share: group header, settlement information, payment ids,
interbank settlement amount and date, and the instructing / instructed agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canonical.iso20022.parties import read_bic, write_bic
from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import InterbankTransfer, SettlementMethod


def read_frame(msg: Reader, tx: Reader) -> dict[str, Any]:
    """The InterbankTransfer fields of a message (`msg`, its root) and its transaction (`tx`)."""
    return dict(
        message_id=msg.need("GrpHdr/MsgId"),
        created_at=msg.datetime("GrpHdr/CreDtTm"),
        settlement_method=SettlementMethod(msg.need("GrpHdr/SttlmInf/SttlmMtd")),
        instructing_reimbursement_agent=read_bic(msg, "GrpHdr/SttlmInf/InstgRmbrsmntAgt"),
        instructed_reimbursement_agent=read_bic(msg, "GrpHdr/SttlmInf/InstdRmbrsmntAgt"),
        instruction_id=tx.text("PmtId/InstrId"),
        end_to_end_id=tx.need("PmtId/EndToEndId"),
        uetr=tx.need("PmtId/UETR"),
        settlement_amount=tx.money("IntrBkSttlmAmt"),
        settlement_date=tx.date("IntrBkSttlmDt"),
        instructing_agent=read_bic(tx, "InstgAgt"),
        instructed_agent=read_bic(tx, "InstdAgt"),
    )


def write_frame(
    definition: str, root: str, t: InterbankTransfer, now: datetime, transaction_id: str | None = None
) -> tuple[Writer, Writer]:
    """The Document and its CdtTrfTxInf, written up to IntrBkSttlmDt; the caller goes on in XSD order."""
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{definition}", "Document")
    msg = doc.add(root)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", t.message_id)
    hdr.add("CreDtTm", iso_datetime(t.created_at or now))
    hdr.add("NbOfTxs", "1")
    sttlm = hdr.add("SttlmInf")
    sttlm.add("SttlmMtd", t.settlement_method.value)
    write_bic(sttlm, "InstgRmbrsmntAgt", t.instructing_reimbursement_agent)
    write_bic(sttlm, "InstdRmbrsmntAgt", t.instructed_reimbursement_agent)
    tx = msg.add("CdtTrfTxInf")
    pmt = tx.add("PmtId")
    pmt.opt("InstrId", t.instruction_id)
    pmt.add("EndToEndId", t.end_to_end_id)
    pmt.opt("TxId", transaction_id)
    pmt.add("UETR", t.uetr)
    tx.money("IntrBkSttlmAmt", t.settlement_amount)
    tx.add("IntrBkSttlmDt", t.settlement_date.isoformat())
    return doc, tx
