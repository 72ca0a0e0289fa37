"""61 statement lines (and the 86 after each) <-> canonical statement entries, for the MT942 report map.

A 61 carries value date, entry date, mark, amount, the owner's and the servicer's references: C / D are booked
entries, EC / ED pending ones, RC / RD reversals (carried by their effect on the balance, with a warning). A
UUIDv4 in the entry's 86 is its UETR; what else 61 and 86 hold is warned about, never invented.
"""

from __future__ import annotations

from datetime import date

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import CreditDebit, StatementEntry
from canonical.swift_mt.fields import format_amount
from canonical.swift_mt.statement_map import MARKS, NO_REFERENCE, REVERSALS, UETR_IN_TEXT, UNSPECIFIED_TYPE
from canonical.swift_mt.to_mt import x_text
from canonical.swift_mt.values import StatementLine

MARKS_BACK = {v: k for k, v in MARKS.items()}


def booking_date(line: StatementLine) -> date | None:
    """61 entry date (MMDD): the year is the value date's, or the adjacent one across a year end."""
    if line.entry_date is None:
        return None
    month, day = int(line.entry_date[:2]), int(line.entry_date[2:])
    year = line.value_date.year
    if month - line.value_date.month > 6:
        year -= 1
    elif line.value_date.month - month > 6:
        year += 1
    try:
        return date(year, month, day)
    except ValueError:
        raise RejectedInput("entry date", [Violation("4:61", "date_format", line.entry_date)]) from None


def entry_of(line: StatementLine, information: list[str], currency: str, n: int, warnings: list[str]) -> StatementEntry:
    """Entry `n` (from 1) of a report, from its 61 and 86."""
    where = f"61 (entry {n})"
    if line.mark in REVERSALS:
        warnings.append(f"{where}: reversal mark {line.mark} carried as {REVERSALS[line.mark]} without RvslInd")
        side, status = REVERSALS[line.mark], "BOOK"
    else:
        side, status = MARKS[line.mark]
    for what, present in (
        ("funds code", line.funds_code),
        (f"transaction type {line.transaction_type}", line.transaction_type != UNSPECIFIED_TYPE),
        ("supplementary details", line.supplementary_details),
    ):
        if present:
            warnings.append(f"{where}: {what} not carried")
    text = "".join(information)
    uetr = UETR_IN_TEXT.search(text)
    rest = text.replace(uetr[0], "").replace("/UETR/", "") if uetr else text
    if rest.strip("/ "):
        warnings.append(f"86 (entry {n}): information other than the UETR not carried")
    return StatementEntry(
        amount=Money(currency=currency, amount=line.amount),
        credit_debit=CreditDebit(side),
        status=status,
        booking_date=booking_date(line),
        value_date=line.value_date,
        account_servicer_reference=line.servicer_reference,
        end_to_end_id=None if line.owner_reference == NO_REFERENCE else line.owner_reference,
        uetr=uetr[0] if uetr else None,
    )


def line_of(entry: StatementEntry, currency: str, n: int, warnings: list[str]) -> StatementLine:
    """The 61 of entry `n` (from 1); transaction type NMSC, as the canonical entry has no SWIFT type."""
    loc = f"Rpt/Ntry[{n}]"
    if entry.amount.currency != currency:
        raise RejectedInput("entry currency", [Violation(f"{loc}/Amt", "entry_currency", f"account is {currency}")])
    mark = MARKS_BACK.get((entry.credit_debit.value, entry.status))
    if mark is None:
        raise RejectedInput("entry status", [Violation(f"{loc}/Sts", "entry_status_not_in_mt", entry.status)])
    value_date = entry.value_date or entry.booking_date
    if value_date is None:
        raise RejectedInput("no value date", [Violation(f"{loc}/ValDt", "value_date_required", "61 needs one")])
    if entry.value_date is None:
        warnings.append(f"{loc}: 61 value date taken from the booking date")
    for what, present in (
        ("NtryRef", entry.entry_reference),
        ("BkTxCd", entry.bank_transaction_code),
        ("InstrId", entry.instruction_id),
        ("TxId", entry.transaction_id),
    ):
        if present:
            warnings.append(f"{loc}/{what}: not carried in MT")
    owner = entry.end_to_end_id if entry.end_to_end_id not in (None, "NOTPROVIDED") else NO_REFERENCE
    servicer = entry.account_servicer_reference
    return StatementLine(
        value_date=value_date,
        entry_date=entry.booking_date.strftime("%m%d") if entry.booking_date else None,
        mark=mark,
        amount=entry.amount.amount,
        amount_text=format_amount(entry.amount.amount),
        transaction_type=UNSPECIFIED_TYPE,
        owner_reference=x_text(owner or NO_REFERENCE, f"{loc}/EndToEndId", 16, warnings),
        servicer_reference=None if servicer is None else x_text(servicer, f"{loc}/AcctSvcrRef", 16, warnings),
    )
