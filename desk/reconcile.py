"""Statement reconciliation: which entries of a bank's statement the journalled payments explain.

`match_statement` is pure: a statement (camt.053 / MT940 / MT950, camt.052, camt.054) and the
journalled payments in, a `ReconciliationReport` out. `reconcile` reads from the journal the payments
a statement can concern, matches them, and records the report in the audit log.

What a caller may rely on:
- An entry matches one payment: by UETR, then end-to-end id, then instruction id. A payment never
  matches an entry that names another UETR (or, when the entry has no UETR, another end-to-end id or
  instruction id), and explains at most one entry: an entry whose references lead only to payments
  already taken is an unmatched entry (a duplicate), naming the entry that took the payment.
- A match agrees on currency, amount (the settlement amount) and direction (a payment the hub sent
  is a debit on the sender's account); otherwise it is `mismatched`, with both values. A booked
  entry of a payment the journal holds as rejected or dead-lettered is mismatched on `status`.
  Exact agreements are paired first, so a disagreeing entry never takes a payment another entry
  matches exactly.
- `missing` is only computed for full statements (camt.053, MT940/950): payments completed through
  the channel (any channel if none is given) within the statement's period, in the account's
  currency, that no entry covers. Intraday reports and notifications carry no such promise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from canonical.codecs import detect
from canonical.envelope import Envelope
from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import (
    AccountNotification,
    AccountReport,
    AccountReportFields,
    AccountStatement,
    CreditDebit,
    InterbankTransfer,
)
from desk import PAYMENT_TYPES
from routes.config import NAME
from store import Store
from store.journal import MessageView

StatementPayload = AccountStatement | AccountReport | AccountNotification
Key = Literal["uetr", "end_to_end_id", "instruction_id"]

AUDIT_ACTION = "reconciliation.report"
KEYS: tuple[Key, ...] = ("uetr", "end_to_end_id", "instruction_id")
SENT = CreditDebit.DBIT  # a payment the hub sent leaves the sender's account
NOT_PROVIDED = "NOTPROVIDED"  # the ISO 20022 placeholder for an absent end-to-end id: never a reference
CONTRADICTING = frozenset({"rejected", "dead_lettered"})  # a booking of such a payment is a discrepancy
# A bank books a little before or after the hub records completion (cut-offs, time zones): payments
# that changed this close to the period are still candidates for a match.
MATCH_MARGIN = timedelta(days=3)
UETR_BATCH = 500  # correlation ids per journal query, well below every database's parameter limit


@dataclass(frozen=True)
class Period:
    """The time a statement covers, both ends included, in UTC."""

    start: datetime
    end: datetime

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.start <= moment <= self.end

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


@dataclass(frozen=True)
class Payment:
    """A journalled payment, as reconciliation sees it."""

    message_id: str
    uetr: str
    end_to_end_id: str | None
    instruction_id: str | None
    amount: Money  # the settlement amount: what moves on the account
    status: str
    adapter: str | None
    changed_at: datetime  # when its status last changed; for a completed payment, when it completed

    @classmethod
    def from_view(cls, view: MessageView) -> Payment | None:
        """The payment in a journal row; None for a row that holds no interbank transfer."""
        payload = Envelope.from_bytes(view.envelope).payload
        if not isinstance(payload, InterbankTransfer):
            return None
        return cls(
            view.id,
            payload.uetr,
            _reference(payload.end_to_end_id),
            payload.instruction_id,
            payload.settlement_amount,
            view.status,
            view.adapter,
            view.updated_at,
        )

    def reference(self, key: Key) -> str | None:
        return {"uetr": self.uetr, "end_to_end_id": self.end_to_end_id, "instruction_id": self.instruction_id}[key]


@dataclass(frozen=True)
class Entry:
    """One statement entry: its position (1-based), the bank's reference and what it is matched by."""

    index: int
    ref: str
    amount: Money
    credit_debit: CreditDebit
    status: str
    uetr: str | None
    end_to_end_id: str | None
    instruction_id: str | None

    def reference(self, key: Key) -> str | None:
        return {"uetr": self.uetr, "end_to_end_id": self.end_to_end_id, "instruction_id": self.instruction_id}[key]

    def references(self) -> dict[str, str]:
        return {key: value for key in KEYS if (value := self.reference(key))}


@dataclass(frozen=True)
class Statement:
    """What reconciliation reads from a statement, report or notification."""

    kind: Literal["statement", "report", "notification"]
    statement_id: str
    message_id: str
    account: str  # masked: the identifier is declared sensitive
    currency: str | None
    period: Period | None
    entries: tuple[Entry, ...]

    @property
    def full(self) -> bool:
        """A full statement lists every booking of its period, so a payment it lacks is missing."""
        return self.kind == "statement"


@dataclass(frozen=True)
class Matched:
    entry: Entry
    payment: Payment
    by: Key

    def as_json(self) -> dict[str, Any]:
        return {
            **_entry_head(self.entry),
            "message_id": self.payment.message_id,
            "uetr": self.payment.uetr,
            "amount": _money(self.entry.amount),
            "matched_by": self.by,
        }


@dataclass(frozen=True)
class Mismatched:
    entry: Entry
    payment: Payment
    by: Key
    differences: dict[str, dict[str, str]]  # field -> {"entry": ..., "payment": ...}

    def as_json(self) -> dict[str, Any]:
        return {
            **_entry_head(self.entry),
            "message_id": self.payment.message_id,
            "uetr": self.payment.uetr,
            "matched_by": self.by,
            "entry_amount": _money(self.entry.amount),
            "payment_amount": _money(self.payment.amount),
            "differences": self.differences,
        }


@dataclass(frozen=True)
class UnmatchedEntry:
    entry: Entry
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            **_entry_head(self.entry),
            "amount": _money(self.entry.amount),
            "credit_debit": self.entry.credit_debit.value,
            "references": self.entry.references(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MissingPayment:
    payment: Payment

    def as_json(self) -> dict[str, Any]:
        p = self.payment
        return {
            "message_id": p.message_id,
            "uetr": p.uetr,
            "end_to_end_id": p.end_to_end_id,
            "instruction_id": p.instruction_id,
            "amount": _money(p.amount),
            "channel": p.adapter,
            "completed_at": p.changed_at.isoformat(),
        }


@dataclass(frozen=True)
class ReconciliationReport:
    """The outcome of one reconciliation; `balanced` when every entry matched and nothing is missing."""

    statement: Statement
    channel: str | None
    matched: tuple[Matched, ...]
    mismatched: tuple[Mismatched, ...]
    unmatched_entries: tuple[UnmatchedEntry, ...]
    missing: tuple[MissingPayment, ...]

    @property
    def balanced(self) -> bool:
        return not (self.mismatched or self.unmatched_entries or self.missing)

    def as_json(self) -> dict[str, Any]:
        s = self.statement
        return {
            "statement_id": s.statement_id,
            "message_id": s.message_id,
            "kind": s.kind,
            "account": s.account,
            "currency": s.currency,
            "period": s.period.as_json() if s.period else None,
            "channel": self.channel,
            "missing_checked": s.full and s.period is not None,
            "balanced": self.balanced,
            "figures": {
                "entries": _figures(e.amount for e in s.entries),
                "matched": _figures(m.entry.amount for m in self.matched),
                "mismatched": _figures(m.entry.amount for m in self.mismatched),
                "unmatched_entries": _figures(u.entry.amount for u in self.unmatched_entries),
                "missing": _figures(m.payment.amount for m in self.missing),
            },
            "matched": [m.as_json() for m in self.matched],
            "mismatched": [m.as_json() for m in self.mismatched],
            "unmatched_entries": [u.as_json() for u in self.unmatched_entries],
            "missing": [m.as_json() for m in self.missing],
        }


# -- reading a statement ----------------------------------------------------------------------------

STATEMENT_FORMATS = "camt.053 / camt.052 / camt.054 (ISO 20022 XML with AppHdr) or MT940 / MT950 (FIN)"


def decode_statement(body: bytes, content_type: str = "") -> StatementPayload:
    """The statement in a raw document, decoded by the hub's codecs; RejectedInput naming the
    violation when the document is not a statement or does not validate."""
    codec = detect(body, content_type)
    if codec is None:
        raise RejectedInput("not a statement", [Violation("body", "statement_format", STATEMENT_FORMATS)])
    decoded = codec.decode(body)
    if not isinstance(decoded.payload, AccountStatement | AccountReport | AccountNotification):
        detail = f"{decoded.type or 'the document'} is not a statement; send {STATEMENT_FORMATS}"
        raise RejectedInput("not a statement", [Violation("type", "statement_type", detail)])
    return decoded.payload


def check_channel(channel: str | None) -> str | None:
    """`channel` if it is shaped like an adapter name (it need not be configured any more: the journal
    remembers channels since removed); RejectedInput otherwise."""
    if channel is not None and not re.match(NAME, channel):
        raise RejectedInput("invalid channel", [Violation("channel", "adapter_name", f"{channel!r} is not {NAME}")])
    return channel


def statement_of(payload: StatementPayload) -> Statement:
    """The entries and heading of a camt.053 / camt.052 / camt.054 (or MT) payload."""
    if isinstance(payload, AccountNotification):
        entry = Entry(
            1,
            payload.entry_reference or payload.notification_id,
            payload.amount,
            payload.credit_debit,
            payload.entry_status,
            payload.uetr,
            _reference(payload.end_to_end_id),
            payload.instruction_id,
        )
        currency = payload.account_currency or payload.amount.currency
        account = _masked(payload.account.identifier)
        return Statement("notification", payload.notification_id, payload.message_id, account, currency, None, (entry,))
    entries = tuple(
        Entry(
            n,
            e.entry_reference or e.account_servicer_reference or f"#{n}",
            e.amount,
            e.credit_debit,
            e.status,
            e.uetr,
            _reference(e.end_to_end_id),
            e.instruction_id,
        )
        for n, e in enumerate(payload.entries, 1)
    )
    kind: Literal["statement", "report"] = "statement" if isinstance(payload, AccountStatement) else "report"
    account = _masked(payload.account.identifier)
    return Statement(
        kind, payload.report_id, payload.message_id, account, payload.account_currency, period_of(payload), entries
    )


def period_of(report: AccountReportFields) -> Period | None:
    """FrToDt when the statement carries it; else (MT940/950 have none) the days from its earliest
    booking (or value) date to its closing balance date, each taken whole in UTC."""
    if report.period_from is not None and report.period_to is not None:
        return Period(_utc(report.period_from), _utc(report.period_to))
    days = {day for e in report.entries if (day := e.booking_date or e.value_date) is not None}
    closing = report.balance("CLBD")
    if closing is not None:
        days.add(closing.as_of)
    return _days(min(days), max(days)) if days else None


# -- matching ---------------------------------------------------------------------------------------


def match_statement(
    payload: StatementPayload | Statement, payments: Iterable[Payment], channel: str | None = None
) -> ReconciliationReport:
    """Match every entry to at most one of `payments` (among equals, the first given wins) and list
    the payments a full statement lacks. Pure: reads nothing, writes nothing."""
    statement = payload if isinstance(payload, Statement) else statement_of(payload)
    book = _Book(payments)
    outcome: dict[int, Matched | Mismatched | UnmatchedEntry] = {}
    for entry in statement.entries:  # exact agreements first
        for key in KEYS:
            exact = [p for p in book.free(entry, key) if not _differences(entry, p)]
            if exact:
                best = min(exact, key=lambda p: p.status != "completed")
                outcome[entry.index] = Matched(entry, book.take(best, entry), key)
                break
    for entry in statement.entries:
        if entry.index not in outcome:
            outcome[entry.index] = _closest(book, entry)
    results = [outcome[e.index] for e in statement.entries]
    return ReconciliationReport(
        statement,
        channel,
        tuple(r for r in results if isinstance(r, Matched)),
        tuple(r for r in results if isinstance(r, Mismatched)),
        tuple(r for r in results if isinstance(r, UnmatchedEntry)),
        _missing(statement, book, channel),
    )


class _Book:
    """The payments by each of their references, and which entry took which payment."""

    def __init__(self, payments: Iterable[Payment]) -> None:
        unique: dict[str, Payment] = {}
        for p in payments:
            unique.setdefault(p.message_id, p)  # a payment found by UETR and by time window is one payment
        self.payments = list(unique.values())
        self.index: dict[tuple[Key, str], list[Payment]] = {}
        for p in self.payments:
            for key in KEYS:
                if value := p.reference(key):
                    self.index.setdefault((key, value), []).append(p)
        self.taken: dict[str, Entry] = {}

    def candidates(self, entry: Entry, key: Key) -> list[Payment]:
        value = entry.reference(key)
        found = self.index.get((key, value), []) if value else []
        return [p for p in found if _consistent(entry, p)]

    def free(self, entry: Entry, key: Key) -> list[Payment]:
        return [p for p in self.candidates(entry, key) if p.message_id not in self.taken]

    def take(self, payment: Payment, entry: Entry) -> Payment:
        self.taken[payment.message_id] = entry
        return payment


def _closest(book: _Book, entry: Entry) -> Mismatched | UnmatchedEntry:
    """The best payment left for an entry no payment matches exactly, or why there is none."""
    holder: tuple[Payment, Entry] | None = None
    for key in KEYS:
        candidates = book.candidates(entry, key)
        free = [p for p in candidates if p.message_id not in book.taken]
        if free:
            # Fewest disagreements first; a completed payment before one still under way.
            best = min(free, key=lambda p: (len(_differences(entry, p)), p.status != "completed"))
            return Mismatched(entry, book.take(best, entry), key, _differences(entry, best))
        if candidates and holder is None:
            holder = candidates[0], book.taken[candidates[0].message_id]
    if holder is not None:
        payment, other = holder
        return UnmatchedEntry(
            entry, f"duplicate: payment {payment.message_id} is already matched by entry {other.index} ({other.ref})"
        )
    if not entry.references():
        return UnmatchedEntry(entry, "the entry carries no UETR, end-to-end id or instruction id")
    return UnmatchedEntry(entry, "no journalled payment with these references")


def _consistent(entry: Entry, payment: Payment) -> bool:
    """False when the entry names another payment: another UETR or, without one, another end-to-end
    or instruction id. An equal UETR decides alone: it is one payment's, while the other references
    vary with how a network reports them (an MT940 owner reference is often the sender's field 20)."""
    if entry.uetr:
        return entry.uetr == payment.uetr
    for key in KEYS[1:]:
        ours, theirs = entry.reference(key), payment.reference(key)
        if ours and theirs and ours != theirs:
            return False
    return True


def _differences(entry: Entry, payment: Payment) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    if entry.amount.currency != payment.amount.currency:
        found["currency"] = {"entry": entry.amount.currency, "payment": payment.amount.currency}
    if entry.amount.amount != payment.amount.amount:
        found["amount"] = {"entry": str(entry.amount.amount), "payment": str(payment.amount.amount)}
    if entry.credit_debit is not SENT:
        found["direction"] = {"entry": entry.credit_debit.value, "payment": SENT.value}
    if entry.status == "BOOK" and payment.status in CONTRADICTING:
        found["status"] = {"entry": entry.status, "payment": payment.status}
    return found


def _missing(statement: Statement, book: _Book, channel: str | None) -> tuple[MissingPayment, ...]:
    period = statement.period
    if not statement.full or period is None:
        return ()
    return tuple(
        MissingPayment(p)
        for p in book.payments
        if p.message_id not in book.taken
        and p.status == "completed"
        and (channel is None or p.adapter == channel)
        and (statement.currency is None or p.amount.currency == statement.currency)
        and p.changed_at in period
    )


# -- the runner -------------------------------------------------------------------------------------


async def reconcile(
    store: Store, statement_payload: StatementPayload, channel: str | None, *, actor: str = "hub"
) -> ReconciliationReport:
    """Match a statement against the journal and record the report (audit action
    `reconciliation.report`, target the statement id, detail the report's JSON) as `actor`."""
    statement = statement_of(statement_payload)
    report = match_statement(statement, await _payments_for(store, statement, statement_payload, channel), channel)
    await store.audit(actor, AUDIT_ACTION, statement.statement_id, report.as_json())
    return report


async def _payments_for(
    store: Store, statement: Statement, payload: StatementPayload, channel: str | None
) -> list[Payment]:
    """The payments an entry names by UETR, and those of the channel that changed near the period."""
    uetrs = sorted({e.uetr for e in statement.entries if e.uetr})
    views: list[MessageView] = []
    for i in range(0, len(uetrs), UETR_BATCH):
        views += await store.by_correlation(uetrs[i : i + UETR_BATCH], PAYMENT_TYPES)
    day = _anchor(payload)
    window = statement.period or _days(day, day)
    views += await store.changed_between(
        PAYMENT_TYPES, window.start - MATCH_MARGIN, window.end + MATCH_MARGIN, adapter=channel
    )
    views.sort(key=lambda v: v.created_at)  # among equal candidates the oldest payment is taken first
    return [p for v in views if (p := Payment.from_view(v)) is not None]


def _anchor(payload: StatementPayload) -> date:
    """The day a statement without a period is about: its settlement date, or when it was created."""
    if isinstance(payload, AccountNotification) and payload.settlement_date is not None:
        return payload.settlement_date
    return _utc(payload.created_at).date() if payload.created_at else datetime.now(UTC).date()


# -- small pieces -----------------------------------------------------------------------------------


def _reference(value: str | None) -> str | None:
    return None if value in (None, "", NOT_PROVIDED) else value


def _utc(moment: datetime) -> datetime:
    # An ISODateTime without an offset is read as UTC, the hub's clock.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _days(first: date, last: date) -> Period:
    return Period(datetime.combine(first, time.min, UTC), datetime.combine(last, time.max, UTC))


def _masked(identifier: str) -> str:
    """Enough of an account identifier to recognise it: the last four characters."""
    return f"***{identifier[-4:]}" if len(identifier) > 4 else "***"


def _money(m: Money) -> dict[str, str]:
    return {"currency": m.currency, "amount": str(m.amount)}


def _entry_head(entry: Entry) -> dict[str, Any]:
    return {"entry": entry.ref, "index": entry.index, "status": entry.status}


def _figures(amounts: Iterable[Money]) -> dict[str, Any]:
    totals: dict[str, Decimal] = {}
    count = 0
    for m in amounts:
        totals[m.currency] = totals.get(m.currency, Decimal(0)) + m.amount
        count += 1
    return {"count": count, "totals": {c: str(v) for c, v in sorted(totals.items())}}


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A readable summary of a report's JSON, one line per finding (for the CLI and logs)."""
    period = report.get("period")
    figures = report["figures"]
    lines = [
        f"{report['kind']} {report['statement_id']} account {report['account']} "
        + (f"{period['from']} .. {period['to']}" if period else "(no period)")
        + (f" channel {report['channel']}" if report.get("channel") else ""),
    ]
    for name in ("matched", "mismatched", "unmatched_entries", "missing"):
        totals = ", ".join(f"{c} {v}" for c, v in figures[name]["totals"].items())
        lines.append(f"{name.replace('_', ' ')}: {figures[name]['count']}" + (f" ({totals})" if totals else ""))
    for m in report["matched"]:
        amount = f"{m['amount']['currency']} {m['amount']['amount']}"
        lines.append(
            f"  matched     entry {m['index']} {m['entry']} -> message {m['message_id']} uetr {m['uetr']} {amount}"
        )
    for m in report["mismatched"]:
        what = "; ".join(f"{k} {d['entry']} vs {d['payment']}" for k, d in m["differences"].items())
        lines.append(
            f"  MISMATCHED entry {m['index']} {m['entry']} -> message {m['message_id']} uetr {m['uetr']}: {what}"
        )
    for u in report["unmatched_entries"]:
        refs = " ".join(f"{k}={v}" for k, v in u["references"].items())
        amount = f"{u['credit_debit']} {u['amount']['currency']} {u['amount']['amount']}"
        lines.append(f"  UNMATCHED  entry {u['index']} {u['entry']} {amount} {refs}: {u['reason']}")
    for p in report["missing"]:
        amount = f"{p['amount']['currency']} {p['amount']['amount']}"
        lines.append(f"  MISSING    message {p['message_id']} uetr {p['uetr']} {amount} completed {p['completed_at']}")
    if not report["missing_checked"]:
        lines.append("missing payments not checked: only a full statement (camt.053, MT940/950) lists every booking")
    lines.append("balanced" if report["balanced"] else "NOT balanced")
    return lines
