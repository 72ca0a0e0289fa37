"""Statement reconciliation, the pure matching: entries against journalled payments."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canonical.errors import RejectedInput
from canonical.iso20022 import BusinessHeader, Iso20022Message, parse, render
from canonical.money import Money
from canonical.payments import AccountNotification, AccountReport, AccountStatement, StatementEntry
from canonical.swift_mt.codec import to_mt
from canonical.swift_mt.statement_map import canonical_to_statement
from desk.reconcile import Payment, ReconciliationReport, decode_statement, match_statement, period_of

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "iso20022" / "samples"
DAY = date(2026, 11, 20)
COMPLETED_AT = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
ACCOUNT = "GB29NWBK60161331926819"


def uetr() -> str:
    return str(uuid.uuid4())


def payment(
    amount: str = "100.00",
    currency: str = "USD",
    *,
    uetr_: str | None = None,
    e2e: str | None = None,
    instr: str | None = None,
    status: str = "completed",
    adapter: str = "swift",
    at: datetime = COMPLETED_AT,
) -> Payment:
    return Payment(
        message_id=str(uuid.uuid4()),
        uetr=uetr_ or uetr(),
        end_to_end_id=e2e or f"E2E-{uuid.uuid4().hex[:8]}",
        instruction_id=instr,
        amount=Money(currency=currency, amount=Decimal(amount)),
        status=status,
        adapter=adapter,
        changed_at=at,
    )


def entry(
    amount: str = "100.00", currency: str = "USD", side: str = "DBIT", ref: str | None = None, **refs: Any
) -> StatementEntry:
    return StatementEntry(
        entry_reference=ref,
        amount=Money(currency=currency, amount=Decimal(amount)),
        credit_debit=side,  # type: ignore[arg-type]
        booking_date=DAY,
        **refs,
    )


def balances(currency: str = "USD") -> list[dict[str, Any]]:
    return [
        {"type": t, "currency": currency, "amount": "1000.00", "credit_debit": "CRDT", "as_of": DAY}
        for t in ("OPBD", "CLBD")
    ]


def statement(*entries: StatementEntry, currency: str = "USD", **extra: Any) -> AccountStatement:
    return AccountStatement.model_validate(
        {
            "message_id": "STMT-MSG-1",
            "report_id": "STMT-1",
            "account": {"iban": ACCOUNT},
            "account_currency": currency,
            "balances": balances(currency),
            "entries": list(entries),
            **extra,
        }
    )


def refs_of(report: ReconciliationReport) -> dict[str, list[str]]:
    data = report.as_json()
    return {
        "matched": [m["message_id"] for m in data["matched"]],
        "mismatched": [m["message_id"] for m in data["mismatched"]],
        "unmatched_entries": [u["entry"] for u in data["unmatched_entries"]],
        "missing": [m["message_id"] for m in data["missing"]],
    }


def test_an_entry_carrying_the_uetr_matches_its_payment() -> None:
    p = payment()
    report = match_statement(statement(entry(ref="N1", uetr=p.uetr)), [p])
    assert report.balanced
    (matched,) = report.as_json()["matched"]
    assert matched == {
        "entry": "N1",
        "index": 1,
        "status": "BOOK",
        "message_id": p.message_id,
        "uetr": p.uetr,
        "amount": {"currency": "USD", "amount": "100.00"},
        "matched_by": "uetr",
    }


def test_without_uetr_the_end_to_end_id_then_the_instruction_id_match() -> None:
    by_e2e, by_instr = payment(e2e="E2E-A"), payment(instr="INSTR-B")
    report = match_statement(
        statement(entry(end_to_end_id="E2E-A"), entry(instruction_id="INSTR-B")), [by_e2e, by_instr]
    )
    assert [(m["message_id"], m["matched_by"]) for m in report.as_json()["matched"]] == [
        (by_e2e.message_id, "end_to_end_id"),
        (by_instr.message_id, "instruction_id"),
    ]
    assert report.balanced


def test_an_entry_naming_another_uetr_never_matches_by_end_to_end_id() -> None:
    p = payment(e2e="E2E-A")
    report = match_statement(statement(entry(ref="N1", uetr=uetr(), end_to_end_id="E2E-A")), [p])
    (unmatched,) = report.as_json()["unmatched_entries"]
    assert unmatched["reason"] == "no journalled payment with these references"
    assert set(unmatched["references"]) == {"uetr", "end_to_end_id"}
    assert refs_of(report)["missing"] == [p.message_id]  # the payment itself is still not on the statement


def test_an_equal_uetr_decides_even_when_the_bank_reports_another_owner_reference() -> None:
    p = payment(e2e="E2E-A", instr="FIELD20-REF")
    report = match_statement(statement(entry(uetr=p.uetr, end_to_end_id="FIELD20-REF")), [p])
    assert refs_of(report)["matched"] == [p.message_id] and report.balanced


def test_without_uetr_an_entry_naming_another_instruction_id_takes_the_payment_that_has_it() -> None:
    first, second = payment(e2e="INV-7", instr="I-1"), payment(e2e="INV-7", instr="I-2")
    report = match_statement(statement(entry(end_to_end_id="INV-7", instruction_id="I-2")), [first, second])
    assert refs_of(report)["matched"] == [second.message_id]
    assert refs_of(report)["missing"] == [first.message_id]


def test_an_entry_no_payment_explains_is_unmatched_with_its_references() -> None:
    report = match_statement(statement(entry(ref="N9", side="CRDT", end_to_end_id="INCOMING-1")), [])
    (unmatched,) = report.as_json()["unmatched_entries"]
    assert unmatched["entry"] == "N9" and unmatched["credit_debit"] == "CRDT"
    assert unmatched["references"] == {"end_to_end_id": "INCOMING-1"}
    assert not report.balanced


def test_an_entry_without_references_is_unmatched_saying_so() -> None:
    report = match_statement(statement(entry(ref="FEE")), [payment(at=datetime(2026, 10, 1, tzinfo=UTC))])
    assert report.as_json()["unmatched_entries"][0]["reason"].startswith("the entry carries no UETR")


def test_the_same_payment_booked_twice_leaves_the_second_entry_unmatched_as_a_duplicate() -> None:
    p = payment()
    report = match_statement(statement(entry(ref="N1", uetr=p.uetr), entry(ref="N2", uetr=p.uetr)), [p])
    assert refs_of(report)["matched"] == [p.message_id]
    (duplicate,) = report.as_json()["unmatched_entries"]
    assert duplicate["entry"] == "N2"
    assert duplicate["reason"] == f"duplicate: payment {p.message_id} is already matched by entry 1 (N1)"


def test_an_end_to_end_id_used_by_two_payments_pairs_each_entry_with_the_amount_it_agrees_with() -> None:
    first, second = payment("100.00", e2e="INV-7"), payment("250.00", e2e="INV-7")
    report = match_statement(
        statement(entry("250.00", ref="N1", end_to_end_id="INV-7"), entry("100.00", ref="N2", end_to_end_id="INV-7")),
        [first, second],
    )
    assert refs_of(report)["matched"] == [second.message_id, first.message_id]
    assert report.balanced


def test_an_end_to_end_id_used_twice_but_booked_once_leaves_the_other_payment_missing() -> None:
    first, second = payment("100.00", e2e="INV-7"), payment("100.00", e2e="INV-7")
    report = match_statement(statement(entry("100.00", end_to_end_id="INV-7")), [first, second])
    assert refs_of(report)["matched"] == [first.message_id]  # among equals, the first given
    assert refs_of(report)["missing"] == [second.message_id]


def test_amount_currency_and_direction_disagreements_are_mismatched_with_both_values() -> None:
    amount, currency, credit = payment("100.00"), payment("100.00", "EUR"), payment("100.00")
    report = match_statement(
        statement(
            entry("99.50", uetr=amount.uetr),
            entry("100.00", uetr=currency.uetr),
            entry("100.00", side="CRDT", uetr=credit.uetr),
        ),
        [amount, currency, credit],
    )
    differences = [m["differences"] for m in report.as_json()["mismatched"]]
    assert differences == [
        {"amount": {"entry": "99.50", "payment": "100.00"}},
        {"currency": {"entry": "USD", "payment": "EUR"}},
        {"direction": {"entry": "CRDT", "payment": "DBIT"}},
    ]
    mismatched = report.as_json()["mismatched"][0]
    assert mismatched["entry_amount"] == {"currency": "USD", "amount": "99.50"}
    assert mismatched["payment_amount"] == {"currency": "USD", "amount": "100.00"}
    assert refs_of(report)["missing"] == []  # a mismatched payment is accounted for, not missing
    assert not report.balanced


def test_an_exact_match_is_never_taken_by_an_earlier_disagreeing_entry() -> None:
    exact, other = payment("100.00", e2e="INV-1"), payment("300.00", e2e="INV-1")
    report = match_statement(
        statement(entry("150.00", ref="N1", end_to_end_id="INV-1"), entry("100.00", ref="N2", end_to_end_id="INV-1")),
        [exact, other],
    )
    data = report.as_json()
    assert [(m["entry"], m["message_id"]) for m in data["matched"]] == [("N2", exact.message_id)]
    assert [(m["entry"], m["message_id"]) for m in data["mismatched"]] == [("N1", other.message_id)]


def test_a_booked_entry_of_a_rejected_payment_is_mismatched_on_status() -> None:
    p = payment(status="rejected")
    report = match_statement(statement(entry(uetr=p.uetr)), [p])
    assert report.as_json()["mismatched"][0]["differences"] == {"status": {"entry": "BOOK", "payment": "rejected"}}


def test_missing_lists_only_completed_payments_of_the_channel_period_and_currency_not_on_the_statement() -> None:
    missing = payment("40.00")
    others = [
        payment(status="delivered"),  # not final yet: the bank may book it tomorrow
        payment(adapter="cips"),  # another channel
        payment(currency="EUR"),  # another account's currency
        payment(at=datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)),  # after the period
    ]
    on_statement = payment()
    report = match_statement(statement(entry(uetr=on_statement.uetr)), [on_statement, missing, *others], "swift")
    data = report.as_json()
    assert refs_of(report)["missing"] == [missing.message_id]
    assert data["missing"][0]["amount"] == {"currency": "USD", "amount": "40.00"}
    assert data["missing"][0]["channel"] == "swift"
    assert data["missing_checked"] and not report.balanced


def test_a_notification_never_reports_missing_payments() -> None:
    booked, elsewhere = payment(), payment()
    notification = AccountNotification(
        message_id="NTF-MSG-1",
        notification_id="NTF-1",
        account={"iban": ACCOUNT},  # type: ignore[arg-type]
        amount=Money(currency="USD", amount=Decimal("100.00")),
        credit_debit="DBIT",  # type: ignore[arg-type]
        uetr=booked.uetr,
        settlement_date=DAY,
    )
    report = match_statement(notification, [booked, elsewhere])
    data = report.as_json()
    assert report.balanced and data["kind"] == "notification"
    assert refs_of(report)["matched"] == [booked.message_id] and data["missing"] == []
    assert not data["missing_checked"] and data["period"] is None
    assert data["matched"][0]["entry"] == "NTF-1"  # no entry reference: the notification's id


def test_an_intraday_report_never_reports_missing_payments() -> None:
    report_ = AccountReport.model_validate(
        {
            "message_id": "RPT-MSG",
            "report_id": "RPT-1",
            "account": {"iban": ACCOUNT},
            "account_currency": "USD",
            "entries": [entry()],
        }
    )
    report = match_statement(report_, [payment()])
    assert report.as_json()["kind"] == "report" and report.missing == ()


def test_figures_count_and_total_each_category_per_currency() -> None:
    a, b = payment("100.00"), payment("20.50")
    report = match_statement(
        statement(entry("100.00", uetr=a.uetr), entry("20.50", uetr=b.uetr), entry("5.00", side="CRDT")), [a, b]
    )
    figures = report.as_json()["figures"]
    assert figures["entries"] == {"count": 3, "totals": {"USD": "125.50"}}
    assert figures["matched"] == {"count": 2, "totals": {"USD": "120.50"}}
    assert figures["unmatched_entries"] == {"count": 1, "totals": {"USD": "5.00"}}
    assert figures["mismatched"] == figures["missing"] == {"count": 0, "totals": {}}


def test_the_report_heads_with_statement_id_masked_account_and_period() -> None:
    data = match_statement(statement(), []).as_json()
    assert data["statement_id"] == "STMT-1" and data["message_id"] == "STMT-MSG-1"
    assert data["account"] == "***6819" and ACCOUNT not in str(data)
    assert data["period"] == {"from": "2026-11-20T00:00:00+00:00", "to": "2026-11-20T23:59:59.999999+00:00"}
    assert data["balanced"] and data["currency"] == "USD"


def test_the_period_is_frtodt_when_given_else_from_the_first_booking_to_the_closing_balance() -> None:
    explicit = statement(
        period_from=datetime(2026, 11, 20, 8, 0, tzinfo=UTC), period_to=datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    )
    period = period_of(explicit)
    assert period is not None and (period.start.hour, period.end.hour) == (8, 18)
    backdated = statement(entry().model_copy(update={"booking_date": date(2026, 11, 18)}))
    derived = period_of(backdated)
    assert derived is not None and (derived.start.date(), derived.end.date()) == (date(2026, 11, 18), DAY)


def test_the_statement_period_survives_camt053_and_is_warned_about_in_mt940() -> None:
    stmt = statement(
        entry(uetr=uetr()),
        sequence_number=7,
        period_from=datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
        period_to=datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC),
    )
    header = BusinessHeader(
        from_bic="NWBKGB2LXXX",
        to_bic="COBADEFFXXX",
        business_message_id="STMT-1",
        message_definition="camt.053.001.08",
        created_at=datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC),
    )
    rendered = render(Iso20022Message(header, stmt))
    assert b"<FrDtTm>2026-11-20T00:00:00+00:00</FrDtTm>" in rendered
    read = parse(rendered).payload
    assert isinstance(read, AccountStatement)
    assert (read.period_from, read.period_to, read.entries) == (stmt.period_from, stmt.period_to, stmt.entries)
    _, warnings = canonical_to_statement(stmt, "NWBKGB2LXXX", "COBADEFFXXX")
    assert "FrToDt: not carried in MT" in warnings


def test_raw_mt940_and_camt054_decode_to_statements_and_a_payment_is_refused_naming_the_rule() -> None:
    p = payment()
    fin, _ = to_mt(statement(entry(uetr=p.uetr), sequence_number=3), "NWBKGB2LXXX", "COBADEFFXXX")
    assert match_statement(decode_statement(fin.encode()), [p]).balanced
    camt054 = (SAMPLES / "camt054_credit_notification_sample.xml").read_bytes()
    assert isinstance(decode_statement(camt054), AccountNotification)
    pacs008 = (SAMPLES / "pacs008_credit_transfer_sample.xml").read_bytes()
    with pytest.raises(RejectedInput) as refused:
        decode_statement(pacs008)
    assert [(v.loc, v.rule) for v in refused.value.violations] == [("type", "statement_type")]
    with pytest.raises(RejectedInput) as unknown:
        decode_statement(b"hello")
    assert unknown.value.violations[0].rule == "statement_format"
