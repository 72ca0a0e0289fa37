"""camt.105.001.02 ChrgsPmtNtfctn <-> payment.charges_notification (one charges record, Chrgs/Sngl)."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChargesPaymentNotification
from canonical.iso20022.charges import read_record, write_record
from canonical.iso20022.parties import read_account, write_account
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.105.001.02"
ROOT = "ChrgsPmtNtfctn"


def read(doc: Reader) -> ChargesPaymentNotification:
    fields, record = read_record(doc, ROOT)
    return ChargesPaymentNotification.model_validate(
        dict(**fields, charges_account=read_account(record.find("ChrgsAcct")))
    )


def write(notification: ChargesPaymentNotification, now: datetime) -> Writer:
    account = notification.charges_account
    return write_record(DEFINITION, ROOT, notification, now, lambda record: write_account(record, "ChrgsAcct", account))
