"""pacs.002.001.10 (status report) and pacs.004.001.09 (payment return): answers about a payment."""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_bic, read_party, write_bic, write_party
from canonical.iso20022.references import read_original, write_original
from canonical.iso20022.tree import Reader, Writer, new_document
from canonical.payments import Party, PaymentReturn, StatusReport

PACS002 = "pacs.002.001.10"
PACS004 = "pacs.004.001.09"


def read_status(doc: Reader) -> StatusReport:
    msg = doc.child("FIToFIPmtStsRpt")
    tx = msg.child("TxInfAndSts")
    return StatusReport.model_validate(
        dict(
            **read_group_header(msg),
            original=read_original(tx),
            status=tx.need("TxSts"),
            reason_code=tx.text("StsRsnInf/Rsn/Cd"),
            additional_information=tx.texts("StsRsnInf/AddtlInf"),
            instructing_agent=read_bic(tx, "InstgAgt"),
            instructed_agent=read_bic(tx, "InstdAgt"),
        )
    )


def write_status(sr: StatusReport, now: datetime) -> Writer:
    doc, msg = new_document(PACS002, "FIToFIPmtStsRpt")
    write_group_header(msg, sr, now)
    tx = msg.add("TxInfAndSts")
    write_original(tx, sr.original)
    tx.add("TxSts", sr.status.value)
    if sr.reason_code or sr.additional_information:
        rsn = tx.add("StsRsnInf")
        if sr.reason_code:
            rsn.add("Rsn/Cd", sr.reason_code)
        for text in sr.additional_information:
            rsn.add("AddtlInf", text)
    write_bic(tx, "InstgAgt", sr.instructing_agent)
    write_bic(tx, "InstdAgt", sr.instructed_agent)
    return doc


def _chain_party(r: Reader | None) -> Party | None:
    return None if r is None else read_party(r.find("Pty"))


def read_return(doc: Reader) -> PaymentReturn:
    msg = doc.child("PmtRtr")
    tx = msg.child("TxInf")
    return PaymentReturn.model_validate(
        dict(
            **read_group_header(msg),
            settlement_method=msg.need("GrpHdr/SttlmInf/SttlmMtd"),
            return_id=tx.text("RtrId"),
            original=read_original(tx),
            returned_amount=tx.money("RtrdIntrBkSttlmAmt"),
            settlement_date=tx.date("IntrBkSttlmDt"),
            charge_bearer=tx.text("ChrgBr"),
            instructing_agent=read_bic(tx, "InstgAgt"),
            instructed_agent=read_bic(tx, "InstdAgt"),
            return_debtor=_chain_party(tx.find("RtrChain/Dbtr")),
            return_creditor=_chain_party(tx.find("RtrChain/Cdtr")),
            reason_code=tx.need("RtrRsnInf/Rsn/Cd"),
            reason_originator=read_party(tx.find("RtrRsnInf/Orgtr")),
            original_settlement_amount=tx.money("OrgnlTxRef/IntrBkSttlmAmt"),
            original_settlement_date=tx.date("OrgnlTxRef/IntrBkSttlmDt"),
            original_debtor=_chain_party(tx.find("OrgnlTxRef/Dbtr")),
            original_creditor=_chain_party(tx.find("OrgnlTxRef/Cdtr")),
        )
    )


def write_return(pr: PaymentReturn, now: datetime) -> Writer:
    doc, msg = new_document(PACS004, "PmtRtr")
    hdr = write_group_header(msg, pr, now)
    hdr.add("NbOfTxs", "1")
    hdr.add("SttlmInf/SttlmMtd", pr.settlement_method.value)
    tx = msg.add("TxInf")
    tx.opt("RtrId", pr.return_id)
    write_original(tx, pr.original)
    tx.money("RtrdIntrBkSttlmAmt", pr.returned_amount)
    tx.opt("IntrBkSttlmDt", pr.settlement_date.isoformat() if pr.settlement_date else None)
    tx.opt("ChrgBr", pr.charge_bearer.value if pr.charge_bearer else None)
    write_bic(tx, "InstgAgt", pr.instructing_agent)
    write_bic(tx, "InstdAgt", pr.instructed_agent)
    if pr.return_debtor is not None and pr.return_creditor is not None:
        chain = tx.add("RtrChain")
        write_party(chain, "Dbtr/Pty", pr.return_debtor)
        write_party(chain, "Cdtr/Pty", pr.return_creditor)
    rsn = tx.add("RtrRsnInf")
    write_party(rsn, "Orgtr", pr.reason_originator)
    rsn.add("Rsn/Cd", pr.reason_code)
    ref_fields = (pr.original_settlement_amount, pr.original_settlement_date, pr.original_debtor, pr.original_creditor)
    if any(v is not None for v in ref_fields):
        ref = tx.add("OrgnlTxRef")
        ref.money("IntrBkSttlmAmt", pr.original_settlement_amount)
        ref.opt("IntrBkSttlmDt", pr.original_settlement_date.isoformat() if pr.original_settlement_date else None)
        write_party(ref, "Dbtr/Pty", pr.original_debtor)
        write_party(ref, "Cdtr/Pty", pr.original_creditor)
    return doc
