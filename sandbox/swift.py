"""The SWIFT sandbox: ISO 20022 on /messages, FIN on /fin, and the gpi tracker; any currency and BIC.

MT traffic (MT103, MT202, MT202COV, MT192) is read with the hub's MT codec and answered in FIN, written
by the same codec: a payment's status as an MT199 (MT299 for an MT202) from the tracker (field 79: the
gpi confirmation `//<YYMMDDhhmm>+0000`, `//ACSC`; a rejection as `/REJT/`, `/<reason>/`, `/MREF/<20>`),
a cancellation's answer as an MT196, a return as an MT103 / MT202 with /RETN/. The trailer
`{5:{PDE:}}` is the possible-duplicate flag. Statements (camt.053) are always ISO 20022. The tracker:
  GET /gpi/payments/{uetr}/transactions  {"uetr", "transaction_status": ACSP | ACCC | RJCT,
                                          "status_reason", "reference", "amount", "events": [...]}
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from canonical.errors import RejectedInput, Violation
from canonical.swift_mt import parse_message, to_canonical
from canonical.swift_mt.blocks import fin_text
from canonical.swift_mt.codec import to_mt
from sandbox.http import Request, Response
from sandbox.payments import CANCELLED, FIN, PENDING, REJECTED, SETTLED, Inbound, PaymentNetwork

FIN_TYPES = frozenset({"103", "202", "192"})  # MT202COV is an MT202 with {119:COV}
TRACKER = re.compile(r"^/gpi/payments/([0-9a-f-]{36})/transactions$")
GPI_STATUS = {PENDING: "ACSP", SETTLED: "ACCC", REJECTED: "RJCT", CANCELLED: "RJCT"}


def read_fin(body: bytes) -> Inbound:
    """One FIN message read by the hub's MT codec; RejectedInput naming the block, field and rule."""
    mt = parse_message(fin_text(body))
    kind = mt.header.message_type
    if kind not in FIN_TYPES:
        detail = f"MT{kind}: send MT103, MT202, MT202COV or MT192"
        raise RejectedInput("not accepted on /fin", [Violation("2", "unsupported_message_type", detail)])
    payload, _warnings = to_canonical(mt)
    h = mt.header
    reference = str(getattr(mt, "sender_reference", ""))
    return Inbound("mt", f"MT{kind}", h.sender_bic, h.receiver_bic, reference, h.possible_duplicate, payload)


class Swift(PaymentNetwork):
    network_bic = "TRCKCHZZXXX"  # the gpi tracker: where status confirmations come from
    reference_prefix = "SWFT"
    accepts = "pacs.008, pacs.009, pacs.028 or camt.056 (MT103, MT202, MT202COV or MT192 on /fin)"
    readers = {**PaymentNetwork.readers, "mt": read_fin}

    async def route(self, req: Request) -> Response:
        if req.method == "POST" and req.path == "/fin":
            return await self.submit(req, read_fin)
        tracked = TRACKER.match(req.path)
        if req.method == "GET" and tracked is not None:
            return self.tracker(tracked[1])
        return await super().route(req)

    def tracker(self, uetr: str) -> Response:
        payment = self.payment(uetr)
        if payment is None:
            return Response.of_json({"error": "the tracker has no payment with this UETR", "uetr": uetr}, 404)
        events = self.db.execute(
            "SELECT at, status, reason, what FROM events WHERE uetr=? ORDER BY seq", (uetr,)
        ).fetchall()
        return Response.of_json(
            {
                "uetr": uetr,
                "transaction_status": GPI_STATUS[payment.status],
                "status_reason": payment.reason,
                "reference": payment.reference,
                "amount": {"currency": payment.currency, "amount": str(payment.amount)},
                "events": [
                    {"at": at, "status": GPI_STATUS.get(status, status), "reason": reason, "what": what}
                    for at, status, reason, what in events
                ],
            }
        )

    def pushed(self, syntax: str, payload: BaseModel, to: str) -> tuple[bytes, str]:
        if syntax != "mt":
            return super().pushed(syntax, payload, to)
        text, _warnings = to_mt(payload, self.network_bic, to)  # what FIN cannot carry stays behind
        return text.encode("ascii"), FIN
