"""MT <-> MX for cash reporting: MT900 / MT910 <-> camt.054, MT941 / MT942 <-> camt.052, MT920 <-> camt.060.

Every translation is checked against the official XSD, both ways round, and every refusal names the field or
element and the rule that failed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from canonical.cash import AccountReportingRequest, FloorLimit, FloorLimitSide, ReportingRequest, RequestedTransactions
from canonical.iso20022 import parse as parse_mx
from canonical.money import Money
from canonical.payments import (
    Account,
    AccountNotification,
    AccountReport,
    Agent,
    Balance,
    CreditDebit,
    EntryTotals,
    Party,
    PostalAddress,
    StatementEntry,
)
from canonical.swift_mt import codec, mt_to_mx, mx_to_mt, parse_message
from canonical.swift_mt.codec import to_mt
from canonical.swift_mt.common import Mt900, Mt910
from canonical.swift_mt.statements import Mt920, Mt941, Mt942
from tests.unit.translation_support import (
    CREDIT_910,
    DEBIT_900,
    RECEIVER,
    REQUEST_920,
    SENDER,
    UETR,
    fin,
    mt_mx_mt,
    mx,
    official_xsd_errors,
    refusal_of_mt,
    refusal_of_mx,
    replaced,
    through_mt,
    violations,
    without,
)

CET = timezone(timedelta(hours=1))


# --- MT900 / MT910 <-> camt.054 ------------------------------------------------------------------------------

MT900 = fin("900", DEBIT_900, UETR)
MT910 = fin("910", CREDIT_910, UETR)


@pytest.mark.parametrize("text", [MT900, MT910], ids=["MT900", "MT910"])
def test_confirmation_becomes_an_xsd_valid_camt054(text: str) -> None:
    xml, warnings = mt_to_mx(text)
    assert official_xsd_errors(xml, "camt.054.001.08") == []
    assert parse_mx(xml).header.message_definition == "camt.054.001.08"
    assert warnings == []


def test_mt900_maps_every_field_to_the_debit_notification() -> None:
    decoded = codec.decode(MT900.encode())
    n = decoded.payload
    assert decoded.type == "payment.account_notification" and isinstance(n, AccountNotification)
    assert (n.message_id, n.notification_id, n.instruction_id, n.uetr) == (
        "C11126A1378",
        "C11126A1378",
        "5482ABC",
        UETR,
    )
    assert (n.account.other, n.account_owner, n.account_servicer) == ("0123456789", SENDER, SENDER)
    assert (n.credit_debit, n.entry_status, n.amount.amount, n.value_date) == (
        CreditDebit.DBIT,
        "BOOK",
        Decimal("233530"),
        date(2023, 2, 27),
    )
    assert n.booked_at == datetime(2023, 2, 27, 10, 45, tzinfo=CET)
    assert n.debtor_agent == Agent(bic="BANKBEBBXXX")
    assert n.additional_information == "/BNF/ABC REF 1234"


def test_mt910_carries_the_ordering_customer_and_institutions() -> None:
    n = codec.decode(MT910.encode()).payload
    assert isinstance(n, AccountNotification) and n.credit_debit is CreditDebit.CRDT
    assert n.debtor == Party(
        name="ACME CORPORATION",
        account=Account(other="123456789"),
        address=PostalAddress(lines=["1 MAIN STREET", "NEW YORK"]),
    )
    assert (n.debtor_agent, n.intermediary_agent) == (Agent(bic="BANKUS33XXX"), Agent(bic="CHASUS33XXX"))
    assert n.booked_at is not None and n.booked_at.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize("text", [MT900, MT910], ids=["MT900", "MT910"])
def test_confirmation_to_camt054_and_back_gives_the_same_mt(text: str) -> None:
    xml, _ = mt_to_mx(text)
    back, warnings = mx_to_mt(xml)
    assert back == text
    assert warnings == []


def notification(side: CreditDebit) -> AccountNotification:
    credit = side is CreditDebit.CRDT
    return AccountNotification(
        message_id="NTF20260413001",
        notification_id="NTF20260413001",
        account=Account(iban="DE89370400440532013000"),
        account_owner="CUSTDEFFXXX",
        account_servicer=SENDER,
        amount=Money(currency="EUR", amount=Decimal("1250.5")),
        credit_debit=side,
        value_date=date(2026, 4, 13),
        booked_at=datetime(2026, 4, 13, 10, 45, tzinfo=timezone(timedelta(hours=2))),
        instruction_id="PAY20260413017",
        uetr=UETR,
        debtor=Party(name="ACME GMBH", account=Account(other="4711"), address=PostalAddress(lines=["BERLIN"]))
        if credit
        else None,
        debtor_agent=Agent(bic="BANKBEBBXXX"),
        intermediary_agent=Agent(name="INTERMEDIARY BANK", address=PostalAddress(lines=["PARIS"])) if credit else None,
        additional_information="/BNF/INVOICE 4711",
    )


@pytest.mark.parametrize("side", [CreditDebit.DBIT, CreditDebit.CRDT])
def test_camt054_to_mt900_or_mt910_and_back_keeps_every_mapped_field(side: CreditDebit) -> None:
    n = notification(side)
    text, warnings = mx_to_mt(mx(n, "camt.054.001.08"))
    assert isinstance(parse_message(text), Mt900 if side is CreditDebit.DBIT else Mt910)
    assert warnings == []
    assert through_mt(n, "camt.054.001.08") == n


def test_camt054_elements_without_an_mt_field_are_warned_about() -> None:
    n = notification(CreditDebit.DBIT).model_copy(
        update={"entry_reference": "E1", "bank_transaction_code": ("PMNT", "RCDT", "XBCT"), "end_to_end_id": "E2E1"}
    )
    _, warnings = mx_to_mt(mx(n, "camt.054.001.08"))
    assert "Ntry/NtryRef: not carried in MT" in warnings
    assert "Ntry/BkTxCd: not carried in MT" in warnings
    assert "Ntfctn/Ntry/NtryDtls/TxDtls/Refs/EndToEndId: not carried in MT" in warnings


@pytest.mark.parametrize(
    ("side", "update", "loc", "rule"),
    [
        (
            CreditDebit.CRDT,
            {"debtor": None, "debtor_agent": None},
            "Ntfctn/Ntry/NtryDtls/TxDtls/RltdPties/Dbtr",
            "ordering_party_required",
        ),
        (CreditDebit.DBIT, {"entry_status": "PDNG"}, "Ntfctn/Ntry/Sts/Cd", "entry_status_not_in_mt"),
        (CreditDebit.DBIT, {"value_date": None}, "Ntfctn/Ntry/ValDt", "value_date_required"),
    ],
    ids=["credit-without-ordering-party", "pending-entry", "no-value-date"],
)
def test_camt054_without_an_mt900_or_mt910_form_is_refused_naming_the_element(
    side: CreditDebit, update: dict[str, object], loc: str, rule: str
) -> None:
    n = notification(side).model_copy(update=update)
    assert refusal_of_mx(mx(n, "camt.054.001.08")) == [(loc, rule)]


def test_malformed_confirmations_get_specific_errors() -> None:
    assert refusal_of_mt(fin("900", without(DEBIT_900, "32A"))) == [("4:32A", "field_missing")]
    jpy = fin("900", replaced(DEBIT_900, "32A", "230227JPY100,5"))
    assert refusal_of_mt(jpy) == [("4:32A", "currency_decimals")]
    unknown = fin("900", replaced(DEBIT_900, "32A", "230227ABC100,"))
    assert refusal_of_mt(unknown) == [("4:32A", "currency_code")]
    orphan = fin("910", without(CREDIT_910, "50K", "52A"))
    assert refusal_of_mt(orphan) == [("4:50a", "ordering_party_required")]


def test_camt054_with_too_many_decimals_is_refused_naming_the_amount() -> None:
    xml = mx(notification(CreditDebit.DBIT), "camt.054.001.08").replace(b">1250.5<", b">1250.505<")
    violations = refusal_of_mx(xml)
    assert ("/Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry/Amt", "currency_decimals") in violations


# --- MT941 / MT942 <-> camt.052 ------------------------------------------------------------------------------

BALANCE_941 = [
    ("20", "BAL230227"),
    ("21", "REQ920001"),
    ("25", "0123456789"),
    ("28", "27"),
    ("13D", "2302271800+0100"),
    ("60F", "C230226EUR12500,"),
    ("90D", "1EUR1250,"),
    ("90C", "2EUR23015,5"),
    ("62F", "C230227EUR34265,5"),
    ("64", "C230227EUR34265,5"),
    ("65", "C230228EUR34265,5"),
    ("86", "END OF DAY BALANCE REPORT"),
]
INTERIM_942 = [
    ("20", "INT230227001"),
    ("21", "REQ920002"),
    ("25", "DE89370400440532013000"),
    ("28C", "5"),
    ("34F", "EUR0,"),
    ("13D", "2302271430+0100"),
    ("61", "2302270227D1250,NMSCPAYREF123456//RT230227001"),
    ("86", f"/UETR/{UETR}"),
    ("61", "230227EC23000,NMSCNONREF"),
    ("90D", "1EUR1250,"),
    ("90C", "1EUR23000,"),
    ("86", "INTERIM REPORT"),
]
MT941 = fin("941", BALANCE_941)
MT942 = fin("942", INTERIM_942)


@pytest.mark.parametrize("text", [MT941, MT942], ids=["MT941", "MT942"])
def test_report_becomes_an_xsd_valid_camt052_and_back_the_same_mt(text: str) -> None:
    _, back, _ = mt_mx_mt(text, "camt.052.001.08")
    assert back == text


def test_mt941_maps_balances_totals_and_its_request() -> None:
    report, warnings = codec.decode(MT941.encode()).payload, codec.decode(MT941.encode()).warnings
    assert isinstance(report, AccountReport) and warnings == []
    assert (report.report_id, report.original_request_id, report.sequence_number) == ("BAL230227", "REQ920001", 27)
    assert [(b.type, b.amount) for b in report.balances] == [
        ("OPBD", Decimal("12500")),
        ("CLBD", Decimal("34265.5")),
        ("CLAV", Decimal("34265.5")),
        ("FWAV", Decimal("34265.5")),
    ]
    assert (report.debit_entries, report.credit_entries) == (
        EntryTotals(count=1, total=Decimal("1250")),
        EntryTotals(count=2, total=Decimal("23015.5")),
    )
    assert report.reported_at == datetime(2023, 2, 27, 18, 0, tzinfo=CET)
    assert report.additional_information == "END OF DAY BALANCE REPORT"


def test_mt942_maps_entries_and_warns_that_the_floor_limit_is_lost() -> None:
    decoded = codec.decode(MT942.encode())
    report = decoded.payload
    assert isinstance(report, AccountReport) and report.account.iban == "DE89370400440532013000"
    first, second = report.entries
    assert (first.credit_debit, first.status, first.end_to_end_id, first.account_servicer_reference, first.uetr) == (
        CreditDebit.DBIT,
        "BOOK",
        "PAYREF123456",
        "RT230227001",
        UETR,
    )
    assert (second.credit_debit, second.status, second.end_to_end_id) == (CreditDebit.CRDT, "PDNG", None)
    assert decoded.warnings == ["34F: floor limit not carried (camt.052 has none)"]


def report_942() -> AccountReport:
    return AccountReport(
        message_id="RPT0413",
        report_id="RPT0413",
        original_request_id="REQ0413",
        sequence_number=12,
        reported_at=datetime(2026, 4, 13, 14, 30, tzinfo=CET),
        account=Account(iban="DE89370400440532013000"),
        account_currency="EUR",
        account_servicer=SENDER,
        entries=[
            StatementEntry(
                amount=Money(currency="EUR", amount=Decimal("250")),
                credit_debit=CreditDebit.DBIT,
                booking_date=date(2026, 4, 13),
                value_date=date(2026, 4, 13),
                account_servicer_reference="BK1",
                end_to_end_id="INV4711",
                uetr=UETR,
            ),
            StatementEntry(
                amount=Money(currency="EUR", amount=Decimal("1000.25")),
                credit_debit=CreditDebit.CRDT,
                status="PDNG",
                value_date=date(2026, 4, 14),
            ),
        ],
        debit_entries=EntryTotals(count=1, total=Decimal("250")),
        credit_entries=EntryTotals(count=1, total=Decimal("1000.25")),
        additional_information="INTRADAY",
    )


def report_941() -> AccountReport:
    def balance(kind: str, amount: str, day: int) -> Balance:
        return Balance(
            type=kind,
            currency="USD",
            amount=Decimal(amount),
            credit_debit=CreditDebit.CRDT,
            as_of=date(2026, 4, day),
        )

    return AccountReport(
        message_id="BAL0413",
        report_id="BAL0413",
        sequence_number=3,
        reported_at=datetime(2026, 4, 13, 18, 0, tzinfo=UTC),
        account=Account(other="0012345678"),
        account_currency="USD",
        account_servicer=SENDER,
        balances=[
            balance("OPBD", "10", 12),
            balance("CLBD", "89.5", 13),
            balance("CLAV", "89.5", 13),
            balance("FWAV", "90", 14),
        ],
        debit_entries=EntryTotals(count=0, total=Decimal("0")),
        credit_entries=EntryTotals(count=2, total=Decimal("79.5")),
    )


def test_camt052_with_entries_to_mt942_and_back_keeps_every_mapped_field() -> None:
    report = report_942()
    text, warnings = mx_to_mt(mx(report, "camt.052.001.08"))
    assert isinstance(parse_message(text), Mt942)
    assert "34F: camt.052 has no floor limit; EUR0, (every entry reported) used" in warnings
    assert through_mt(report, "camt.052.001.08") == report


def test_camt052_of_balances_to_mt941_and_back_keeps_every_mapped_field() -> None:
    report = report_941()
    text, _ = mx_to_mt(mx(report, "camt.052.001.08"))
    assert isinstance(parse_message(text), Mt941)
    assert through_mt(report, "camt.052.001.08") == report


def test_a_report_can_be_asked_for_as_mt942_or_mt941() -> None:
    assert isinstance(parse_message(to_mt(report_941(), SENDER, RECEIVER, mt_type="942")[0]), Mt942)
    refusal = violations(lambda: to_mt(report_942(), SENDER, RECEIVER, mt_type="941"))
    assert refusal == [("Rpt/Bal", "booked_balance_required")]


def test_camt052_without_report_number_or_time_is_refused_naming_the_element() -> None:
    unnumbered = report_942().model_copy(update={"sequence_number": None})
    assert refusal_of_mx(mx(unnumbered, "camt.052.001.08")) == [("Rpt/ElctrncSeqNb", "statement_number_required")]
    local = report_942().model_copy(update={"reported_at": datetime(2026, 4, 13, 14, 30), "created_at": None})
    assert violations(lambda: to_mt(local, SENDER, RECEIVER)) == [("Rpt/CreDtTm", "date_time_required")]


def test_malformed_reports_get_specific_errors() -> None:
    other_currency = fin("941", replaced(BALANCE_941, "64", "C230227USD34265,5"))
    assert refusal_of_mt(other_currency) == [("4:64", "balance_currency")]
    summary = fin("942", replaced(INTERIM_942, "90C", "1USD23000,"))
    assert refusal_of_mt(summary) == [("4:90C", "summary_currency")]
    line = "2302270227D1250,125NMSCPAYREF123456//RT230227001"
    decimals = fin("942", [("61", line) if v.startswith("2302270227D") else (t, v) for t, v in INTERIM_942])
    assert refusal_of_mt(decimals) == [("4:61", "currency_decimals")]
    assert refusal_of_mt(fin("942", without(INTERIM_942, "13D"))) == [("4:13D", "field_missing")]


# --- MT920 <-> camt.060 --------------------------------------------------------------------------------------

MT920 = fin(  # then an MT942 with one floor limit for both sides, and an MT941
    "920", [*REQUEST_920, ("12", "942"), ("25", "0123456789"), ("34F", "USD0,"), ("12", "941"), ("25", "0123456789")]
)


def test_mt920_becomes_an_xsd_valid_camt060_and_back_the_same_mt() -> None:
    assert mt_mx_mt(MT920, "camt.060.001.05") == ([], MT920, [])


def test_mt920_requests_map_to_reporting_requests() -> None:
    request = codec.decode(MT920.encode()).payload
    assert isinstance(request, AccountReportingRequest)
    summary = [
        (
            r.requested_message,
            r.account.identifier if r.account else None,
            r.transactions and r.transactions.credit_debit,
            r.transactions and [(f.currency, f.amount, f.side) for f in r.transactions.floor_limits],
        )
        for r in request.requests
    ]
    iban = "DE89370400440532013000"
    assert summary == [
        ("camt.052.001.08", iban, CreditDebit.DBIT, [("EUR", Decimal("1000"), FloorLimitSide.DEBT)]),
        ("camt.052.001.08", iban, CreditDebit.CRDT, [("EUR", Decimal("5000"), FloorLimitSide.CRED)]),
        ("camt.053.001.08", "0123456789", None, None),
        ("camt.052.001.08", "0123456789", CreditDebit.DBIT, [("USD", Decimal("0"), FloorLimitSide.BOTH)]),
        ("camt.052.001.08", "0123456789", CreditDebit.CRDT, [("USD", Decimal("0"), FloorLimitSide.BOTH)]),
        ("camt.052.001.08", "0123456789", None, None),
    ]
    assert {r.account_owner_agent for r in request.requests} == {Agent(bic=SENDER)}


def reporting_request(*requests: ReportingRequest) -> AccountReportingRequest:
    return AccountReportingRequest(message_id="REQ0413", requests=list(requests))


def wanted(side: CreditDebit, amount: str, limit_side: FloorLimitSide) -> RequestedTransactions:
    limit = FloorLimit(currency="EUR", amount=Decimal(amount), side=limit_side)
    return RequestedTransactions(status="BOOK", credit_debit=side, floor_limits=[limit])


def request(message: str, transactions: RequestedTransactions | None = None) -> ReportingRequest:
    return ReportingRequest(
        requested_message=message,
        account=Account(iban="DE89370400440532013000"),
        account_owner_agent=Agent(bic=SENDER),
        transactions=transactions,
    )


def test_camt060_to_mt920_and_back_keeps_every_mapped_field() -> None:
    original = reporting_request(
        request("camt.053.001.08"),
        request("camt.052.001.08", wanted(CreditDebit.DBIT, "100", FloorLimitSide.DEBT)),
        request("camt.052.001.08", wanted(CreditDebit.CRDT, "200.5", FloorLimitSide.CRED)),
        request("camt.052.001.08"),
    )
    text, _ = mx_to_mt(mx(original, "camt.060.001.05"))
    mt = parse_message(text)
    assert isinstance(mt, Mt920)
    assert [(r.message_requested, r.floor_limit and r.floor_limit.render()) for r in mt.requests] == [
        ("940", None),
        ("942", "EURD100,"),
        ("941", None),
    ]
    assert through_mt(original, "camt.060.001.05") == original


def test_camt060_requests_mt920_cannot_make_are_refused_naming_the_request() -> None:
    notification_request = reporting_request(request("camt.053.001.08"), request("camt.054.001.08"))
    assert refusal_of_mx(mx(notification_request, "camt.060.001.05")) == [
        ("RptgReq[2]/ReqdMsgNmId", "requested_message_not_in_mt")
    ]
    unlimited = RequestedTransactions(status="BOOK", credit_debit=CreditDebit.DBIT)
    assert refusal_of_mx(mx(reporting_request(request("camt.052.001.08", unlimited)), "camt.060.001.05")) == [
        ("RptgReq[1]/ReqdTxTp/FlrLmt", "floor_limit_required")
    ]
    no_account = request("camt.053.001.08").model_copy(update={"account": None})
    assert refusal_of_mx(mx(reporting_request(no_account), "camt.060.001.05")) == [
        ("RptgReq[1]/Acct", "account_required")
    ]


def test_camt060_one_sided_request_is_widened_with_a_warning() -> None:
    credits_only = reporting_request(request("camt.052.001.08", wanted(CreditDebit.CRDT, "50", FloorLimitSide.BOTH)))
    text, warnings = mx_to_mt(mx(credits_only, "camt.060.001.05"))
    mt = parse_message(text)
    assert isinstance(mt, Mt920) and mt.requests[0].floor_limit is not None
    assert mt.requests[0].floor_limit.render() == "EUR50,"
    assert "RptgReq[1]/ReqdTxTp: one side only; MT920 requests debits and credits" in warnings


def test_malformed_mt920_gets_specific_errors() -> None:
    no_limit = fin("920", [("20", "REQ1"), ("12", "942"), ("25", "0123456789")])
    assert refusal_of_mt(no_limit) == [("4:34F", "floor_limit_required")]
    decimals = fin("920", [("20", "REQ1"), ("12", "942"), ("25", "0123456789"), ("34F", "EUR10,123")])
    assert refusal_of_mt(decimals) == [("4:34F", "currency_decimals")]
    assert refusal_of_mt(fin("920", [("20", "REQ1"), ("12", "942")])) == [("4:25", "field_missing")]
    too_long = fin("920", [("20", "REQ1"), ("12", "940"), ("25", "1" * 35)])
    assert refusal_of_mt(too_long) == [("4:25", "account_length")]
