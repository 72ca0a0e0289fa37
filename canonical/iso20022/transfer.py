"""The frame pacs.008 and pacs.009 share: group header, settlement information, payment ids,
interbank settlement amount and date, and the instructing / instructed agents; and the payment ids and
interbank settlement every pacs transaction (pacs.003, pacs.008, pacs.009, pacs.010) opens with."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_bic, write_bic
from canonical.iso20022.tree import Reader, Writer, new_document
from canonical.money import Money
from canonical.payments import InterbankTransfer, SettlementMethod


class Payment(Protocol):
    """What identifies a payment between agents and settles it: every pacs transaction has these."""

    @property
    def instruction_id(self) -> str | None: ...
    @property
    def end_to_end_id(self) -> str: ...
    @property
    def uetr(self) -> str: ...
    @property
    def settlement_amount(self) -> Money: ...
    @property
    def settlement_date(self) -> date: ...


def read_frame(msg: Reader, tx: Reader) -> dict[str, Any]:
    """The InterbankTransfer fields of a message (`msg`, its root) and its transaction (`tx`)."""
    return dict(
        **read_group_header(msg),
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
    doc, msg = new_document(definition, root)
    hdr = write_group_header(msg, t, now)
    hdr.add("NbOfTxs", "1")
    sttlm = hdr.add("SttlmInf")
    sttlm.add("SttlmMtd", t.settlement_method.value)
    write_bic(sttlm, "InstgRmbrsmntAgt", t.instructing_reimbursement_agent)
    write_bic(sttlm, "InstdRmbrsmntAgt", t.instructed_reimbursement_agent)
    tx = msg.add("CdtTrfTxInf")
    write_payment(tx, t, transaction_id)
    return doc, tx


def write_payment(tx: Writer, p: Payment, transaction_id: str | None = None) -> None:
    """PmtId (InstrId, EndToEndId, TxId, UETR), IntrBkSttlmAmt and IntrBkSttlmDt of transaction `tx`, in XSD
    order; the caller goes on with what follows."""
    pmt = tx.add("PmtId")
    pmt.opt("InstrId", p.instruction_id)
    pmt.add("EndToEndId", p.end_to_end_id)
    pmt.opt("TxId", transaction_id)
    pmt.add("UETR", p.uetr)
    tx.money("IntrBkSttlmAmt", p.settlement_amount)
    tx.add("IntrBkSttlmDt", p.settlement_date.isoformat())
