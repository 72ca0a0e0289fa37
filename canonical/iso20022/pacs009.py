"""pacs.009.001.08 FICdtTrf <-> payment.fi_transfer; the cover variant carries UndrlygCstmrCdtTrf."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canonical.iso20022.parties import (
    read_account,
    read_agent,
    read_bic,
    read_party,
    write_account,
    write_agent,
    write_bic,
    write_party,
)
from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import FiTransfer, SettlementMethod, UnderlyingCustomerTransfer

DEFINITION = "pacs.009.001.08"
ROOT = "FICdtTrf"


def read(doc: Reader) -> FiTransfer:
    msg = doc.find(ROOT)
    tx = msg.find("CdtTrfTxInf") if msg else None
    assert msg is not None and tx is not None  # the XSD guarantees both
    underlying = tx.find("UndrlygCstmrCdtTrf")
    return FiTransfer.model_validate(
        dict(
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
            intermediary_agent=read_bic(tx, "IntrmyAgt1"),
            debtor=read_bic(tx, "Dbtr"),
            debtor_agent=read_bic(tx, "DbtrAgt"),
            creditor_agent=read_bic(tx, "CdtrAgt"),
            creditor=read_bic(tx, "Cdtr"),
            creditor_account=read_account(tx.find("CdtrAcct")),
            instructions_for_next_agent=tx.texts("InstrForNxtAgt/InstrInf"),
            cover=underlying is not None,
            underlying=_read_underlying(underlying) if underlying is not None else None,
        )
    )


def _read_underlying(u: Reader) -> dict[str, Any]:
    return dict(
        debtor=read_party(u.find("Dbtr"), u.find("DbtrAcct")),
        debtor_agent=read_agent(u.find("DbtrAgt")),
        intermediary_agent=read_agent(u.find("IntrmyAgt1")),
        creditor_agent=read_agent(u.find("CdtrAgt")),
        creditor=read_party(u.find("Cdtr"), u.find("CdtrAcct")),
        remittance_information=u.texts("RmtInf/Ustrd"),
        instructed_amount=u.money("InstdAmt"),
    )


def write(ft: FiTransfer, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", ft.message_id)
    hdr.add("CreDtTm", iso_datetime(ft.created_at or now))
    hdr.add("NbOfTxs", "1")
    sttlm = hdr.add("SttlmInf")
    sttlm.add("SttlmMtd", ft.settlement_method.value)
    write_bic(sttlm, "InstgRmbrsmntAgt", ft.instructing_reimbursement_agent)
    write_bic(sttlm, "InstdRmbrsmntAgt", ft.instructed_reimbursement_agent)
    tx = msg.add("CdtTrfTxInf")
    pmt = tx.add("PmtId")
    pmt.opt("InstrId", ft.instruction_id)
    pmt.add("EndToEndId", ft.end_to_end_id)
    pmt.add("UETR", ft.uetr)
    tx.money("IntrBkSttlmAmt", ft.settlement_amount)
    tx.add("IntrBkSttlmDt", ft.settlement_date.isoformat())
    write_bic(tx, "InstgAgt", ft.instructing_agent)
    write_bic(tx, "InstdAgt", ft.instructed_agent)
    write_bic(tx, "IntrmyAgt1", ft.intermediary_agent)
    write_bic(tx, "Dbtr", ft.debtor)
    write_bic(tx, "DbtrAgt", ft.debtor_agent)
    write_bic(tx, "CdtrAgt", ft.creditor_agent)
    write_bic(tx, "Cdtr", ft.creditor)
    write_account(tx, "CdtrAcct", ft.creditor_account)
    for text in ft.instructions_for_next_agent:
        tx.add("InstrForNxtAgt/InstrInf", text)
    if ft.underlying is not None:
        _write_underlying(tx.add("UndrlygCstmrCdtTrf"), ft.underlying)
    return doc


def _write_underlying(u: Writer, cov: UnderlyingCustomerTransfer) -> None:
    write_party(u, "Dbtr", cov.debtor, "DbtrAcct")
    write_agent(u, "DbtrAgt", cov.debtor_agent)
    write_agent(u, "IntrmyAgt1", cov.intermediary_agent)
    write_agent(u, "CdtrAgt", cov.creditor_agent)
    write_party(u, "Cdtr", cov.creditor, "CdtrAcct")
    if cov.remittance_information:
        rmt = u.add("RmtInf")
        for text in cov.remittance_information:
            rmt.add("Ustrd", text)
    u.money("InstdAmt", cov.instructed_amount)
