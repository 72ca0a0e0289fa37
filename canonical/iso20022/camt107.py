"""camt.107.001.01 ChqPresntmntNtfctn <-> payment.cheque_presentment: the cheques in order."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChequePresentmentNotification, PresentedCheque
from canonical.iso20022.cheques import (
    read_cheque,
    read_group,
    read_payee,
    write_drawer_agent,
    write_group,
    write_identity,
    write_payee,
)
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


def read(doc: Reader) -> ChequePresentmentNotification:
    msg = doc.find(ROOT)
    assert msg is not None  # the XSD has already checked the root element
    group, cheques = read_group(msg)
    return ChequePresentmentNotification.model_validate(dict(**group, cheques=[_read_cheque(c) for c in cheques]))


def write(notification: ChequePresentmentNotification, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    write_group(msg, notification.message_id, notification.created_at or now, notification.cheques)
    for cheque in notification.cheques:
        chq = msg.add("Chq")
        write_identity(chq, cheque)
        chq.opt("ValDt/Dt", cheque.value_date.isoformat() if cheque.value_date else None)
        write_party(chq, "Pyer", cheque.payer, "PyerAcct")
        write_drawer_agent(chq, cheque)
        write_payee(chq, cheque.payee)
    return doc
