"""MT940 / MT950 <-> payment.account_statement (camt.053), per the CBPR+ statement field map.

20 -> Stmt/Id (and MsgId), 25 -> Acct, 28C -> ElctrncSeqNb, 60F/62F/64/65 -> OPBD/CLBD/CLAV/FWAV, each 61 -> Ntry
(owner reference -> EndToEndId, servicer reference -> AcctSvcrRef) and a UUIDv4 in its 86 -> UETR. What the
canonical statement cannot hold (page numbers, transaction type codes, free text) is warned about, never invented.
"""

from __future__ import annotations

from canonical.errors import RejectedInput, Violation
from canonical.payments import Account, AccountStatement, Balance, iban_is_valid
from canonical.swift_mt.entry_lines import UNSPECIFIED_TYPE, balance_of, entry_of, line_of, mt_balance_of, mt_entries
from canonical.swift_mt.fields import PartyField
from canonical.swift_mt.statements import Mt940, Mt950
from canonical.swift_mt.to_mt import ISO_MESSAGE, mt_header, not_carried, x_text
from canonical.swift_mt.values import Balance as MtBalance
from canonical.swift_mt.values import StatementLine, StatementNumber

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
    return balance_of(mt)


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
        not_carried((("21", mt.related_reference), ("86 (statement)", mt.information)), ISO_MESSAGE, warnings)
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
        # Every 61 transaction type is warned about, NMSC too: the canonical entry keeps none.
        entries=[
            entry_of(line, info, currency, n, warnings, quiet_type=None) for n, (line, info) in enumerate(pairs, 1)
        ],
    )
    return statement, warnings


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
    lines = [line_of(e, currency, n, warnings, where="Ntry") for n, e in enumerate(statement.entries, 1)]
    if lines:
        warnings.append(f"61: transaction type {UNSPECIFIED_TYPE} (miscellaneous): the canonical entry has none")
    common = dict(
        header=mt_header(message_type, sender, receiver, None),
        sender_reference=x_text(statement.report_id, "Stmt/Id", 16, warnings),
        account=PartyField(lines=[statement.account.identifier]),
        statement_number=StatementNumber(statement=str(statement.sequence_number)),
        opening_balance=mt_balance_of(opening, "60F"),
        closing_balance=mt_balance_of(closing, "62F"),
        closing_available_balance=None if available is None else mt_balance_of(available, "64"),
        forward_available_balances=[mt_balance_of(b, "65") for b in forward],
    )
    if message_type == "950":
        if any(e.uetr for e in statement.entries):
            warnings.append("UETR: MT950 has no 86 to carry it")
        return Mt950.model_validate({**common, "lines": lines}), warnings
    return Mt940.model_validate({**common, "entries": mt_entries(lines, statement.entries)}), warnings
