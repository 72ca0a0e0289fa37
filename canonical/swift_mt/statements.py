"""Statements and reports: MT940, MT941, MT942, MT950 and the request for them, MT920."""

from __future__ import annotations

from typing import ClassVar

from canonical.errors import Violation
from canonical.swift_mt.fields import FieldError, PartyField, check_decimals
from canonical.swift_mt.layout import MtMessage, MtSequence, Slot, party, sequence
from canonical.swift_mt.values import (
    Balance,
    DateTimeIndication,
    EntrySummary,
    FloorLimit,
    StatementLine,
    StatementNumber,
)


class StatementEntry(MtSequence):
    """One statement line (61) and the information to the account owner (86) that follows it, if any."""

    SEQUENCE: ClassVar[str] = "61/86"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("61", "line", "statement_line", mandatory=True),
        Slot("86", "information", "lines"),
    ]

    line: StatementLine
    information: list[str] = []


def _account(mandatory: bool = True) -> Slot:
    return party("25", "account", ",P", mandatory=mandatory)


def _currency_violations(currency: str, balances: list[Balance | None], lines: list[StatementLine]) -> list[Violation]:
    # The currency is given once, by the balances (rule C1); entries carry bare amounts that must fit it.
    out: list[Violation] = []
    for balance in balances:
        if balance is not None and balance.currency != currency:
            loc = f"4:{balance.tag}"
            out.append(Violation(loc, "balance_currency", f"{balance.currency} differs from {currency}"))
    for line in lines:
        try:
            check_decimals(line.amount_text, currency)
        except FieldError as exc:
            out.append(Violation("4:61", exc.rule, exc.detail))
    return out


class Mt940(MtMessage):
    """Customer statement message: opening balance, entries (61 with optional 86, in order), closing balance."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference"),
        _account(),
        Slot("28C", "statement_number", "statement_number", mandatory=True),
        Slot("60", "opening_balance", "balance", options=("F", "M"), mandatory=True),
        sequence(StatementEntry, "entries", repeat=True),
        Slot("62", "closing_balance", "balance", options=("F", "M"), mandatory=True),
        Slot("64", "closing_available_balance", "balance"),
        Slot("65", "forward_available_balances", "balance", repeat=True),
        Slot("86", "information", "lines"),
    ]

    sender_reference: str
    related_reference: str | None = None
    account: PartyField
    statement_number: StatementNumber
    opening_balance: Balance
    entries: list[StatementEntry] = []
    closing_balance: Balance
    closing_available_balance: Balance | None = None
    forward_available_balances: list[Balance] = []
    information: list[str] = []

    def rule_violations(self) -> list[Violation]:
        balances = [self.opening_balance, self.closing_balance, self.closing_available_balance]
        balances += self.forward_available_balances
        lines = [entry.line for entry in self.entries]
        return _currency_violations(self.opening_balance.currency, balances, lines)


class Mt950(MtMessage):
    """Statement message (between institutions): like MT940 without 86 information."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        party("25", "account", "", mandatory=True),
        Slot("28C", "statement_number", "statement_number", mandatory=True),
        Slot("60", "opening_balance", "balance", options=("F", "M"), mandatory=True),
        Slot("61", "lines", "statement_line", repeat=True),
        Slot("62", "closing_balance", "balance", options=("F", "M"), mandatory=True),
        Slot("64", "closing_available_balance", "balance"),
        Slot("65", "forward_available_balances", "balance", repeat=True),
    ]

    sender_reference: str
    account: PartyField
    statement_number: StatementNumber
    opening_balance: Balance
    lines: list[StatementLine] = []
    closing_balance: Balance
    closing_available_balance: Balance | None = None
    forward_available_balances: list[Balance] = []

    def rule_violations(self) -> list[Violation]:
        balances = [self.opening_balance, self.closing_balance, self.closing_available_balance]
        balances += self.forward_available_balances
        return _currency_violations(self.opening_balance.currency, balances, self.lines)


class Mt941(MtMessage):
    """Balance report: balances and the number and sum of debits (90D) and credits (90C), no entries."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference"),
        _account(),
        Slot("28", "statement_number", "statement_number", mandatory=True),
        Slot("13D", "reported_at", "date_time"),
        Slot("60", "opening_balance", "balance", options=("F",)),
        Slot("90", "debits", "entry_summary", options=("D",)),
        Slot("90", "credits", "entry_summary", options=("C",)),
        Slot("62", "closing_balance", "balance", options=("F",), mandatory=True),
        Slot("64", "closing_available_balance", "balance"),
        Slot("65", "forward_available_balances", "balance", repeat=True),
        Slot("86", "information", "lines"),
    ]

    sender_reference: str
    related_reference: str | None = None
    account: PartyField
    statement_number: StatementNumber
    reported_at: DateTimeIndication | None = None
    opening_balance: Balance | None = None
    debits: EntrySummary | None = None
    credits: EntrySummary | None = None
    closing_balance: Balance
    closing_available_balance: Balance | None = None
    forward_available_balances: list[Balance] = []
    information: list[str] = []


class Mt942(MtMessage):
    """Interim transaction report: floor limits (34F), when (13D), entries (61/86), debit and credit totals.

    With one 34F the limit applies to debits and credits; with two, the first is the debit (D) and the
    second the credit (C) floor limit (rule C2).
    """

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference"),
        _account(),
        Slot("28C", "statement_number", "statement_number", mandatory=True),
        Slot("34F", "floor_limit", "floor_limit", mandatory=True),
        Slot("34F", "credit_floor_limit", "floor_limit"),
        Slot("13D", "reported_at", "date_time", mandatory=True),
        sequence(StatementEntry, "entries", repeat=True),
        Slot("90", "debits", "entry_summary", options=("D",)),
        Slot("90", "credits", "entry_summary", options=("C",)),
        Slot("86", "information", "lines"),
    ]

    sender_reference: str
    related_reference: str | None = None
    account: PartyField
    statement_number: StatementNumber
    floor_limit: FloorLimit
    credit_floor_limit: FloorLimit | None = None
    reported_at: DateTimeIndication
    entries: list[StatementEntry] = []
    debits: EntrySummary | None = None
    credits: EntrySummary | None = None
    information: list[str] = []

    def rule_violations(self) -> list[Violation]:
        out = []
        credit = self.credit_floor_limit
        if credit is not None and (self.floor_limit.mark != "D" or credit.mark != "C"):
            out.append(Violation("4:34F", "floor_limit_marks", "rule C2: with two 34F, the first is D, the second C"))
        lines = [entry.line for entry in self.entries]
        return out + _currency_violations(self.floor_limit.currency, [], lines)


class StatementRequest(MtSequence):
    """One request of an MT920: the message wanted (940, 941, 942 or 950), the account, floor limits."""

    SEQUENCE: ClassVar[str] = "12/25"
    LAYOUT: ClassVar[list[Slot]] = [
        Slot("12", "message_requested", mandatory=True),
        Slot("25", "account", mandatory=True),
        Slot("34F", "floor_limit", "floor_limit"),
        Slot("34F", "credit_floor_limit", "floor_limit"),
    ]

    message_requested: str
    account: str
    floor_limit: FloorLimit | None = None
    credit_floor_limit: FloorLimit | None = None


class Mt920(MtMessage):
    """Request message: one or more statement or report requests."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        sequence(StatementRequest, "requests", repeat=True, mandatory=True),
    ]

    sender_reference: str
    requests: list[StatementRequest]

    def rule_violations(self) -> list[Violation]:
        wanted = [r.message_requested for r in self.requests if r.message_requested not in ("940", "941", "942", "950")]
        limits = [r for r in self.requests if r.message_requested == "942" and r.floor_limit is None]
        out = [Violation("4:12", "message_requested", f"MT{w} cannot be requested") for w in wanted]
        return out + [Violation("4:34F", "floor_limit_required", "rule C1: 34F is mandatory for MT942") for _ in limits]
