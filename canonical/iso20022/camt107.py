"""camt.107.001.01 ChqPresntmntNtfctn <-> payment.cheque_presentment: the cheques in order."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequePresentmentNotification, PresentedCheque
from canonical.iso20022.cheques import read_cheque, read_cheques, read_payee, write_cheques
from canonical.iso20022.parties import read_party, write_party
from canonical.iso20022.statements import read_date_choice
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.107.001.01"
ROOT = "ChqPresntmntNtfctn"


def _read_cheque(chq: Reader) -> PresentedCheque:
    return PresentedCheque.model_validate(
        dict(
            **read_cheque(chq),
            value_date=read_date_choice(chq, "ValDt"),
            payer=read_party(chq.find("Pyer"), chq.find("PyerAcct")),
            payee=read_payee(chq),
        )
    )


def _write_value_date_and_payer(chq: Writer, cheque: PresentedCheque) -> None:
    chq.opt("ValDt/Dt", cheque.value_date.isoformat() if cheque.value_date else None)
    write_party(chq, "Pyer", cheque.payer, "PyerAcct")


def read(doc: Reader) -> ChequePresentmentNotification:
    return ChequePresentmentNotification.model_validate(read_cheques(doc, ROOT, _read_cheque))


def write(notification: ChequePresentmentNotification, now: datetime) -> Writer:
    return write_cheques(DEFINITION, ROOT, notification, now, after_amount=_write_value_date_and_payer)
