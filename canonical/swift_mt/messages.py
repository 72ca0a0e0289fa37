"""Typed MT103 and MT202 / MT202COV: field layouts drive both parsing and rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from canonical.errors import RejectedInput, Violation
from canonical.swift_mt.blocks import FinMessage, MtHeader, parse_fin
from canonical.swift_mt.fields import (
    CHARGES_CODES,
    CurrencyAmount,
    FieldError,
    PartyField,
    ValueDateAmount,
    check_uetr,
    field_violations,
)


@dataclass(frozen=True)
class Slot:
    """One field position in a message layout: tag (or party tag base + options) -> model attribute."""

    base: str
    attr: str
    kind: str = "text"  # text | lines | date_amount | amount | party
    options: tuple[str, ...] = ("",)
    repeat: bool = False
    mandatory: bool = False

    def matches(self, tag: str) -> bool:
        return tag[: len(self.base)] == self.base and tag[len(self.base) :] in self.options

    @property
    def label(self) -> str:
        return self.base + ("a" if self.kind == "party" else "")


def _convert(slot: Slot, tag: str, value: str) -> Any:
    if slot.kind == "lines":
        return value.split("\n")
    if slot.kind == "date_amount":
        return ValueDateAmount.parse(value)
    if slot.kind == "amount":
        return CurrencyAmount.parse(value)
    if slot.kind == "party":
        return PartyField.parse(tag, value)
    if tag == "71A" and value not in CHARGES_CODES:
        raise FieldError("charges_code", f"{value!r} is not OUR, SHA or BEN")
    return value


def _unconvert(slot: Slot, item: Any) -> tuple[str, str]:
    if slot.kind == "lines":
        return slot.base, "\n".join(item)
    if slot.kind in ("date_amount", "amount"):
        return slot.base, item.render()
    if slot.kind == "party":
        return slot.base + item.option, item.render()
    return slot.base, str(item)


def parse_layout(fields: list[tuple[str, str]], layout: list[Slot]) -> tuple[dict[str, Any], list[Violation]]:
    values: dict[str, Any] = {}
    violations: list[Violation] = []
    seen: set[str] = set()
    position = 0
    for tag, value in fields:
        index = next((j for j in range(position, len(layout)) if layout[j].matches(tag)), None)
        if index is None:
            known = any(s.matches(tag) for s in layout)
            rule, detail = ("field_order", "out of order or repeated") if known else ("unexpected_field", "")
            violations.append(Violation(f"4:{tag}", rule, detail))
            continue
        slot = layout[index]
        position = index if slot.repeat else index + 1
        seen.add(slot.attr)
        violations.extend(field_violations(tag, value))
        try:
            item = _convert(slot, tag, value)
        except FieldError as exc:
            violations.append(Violation(f"4:{tag}", exc.rule, exc.detail))
            continue
        if slot.repeat:
            values.setdefault(slot.attr, []).append(item)
        else:
            values[slot.attr] = item
    for slot in layout:
        if slot.mandatory and slot.attr not in seen:
            violations.append(Violation(f"4:{slot.label}", "field_missing", "this field is mandatory"))
    return values, violations


def render_layout(model: BaseModel, layout: list[Slot]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for slot in layout:
        value = getattr(model, slot.attr)
        for item in value if slot.repeat else [value]:
            if item is None or (slot.kind == "lines" and not item):
                continue
            out.append(_unconvert(slot, item))
    return out


class _Mt(BaseModel):
    model_config = ConfigDict(frozen=True)

    LAYOUT: ClassVar[list[Slot]] = []

    header: MtHeader


def _party(base: str, attr: str, options: str, mandatory: bool = False) -> Slot:
    return Slot(base, attr, "party", tuple(options.split(",")), mandatory=mandatory)


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
        _party("50", "ordering_customer", "A,F,K", mandatory=True),
        _party("51", "sending_institution", "A"),
        _party("52", "ordering_institution", "A,D"),
        _party("53", "senders_correspondent", "A,B,D"),
        _party("54", "receivers_correspondent", "A,B,D"),
        _party("55", "third_reimbursement_institution", "A,B,D"),
        _party("56", "intermediary", "A,C,D"),
        _party("57", "account_with_institution", "A,B,C,D"),
        _party("59", "beneficiary", ",A,F", mandatory=True),
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


class Mt202Underlying(BaseModel):
    """Sequence B of an MT202COV: the underlying customer credit transfer."""

    model_config = ConfigDict(frozen=True)

    LAYOUT: ClassVar[list[Slot]] = [
        _party("50", "ordering_customer", "A,F,K", mandatory=True),
        _party("52", "ordering_institution", "A,D"),
        _party("56", "intermediary", "A,C,D"),
        _party("57", "account_with_institution", "A,B,C,D"),
        _party("59", "beneficiary", ",A,F", mandatory=True),
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
        _party("52", "ordering_institution", "A,D"),
        _party("53", "senders_correspondent", "A,B,D"),
        _party("54", "receivers_correspondent", "A,B,D"),
        _party("56", "intermediary", "A,D"),
        _party("57", "account_with_institution", "A,B,D"),
        _party("58", "beneficiary_institution", "A,D", mandatory=True),
        Slot("72", "sender_to_receiver_information", "lines"),
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


def _header_violations(header: MtHeader) -> list[Violation]:
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
    violations = _header_violations(fin.header)
    result: TypedMt
    if fin.message_type == "103":
        values, found = parse_layout(fin.fields, Mt103.LAYOUT)
        _raise(violations + found)
        result = Mt103.model_validate({"header": fin.header, **values})
    elif fin.message_type == "202":
        split = next((i for i, (tag, _) in enumerate(fin.fields) if tag.startswith("50")), len(fin.fields))
        values, found = parse_layout(fin.fields[:split], Mt202.LAYOUT)
        if split < len(fin.fields):
            cover, found_b = parse_layout(fin.fields[split:], Mt202Underlying.LAYOUT)
            found += found_b
            values["underlying"] = cover
        _raise(violations + found)
        result = Mt202.model_validate({"header": fin.header, **values})
    else:
        raise RejectedInput("unsupported MT", [Violation("2", "unsupported_message_type", f"MT{fin.message_type}")])
    return result


def parse(text: str) -> TypedMt:
    return typed(parse_fin(text))


def to_fin(message: TypedMt) -> FinMessage:
    fields = render_layout(message, message.LAYOUT)
    if isinstance(message, Mt202) and message.underlying is not None:
        fields += render_layout(message.underlying, Mt202Underlying.LAYOUT)
    _raise(_header_violations(message.header) + [v for tag, value in fields for v in field_violations(tag, value)])
    h = message.header
    return FinMessage(
        basic=h.basic, application=h.application, user_header=h.user_header, trailer=h.trailer, fields=fields
    )


def render(message: TypedMt, newline: str = "\r\n") -> str:
    """FIN text of a typed message; RejectedInput if a field breaks its SWIFT format."""
    return to_fin(message).render(newline)


def _raise(violations: list[Violation]) -> None:
    if violations:
        raise RejectedInput("SWIFT MT message rejected", violations)
