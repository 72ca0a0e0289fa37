"""pacs.028.001.05 FIToFIPmtStsReq <-> payment.status_request (CBPR+: one transaction per request)."""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_bic, write_bic
from canonical.iso20022.references import read_original, write_original
from canonical.iso20022.tree import Reader, Writer, new_document
from canonical.payments import StatusRequest

DEFINITION = "pacs.028.001.05"
ROOT = "FIToFIPmtStsReq"


def read(doc: Reader) -> StatusRequest:
    """The request's one TxInf; RejectedInput (path + `required`) if it is missing."""
    msg = doc.child(ROOT)
    tx = msg.child("TxInf")
    return StatusRequest.model_validate(
        dict(
            **read_group_header(msg),
            status_request_id=tx.text("StsReqId"),
            original=read_original(tx),
            instructing_agent=read_bic(tx, "InstgAgt"),
            instructed_agent=read_bic(tx, "InstdAgt"),
            original_settlement_amount=tx.money("OrgnlTxRef/IntrBkSttlmAmt"),
            original_settlement_date=tx.date("OrgnlTxRef/IntrBkSttlmDt"),
        )
    )


def write(sr: StatusRequest, now: datetime) -> Writer:
    """The Document, in XSD order; the agents go on the transaction, where CBPR+ puts them."""
    doc, msg = new_document(DEFINITION, ROOT)
    write_group_header(msg, sr, now)
    tx = msg.add("TxInf")
    tx.opt("StsReqId", sr.status_request_id)
    write_original(tx, sr.original)
    write_bic(tx, "InstgAgt", sr.instructing_agent)
    write_bic(tx, "InstdAgt", sr.instructed_agent)
    if sr.original_settlement_amount is not None or sr.original_settlement_date is not None:
        ref = tx.add("OrgnlTxRef")
        ref.money("IntrBkSttlmAmt", sr.original_settlement_amount)
        ref.opt("IntrBkSttlmDt", sr.original_settlement_date.isoformat() if sr.original_settlement_date else None)
    return doc
