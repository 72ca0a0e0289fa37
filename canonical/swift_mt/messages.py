"""Typed MT103 and MT202 / MT202COV: field layouts drive both parsing and rendering."""

from __future__ import annotations

from typing import ClassVar

from canonical.errors import RejectedInput, Violation
from canonical.swift_mt.blocks import FinMessage, MtHeader, parse_fin
from canonical.swift_mt.fields import (
    CurrencyAmount,
    FieldError,
    PartyField,
    ValueDateAmount,
    check_uetr,
    field_violations,
)
from canonical.swift_mt.layout import MtMessage, MtSequence, Slot, parse_layout, party, render_layout, sequence

__all__ = [
    "Mt103",
    "Mt202",
    "Mt202Underlying",
    "MtMessage",
    "Slot",
    "TypedMt",
    "header_violations",
    "parse",
    "raise_violations",
    "render",
    "to_fin",
    "typed",
]


_Mt = MtMessage


class Mt103(_Mt):
    """Single customer credit transfer."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("13C", "time_indications", repeat=True),
        Slot("23B", "bank_operation_code", mandatory=True),
        Slot("23E", "instruction_codes", repeat=True),
        Slot("26T", "transaction_type"),
        Slot("32A", "settlement", "date_amount", mandatory=True),
        Slot("33B", "instructed_amount", "amount"),
        Slot("36", "exchange_rate"),
        party("50", "ordering_customer", "A,F,K", mandatory=True),
        party("51", "sending_institution", "A"),
        party("52", "ordering_institution", "A,D"),
        party("53", "senders_correspondent", "A,B,D"),
        party("54", "receivers_correspondent", "A,B,D"),
        party("55", "third_reimbursement_institution", "A,B,D"),
        party("56", "intermediary", "A,C,D"),
        party("57", "account_with_institution", "A,B,C,D"),
        party("59", "beneficiary", ",A,F", mandatory=True),
        Slot("70", "remittance_information", "lines"),
        Slot("71A", "details_of_charges", mandatory=True),
        Slot("71F", "senders_charges", "amount", repeat=True),
        Slot("71G", "receivers_charges", "amount"),
        Slot("72", "sender_to_receiver_information", "lines"),
        Slot("77B", "regulatory_reporting", "lines"),
        Slot("77T", "envelope_contents", "lines"),
    ]

    sender_reference: str
    time_indications: list[str] = []
    bank_operation_code: str
    instruction_codes: list[str] = []
    transaction_type: str | None = None
    settlement: ValueDateAmount
    instructed_amount: CurrencyAmount | None = None
    exchange_rate: str | None = None
    ordering_customer: PartyField
    sending_institution: PartyField | None = None
    ordering_institution: PartyField | None = None
    senders_correspondent: PartyField | None = None
    receivers_correspondent: PartyField | None = None
    third_reimbursement_institution: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField | None = None
    beneficiary: PartyField
    remittance_information: list[str] = []
    details_of_charges: str
    senders_charges: list[CurrencyAmount] = []
    receivers_charges: CurrencyAmount | None = None
    sender_to_receiver_information: list[str] = []
    regulatory_reporting: list[str] = []
    envelope_contents: list[str] = []


class Mt202Underlying(MtSequence):
    """Sequence B of an MT202COV / MT205COV: the underlying customer credit transfer."""

    SEQUENCE: ClassVar[str] = "B"
    LAYOUT: ClassVar[list[Slot]] = [
        party("50", "ordering_customer", "A,F,K", mandatory=True),
        party("52", "ordering_institution", "A,D"),
        party("56", "intermediary", "A,C,D"),
        party("57", "account_with_institution", "A,B,C,D"),
        party("59", "beneficiary", ",A,F", mandatory=True),
        Slot("70", "remittance_information", "lines"),
        Slot("72", "sender_to_receiver_information", "lines"),
        Slot("33B", "instructed_amount", "amount"),
    ]

    ordering_customer: PartyField
    ordering_institution: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField | None = None
    beneficiary: PartyField
    remittance_information: list[str] = []
    sender_to_receiver_information: list[str] = []
    instructed_amount: CurrencyAmount | None = None


class Mt202(_Mt):
    """General financial institution transfer; with sequence B (and 119:COV) it is an MT202COV."""

    LAYOUT: ClassVar[list[Slot]] = [
        Slot("20", "sender_reference", mandatory=True),
        Slot("21", "related_reference", mandatory=True),
        Slot("13C", "time_indications", repeat=True),
        Slot("32A", "settlement", "date_amount", mandatory=True),
        party("52", "ordering_institution", "A,D"),
        party("53", "senders_correspondent", "A,B,D"),
        party("54", "receivers_correspondent", "A,B,D"),
        party("56", "intermediary", "A,D"),
        party("57", "account_with_institution", "A,B,D"),
        party("58", "beneficiary_institution", "A,D", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
        sequence(Mt202Underlying, "underlying"),
    ]

    sender_reference: str
    related_reference: str
    time_indications: list[str] = []
    settlement: ValueDateAmount
    ordering_institution: PartyField | None = None
    senders_correspondent: PartyField | None = None
    receivers_correspondent: PartyField | None = None
    intermediary: PartyField | None = None
    account_with_institution: PartyField | None = None
    beneficiary_institution: PartyField
    sender_to_receiver_information: list[str] = []
    underlying: Mt202Underlying | None = None

    @property
    def is_cover(self) -> bool:
        return self.underlying is not None


TypedMt = Mt103 | Mt202


def header_violations(header: MtHeader) -> list[Violation]:
    """Violations of the user header (block 3): a UETR (121) that is not a lower-case UUIDv4."""
    uetr = header.uetr
    if uetr is None:
        return []
    try:
        check_uetr(uetr)
    except FieldError as exc:
        return [Violation("3:121", exc.rule, exc.detail)]
    return []


def typed(fin: FinMessage) -> TypedMt:
    """The typed MT103 / MT202(COV) view of a parsed FIN message; RejectedInput naming tag and rule."""
    models: dict[str, type[Mt103] | type[Mt202]] = {"103": Mt103, "202": Mt202}
    model = models.get(fin.message_type)
    if model is None:
        raise RejectedInput("unsupported MT", [Violation("2", "unsupported_message_type", f"MT{fin.message_type}")])
    values, found = parse_layout(fin.fields, model.LAYOUT)
    raise_violations(header_violations(fin.header) + found)
    return model.model_validate({"header": fin.header, **values})


def parse(text: str) -> TypedMt:
    return typed(parse_fin(text))


def to_fin(message: MtMessage) -> FinMessage:
    """The FIN message of any typed MT; RejectedInput if a field or a cross-field rule is broken."""
    fields = render_layout(message, message.LAYOUT)
    found = [v for tag, value in fields for v in field_violations(tag, value)]
    raise_violations(header_violations(message.header) + found + message.rule_violations())
    h = message.header
    return FinMessage(
        basic=h.basic, application=h.application, user_header=h.user_header, trailer=h.trailer, fields=fields
    )


def render(message: MtMessage, newline: str = "\r\n") -> str:
    """FIN text of a typed message; RejectedInput if a field breaks its SWIFT format."""
    return to_fin(message).render(newline)


def raise_violations(violations: list[Violation]) -> None:
    """RejectedInput carrying `violations`, if there are any."""
    if violations:
        raise RejectedInput("SWIFT MT message rejected", violations)
