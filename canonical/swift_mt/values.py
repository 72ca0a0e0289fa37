"""Typed values of the fields that statements, charges and cheque messages add (13D, 28C, 34F, 60a, 61, 90a ...).

Every type keeps the text it was parsed from where SWIFT allows several spellings of one value (amounts,
leading zeros), so that `render()` gives back the exact field text.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from canonical.swift_mt.fields import CurrencyAmount, FieldError, ValueDateAmount, parse_date6, parse_decimal

_DATE_TIME = re.compile(r"^(\d{6})(\d{4})([+-])(\d{4})$")
_STATEMENT_LINE = re.compile(
    r"^(?P<value_date>\d{6})(?P<entry_date>\d{4})?(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d[\d,]*)(?P<type>[SNF][A-Z0-9]{3})(?P<owner>.+?)(?://(?P<servicer>.*))?$"
)


def _hhmm(text: str, rule: str) -> None:
    if int(text[:2]) > 23 or int(text[2:]) > 59:
        raise FieldError(rule, f"{text!r} is not HHMM")


def _mark(text: str, allowed: tuple[str, ...] = ("D", "C")) -> str:
    if text not in allowed:
        raise FieldError("debit_credit_mark", f"{text!r} is not one of {', '.join(allowed)}")
    return text


class Total(BaseModel):
    """19 (sum of amounts, `17d`): an amount without currency."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    text: str

    @classmethod
    def parse(cls, value: str) -> Total:
        return cls(amount=parse_decimal(value, 17), text=value)

    def render(self) -> str:
        return self.text


class DateTimeIndication(BaseModel):
    """13D: `6!n4!n1!x4!n` date, local time HHMM and the offset from UTC (e.g. `+0100`)."""

    model_config = ConfigDict(frozen=True)

    day: date
    time: str
    utc_offset: str

    @classmethod
    def parse(cls, value: str) -> DateTimeIndication:
        m = _DATE_TIME.match(value)
        if m is None:
            raise FieldError("date_time_format", f"{value!r} is not YYMMDDHHMM+HHMM")
        _hhmm(m[2], "time_format")
        _hhmm(m[4], "utc_offset_format")
        return cls(day=parse_date6(m[1]), time=m[2], utc_offset=m[3] + m[4])

    def render(self) -> str:
        return self.day.strftime("%y%m%d") + self.time + self.utc_offset


class MessageReference(BaseModel):
    """11R / 11S: the MT number and date of the original message, optionally its session and ISN."""

    model_config = ConfigDict(frozen=True)

    option: str  # R (answers) or S (cancellation requests)
    message_type: str
    day: date
    session: str | None = None
    isn: str | None = None

    @classmethod
    def parse(cls, tag: str, value: str) -> MessageReference:
        lines = value.split("\n")
        if len(lines) not in (2, 3) or not re.match(r"^\d{3}$", lines[0]):
            raise FieldError("message_reference_format", "expected MT number, date and optionally session + ISN")
        session = isn = None
        if len(lines) == 3:
            if not re.match(r"^\d{10}$", lines[2]):
                raise FieldError("session_isn_format", f"{lines[2]!r} is not 4!n session + 6!n ISN")
            session, isn = lines[2][:4], lines[2][4:]
        return cls(option=tag[2:], message_type=lines[0], day=parse_date6(lines[1]), session=session, isn=isn)

    def render(self) -> str:
        tail = [f"{self.session}{self.isn}"] if self.session is not None and self.isn is not None else []
        return "\n".join([self.message_type, self.day.strftime("%y%m%d"), *tail])


class StatementNumber(BaseModel):
    """28C (`5n[/5n]`) and 28 (`5n[/2n]`): statement number and page (sequence) number, as sent."""

    model_config = ConfigDict(frozen=True)

    statement: str
    page: str | None = None

    @classmethod
    def parse(cls, value: str) -> StatementNumber:
        statement, _, page = value.partition("/")
        return cls(statement=statement, page=page or None)

    def render(self) -> str:
        return self.statement + (f"/{self.page}" if self.page is not None else "")


class DatedMarkedAmount(ValueDateAmount):
    """32C / 32D (MT190 / MT290): charges credited (C) or debited (D) with value date, currency, amount."""

    option: str

    @classmethod
    def parse_option(cls, tag: str, value: str) -> DatedMarkedAmount:
        base = ValueDateAmount.parse(value)
        return cls(option=tag[2:], **base.model_dump())


class Balance(ValueDateAmount):
    """60F/60M, 62F/62M, 64, 65: `1!a6!n3!a15d` debit/credit mark, date, currency, amount.

    `tag` says which balance it is (60F, 60M, 62F, 62M, 64, 65); its `option` F is the first / final,
    M an intermediate balance of a statement spread over several messages.
    """

    tag: str
    mark: str

    @classmethod
    def parse_option(cls, tag: str, value: str) -> Balance:
        mark = _mark(value[:1])
        base = ValueDateAmount.parse(value[1:])
        return cls(tag=tag, mark=mark, **base.model_dump())

    @property
    def option(self) -> str:
        return self.tag[2:]

    @property
    def signed_amount(self) -> Decimal:
        return -self.amount if self.mark == "D" else self.amount

    def render(self) -> str:
        return self.mark + super().render()


class FloorLimit(CurrencyAmount):
    """34F (MT920 / MT942): `3!a[1!a]15d` currency, optional D or C (absent: both), floor limit amount."""

    mark: str | None = None

    @classmethod
    def parse(cls, value: str) -> FloorLimit:
        mark = value[3:4] if value[3:4].isalpha() else None
        if mark is not None:
            _mark(mark)
        base = CurrencyAmount.parse(value[:3] + value[3 + (mark is not None) :])
        return cls(mark=mark, **base.model_dump())

    def render(self) -> str:
        return f"{self.currency}{self.mark or ''}{self.text}"


class EntrySummary(CurrencyAmount):
    """90D / 90C (MT942): `5n3!a15d` number of debit (D) or credit (C) entries and their total."""

    option: str
    entries: str

    @classmethod
    def parse_option(cls, tag: str, value: str) -> EntrySummary:
        m = re.match(r"^(\d{1,5})([A-Z].*)$", value)
        if m is None:
            raise FieldError("entry_count_format", f"{value!r} does not start with 1 to 5 digits and a currency")
        base = CurrencyAmount.parse(m[2])
        return cls(option=tag[2:], entries=m[1], **base.model_dump())

    def render(self) -> str:
        return self.entries + super().render()


class StatementLine(BaseModel):
    """61: one booked entry of a statement (MT940 / MT942 / MT950).

    `6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]` with supplementary details (`34x`) on a second line. The mark is
    C, D, RC (reversal of credit) or RD (reversal of debit) (EC / ED for expected entries); `amount_text`
    keeps the amount as sent since the currency (and so the allowed decimals) comes from the balances.
    """

    model_config = ConfigDict(frozen=True)

    value_date: date
    entry_date: str | None = None  # MMDD: the year follows from the value date, so SWIFT leaves it out
    mark: str
    funds_code: str | None = None
    amount: Decimal
    amount_text: str
    transaction_type: str  # S + MT number, N + code (e.g. NTRF, NCHK) or F + code (first advice)
    owner_reference: str  # reference for the account owner; NONREF when there is none
    servicer_reference: str | None = None  # account servicing institution's reference (after //)
    supplementary_details: str | None = None

    @classmethod
    def parse(cls, value: str) -> StatementLine:
        first, _, details = value.partition("\n")
        m = _STATEMENT_LINE.match(first)
        if m is None:
            raise FieldError("statement_line_format", f"{first!r} is not date, [entry date], mark, amount, type, ref")
        entry = m["entry_date"]
        if entry is not None:
            try:
                date(2000, int(entry[:2]), int(entry[2:]))  # a leap year, so 0229 is accepted
            except ValueError:
                raise FieldError("date_format", f"entry date {entry!r} is not MMDD") from None
        for part, limit, rule in (
            (m["owner"], 16, "owner_reference_length"),
            (m["servicer"], 16, "servicer_reference_length"),
            (details, 34, "supplementary_details_length"),
        ):
            if part is not None and len(part) > limit:
                raise FieldError(rule, f"{part!r} is longer than {limit} characters")
        return cls(
            value_date=parse_date6(m["value_date"]),
            entry_date=entry,
            mark=m["mark"],
            funds_code=m["funds"],
            amount=parse_decimal(m["amount"]),
            amount_text=m["amount"],
            transaction_type=m["type"],
            owner_reference=m["owner"],
            servicer_reference=m["servicer"],
            supplementary_details=details or None,
        )

    @property
    def is_debit(self) -> bool:
        """True for debits and reversals of credits (RC), which both reduce the balance."""
        return self.mark in ("D", "RC", "ED")

    def render(self) -> str:
        line = (
            self.value_date.strftime("%y%m%d")
            + (self.entry_date or "")
            + self.mark
            + (self.funds_code or "")
            + self.amount_text
            + self.transaction_type
            + self.owner_reference
            + (f"//{self.servicer_reference}" if self.servicer_reference is not None else "")
        )
        return line + (f"\n{self.supplementary_details}" if self.supplementary_details else "")
