"""camt.109.001.01 ChqCxlOrStopRpt <-> payment.cheque_stop_report: the cheques in order, each with its status."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequeStopReport, StoppedCheque, StopStatus
from canonical.iso20022.cheques import read_cheques, read_code, read_stop_cheque, write_cheques, write_code
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.109.001.01"
ROOT = "ChqCxlOrStopRpt"


def _read_cheque(chq: Reader) -> StoppedCheque:
    status = chq.find("ChqCxlOrStopSts")
    return StoppedCheque.model_validate(
        dict(**read_stop_cheque(chq), status=StopStatus.model_validate(read_code(status, "Sts")))
    )


def _write_status(chq: Writer, cheque: StoppedCheque) -> None:
    write_code(chq, "ChqCxlOrStopSts", "Sts", cheque.status)


def read(doc: Reader) -> ChequeStopReport:
    return ChequeStopReport.model_validate(read_cheques(doc, ROOT, _read_cheque))


def write(report: ChequeStopReport, now: datetime) -> Writer:
    return write_cheques(DEFINITION, ROOT, report, now, after_payee=_write_status)
