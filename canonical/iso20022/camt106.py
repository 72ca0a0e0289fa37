"""camt.106.001.02 ChrgsPmtReq <-> payment.charges_request (one charges record, Chrgs/Sngl)."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ChargesPaymentRequest
from canonical.iso20022.charges import read_record, write_record
from canonical.iso20022.parties import read_agent, write_agent
from canonical.iso20022.tree import Reader, Writer

DEFINITION = "camt.106.001.02"
ROOT = "ChrgsPmtReq"


def read(doc: Reader) -> ChargesPaymentRequest:
    fields, record = read_record(doc, ROOT)
    return ChargesPaymentRequest.model_validate(
        dict(**fields, charges_account_agent=read_agent(record.find("ChrgsAcctAgt")))
    )


def write(request: ChargesPaymentRequest, now: datetime) -> Writer:
    agent = request.charges_account_agent
    return write_record(DEFINITION, ROOT, request, now, lambda record: write_agent(record, "ChrgsAcctAgt", agent))
