"""camt.109.001.01 ChqCxlOrStopRpt <-> payment.cheque_stop_report: the cheques in order, each with its status."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequeStopReport, StoppedCheque, StopStatus
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

DEFINITION = "camt.109.001.01"
ROOT = "ChqCxlOrStopRpt"


def _read_cheque(chq: Reader) -> StoppedCheque:
    status = chq.find("ChqCxlOrStopSts")
    return StoppedCheque.model_validate(
        dict(
            **read_cheque(chq),
            original_instruction_id=chq.text("OrgnlInstrId"),
            payee=read_payee(chq),
            status=StopStatus.model_validate(
                dict(
                    code=status.text("Sts/Cd") if status else None,
                    proprietary=status.text("Sts/Prtry") if status else None,
                    information=status.text("AddtlInf") if status else None,
                )
            ),
        )
    )


def read(doc: Reader) -> ChequeStopReport:
    msg = doc.find(ROOT)
    assert msg is not None  # the XSD has already checked the root element
    group, cheques = read_group(msg)
    return ChequeStopReport.model_validate(dict(**group, cheques=[_read_cheque(c) for c in cheques]))


def write(report: ChequeStopReport, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    write_group(msg, report.message_id, report.created_at or now, report.cheques)
    for cheque in report.cheques:
        chq = msg.add("Chq")
        write_identity(chq, cheque)
        write_drawer_agent(chq, cheque)
        write_payee(chq, cheque.payee)
        s = chq.add("ChqCxlOrStopSts")
        s.opt("Sts/Cd", cheque.status.code)
        s.opt("Sts/Prtry", cheque.status.proprietary)
        s.opt("AddtlInf", cheque.status.information)
    return doc
