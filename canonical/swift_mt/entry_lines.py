"""What the MT940 / MT950 statement and MT941 / MT942 report maps share: 61 statement lines (and the 86 after
each) <-> canonical statement entries, and balance fields (60F, 62F, 64, 65) <-> canonical balances.

A 61 carries value date, entry date, mark, amount, the owner's and the servicer's references: C / D are booked
entries, EC / ED pending ones, RC / RD reversals (carried by their effect on the balance, with a warning). A
UUIDv4 in the entry's 86 is its UETR; what else 61 and 86 hold is warned about, never invented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import Balance, CreditDebit, StatementEntry
from canonical.swift_mt.fields import format_amount
from canonical.swift_mt.statements import StatementEntry as MtEntry
from canonical.swift_mt.to_mt import NOT_PROVIDED, not_carried, x_text
from canonical.swift_mt.values import Balance as MtBalance
from canonical.swift_mt.values import StatementLine

NO_REFERENCE = "NONREF"  # 61 subfield 7 when the account owner gave no reference
UNSPECIFIED_TYPE = "NMSC"  # 61 subfield 6 "miscellaneous": the canonical entry has no SWIFT transaction type
UETR_IN_TEXT = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
BALANCE_TYPES = {"60F": "OPBD", "62F": "CLBD", "64": "CLAV", "65": "FWAV"}
# 61 marks: C / D booked, EC / ED expected (pending); RC / RD reversals keep only their effect on the balance.
MARKS = {"C": ("CRDT", "BOOK"), "D": ("DBIT", "BOOK"), "EC": ("CRDT", "PDNG"), "ED": ("DBIT", "PDNG")}
MARKS_BACK = {v: k for k, v in MARKS.items()}
REVERSALS = {"RC": "DBIT", "RD": "CRDT"}


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


def entry_of(
    line: StatementLine,
    information: list[str],
    currency: str,
    n: int,
    warnings: list[str],
    *,
    quiet_type: str | None = UNSPECIFIED_TYPE,
) -> StatementEntry:
    """Entry `n` (from 1) of a statement or report, from its 61 and 86; a transaction type other than
    `quiet_type` is warned about (None: every type is)."""
    where = f"61 (entry {n})"
    if line.mark in REVERSALS:
        warnings.append(f"{where}: reversal mark {line.mark} carried as {REVERSALS[line.mark]} without RvslInd")
        side, status = REVERSALS[line.mark], "BOOK"
    else:
        side, status = MARKS[line.mark]
    for what, present in (
        ("funds code", line.funds_code),
        (f"transaction type {line.transaction_type}", line.transaction_type != quiet_type),
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


def line_of(
    entry: StatementEntry, currency: str, n: int, warnings: list[str], where: str = "Rpt/Ntry"
) -> StatementLine:
    """The 61 of entry `n` (from 1) at `where` (Rpt/Ntry, Ntry); transaction type NMSC, as the canonical entry has
    no SWIFT type."""
    loc = f"{where}[{n}]"
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
    dropped = (
        ("NtryRef", entry.entry_reference),
        ("BkTxCd", entry.bank_transaction_code),
        ("InstrId", entry.instruction_id),
        ("TxId", entry.transaction_id),
    )
    not_carried(dropped, "MT", warnings, prefix=f"{loc}/")
    owner = entry.end_to_end_id if entry.end_to_end_id not in (None, NOT_PROVIDED) else NO_REFERENCE
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


def mt_entries(lines: list[StatementLine], entries: Sequence[StatementEntry]) -> list[MtEntry]:
    """Each 61 with its 86: `/UETR/<uetr>` when the entry has a UETR, else none."""
    return [
        MtEntry(line=line, information=[f"/UETR/{e.uetr}"] if e.uetr else [])
        for line, e in zip(lines, entries, strict=True)
    ]


def balance_of(mt: MtBalance) -> Balance:
    """A 60F, 62F, 64 or 65 as the canonical balance of its type (OPBD, CLBD, CLAV, FWAV)."""
    return Balance(
        type=BALANCE_TYPES[mt.tag],
        currency=mt.currency,
        amount=mt.amount,
        credit_debit=CreditDebit.CRDT if mt.mark == "C" else CreditDebit.DBIT,
        as_of=mt.value_date,
    )


def mt_balance_of(balance: Balance, tag: str) -> MtBalance:
    """A canonical balance as field `tag` (60F, 62F, 64, 65)."""
    mark = "C" if balance.credit_debit is CreditDebit.CRDT else "D"
    text = format_amount(balance.amount)
    return MtBalance(
        tag=tag, mark=mark, value_date=balance.as_of, currency=balance.currency, amount=balance.amount, text=text
    )
