"""MT920 <-> payment.account_reporting_request (camt.060), per the CBPR+ reporting request field map.

20 -> GrpHdr/MsgId; each 12 / 25 / 34F request -> RptgReq: 12 940 or 950 -> ReqdMsgNmId camt.053.001.08, 941 and
942 -> camt.052.001.08, 25 -> Acct, and the sender (the account owner asking) -> AcctOwnr/Agt.

An MT942 request is one for booked (BOOK) transactions with floor limits. As ReqdTxTp names one side, it becomes
two RptgReq, one for debit (DBIT) and one for credit (CRDT) entries: one 34F (both sides) gives the limit to each
with side BOTH, two 34F give the D limit to the debits (DEBT) and the C limit to the credits (CRED). The
translation back joins such a pair into one MT942 request; a camt.052 request without ReqdTxTp is an MT941.
"""

from __future__ import annotations

from canonical.cash import (
    AccountReportingRequest,
    FloorLimit,
    FloorLimitSide,
    ReportingRequest,
    RequestedTransactions,
)
from canonical.payments import Agent, CreditDebit
from canonical.swift_mt.cash_fields import account_of
from canonical.swift_mt.fields import format_amount
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.statements import Mt920, StatementRequest
from canonical.swift_mt.to_mt import mt_header, not_carried, reference
from canonical.swift_mt.values import FloorLimit as MtFloorLimit

STATEMENT = "camt.053.001.08"
REPORT = "camt.052.001.08"
REQUESTED = {"940": STATEMENT, "950": STATEMENT, "941": REPORT, "942": REPORT}
BOOKED = "BOOK"  # an MT942 reports booked entries


def _limit(limit: MtFloorLimit, side: FloorLimitSide) -> FloorLimit:
    return FloorLimit(currency=limit.currency, amount=limit.amount, side=side)


def _transactions(r: StatementRequest) -> list[RequestedTransactions | None]:
    """One ReqdTxTp per RptgReq the MT request becomes: none for 940 / 941 / 950, a DBIT and a CRDT one for 942."""
    if r.floor_limit is None:
        return [None]
    if r.credit_floor_limit is None:
        debit = credit = _limit(r.floor_limit, FloorLimitSide.BOTH)
    else:
        debit, credit = _limit(r.floor_limit, FloorLimitSide.DEBT), _limit(r.credit_floor_limit, FloorLimitSide.CRED)
    return [
        RequestedTransactions(status=BOOKED, credit_debit=CreditDebit.DBIT, floor_limits=[debit]),
        RequestedTransactions(status=BOOKED, credit_debit=CreditDebit.CRDT, floor_limits=[credit]),
    ]


def mt920_to_request(mt: Mt920) -> tuple[AccountReportingRequest, list[str]]:
    """MT920 -> payment.account_reporting_request and the warnings."""
    warnings: list[str] = []
    owner = Agent(bic=mt.header.sender_bic)  # the account owner asks for its own reports
    requests: list[ReportingRequest] = []
    for n, r in enumerate(mt.requests, 1):
        if r.message_requested == "950":
            warnings.append(f"12 (request {n}): MT950 requested as camt.053, which translates back as MT940")
        if r.floor_limit is not None and r.message_requested != "942":
            warnings.append(f"34F (request {n}): a floor limit for MT{r.message_requested} is not carried")
        account = account_of(r.account, "4:25")
        wanted = _transactions(r) if r.message_requested == "942" else [None]
        requests += [
            ReportingRequest(
                requested_message=REQUESTED[r.message_requested],
                account=account,
                account_owner_agent=owner,
                transactions=t,
            )
            for t in wanted
        ]
    return AccountReportingRequest(message_id=mt.sender_reference, requests=requests), warnings


def _mt_limit(limit: FloorLimit, mark: str | None) -> MtFloorLimit:
    return MtFloorLimit(currency=limit.currency, amount=limit.amount, text=format_amount(limit.amount), mark=mark)


def _side_limit(r: ReportingRequest, side: CreditDebit) -> FloorLimit | None:
    """The floor limit of `r` for entries on `side` (a DEBT limit does not apply to credits, and so on)."""
    t = r.transactions
    if t is None or t.credit_debit is not side:
        return None
    other = FloorLimitSide.CRED if side is CreditDebit.DBIT else FloorLimitSide.DEBT
    return next((limit for limit in t.floor_limits if limit.side is not other), None)


def _floor_limits(group: list[ReportingRequest], loc: str, warnings: list[str]) -> list[MtFloorLimit]:
    """34F of an MT942 request: one (both sides) or D then C (rule C2)."""
    debit = next((lim for r in group if (lim := _side_limit(r, CreditDebit.DBIT))), None)
    credit = next((lim for r in group if (lim := _side_limit(r, CreditDebit.CRDT))), None)
    if debit is None and credit is None:
        raise refuse(f"{loc}/ReqdTxTp/FlrLmt", "floor_limit_required", "MT920 rule C1: 34F is mandatory for MT942")
    if debit is None or credit is None:
        only = debit or credit
        assert only is not None
        warnings.append(f"{loc}/ReqdTxTp: one side only; MT920 requests debits and credits")
        return [_mt_limit(only, None)]
    same = (debit.currency, debit.amount) == (credit.currency, credit.amount)
    if same and debit.side is FloorLimitSide.BOTH and credit.side is FloorLimitSide.BOTH:
        return [_mt_limit(debit, None)]
    return [_mt_limit(debit, "D"), _mt_limit(credit, "C")]


def _groups(requests: list[ReportingRequest]) -> list[list[ReportingRequest]]:
    """Requests in order, a DBIT / CRDT pair for the same camt.052 report of one account joined."""
    out: list[list[ReportingRequest]] = []
    for r in requests:
        last = out[-1] if out else None
        if last is not None and len(last) == 1 and _pair(last[0], r):
            last.append(r)
        else:
            out.append([r])
    return out


def _pair(first: ReportingRequest, second: ReportingRequest) -> bool:
    a, b = first.transactions, second.transactions
    return (
        a is not None
        and b is not None
        and first.requested_message == second.requested_message == REPORT
        and first.account == second.account
        and {a.credit_debit, b.credit_debit} == {CreditDebit.DBIT, CreditDebit.CRDT}
    )


def _mt_request(group: list[ReportingRequest], n: int, sender: str, warnings: list[str]) -> StatementRequest:
    first = group[0]
    loc = f"RptgReq[{n}]"
    name = first.requested_message
    if name.startswith("camt.053."):
        message = "940"
    elif name.startswith("camt.052."):
        message = "942" if first.transactions is not None else "941"
    else:
        raise refuse(f"{loc}/ReqdMsgNmId", "requested_message_not_in_mt", f"MT920 requests MT940 to 950, not {name}")
    if first.account is None:
        raise refuse(f"{loc}/Acct", "account_required", "25 is mandatory in MT920")
    for r in group:
        _dropped(r, loc, sender, message, warnings)
    limits = _floor_limits(group, loc, warnings) if message == "942" else []
    return StatementRequest(
        message_requested=message,
        account=first.account.identifier,
        floor_limit=limits[0] if limits else None,
        credit_floor_limit=limits[1] if len(limits) > 1 else None,
    )


def _dropped(r: ReportingRequest, loc: str, sender: str, message: str, warnings: list[str]) -> None:
    owner = r.account_owner_agent
    dropped = (
        ("Id", r.request_id),
        ("AcctOwnr", r.account_owner_party is not None or (owner is not None and owner.bic != sender)),
        ("AcctSvcr", r.account_servicer),
        ("ReqdBalTp", r.balance_types),
        ("ReqdTxTp", r.transactions is not None and message != "942"),
        ("ReqdTxTp/Sts", r.transactions is not None and r.transactions.status != BOOKED),
    )
    not_carried(dropped, "MT", warnings, prefix=f"{loc}/")


def request_to_mt920(request: AccountReportingRequest, sender: str, receiver: str) -> tuple[Mt920, list[str]]:
    """payment.account_reporting_request -> MT920 and the warnings; RejectedInput naming the RptgReq element
    for a report MT920 cannot request, a missing account, or an MT942 request without floor limit."""
    warnings: list[str] = []
    groups = _groups(request.requests)
    position = 1
    requests = []
    for group in groups:
        requests.append(_mt_request(group, position, sender, warnings))
        position += len(group)
    mt = Mt920(
        header=mt_header("920", sender, receiver, None),
        sender_reference=reference(request.message_id, "GrpHdr/MsgId", warnings),
        requests=requests,
    )
    return mt, warnings
