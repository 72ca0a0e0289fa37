"""camt.108.001.01 ChqCxlOrStopReq <-> payment.cheque_stop_request: the cheques in order, each with its reason."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequeStopRequest, ChequeToStop, StopReason
from canonical.iso20022.cheques import (
    read_cheque,
    read_group,
    read_payee,
    write_drawer_agent,
    write_group,
    write_identity,
    write_payee,
)
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.108.001.01"
ROOT = "ChqCxlOrStopReq"


def _read_reason(r: Reader | None) -> StopReason | None:
    if r is None:
        return None
    return StopReason.model_validate(
        dict(code=r.text("Rsn/Cd"), proprietary=r.text("Rsn/Prtry"), information=r.text("AddtlInf"))
    )


def _read_cheque(chq: Reader) -> ChequeToStop:
    return ChequeToStop.model_validate(
        dict(
            **read_cheque(chq),
            original_instruction_id=chq.text("OrgnlInstrId"),
            payee=read_payee(chq),
            reason=_read_reason(chq.find("ChqCxlOrStopRsn")),
        )
    )


def read(doc: Reader) -> ChequeStopRequest:
    msg = doc.find(ROOT)
    assert msg is not None  # the XSD has already checked the root element
    group, cheques = read_group(msg)
    return ChequeStopRequest.model_validate(dict(**group, cheques=[_read_cheque(c) for c in cheques]))


def write(request: ChequeStopRequest, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    write_group(msg, request.message_id, request.created_at or now, request.cheques)
    for cheque in request.cheques:
        chq = msg.add("Chq")
        write_identity(chq, cheque)
        write_drawer_agent(chq, cheque)
        write_payee(chq, cheque.payee)
        reason = cheque.reason
        if reason is not None:
            r = chq.add("ChqCxlOrStopRsn")
            r.opt("Rsn/Cd", reason.code)
            r.opt("Rsn/Prtry", reason.proprietary)
            r.opt("AddtlInf", reason.information)
    return doc
