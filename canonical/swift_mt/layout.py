"""Declarative block-4 layouts: one `Slot` per field position (or sequence) drives both parsing and rendering.

A layout is the ordered list of a message's field positions. A slot of kind `sequence` holds a nested
layout (an `MtSequence` model) that starts at the tag of its first slot; with `repeat` it is a repeating
group, e.g. sequence B of an MT101 or the 61/86 pairs of an MT940.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from canonical.errors import Violation
from canonical.swift_mt.blocks import MtHeader
from canonical.swift_mt.fields import (
    CHARGES_CODES,
    CurrencyAmount,
    FieldError,
    PartyField,
    ValueDateAmount,
    check_text_format,
    field_violations,
    parse_date6,
)
from canonical.swift_mt.values import (
    Balance,
    DatedMarkedAmount,
    DateTimeIndication,
    EntrySummary,
    FloorLimit,
    MessageReference,
    StatementLine,
    StatementNumber,
    Total,
)


@dataclass(frozen=True)
class Slot:
    """One field position in a message layout: tag (or tag base + options) -> model attribute.

    kind: text | lines | date | total | date_amount | amount | amount_ab | marked_amount | party |
    date_time | message_reference | statement_number | balance | statement_line | floor_limit |
    entry_summary | copy (any remaining fields, kept as (tag, value)) | sequence (nested `model`).
    """

    base: str
    attr: str
    kind: str = "text"
    options: tuple[str, ...] = ("",)
    repeat: bool = False
    mandatory: bool = False
    model: type[MtSequence] | None = None

    def matches(self, tag: str) -> bool:
        if self.kind == "copy":
            return True
        if self.model is not None:
            # An occurrence of a repeating sequence starts at its first tag (that is how occurrences are
            # told apart); a single sequence may start anywhere, so a missing first field is named as such.
            inner = self.model.LAYOUT[:1] if self.repeat else self.model.LAYOUT
            return any(slot.matches(tag) for slot in inner)
        return tag[: len(self.base)] == self.base and tag[len(self.base) :] in self.options

    @property
    def label(self) -> str:
        if self.model is not None:
            return self.model.LAYOUT[0].label
        return self.base + (self.options[0] if len(self.options) == 1 else "a")


class MtSequence(BaseModel):
    """A sequence of a message (e.g. MT101 sequence B): its own layout, parsed and rendered in place."""

    model_config = ConfigDict(frozen=True)

    LAYOUT: ClassVar[list[Slot]] = []
    SEQUENCE: ClassVar[str] = ""  # the name the SWIFT standard gives it, used in error details


class MtMessage(BaseModel):
    """A typed MT: the headers plus one attribute per slot of `LAYOUT`."""

    model_config = ConfigDict(frozen=True)

    LAYOUT: ClassVar[list[Slot]] = []

    header: MtHeader

    def rule_violations(self) -> list[Violation]:
        """Broken network validated rules that span fields (the standard's C1, C2 ...); empty by default."""
        return []


def _text(tag: str, value: str) -> str:
    if tag == "71A" and value not in CHARGES_CODES:
        raise FieldError("charges_code", f"{value!r} is not OUR, SHA or BEN")
    check_text_format(tag, value)
    return value


def _amount_ab(tag: str, value: str) -> CurrencyAmount:
    return ValueDateAmount.parse(value) if tag.endswith("A") else CurrencyAmount.parse(value)


def _statement_number(tag: str, value: str) -> StatementNumber:
    check_text_format(tag, value)
    return StatementNumber.parse(value)


Parser = Callable[[str, str], Any]
Renderer = Callable[[Any], tuple[str, str]]  # item -> (option letter, field text)

_KINDS: dict[str, tuple[Parser, Renderer]] = {
    "text": (_text, lambda item: ("", str(item))),
    "lines": (lambda tag, value: value.split("\n"), lambda item: ("", "\n".join(item))),
    "date": (lambda tag, value: parse_date6(value), lambda item: ("", item.strftime("%y%m%d"))),
    "total": (lambda tag, value: Total.parse(value), lambda item: ("", item.render())),
    "date_amount": (lambda tag, value: ValueDateAmount.parse(value), lambda item: ("", item.render())),
    "amount": (lambda tag, value: CurrencyAmount.parse(value), lambda item: ("", item.render())),
    "amount_ab": (_amount_ab, lambda item: ("A" if isinstance(item, ValueDateAmount) else "B", item.render())),
    "marked_amount": (DatedMarkedAmount.parse_option, lambda item: (item.option, item.render())),
    "party": (PartyField.parse, lambda item: (item.option, item.render())),
    "date_time": (lambda tag, value: DateTimeIndication.parse(value), lambda item: ("", item.render())),
    "message_reference": (MessageReference.parse, lambda item: (item.option, item.render())),
    "statement_number": (_statement_number, lambda item: ("", item.render())),
    "balance": (Balance.parse_option, lambda item: (item.option, item.render())),
    "statement_line": (lambda tag, value: StatementLine.parse(value), lambda item: ("", item.render())),
    "floor_limit": (lambda tag, value: FloorLimit.parse(value), lambda item: ("", item.render())),
    "entry_summary": (EntrySummary.parse_option, lambda item: (item.option, item.render())),
}


def _knows(layout: list[Slot], tag: str) -> bool:
    return any(s.matches(tag) or (s.model is not None and _knows(s.model.LAYOUT, tag)) for s in layout)


def _within(violation: Violation, where: str) -> Violation:
    if not where:
        return violation
    detail = f"{where}: {violation.detail}" if violation.detail else where
    return Violation(violation.loc, violation.rule, detail)


def parse_layout(fields: list[tuple[str, str]], layout: list[Slot]) -> tuple[dict[str, Any], list[Violation]]:
    """Slot values (sequences as dicts, ready for `model_validate`) and every violation, each at `4:<tag>`."""
    values, violations, _ = _parse(fields, 0, layout, None)
    return values, violations


def _parse(
    fields: list[tuple[str, str]], start: int, layout: list[Slot], where: str | None
) -> tuple[dict[str, Any], list[Violation], int]:
    # `where` is None at the top level; inside a sequence the first tag that does not fit ends the
    # occurrence and is handed back to the enclosing layout.
    values: dict[str, Any] = {}
    violations: list[Violation] = []
    seen: set[str] = set()
    position = 0
    i = start
    while i < len(fields):
        tag, value = fields[i]
        index = next((j for j in range(position, len(layout)) if layout[j].matches(tag)), None)
        if index is None:
            if where is not None:
                break
            known = _knows(layout, tag)
            rule, detail = ("field_order", "out of order or repeated") if known else ("unexpected_field", "")
            violations.append(Violation(f"4:{tag}", rule, detail))
            i += 1
            continue
        slot = layout[index]
        position = index if slot.repeat else index + 1
        seen.add(slot.attr)
        item: Any
        if slot.model is not None:
            occurrence = len(values.get(slot.attr, [])) + 1 if slot.repeat else 1
            name = f"sequence {slot.model.SEQUENCE} occurrence {occurrence}"
            item, found, i = _parse(fields, i, slot.model.LAYOUT, name)
            violations.extend(found)
        else:
            i += 1
            violations.extend(_within(v, where or "") for v in field_violations(tag, value))
            try:
                item = _KINDS[slot.kind][0](tag, value) if slot.kind != "copy" else (tag, value)
            except FieldError as exc:
                violations.append(_within(Violation(f"4:{tag}", exc.rule, exc.detail), where or ""))
                continue
        if slot.repeat:
            values.setdefault(slot.attr, []).append(item)
        else:
            values[slot.attr] = item
    for slot in layout:
        if slot.mandatory and slot.attr not in seen:
            missing = Violation(f"4:{slot.label}", "field_missing", "this field is mandatory")
            violations.append(_within(missing, where or ""))
    return values, violations, i


def render_layout(model: BaseModel, layout: list[Slot]) -> list[tuple[str, str]]:
    """The (tag, value) fields of a typed message or sequence, in layout order; empty slots are left out."""
    out: list[tuple[str, str]] = []
    for slot in layout:
        value = getattr(model, slot.attr)
        for item in value if slot.repeat else [value]:
            if item is None or (slot.kind == "lines" and not item):
                continue
            if isinstance(item, MtSequence):
                out += render_layout(item, item.LAYOUT)
            elif slot.kind == "copy":
                out.append(item)
            else:
                option, text = _KINDS[slot.kind][1](item)
                out.append((slot.base + option, text))
    return out


def party(base: str, attr: str, options: str, mandatory: bool = False) -> Slot:
    """A party slot: `options` is the comma-separated option letters ('' for the letterless form)."""
    return Slot(base, attr, "party", tuple(options.split(",")), mandatory=mandatory)


def sequence(model: type[MtSequence], attr: str, repeat: bool = False, mandatory: bool = False) -> Slot:
    """A slot holding sequence `model`, which starts at the tag of its first slot."""
    return Slot(model.LAYOUT[0].base, attr, "sequence", repeat=repeat, mandatory=mandatory, model=model)
