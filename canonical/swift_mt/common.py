"""Common group messages (MTn90, n91, n92, n96, n99) and the confirmations MT900 / MT910.

Category 1 and category 2 versions share one layout: `Mt299` is an `Mt199` that travels as MT299, and so on.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from canonical.errors import Violation
from canonical.swift_mt.fields import CurrencyAmount, PartyField, ValueDateAmount
from canonical.swift_mt.layout import MtMessage, Slot, party
from canonical.swift_mt.values import DatedMarkedAmount, DateTimeIndication, MessageReference


class Mt199(MtMessage):
    """Free format message (MT199 / MT299): 20, optional 21, narrative 79."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference"),
        Slot("79", "narrative", "lines", mandatory=True),
    ]

    sender_reference: str
    related_reference: str | None = None
    narrative: list[str]


class Mt299(Mt199):
    """Free format message between financial institutions."""


def _copy_rule(message: Mt192 | Mt196, both_allowed: bool) -> list[Violation]:
    has_copy = bool(message.original_fields)
    if not message.narrative and not has_copy:
        return [Violation("4:79", "narrative_or_copy", "field 79 or a copy of the original's fields is required")]
    if message.narrative and has_copy and not both_allowed:
        return [
            Violation("4:79", "narrative_or_copy", "field 79 and a copy of the original's fields exclude each other")
        ]
    return []


class Mt192(MtMessage):
    """Request for cancellation (MT192 / MT292): the original's MT and date in 11S, then 79 and/or its fields.

    `original_fields` keeps the copied fields of the original message as (tag, value), in order (rule C1:
    79, the copy, or both).
    """

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("11", "original_message", "message_reference", options=("S",), mandatory=True),
        Slot("79", "narrative", "lines"),
        Slot("", "original_fields", "copy", repeat=True),
    ]

    sender_reference: str
    related_reference: str
    original_message: MessageReference
    narrative: list[str] = []
    original_fields: list[tuple[str, str]] = []

    def rule_violations(self) -> list[Violation]:
        return _copy_rule(self, both_allowed=True)


class Mt292(Mt192):
    """Request for cancellation of a financial institution transfer."""


class Mt196(MtMessage):
    """Answers (MT196 / MT296): answer codes in 76, then 79 or a copy of the original's fields (rule C1)."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("76", "answers", "lines", mandatory=True),
        Slot("77A", "narrative_answer", "lines"),
        Slot("11", "original_message", "message_reference", options=("R", "S")),
        Slot("79", "narrative", "lines"),
        Slot("", "original_fields", "copy", repeat=True),
    ]

    sender_reference: str
    related_reference: str
    answers: list[str]
    narrative_answer: list[str] = []
    original_message: MessageReference | None = None
    narrative: list[str] = []
    original_fields: list[tuple[str, str]] = []

    def rule_violations(self) -> list[Violation]:
        # Unlike MT192, an answer may carry neither, but never both.
        return [] if not (self.narrative and self.original_fields) else _copy_rule(self, both_allowed=False)


class Mt296(Mt196):
    """Answers between financial institutions."""


class Mt190(MtMessage):
    """Advice of charges, interest and other adjustments (MT190 / MT290): 32C credits, 32D debits."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("25", "account", mandatory=True),
        Slot("32", "charges", "marked_amount", options=("C", "D"), mandatory=True),
        party("52", "ordering_institution", "A,D"),
        Slot("71B", "details_of_charges", "lines", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    sender_reference: str
    related_reference: str
    account: str
    charges: DatedMarkedAmount
    ordering_institution: PartyField | None = None
    details_of_charges: list[str]
    sender_to_receiver_information: list[str] = []


class Mt290(Mt190):
    """Advice of charges, interest and other adjustments between financial institutions."""


class Mt191(MtMessage):
    """Request for payment of charges, interest and other expenses (MT191 / MT291)."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("32B", "amount", "amount", mandatory=True),
        party("52", "ordering_institution", "A,D"),
        party("57", "account_with_institution", "A,B,D"),
        Slot("71B", "details_of_charges", "lines", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    sender_reference: str
    related_reference: str
    amount: CurrencyAmount
    ordering_institution: PartyField | None = None
    account_with_institution: PartyField | None = None
    details_of_charges: list[str]
    sender_to_receiver_information: list[str] = []


class Mt291(Mt191):
    """Request for payment of charges between financial institutions."""


class Mt900(MtMessage):
    """Confirmation of debit: the account (25 or 25P), when (13D), value date and amount (32A)."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        party("25", "account", ",P", mandatory=True),
        Slot("13D", "debited_at", "date_time"),
        Slot("32A", "debit", "date_amount", mandatory=True),
        party("52", "ordering_institution", "A,D"),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    sender_reference: str
    related_reference: str
    account: PartyField
    debited_at: DateTimeIndication | None = None
    debit: ValueDateAmount
    ordering_institution: PartyField | None = None
    sender_to_receiver_information: list[str] = []

    @property
    def value_date(self) -> date:
        return self.debit.value_date


class Mt910(MtMessage):
    """Confirmation of credit; rule C1: the ordering customer (50a) or ordering institution (52a) is present."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        party("25", "account", ",P", mandatory=True),
        Slot("13D", "credited_at", "date_time"),
        Slot("32A", "credit", "date_amount", mandatory=True),
        party("50", "ordering_customer", "A,F,K"),
        party("52", "ordering_institution", "A,D"),
        party("56", "intermediary", "A,D"),
        Slot("72", "sender_to_receiver_information", "lines"),
    ]

    sender_reference: str
    related_reference: str
    account: PartyField
    credited_at: DateTimeIndication | None = None
    credit: ValueDateAmount
    ordering_customer: PartyField | None = None
    ordering_institution: PartyField | None = None
    intermediary: PartyField | None = None
    sender_to_receiver_information: list[str] = []

    def rule_violations(self) -> list[Violation]:
        if self.ordering_customer is None and self.ordering_institution is None:
            return [Violation("4:50a", "ordering_party_required", "rule C1: 50a or 52a must be present")]
        return []
