"""MT940 / MT950 <-> payment.account_statement (camt.053), per the CBPR+ statement field map.

20 -> Stmt/Id (and MsgId), 25 -> Acct, 28C -> ElctrncSeqNb, 60F/62F/64/65 -> OPBD/CLBD/CLAV/FWAV, each 61 -> Ntry
(owner reference -> EndToEndId, servicer reference -> AcctSvcrRef) and a UUIDv4 in its 86 -> UETR. What the
canonical statement cannot hold (page numbers, transaction type codes, free text) is warned about, never invented.
"""

from __future__ import annotations

import re
from datetime import date

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import Account, AccountStatement, Balance, CreditDebit, StatementEntry, iban_is_valid
from canonical.swift_mt.fields import PartyField, format_amount
from canonical.swift_mt.statements import Mt940, Mt950
from canonical.swift_mt.statements import StatementEntry as MtEntry
from canonical.swift_mt.to_mt import mt_header, x_text
from canonical.swift_mt.values import Balance as MtBalance
from canonical.swift_mt.values import StatementLine, StatementNumber

NO_REFERENCE = "NONREF"  # 61 subfield 7 when the account owner gave no reference
UNSPECIFIED_TYPE = "NMSC"  # 61 subfield 6 "miscellaneous": the canonical entry has no SWIFT transaction type
UETR_IN_TEXT = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
BALANCE_TYPES = {"60F": "OPBD", "62F": "CLBD", "64": "CLAV", "65": "FWAV"}
# 61 marks: C / D booked, EC / ED expected (pending); RC / RD reversals keep only their effect on the balance.
MARKS = {"C": ("CRDT", "BOOK"), "D": ("DBIT", "BOOK"), "EC": ("CRDT", "PDNG"), "ED": ("DBIT", "PDNG")}
MARKS_BACK = {v: k for k, v in MARKS.items()}
REVERSALS = {"RC": "DBIT", "RD": "CRDT"}

Statement = Mt940 | Mt950


def account_of(field: PartyField, tag: str, warnings: list[str]) -> Account:
    """25 / 25P: the account identification (an IBAN when it is one); the 25P BIC is warned about."""
    text = field.identifier if field.option == "P" else (field.lines[0] if field.lines else field.identifier)
    if field.option == "P":
        warnings.append(f"{tag}P: account owner BIC {field.bic} not carried")
    if not text or len(text) > 34:
        raise RejectedInput("account not translatable", [Violation(f"4:{tag}", "account_length", "1 to 34 characters")])
    return Account(iban=text) if iban_is_valid(text) else Account(other=text)


def _balance(mt: MtBalance) -> Balance:
    if mt.option == "M":
        # An intermediate page: canonical statements have no pagination (StmtPgntn) nor ITBD page balances.
        loc = f"4:{mt.tag}"
        raise RejectedInput("page not translatable", [Violation(loc, "intermediate_balance_not_carried", "use F")])
    return Balance(
        type=BALANCE_TYPES[mt.tag],
        currency=mt.currency,
        amount=mt.amount,
        credit_debit=CreditDebit.CRDT if mt.mark == "C" else CreditDebit.DBIT,
        as_of=mt.value_date,
    )


def _booking_date(line: StatementLine) -> date | None:
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


def _entry(line: StatementLine, information: list[str], currency: str, n: int, warnings: list[str]) -> StatementEntry:
    where = f"61 (entry {n})"
    if line.mark in REVERSALS:
        warnings.append(f"{where}: reversal mark {line.mark} carried as {REVERSALS[line.mark]} without RvslInd")
        side, status = REVERSALS[line.mark], "BOOK"
    else:
        side, status = MARKS[line.mark]
    for what, present in (
        ("funds code", line.funds_code),
        (f"transaction type {line.transaction_type}", line.transaction_type),
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
        booking_date=_booking_date(line),
        value_date=line.value_date,
        account_servicer_reference=line.servicer_reference,
        end_to_end_id=None if line.owner_reference == NO_REFERENCE else line.owner_reference,
        uetr=uetr[0] if uetr else None,
    )


def statement_to_canonical(mt: Statement) -> tuple[AccountStatement, list[str]]:
    """MT940 / MT950 -> payment.account_statement and the warnings; RejectedInput for intermediate pages."""
    warnings: list[str] = []
    if mt.statement_number.page is not None:
        warnings.append("28C: page number not carried")
    currency = mt.opening_balance.currency
    balances = [_balance(mt.opening_balance), _balance(mt.closing_balance)]
    balances += [_balance(b) for b in (mt.closing_available_balance, *mt.forward_available_balances) if b is not None]
    pairs: list[tuple[StatementLine, list[str]]]
    if isinstance(mt, Mt940):
        pairs = [(e.line, e.information) for e in mt.entries]
        for tag, present in (("21", mt.related_reference), ("86 (statement)", mt.information)):
            if present:
                warnings.append(f"{tag}: not carried in the ISO 20022 message")
    else:
        pairs = [(line, []) for line in mt.lines]
    if not mt.statement_number.statement.isdigit():
        raise RejectedInput("statement number", [Violation("4:28C", "statement_number_format", "5n expected")])
    statement = AccountStatement(
        message_id=mt.sender_reference,
        report_id=mt.sender_reference,
        sequence_number=int(mt.statement_number.statement),
        account=account_of(mt.account, "25", warnings),
        account_currency=currency,
        account_servicer=mt.header.sender_bic,  # the sender of a statement services the account
        balances=balances,
        entries=[_entry(line, info, currency, n, warnings) for n, (line, info) in enumerate(pairs, 1)],
    )
    return statement, warnings


def _mt_balance(balance: Balance, tag: str) -> MtBalance:
    mark = "C" if balance.credit_debit is CreditDebit.CRDT else "D"
    text = format_amount(balance.amount)
    return MtBalance(
        tag=tag, mark=mark, value_date=balance.as_of, currency=balance.currency, amount=balance.amount, text=text
    )


def _line(entry: StatementEntry, currency: str, n: int, warnings: list[str]) -> StatementLine:
    loc = f"Ntry[{n}]"
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


def canonical_to_statement(
    statement: AccountStatement, sender: str, receiver: str, message_type: str = "940"
) -> tuple[Statement, list[str]]:
    """payment.account_statement -> MT940 (or MT950) and the warnings.

    The UETR of an entry goes to its 86 as `/UETR/<uetr>` (MT940 only: MT950 has no 86)."""
    warnings: list[str] = []
    if statement.sequence_number is None or statement.sequence_number > 99999:
        detail = "28C needs a statement number of 1 to 5 digits"
        raise RejectedInput("no statement number", [Violation("ElctrncSeqNb", "statement_number_required", detail)])
    opening = statement.balance("OPBD", "PRCD")
    closing = statement.balance("CLBD")
    assert opening is not None and closing is not None  # the model guarantees both
    available = statement.balance("CLAV")
    known = {id(b) for b in (opening, closing, available)}
    forward = [b for b in statement.balances if b.type == "FWAV"]
    for b in statement.balances:
        if id(b) not in known and b.type != "FWAV":
            warnings.append(f"Bal {b.type}: not carried in MT")
    if statement.account_owner:
        warnings.append("Acct/Ownr: not carried in MT")
    if statement.period_from or statement.period_to:
        warnings.append("FrToDt: not carried in MT")
    currency = statement.account_currency
    lines = [_line(e, currency, n, warnings) for n, e in enumerate(statement.entries, 1)]
    if lines:
        warnings.append(f"61: transaction type {UNSPECIFIED_TYPE} (miscellaneous): the canonical entry has none")
    common = dict(
        header=mt_header(message_type, sender, receiver, None),
        sender_reference=x_text(statement.report_id, "Stmt/Id", 16, warnings),
        account=PartyField(lines=[statement.account.identifier]),
        statement_number=StatementNumber(statement=str(statement.sequence_number)),
        opening_balance=_mt_balance(opening, "60F"),
        closing_balance=_mt_balance(closing, "62F"),
        closing_available_balance=None if available is None else _mt_balance(available, "64"),
        forward_available_balances=[_mt_balance(b, "65") for b in forward],
    )
    if message_type == "950":
        if any(e.uetr for e in statement.entries):
            warnings.append("UETR: MT950 has no 86 to carry it")
        return Mt950.model_validate({**common, "lines": lines}), warnings
    entries = [
        MtEntry(line=line, information=[f"/UETR/{e.uetr}"] if e.uetr else [])
        for line, e in zip(lines, statement.entries, strict=True)
    ]
    return Mt940.model_validate({**common, "entries": entries}), warnings
