"""camt.060.001.05 AcctRptgReq <-> payment.account_reporting_request: the reporting requests in order.

Each request names the report wanted (ReqdMsgNmId), the account, its owner (an agent or a party) and, for
transaction reports, the entries wanted with their floor limits (ReqdTxTp).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from canonical.cash import AccountReportingRequest, FloorLimit, ReportingRequest, RequestedTransactions
from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, read_agent, read_bic, write_account, write_agent, write_bic
from canonical.iso20022.party_choice import read_party_choice, write_party_choice
from canonical.iso20022.tree import Reader, Writer, amount_text, new_document

DEFINITION = "camt.060.001.05"
ROOT = "AcctRptgReq"


def _read_floor_limit(limit: Reader) -> FloorLimit:
    amount = limit.find("Amt")
    return FloorLimit.model_validate(
        dict(
            currency=amount.el.get("Ccy") if amount is not None else None,
            amount=Decimal(limit.need("Amt")),
            side=limit.need("CdtDbtInd"),
        )
    )


def _read_transactions(r: Reader | None) -> RequestedTransactions | None:
    if r is None:
        return None
    return RequestedTransactions.model_validate(
        dict(
            status=r.need("Sts/Cd"),
            credit_debit=r.need("CdtDbtInd"),
            floor_limits=[_read_floor_limit(limit) for limit in r.all("FlrLmt")],
        )
    )


def _read_request(r: Reader) -> ReportingRequest:
    owner = r.find("AcctOwnr")
    agent = owner.find("Agt") if owner is not None else None
    return ReportingRequest.model_validate(
        dict(
            request_id=r.text("Id"),
            requested_message=r.need("ReqdMsgNmId"),
            account=read_account(r.find("Acct")),
            account_owner_agent=read_agent(agent),
            account_owner_party=read_party_choice(owner) if agent is None else None,
            account_servicer=read_bic(r, "AcctSvcr"),
            transactions=_read_transactions(r.find("ReqdTxTp")),
            balance_types=r.texts("ReqdBalTp/CdOrPrtry/Cd"),
        )
    )


def read(doc: Reader) -> AccountReportingRequest:
    msg = doc.child(ROOT)
    return AccountReportingRequest.model_validate(
        dict(**read_group_header(msg), requests=[_read_request(r) for r in msg.all("RptgReq")])
    )


def _write_request(msg: Writer, request: ReportingRequest) -> None:
    r = msg.add("RptgReq")
    r.opt("Id", request.request_id)
    r.add("ReqdMsgNmId", request.requested_message)
    write_account(r, "Acct", request.account)
    if request.account_owner_agent is not None:
        write_agent(r, "AcctOwnr/Agt", request.account_owner_agent)
    else:
        write_party_choice(r, "AcctOwnr", request.account_owner_party)
    write_bic(r, "AcctSvcr", request.account_servicer)
    wanted = request.transactions
    if wanted is not None:
        t = r.add("ReqdTxTp")
        t.add("Sts/Cd", wanted.status)
        t.add("CdtDbtInd", wanted.credit_debit.value)
        for limit in wanted.floor_limits:
            fl = t.add("FlrLmt")
            fl.add("Amt", amount_text(limit.amount), Ccy=limit.currency)
            fl.add("CdtDbtInd", limit.side.value)
    for code in request.balance_types:
        r.add("ReqdBalTp/CdOrPrtry/Cd", code)


def write(request: AccountReportingRequest, now: datetime) -> Writer:
    doc, msg = new_document(DEFINITION, ROOT)
    write_group_header(msg, request, now)
    for r in request.requests:
        _write_request(msg, r)
    return doc
