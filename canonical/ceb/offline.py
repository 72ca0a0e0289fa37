"""三单对碰 offline: read a CEB311 order, CEB411 payment and CEB511 waybill as sent, and check them
with `check_three_documents` (what `hub customs match` runs; nothing is sent, no hub is needed).

A message may carry several entities (up to 100 orders, payments or waybills): each order is paired
with the payment and the waybill of its `orderNo`; when a message carries exactly one entity it is the
partner of every order, so a wrong `orderNo` there is reported as an `order_no` mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from canonical.ceb.codec import parse
from canonical.ceb.match import ORDER, PAYMENT, WAYBILL, Mismatch, Value, check_three_documents
from canonical.customs import CebMessage, ImportOrderMessage, LogisticsHead, PaymentHead, PaymentMessage, WaybillMessage
from canonical.errors import RejectedInput, Violation

Message = TypeVar("Message", bound=CebMessage)
Head = TypeVar("Head", PaymentHead, LogisticsHead)


@dataclass(frozen=True)
class Source:
    """One document as given: the name to report it under (a file name, `-` for stdin) and its bytes."""

    name: str
    body: bytes


def read_message(source: Source, expected: type[Message], role: str) -> Message:
    """The message of `source` if it parses and is `expected`; else RejectedInput with one violation whose
    location starts with the source's name."""
    try:
        payload = parse(source.body)
    except RejectedInput as exc:
        first = exc.violations[0] if exc.violations else Violation("/", "rejected", exc.title)
        raise RejectedInput(exc.title, [Violation(f"{source.name}: {first.loc}", first.rule, first.detail)]) from None
    if not isinstance(payload, expected):
        found = getattr(payload, "root", None) or f"{getattr(payload, 'message', '?')}Message"
        detail = f"expected {expected.root} (the {role})"
        wrong = Violation(f"{source.name}: /{found}", "wrong_message", detail)
        raise RejectedInput("not the expected message", [wrong])
    return payload


def match_messages(order: Source, payment: Source, waybill: Source) -> list[Mismatch]:
    """Every mismatch between the three messages; RejectedInput (one violation per unreadable source)
    if any of them does not parse or is not the message expected in its place."""
    found: list[Any] = []
    refused: list[Violation] = []
    for source, expected, role in (
        (order, ImportOrderMessage, "order"),
        (payment, PaymentMessage, "payment"),
        (waybill, WaybillMessage, "waybill"),
    ):
        try:
            found.append(read_message(source, expected, role))
        except RejectedInput as exc:
            refused += exc.violations
    if refused:
        raise RejectedInput("cannot match the three documents", refused)
    orders: ImportOrderMessage = found[0]
    payments = [p.head for p in found[1].payments]
    waybills = [w.head for w in found[2].waybills]
    out: list[Mismatch] = []
    for entry in orders.orders:
        order_no = entry.head.order_no
        pay = _partner(payments, order_no)
        way = _partner(waybills, order_no)
        if pay is None:
            out.append(_unpaired(f"{PAYMENT}/PaymentHead/orderNo", order_no))
        if way is None:
            out.append(_unpaired(f"{WAYBILL}/LogisticsHead/orderNo", order_no))
        if pay is not None and way is not None:
            out += check_three_documents(entry, pay, way)
    return out


def _partner(heads: list[Head], order_no: str) -> Head | None:
    if len(heads) == 1:
        return heads[0]
    return next((h for h in heads if h.order_no == order_no), None)


def _unpaired(right: str, order_no: str) -> Mismatch:
    return Mismatch("order_no", f"{ORDER}/OrderHead/orderNo", order_no, right, None)


def _plain(value: Value) -> str | None:
    return None if value is None else str(value)


def mismatch_line(m: Mismatch) -> str:
    """`rule: left = value, right = value` (a missing value shows as `(none)`)."""
    left = "(none)" if m.left_value is None else m.left_value
    right = "(none)" if m.right_value is None else m.right_value
    return f"{m.rule}: {m.left} = {left}, {m.right} = {right}"


def mismatch_json(m: Mismatch) -> dict[str, str | None]:
    """A mismatch as JSON: amounts as strings, so no precision is lost."""
    return {
        "rule": m.rule,
        "left": m.left,
        "left_value": _plain(m.left_value),
        "right": m.right,
        "right_value": _plain(m.right_value),
    }


def match_report(mismatches: list[Mismatch]) -> dict[str, Any]:
    """`{"consistent": bool, "mismatches": [...]}` for `--json`."""
    return {"consistent": not mismatches, "mismatches": [mismatch_json(m) for m in mismatches]}


__all__ = ["Source", "match_messages", "match_report", "mismatch_line", "read_message"]
