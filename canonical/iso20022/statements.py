"""camt.053.001.08 BkToCstmrStmt <-> payment.account_statement and camt.052.001.08 BkToCstmrAcctRpt
<-> payment.account_report: one account per message (CBPR+), its balances and its entries in order.

A report also carries the request it answers (GrpHdr/OrgnlBizQry), its creation time (Rpt/CreDtTm), the number
and sum of its debit and credit entries (TxsSummry) and additional information (AddtlRptInf)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, write_account
from canonical.iso20022.tree import Reader, Writer, amount_text, iso_datetime, new_document
from canonical.payments import (
    AccountReport,
    AccountReportFields,
    AccountStatement,
    Balance,
    EntryTotals,
    StatementEntry,
)

CAMT053 = "camt.053.001.08"
CAMT052 = "camt.052.001.08"


def read_date_choice(r: Reader, path: str) -> date | None:
    """A DateAndDateTime2Choice as a date: `Dt`, or the day of `DtTm`."""
    day = r.date(f"{path}/Dt")
    stamp = r.datetime(f"{path}/DtTm")
    return day if day is not None or stamp is None else stamp.date()


def _read_balance(b: Reader) -> Balance:
    amount = b.find("Amt")
    return Balance.model_validate(
        dict(
            type=b.text("Tp/CdOrPrtry/Cd"),
            currency=amount.el.get("Ccy") if amount is not None else None,
            amount=b.need("Amt"),
            credit_debit=b.need("CdtDbtInd"),
            as_of=read_date_choice(b, "Dt"),
        )
    )


def read_bank_transaction_code(entry: Reader) -> tuple[str, str, str] | None:
    """An entry's BkTxCd domain, family and sub-family codes (None unless all three are there)."""
    domain, family, sub = (
        entry.text("BkTxCd/Domn/Cd"),
        entry.text("BkTxCd/Domn/Fmly/Cd"),
        entry.text("BkTxCd/Domn/Fmly/SubFmlyCd"),
    )
    return (domain, family, sub) if domain and family and sub else None


def write_bank_transaction_code(entry: Writer, code: tuple[str, str, str] | None) -> None:
    """BkTxCd is mandatory in the XSD even when the bank gives no code: then it is written empty."""
    element = entry.add("BkTxCd")
    if code:
        domain, family, sub = code
        dom = element.add("Domn")
        dom.add("Cd", domain)
        fam = dom.add("Fmly")
        fam.add("Cd", family)
        fam.add("SubFmlyCd", sub)


def _read_entry(e: Reader) -> StatementEntry:
    tx = e.find("NtryDtls/TxDtls")
    return StatementEntry.model_validate(
        dict(
            entry_reference=e.text("NtryRef"),
            amount=e.money("Amt"),
            credit_debit=e.need("CdtDbtInd"),
            status=e.text("Sts/Cd"),
            booking_date=read_date_choice(e, "BookgDt"),
            value_date=read_date_choice(e, "ValDt"),
            account_servicer_reference=e.text("AcctSvcrRef"),
            bank_transaction_code=read_bank_transaction_code(e),
            instruction_id=tx.text("Refs/InstrId") if tx else None,
            end_to_end_id=tx.text("Refs/EndToEndId") if tx else None,
            uetr=tx.text("Refs/UETR") if tx else None,
            transaction_id=tx.text("Refs/TxId") if tx else None,
        )
    )


def _read(doc: Reader, root: str, report: str) -> dict[str, Any]:
    msg = doc.child(root)
    rpt = msg.child(report)
    sequence = rpt.text("ElctrncSeqNb")
    return dict(
        **read_group_header(msg),
        report_id=rpt.need("Id"),
        sequence_number=int(sequence) if sequence is not None else None,
        period_from=rpt.datetime("FrToDt/FrDtTm"),
        period_to=rpt.datetime("FrToDt/ToDtTm"),
        account=read_account(rpt.find("Acct")),
        account_currency=rpt.text("Acct/Ccy"),
        account_owner=rpt.text("Acct/Ownr/Nm"),
        account_servicer=rpt.text("Acct/Svcr/FinInstnId/BICFI"),
        balances=[_read_balance(b) for b in rpt.all("Bal")],
        entries=[_read_entry(e) for e in rpt.all("Ntry")],
    )


def _write_entry(rpt: Writer, entry: StatementEntry) -> None:
    e = rpt.add("Ntry")
    e.opt("NtryRef", entry.entry_reference)
    e.money("Amt", entry.amount)
    e.add("CdtDbtInd", entry.credit_debit.value)
    e.add("Sts/Cd", entry.status)
    e.opt("BookgDt/Dt", entry.booking_date.isoformat() if entry.booking_date else None)
    e.opt("ValDt/Dt", entry.value_date.isoformat() if entry.value_date else None)
    e.opt("AcctSvcrRef", entry.account_servicer_reference)
    write_bank_transaction_code(e, entry.bank_transaction_code)
    if entry.instruction_id or entry.end_to_end_id or entry.uetr or entry.transaction_id:
        refs = e.add("NtryDtls/TxDtls/Refs")
        refs.opt("InstrId", entry.instruction_id)
        refs.opt("EndToEndId", entry.end_to_end_id)
        refs.opt("UETR", entry.uetr)
        refs.opt("TxId", entry.transaction_id)


def _write(definition: str, root: str, report: str, r: AccountReportFields, now: datetime) -> Writer:
    doc, msg = new_document(definition, root)
    hdr = write_group_header(msg, r, now)
    extra = r if isinstance(r, AccountReport) else None
    if extra is not None and extra.original_request_id is not None:
        hdr.add("OrgnlBizQry/MsgId", extra.original_request_id)
    rpt = msg.add(report)
    rpt.add("Id", r.report_id)
    rpt.opt("ElctrncSeqNb", str(r.sequence_number) if r.sequence_number is not None else None)
    if extra is not None and extra.reported_at is not None:
        rpt.add("CreDtTm", iso_datetime(extra.reported_at))
    if r.period_from is not None and r.period_to is not None:  # DateTimePeriod1 needs both ends
        period = rpt.add("FrToDt")
        period.add("FrDtTm", iso_datetime(r.period_from))
        period.add("ToDtTm", iso_datetime(r.period_to))
    write_account(rpt, "Acct", r.account)
    acct = Writer(rpt.el[-1], rpt.ns)
    acct.add("Ccy", r.account_currency)
    acct.opt("Ownr/Nm", r.account_owner)
    acct.opt("Svcr/FinInstnId/BICFI", r.account_servicer)
    for balance in r.balances:
        b = rpt.add("Bal")
        b.add("Tp/CdOrPrtry/Cd", balance.type)
        b.add("Amt", amount_text(balance.amount), Ccy=balance.currency)
        b.add("CdtDbtInd", balance.credit_debit.value)
        b.add("Dt/Dt", balance.as_of.isoformat())
    if extra is not None and (extra.credit_entries or extra.debit_entries):
        summary = rpt.add("TxsSummry")
        _write_totals(summary, "TtlCdtNtries", extra.credit_entries)
        _write_totals(summary, "TtlDbtNtries", extra.debit_entries)
    for entry in r.entries:
        _write_entry(rpt, entry)
    if extra is not None:
        rpt.opt("AddtlRptInf", extra.additional_information)
    return doc


def _write_totals(summary: Writer, tag: str, totals: EntryTotals | None) -> None:
    if totals is not None:
        t = summary.add(tag)
        t.add("NbOfNtries", str(totals.count))
        t.add("Sum", amount_text(totals.total))


def _read_totals(rpt: Reader, tag: str) -> EntryTotals | None:
    """NbOfNtries and Sum of TxsSummry/`tag` (None unless both are given)."""
    count, total = rpt.text(f"TxsSummry/{tag}/NbOfNtries"), rpt.text(f"TxsSummry/{tag}/Sum")
    if count is None or total is None:
        return None
    return EntryTotals(count=int(count), total=Decimal(total))


def read_statement(doc: Reader) -> AccountStatement:
    return AccountStatement.model_validate(_read(doc, "BkToCstmrStmt", "Stmt"))


def write_statement(statement: AccountStatement, now: datetime) -> Writer:
    return _write(CAMT053, "BkToCstmrStmt", "Stmt", statement, now)


def read_report(doc: Reader) -> AccountReport:
    fields = _read(doc, "BkToCstmrAcctRpt", "Rpt")
    msg = doc.child("BkToCstmrAcctRpt")
    rpt = msg.child("Rpt")
    return AccountReport.model_validate(
        dict(
            **fields,
            original_request_id=msg.text("GrpHdr/OrgnlBizQry/MsgId"),
            reported_at=rpt.datetime("CreDtTm"),
            debit_entries=_read_totals(rpt, "TtlDbtNtries"),
            credit_entries=_read_totals(rpt, "TtlCdtNtries"),
            additional_information=rpt.text("AddtlRptInf"),
        )
    )


def write_report(report: AccountReport, now: datetime) -> Writer:
    return _write(CAMT052, "BkToCstmrAcctRpt", "Rpt", report, now)
