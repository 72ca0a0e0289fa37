"""What the MT <-> MX maps of initiations, direct debits, returns and statuses share: refusals naming the
field, the one-transaction rule of CBPR+, institutions with their accounts, instructing parties and rates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar, overload

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import Account, Agent, InitiatingParty, Party, PostalAddress, iban_is_valid
from canonical.swift_mt.fields import CurrencyAmount, FieldError, PartyField, format_amount, parse_decimal
from canonical.swift_mt.to_mt import customer_field, x_text

T = TypeVar("T")
_CODE = re.compile(r" (?=/[A-Z0-9]{1,8}/)")


def refuse(loc: str, rule: str, detail: str) -> RejectedInput:
    """The error of a message that cannot be translated: where (an MT tag or an MX element) and which rule."""
    return RejectedInput("not translatable", [Violation(loc, rule, detail)])


def one_transaction(transactions: Sequence[T], tag: str, mx: str) -> T:
    """The only transaction sequence of an MT; CBPR+ carries one transaction per `mx` message."""
    if len(transactions) != 1:
        detail = f"{mx} carries one transaction (CBPR+); this message has {len(transactions)}: send one per message"
        raise refuse(f"4:{tag}", "cbpr_single_transaction", detail)
    return transactions[0]


def account_of(identifier: str | None) -> Account | None:
    """A party identifier line `/account` as an Account (an IBAN when it is one); `//clearing code` is none."""
    if not identifier or not identifier.startswith("/") or identifier.startswith("//"):
        return None
    value = identifier[1:]
    if value[:2] in ("C/", "D/"):  # the debit / credit mark some options put in front of the account
        value = value[2:]
    return Account(iban=value) if iban_is_valid(value) else Account(other=value[:34])


def institution(field: PartyField | None, tag: str, warnings: list[str]) -> tuple[Agent | None, Account | None]:
    """An institution field (A: BIC, D: name and address) and the account on its identifier line.

    RejectedInput for options that name the institution by location or clearing code only (B, C)."""
    if field is None:
        return None, None
    account = account_of(field.identifier)
    if field.identifier and account is None:
        warnings.append(f"{tag}: party identifier {field.identifier!r} not carried")
    if field.option == "A":
        return Agent(bic=field.bic), account
    if field.option == "D" and field.lines:
        rest = field.lines[1:]
        return Agent(name=field.lines[0], address=PostalAddress(lines=rest) if rest else None), account
    detail = f"option {field.option or 'none'} does not identify the institution (use A or D)"
    raise refuse(f"4:{tag[:2]}{field.option}", "institution_identification", detail)


def agent_or(field: PartyField | None, tag: str, default_bic: str, warnings: list[str]) -> Agent:
    """The institution in `field`, or (when the field is absent) the one the MT implies: `default_bic`."""
    agent, account = institution(field, tag, warnings)
    if account is not None:
        warnings.append(f"{tag}: account of the institution not carried")
    return agent or Agent(bic=default_bic)


def party_field(party: Party, tag: str, where: str, warnings: list[str]) -> PartyField:
    """A customer as option A (a BIC alone) or as name and address lines, with its account line; RejectedInput
    naming the MX element `where` when the party has neither a name nor a BIC."""
    if party.name is None and party.bic is None:
        raise refuse(where, "party_identification", f"field {tag}a needs the party's name or BIC")
    return customer_field(party, tag, warnings)


def instructing_party(field: PartyField | None) -> InitiatingParty | None:
    """50C (a BIC) or 50L (a party identifier) as the initiating party."""
    if field is None:
        return None
    if field.bic is not None:
        return InitiatingParty(bic=field.bic)
    return InitiatingParty(identifier=(field.lines or [field.identifier or ""])[0])


def instructing_party_field(party: InitiatingParty | None, where: str, warnings: list[str]) -> PartyField | None:
    """An initiating party as 50C (its BIC) or 50L (its identifier); what else it has is warned about."""
    if party is None:
        return None
    if party.bic is not None:
        if party.name or party.identifier:
            warnings.append(f"{where}: only the BIC fits field 50C; name and identifier not carried")
        return PartyField(option="C", bic=party.bic)
    if party.identifier is not None:
        if party.name:
            warnings.append(f"{where}: only the identifier fits field 50L; name not carried")
        return PartyField(option="L", lines=[x_text(party.identifier, where, 35, warnings)])
    warnings.append(f"{where}: a name alone fits no MT field (50C / 50L); not carried")
    return None


@overload
def money(value: CurrencyAmount) -> Money: ...
@overload
def money(value: CurrencyAmount | None) -> Money | None: ...
def money(value: CurrencyAmount | None) -> Money | None:
    """An MT amount (32B, 33B ...) as Money."""
    return None if value is None else Money(currency=value.currency, amount=value.amount)


@overload
def amount_field(value: Money) -> CurrencyAmount: ...
@overload
def amount_field(value: Money | None) -> CurrencyAmount | None: ...
def amount_field(value: Money | None) -> CurrencyAmount | None:
    """Money as an MT `3!a15d` amount."""
    return None if value is None else CurrencyAmount.of(value.currency, value.amount)


def rate(text: str | None, tag: str = "36") -> Decimal | None:
    """36 (`12d`, decimal comma) as a Decimal; RejectedInput naming the field if it is malformed."""
    if text is None:
        return None
    try:
        return parse_decimal(text, 12)
    except FieldError as exc:
        raise refuse(f"4:{tag}", exc.rule, exc.detail) from None


def rate_text(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def joined(lines: list[str]) -> str | None:
    """Narrative lines (e.g. 72) as one text, a space where a line starting with a code begins."""
    text = " ".join(line for line in lines if line)
    return text or None


def narrative_lines(text: str | None, what: str, warnings: list[str], max_lines: int = 6) -> list[str]:
    """One text back into 35-character lines, each `/CODE/` starting a new line (the inverse of `joined`)."""
    if not text:
        return []
    lines: list[str] = []
    for part in _CODE.split(x_text(text, what, len(text), warnings)):
        lines += [part[i : i + 35] for i in range(0, len(part), 35)]
    if len(lines) > max_lines:
        warnings.append(f"{what}: only {max_lines} lines of 35 characters fit; the rest is not carried")
    return lines[:max_lines]
