"""camt.056.001.08 FIToFIPmtCxlReq <-> payment.cancellation_request and camt.029.001.09
RsltnOfInvstgtn <-> payment.cancellation_resolution (CBPR+: one underlying transaction each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canonical.iso20022.references import read_original, write_original
from canonical.iso20022.tree import Reader, Writer, iso_datetime, new_document
from canonical.payments import CancellationRequest, CancellationResolution, InvestigationFields, ResolutionStatus

CAMT056 = "camt.056.001.08"
CAMT029 = "camt.029.001.09"
# Assigner, assignee and case creator are Party40Choice; CBPR+ identifies them as agents by BIC.
_AGENT_BIC = "Agt/FinInstnId/BICFI"
# The transaction's own status code (TxCxlSts) that goes with the case status (Sts/Conf).
_TX_STATUS = {ResolutionStatus.CNCL: "ACCR", ResolutionStatus.RJCR: "RJCR", ResolutionStatus.PDCR: "PDCR"}


def _read_case_frame(msg: Reader, case: Reader | None, case_tag: str) -> dict[str, Any]:
    if case is None:
        raise msg.missing(case_tag)
    return dict(
        assignment_id=msg.need("Assgnmt/Id"),
        assigner=msg.need(f"Assgnmt/Assgnr/{_AGENT_BIC}"),
        assignee=msg.need(f"Assgnmt/Assgne/{_AGENT_BIC}"),
        created_at=msg.datetime("Assgnmt/CreDtTm"),
        case_id=case.need("Id"),
        case_creator=case.need(f"Cretr/{_AGENT_BIC}"),
    )


def _write_assignment(msg: Writer, inv: InvestigationFields, now: datetime) -> None:
    a = msg.add("Assgnmt")
    a.add("Id", inv.assignment_id)
    a.add(f"Assgnr/{_AGENT_BIC}", inv.assigner)
    a.add(f"Assgne/{_AGENT_BIC}", inv.assignee)
    a.add("CreDtTm", iso_datetime(inv.created_at or now))


def _write_case(w: Writer, tag: str, inv: InvestigationFields) -> None:
    case = w.add(tag)
    case.add("Id", inv.case_id)
    case.add(f"Cretr/{_AGENT_BIC}", inv.case_creator)


def read_request(doc: Reader) -> CancellationRequest:
    """The one Undrlyg/TxInf; the case is read from TxInf (CBPR+) or, failing that, the message level."""
    msg = doc.child("FIToFIPmtCxlReq")
    tx = msg.child("Undrlyg/TxInf")
    return CancellationRequest.model_validate(
        dict(
            **_read_case_frame(msg, tx.find("Case") or msg.find("Case"), "Undrlyg/TxInf/Case"),
            cancellation_id=tx.text("CxlId"),
            original=read_original(tx),
            original_settlement_amount=tx.money("OrgnlIntrBkSttlmAmt"),
            original_settlement_date=tx.date("OrgnlIntrBkSttlmDt"),
            reason_code=tx.text("CxlRsnInf/Rsn/Cd"),
            additional_information=tx.texts("CxlRsnInf/AddtlInf"),
        )
    )


def write_request(cr: CancellationRequest, now: datetime) -> Writer:
    """The Document in XSD order, with the case on the transaction (where CBPR+ puts it)."""
    doc, msg = new_document(CAMT056, "FIToFIPmtCxlReq")
    _write_assignment(msg, cr, now)
    tx = msg.add("Undrlyg/TxInf")
    tx.opt("CxlId", cr.cancellation_id)
    _write_case(tx, "Case", cr)
    write_original(tx, cr.original)
    tx.money("OrgnlIntrBkSttlmAmt", cr.original_settlement_amount)
    tx.opt("OrgnlIntrBkSttlmDt", cr.original_settlement_date.isoformat() if cr.original_settlement_date else None)
    rsn = tx.add("CxlRsnInf")
    rsn.add("Rsn/Cd", cr.reason_code)
    for text in cr.additional_information:
        rsn.add("AddtlInf", text)
    return doc


def read_resolution(doc: Reader) -> CancellationResolution:
    """The one CxlDtls/TxInfAndSts; the status is the case status (Sts/Conf)."""
    msg = doc.child("RsltnOfInvstgtn")
    tx = msg.child("CxlDtls/TxInfAndSts")
    return CancellationResolution.model_validate(
        dict(
            **_read_case_frame(msg, msg.find("RslvdCase"), "RslvdCase"),
            status=msg.need("Sts/Conf"),
            cancellation_status_id=tx.text("CxlStsId"),
            original=read_original(tx),
            reason_code=tx.text("CxlStsRsnInf/Rsn/Cd"),
            additional_information=tx.texts("CxlStsRsnInf/AddtlInf"),
            original_settlement_amount=tx.money("OrgnlIntrBkSttlmAmt"),
            original_settlement_date=tx.date("OrgnlIntrBkSttlmDt"),
        )
    )


def write_resolution(res: CancellationResolution, now: datetime) -> Writer:
    """The Document in XSD order; TxCxlSts is derived from the status (CNCL -> ACCR)."""
    doc, msg = new_document(CAMT029, "RsltnOfInvstgtn")
    _write_assignment(msg, res, now)
    _write_case(msg, "RslvdCase", res)
    msg.add("Sts/Conf", res.status.value)
    tx = msg.add("CxlDtls/TxInfAndSts")
    tx.opt("CxlStsId", res.cancellation_status_id)
    write_original(tx, res.original)
    tx.add("TxCxlSts", _TX_STATUS[res.status])
    if res.reason_code or res.additional_information:
        rsn = tx.add("CxlStsRsnInf")
        rsn.opt("Rsn/Cd", res.reason_code)
        for text in res.additional_information:
            rsn.add("AddtlInf", text)
    tx.money("OrgnlIntrBkSttlmAmt", res.original_settlement_amount)
    tx.opt("OrgnlIntrBkSttlmDt", res.original_settlement_date.isoformat() if res.original_settlement_date else None)
    return doc
