"""MT941 / MT942 <-> payment.account_report (camt.052), per the CBPR+ report field map.

20 -> Rpt/Id (and MsgId), 21 -> GrpHdr/OrgnlBizQry/MsgId, 25 -> Acct, 28 / 28C -> ElctrncSeqNb, 13D ->
Rpt/CreDtTm, 60F / 62F / 64 / 65 -> OPBD / CLBD / CLAV / FWAV, 61 (+ 86) -> Ntry, 90D / 90C ->
TxsSummry/TtlDbtNtries / TtlCdtNtries, the report's 86 (lines concatenated) -> AddtlRptInf.

A report with entries, or without a booked balance, becomes an MT942, otherwise an MT941. camt.052 has no floor
limit: the mandatory 34F of an MT942 is then zero in the account currency (every entry reported), with a warning.
"""

from __future__ import annotations

from decimal import Decimal

from canonical.payments import AccountReport, Balance, EntryTotals
from canonical.swift_mt.cash_fields import (
    account_and_owner,
    account_field,
    check_amount,
    indication_of,
    joined,
    limited,
    moment_of,
)
from canonical.swift_mt.entry_lines import balance_of, entry_of, line_of, mt_balance_of, mt_entries
from canonical.swift_mt.fields import format_amount
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.statements import Mt941, Mt942
from canonical.swift_mt.to_mt import mt_header, narrative, reference
from canonical.swift_mt.values import Balance as MtBalance
from canonical.swift_mt.values import DateTimeIndication, EntrySummary, FloorLimit, StatementNumber

Report = Mt941 | Mt942
# Which camt.052 balance each MT941 balance field takes, in order of preference.
MT941_BALANCES = {"60F": ("OPBD", "PRCD"), "62F": ("CLBD", "ITBD"), "64": ("CLAV", "ITAV")}


def _balance(mt: MtBalance, currency: str) -> Balance:
    if mt.currency != currency:
        raise refuse(f"4:{mt.tag}", "balance_currency", f"{mt.currency} differs from {currency}")
    return balance_of(mt)


def _totals(summary: EntrySummary | None, currency: str) -> EntryTotals | None:
    if summary is None:
        return None
    if summary.currency != currency:
        raise refuse(f"4:90{summary.option}", "summary_currency", f"{summary.currency} differs from {currency}")
    return EntryTotals(count=int(summary.entries), total=summary.amount)


def report_to_canonical(mt: Report) -> tuple[AccountReport, list[str]]:
    """MT941 / MT942 -> payment.account_report and the warnings."""
    warnings: list[str] = []
    if mt.statement_number.page is not None:
        warnings.append(f"{'28' if isinstance(mt, Mt941) else '28C'}: page number not carried")
    account, owner = account_and_owner(mt.account, "25")
    if owner is not None:
        warnings.append(f"25P: account owner BIC {owner} not carried")
    if isinstance(mt, Mt941):
        currency = mt.closing_balance.currency
        fields = (mt.opening_balance, mt.closing_balance, mt.closing_available_balance, *mt.forward_available_balances)
        balances = [_balance(b, currency) for b in fields if b is not None]
        entries = []
    else:
        currency = mt.floor_limit.currency
        warnings.append("34F: floor limit not carried (camt.052 has none)")
        balances = []
        entries = [entry_of(e.line, e.information, currency, n, warnings) for n, e in enumerate(mt.entries, 1)]
    report = AccountReport(
        message_id=mt.sender_reference,
        report_id=mt.sender_reference,
        original_request_id=mt.related_reference,
        sequence_number=int(mt.statement_number.statement),
        reported_at=None if mt.reported_at is None else moment_of(mt.reported_at),
        account=account,
        account_currency=currency,
        account_servicer=mt.header.sender_bic,  # the sender of a report services the account
        balances=balances,
        entries=entries,
        debit_entries=_totals(mt.debits, currency),
        credit_entries=_totals(mt.credits, currency),
        additional_information=limited(joined(mt.information), 500, "86", warnings),
    )
    return report, warnings


def _summary(totals: EntryTotals | None, option: str, currency: str) -> EntrySummary | None:
    if totals is None:
        return None
    tag = "TtlDbtNtries" if option == "D" else "TtlCdtNtries"
    if totals.count > 99999:
        raise refuse(f"Rpt/TxsSummry/{tag}/NbOfNtries", "entry_count_length", "90a holds at most 5 digits")
    check_amount(totals.total, currency, f"Rpt/TxsSummry/{tag}/Sum")
    return EntrySummary(
        option=option,
        entries=str(totals.count),
        currency=currency,
        amount=totals.total,
        text=format_amount(totals.total),
    )


def _mt_balance(balance: Balance, tag: str, currency: str) -> MtBalance:
    if balance.currency != currency:
        raise refuse(f"Rpt/Bal[{balance.type}]/Amt", "balance_currency", f"account is {currency}")
    return mt_balance_of(balance, tag)


def _mt941_balances(report: AccountReport, warnings: list[str]) -> dict[str, object]:
    currency = report.account_currency
    chosen = {tag: report.balance(*types) for tag, types in MT941_BALANCES.items()}
    closing = chosen["62F"]
    assert closing is not None  # report_to_mt only picks MT941 with a booked balance
    for tag, balance in chosen.items():
        if balance is not None and balance.type != MT941_BALANCES[tag][0]:
            warnings.append(f"Bal {balance.type}: carried as {tag}, which translates back as {MT941_BALANCES[tag][0]}")
    used = {id(b) for b in chosen.values() if b is not None}
    forward = [b for b in report.balances if b.type == "FWAV"]
    for b in report.balances:
        if id(b) not in used and b.type != "FWAV":
            warnings.append(f"Bal {b.type}: not carried in MT941")
    opening, available = chosen["60F"], chosen["64"]
    return dict(
        opening_balance=None if opening is None else _mt_balance(opening, "60F", currency),
        closing_balance=_mt_balance(closing, "62F", currency),
        closing_available_balance=None if available is None else _mt_balance(available, "64", currency),
        forward_available_balances=[_mt_balance(b, "65", currency) for b in forward],
    )


def _report_time(report: AccountReport, warnings: list[str]) -> DateTimeIndication:
    """13D of an MT942 (mandatory): Rpt/CreDtTm, else GrpHdr/CreDtTm."""
    moment = report.reported_at
    if moment is None and report.created_at is not None:
        warnings.append("13D: taken from GrpHdr/CreDtTm (no Rpt/CreDtTm)")
        moment = report.created_at
    indication = None if moment is None else indication_of(moment, "Rpt/CreDtTm", warnings)
    if indication is None:
        raise refuse("Rpt/CreDtTm", "date_time_required", "13D needs the report time with its UTC offset")
    return indication


def report_to_mt(
    report: AccountReport, sender: str, receiver: str, message_type: str | None = None
) -> tuple[Report, list[str]]:
    """payment.account_report -> MT942 (entries, or no booked balance) or MT941, and the warnings.

    `message_type` "941" or "942" asks for that form: an MT941 needs a booked balance (CLBD or ITBD) and leaves
    the entries out, with a warning."""
    warnings: list[str] = []
    if report.sequence_number is None or report.sequence_number > 99999:
        detail = "28 / 28C need a report number of 1 to 5 digits"
        raise refuse("Rpt/ElctrncSeqNb", "statement_number_required", detail)
    if report.account_owner:
        warnings.append("Acct/Ownr: not carried in MT")
    currency = report.account_currency
    booked = report.balance("CLBD", "ITBD") is not None
    balance_report = booked and (message_type == "941" or (message_type is None and not report.entries))
    if message_type == "941" and not booked:
        raise refuse("Rpt/Bal", "booked_balance_required", "62F of an MT941 needs a CLBD or ITBD balance")
    if balance_report and report.entries:
        warnings.append(f"Rpt/Ntry: {len(report.entries)} entries not carried in MT941")
    common = dict(
        sender_reference=reference(report.report_id, "Rpt/Id", warnings),
        related_reference=None
        if report.original_request_id is None
        else reference(report.original_request_id, "OrgnlBizQry/MsgId", warnings),
        account=account_field(report.account, None),
        statement_number=StatementNumber(statement=str(report.sequence_number)),
        debits=_summary(report.debit_entries, "D", currency),
        credits=_summary(report.credit_entries, "C", currency),
        information=narrative(report.additional_information, 65, 6, "AddtlRptInf", warnings),
    )
    if balance_report:
        when = None if report.reported_at is None else indication_of(report.reported_at, "Rpt/CreDtTm", warnings)
        header = mt_header("941", sender, receiver, None)
        values = {**common, **_mt941_balances(report, warnings), "header": header, "reported_at": when}
        return Mt941.model_validate(values), warnings
    for b in report.balances:
        warnings.append(f"Bal {b.type}: MT942 has no balances")
    warnings.append(f"34F: camt.052 has no floor limit; {currency}0, (every entry reported) used")
    lines = [line_of(e, currency, n, warnings) for n, e in enumerate(report.entries, 1)]
    entries = mt_entries(lines, report.entries)
    mt = Mt942.model_validate(
        {
            **common,
            "header": mt_header("942", sender, receiver, None),
            "floor_limit": FloorLimit(currency=currency, amount=Decimal(0), text="0,"),
            "reported_at": _report_time(report, warnings),
            "entries": entries,
        }
    )
    return mt, warnings
