"""camt.108.001.01 ChqCxlOrStopReq <-> payment.cheque_stop_request: the cheques in order, each with its reason."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequeStopRequest, ChequeToStop, StopReason
from canonical.iso20022.cheques import read_cheques, read_code, read_stop_cheque, write_cheques, write_code
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.108.001.01"
ROOT = "ChqCxlOrStopReq"


def _read_cheque(chq: Reader) -> ChequeToStop:
    reason = chq.find("ChqCxlOrStopRsn")
    return ChequeToStop.model_validate(
        dict(
            **read_stop_cheque(chq),
            reason=None if reason is None else StopReason.model_validate(read_code(reason, "Rsn")),
        )
    )


def _write_reason(chq: Writer, cheque: ChequeToStop) -> None:
    write_code(chq, "ChqCxlOrStopRsn", "Rsn", cheque.reason)


def read(doc: Reader) -> ChequeStopRequest:
    return ChequeStopRequest.model_validate(read_cheques(doc, ROOT, _read_cheque))


def write(request: ChequeStopRequest, now: datetime) -> Writer:
    return write_cheques(DEFINITION, ROOT, request, now, after_payee=_write_reason)
