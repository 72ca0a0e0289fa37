"""MT fields <-> canonical building blocks for the cash management translations.

Accounts (25, 25P), parties (50a, 59a), institutions (52a, 56a, 57a), amounts (32a), date-time indications
(13D) and narratives (71B, 72, 75, 76, 86). Data a field cannot carry is added to `warnings`; nothing is
invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from canonical.money import Money
from canonical.payments import Account, Agent, Party, PostalAddress, iban_is_valid
from canonical.swift_mt.fields import CurrencyAmount, FieldError, PartyField, ValueDateAmount, check_decimals
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.to_mt import narrative, x_line
from canonical.swift_mt.values import DateTimeIndication

NO_REFERENCE = "NONREF"  # field 21 when there is no related reference


def money_of(amount: CurrencyAmount) -> Money:
    return Money(currency=amount.currency, amount=amount.amount)


def currency_amount(money: Money) -> CurrencyAmount:
    return CurrencyAmount.of(money.currency, money.amount)


def dated_amount(day: date, money: Money) -> ValueDateAmount:
    return ValueDateAmount.dated(day, money.currency, money.amount)


def check_repeated(
    amounts: Sequence[CurrencyAmount], limit: int, what: str, amount_tag: str, currency_rule: str
) -> None:
    """The network rules on the repeated sequences of an MT (the cheques of an MT110, the notices of an MT210):
    at most `limit` of them (rule C1), every `amount_tag` in one currency (rule `currency_rule`); RejectedInput
    naming the field otherwise."""
    if len(amounts) > limit:
        raise refuse("4:21", f"too_many_{what}s", f"rule C1: at most {limit} {what}s, got {len(amounts)}")
    currencies = {a.currency for a in amounts}
    if len(currencies) > 1:
        detail = f"rule {currency_rule}: one currency for every {amount_tag}, got {sorted(currencies)}"
        raise refuse(f"4:{amount_tag}", f"{what}_currency", detail)


def check_amount(amount: Decimal, currency: str, loc: str) -> None:
    """RejectedInput `currency_decimals` when `amount` has more decimals than `currency` allows."""
    try:
        check_decimals(format(amount.normalize(), "f").replace(".", ","), currency)
    except FieldError as exc:
        raise refuse(loc, exc.rule, exc.detail) from None


def account_of(text: str, loc: str) -> Account:
    """An account identification as MT writes it (an IBAN when it is one); 1 to 34 characters."""
    if not text or len(text) > 34:
        raise refuse(loc, "account_length", "an account identification has 1 to 34 characters")
    return Account(iban=text) if iban_is_valid(text) else Account(other=text)


def account_and_owner(field: PartyField, tag: str) -> tuple[Account, str | None]:
    """25 (account) or 25P (account and the owner's BIC)."""
    text = field.identifier if field.option == "P" else (field.lines[0] if field.lines else field.identifier)
    return account_of(text or "", f"4:{tag}{field.option}"), field.bic


def account_field(account: Account, owner: str | None) -> PartyField:
    """25P when the owner's BIC is known, else 25."""
    if owner is not None:
        return PartyField(option="P", identifier=account.identifier, bic=owner)
    return PartyField(lines=[account.identifier])


def _account(identifier: str | None) -> Account | None:
    # '/account' is an account; '//XX...' clearing codes and '/C/', '/D/' markers are not.
    if not identifier or not identifier.startswith("/") or identifier.startswith("//"):
        return None
    value = identifier[1:]
    if value[:2] in ("C/", "D/") or not value or len(value) > 34:
        return None
    return Account(iban=value) if iban_is_valid(value) else Account(other=value)


def _structured(field: PartyField, tag: str, warnings: list[str]) -> Party:
    """50F / 59F: numbered lines 1/ name, 2/ address, 3/ country and town."""
    lines = field.lines
    name = " ".join(line[2:] for line in lines if line.startswith("1/"))
    address = [line[2:] for line in lines if line.startswith("2/")]
    town_lines = [line[2:] for line in lines if line.startswith("3/")]
    if any(line[:2] not in ("1/", "2/", "3/") for line in lines):
        warnings.append(f"{tag}: structured lines other than 1/, 2/, 3/ not carried")
    country, _, town = (town_lines[0] if town_lines else "").partition("/")
    return Party(
        name=name[:140] or None,
        account=_account(field.identifier),
        address=PostalAddress(lines=address[:3], country=country or None, town=town[:35] or None),
    )


def party_of(field: PartyField | None, tag: str, warnings: list[str]) -> Party | None:
    """A party field (50a, 59a): by BIC (A, C), structured (F), or name and address (K, no letter)."""
    if field is None:
        return None
    account = _account(field.identifier)
    if field.identifier and account is None:
        warnings.append(f"{tag}: party identifier {field.identifier!r} not carried")
    if field.option in ("A", "C"):
        return Party(bic=field.bic, account=account)
    if field.option == "F":
        return _structured(field, tag, warnings)
    name, *address = field.lines
    if len(address) > 3:
        warnings.append(f"{tag}: address lines after the third not carried")
    return Party(name=name, account=account, address=PostalAddress(lines=address[:3]) if address else None)


def agent_of(field: PartyField | None, tag: str, warnings: list[str], *, address_lines: int | None = 3) -> Agent | None:
    """An institution field (52a, 56a, 57a): by BIC (A) or name and address (D); B is a location only.

    Of a D, the first `address_lines` address lines are kept (None: all of them, which the model then checks)."""
    if field is None:
        return None
    if field.identifier:
        warnings.append(f"{tag}: party identifier {field.identifier!r} not carried")
    if field.option == "A":
        return Agent(bic=field.bic)
    if field.option == "D" and field.lines:
        name, *address = field.lines
        return Agent(name=name, address=PostalAddress(lines=address[:address_lines]) if address else None)
    warnings.append(f"{tag}: option {field.option or 'none'} cannot be carried")
    return None


def _address_lines(address: PostalAddress | None, tag: str, warnings: list[str]) -> list[str]:
    if address is None:
        return []
    lines = [x_line(line, f"{tag} address", 35, warnings) for line in address.lines]
    structured = [address.street, address.building_number, address.post_code, address.town, address.country]
    if any(structured):
        text = " ".join(p for p in structured if p)
        if lines:
            warnings.append(f"{tag}: structured address not carried next to address lines")
        else:
            warnings.append(f"{tag}: structured address carried as address lines")
            lines = narrative(text, 35, 3, f"{tag} address", warnings)
    return lines


def party_field(
    party: Party, tag: str, warnings: list[str], *, bic_option: str = "A", name_option: str = "K"
) -> PartyField:
    """A party as option `bic_option` (BIC only; its account too unless the option is C), or as name and
    address in option `name_option` with the account line."""
    identifier = None if party.account is None else "/" + party.account.identifier
    if party.bic and not party.name:
        if bic_option == "C":
            if identifier:
                warnings.append(f"{tag}C: the party's account not carried")
            return PartyField(option="C", bic=party.bic)
        return PartyField(option=bic_option, identifier=identifier, bic=party.bic)
    if party.bic:
        warnings.append(f"{tag}: BIC {party.bic} not carried next to the name")
    lines = [x_line(party.name or "", f"{tag} name", 35, warnings), *_address_lines(party.address, tag, warnings)]
    if len(lines) > 4:
        warnings.append(f"{tag}: only 4 name and address lines fit")
    return PartyField(option=name_option, identifier=identifier, lines=lines[:4])


def agent_field(agent: Agent | None, tag: str, warnings: list[str]) -> PartyField | None:
    """An institution as option A (BIC) or D (name and address)."""
    if agent is None:
        return None
    if agent.bic:
        if agent.name:
            warnings.append(f"{tag}A: name not carried next to the BIC")
        return PartyField(option="A", bic=agent.bic)
    lines = [x_line(agent.name or "", f"{tag} name", 35, warnings), *_address_lines(agent.address, tag, warnings)]
    if len(lines) > 4:
        warnings.append(f"{tag}D: only 4 name and address lines fit")
    return PartyField(option="D", lines=lines[:4])


def moment_of(indication: DateTimeIndication) -> datetime:
    """13D as an aware datetime (its local time with its UTC offset)."""
    sign = -1 if indication.utc_offset.startswith("-") else 1
    offset = timedelta(hours=int(indication.utc_offset[1:3]), minutes=int(indication.utc_offset[3:5]))
    clock = time(int(indication.time[:2]), int(indication.time[2:]), tzinfo=timezone(sign * offset))
    return datetime.combine(indication.day, clock)


def indication_of(moment: datetime, what: str, warnings: list[str]) -> DateTimeIndication | None:
    """13D of an aware datetime; None (with a warning) when it has no UTC offset, which 13D needs."""
    offset = moment.utcoffset()
    if offset is None:
        warnings.append(f"{what}: no UTC offset, 13D not carried")
        return None
    if moment.second or moment.microsecond:
        warnings.append(f"{what}: seconds not carried in 13D")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return DateTimeIndication(
        day=moment.date(), time=moment.strftime("%H%M"), utc_offset=f"{sign}{hours:02d}{rest:02d}"
    )


def joined(lines: list[str]) -> str | None:
    """A multi-line narrative as one text, its lines concatenated as CBPR+ translation does (None if empty)."""
    return "".join(lines) or None


def limited(text: str | None, width: int, what: str, warnings: list[str]) -> str | None:
    """MT narrative carried into an ISO element of at most `width` characters (with a warning when cut)."""
    if text is None:
        return None
    if len(text) > width:
        warnings.append(f"{what}: truncated to {width} characters")
    return text[:width]


def related(value: str) -> str | None:
    """Field 21 as a reference: NONREF means there is none."""
    return None if value == NO_REFERENCE else value
