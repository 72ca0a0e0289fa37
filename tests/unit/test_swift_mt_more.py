"""Typed MTs beyond MT103 / MT202: common group, confirmations, statements and payments.

Each message is written from the SWIFT field formats (some are shared with the MT <-> MX tests); every test parses,
renders or breaks one of them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.errors import RejectedInput
from canonical.swift_mt.catalogue import parse_message, render_message
from canonical.swift_mt.common import Mt192, Mt196, Mt199, Mt299, Mt900, Mt910
from canonical.swift_mt.statements import Mt920, Mt940, Mt941, Mt942
from canonical.swift_mt.transfers import Mt101, Mt107, Mt110, Mt204, Mt205
from canonical.swift_mt.values import StatementLine
from tests.unit import translation_support
from tests.unit.translation_support import (
    CHEQUES_110,
    CREDIT_910,
    DEBIT_900,
    NOTICE_210,
    REQUEST_920,
    Fields,
    violations,
    without,
)

CHARGES_190: Fields = [
    ("20", "CHG2302270001"),
    ("21", "PAYREF123456"),
    ("25", "0123456789"),
    ("32D", "230227EUR25,00"),
    ("52A", "BANKDEFFXXX"),
    ("71B", "/COMM/EUR25,00"),
    ("72", "/REC/CHARGES AS AGREED"),
]
CLAIM_191: Fields = [
    ("20", "CLM2302270001"),
    ("21", "PAYREF123456"),
    ("32B", "USD35,00"),
    ("52A", "BANKUS33XXX"),
    ("57A", "BANKDEFFXXX"),
    ("71B", "/OURCHG/USD35,00"),
    ("72", "/INS/BANKUS33"),
]
CANCEL_192: Fields = [
    ("20", "CANC2302270001"),
    ("21", "PAYREF123456"),
    ("11S", "103\n230227"),
    ("79", "/DUPL/ DUPLICATE PAYMENT, PLEASE RETURN"),
    ("20", "PAYREF123456"),
    ("23B", "CRED"),
    ("32A", "230227EUR1250,00"),
    ("50K", "/DE89370400440532013000\nACME GMBH"),
    ("59", "/FR1420041010050500013M02606\nDUPONT SA"),
    ("71A", "SHA"),
]
ANSWER_196: Fields = [
    ("20", "ANS2302280001"),
    ("21", "CANC2302270001"),
    ("76", "/CNCL/\nPAYMENT CANCELLED AS REQUESTED"),
    ("77A", "FUNDS RETURNED, OUR REF RT230228"),
    ("11R", "192\n230227\n0102000123"),
    ("79", "FURTHER QUERIES TO OUR PAYMENTS DESK"),
]
FREE_199: Fields = [
    ("20", "ENQ2302270001"),
    ("21", "PAYREF123456"),
    ("79", "RE YOUR MT103 OF 230227\nPLEASE CONFIRM THE BENEFICIARY ACCOUNT\nOUR CUSTOMER CLAIMS NON RECEIPT."),
]
STATEMENT_940: Fields = [
    ("20", "STMT230227001"),
    ("25", "DE89370400440532013000"),
    ("28C", "58/1"),
    ("60F", "C230226EUR12500,00"),
    ("61", "2302270227D1250,00NTRFPAYREF123456//RT230227001\nSALARY PAYMENT BATCH 7"),
    ("86", "/EREF/PAYREF123456/REMI/INVOICE 4711"),
    ("61", "230227C23000,NMSCNONREF"),
    ("61", "230227RD15,50NCHGNONREF//CHG77"),
    ("86", "REVERSAL OF CHARGES"),
    ("62F", "C230227EUR34265,50"),
    ("64", "C230227EUR34265,50"),
    ("65", "C230228EUR34265,50"),
    ("65", "C230301EUR34265,50"),
    ("86", "STATEMENT CLOSED"),
]
BALANCE_941: Fields = [
    ("20", "BAL230227"),
    ("21", "REQ920001"),
    ("25P", "0123456789\nBANKDEFFXXX"),
    ("28", "27/1"),
    ("13D", "2302271800+0100"),
    ("60F", "C230226EUR12500,00"),
    ("90D", "1EUR1250,00"),
    ("90C", "2EUR23015,50"),
    ("62F", "C230227EUR34265,50"),
    ("64", "C230227EUR34265,50"),
    ("86", "END OF DAY BALANCE REPORT"),
]
INTERIM_942: Fields = [
    ("20", "INT230227001"),
    ("21", "REQ920002"),
    ("25", "DE89370400440532013000"),
    ("28C", "5/1"),
    ("34F", "EURD1000,"),
    ("34F", "EURC5000,"),
    ("13D", "2302271430+0100"),
    ("61", "230227D1250,00NTRFPAYREF123456//RT230227001"),
    ("86", "/EREF/PAYREF123456"),
    ("61", "230227C23000,NMSCNONREF"),
    ("90D", "1EUR1250,00"),
    ("90C", "1EUR23000,"),
    ("86", "INTERIM REPORT"),
]
STATEMENT_950: Fields = [
    ("20", "STMT950001"),
    ("25", "123456789"),
    ("28C", "102/1"),
    ("60F", "C230226USD1000000,00"),
    ("61", "230227D250000,00S103PAYREF123456//OUR123"),
    ("61", "2302270227C125000,00S202NONREF//FT23058"),
    ("62F", "C230227USD875000,00"),
    ("64", "C230227USD875000,00"),
]
TRANSFER_REQUEST_101: Fields = [
    ("20", "11FF99RR"),
    ("28D", "1/1"),
    ("50H", "/DE89370400440532013000\nACME GMBH\nHAUPTSTRASSE 1\nDE/BERLIN"),
    ("30", "230228"),
    ("21", "TXN0001"),
    ("32B", "EUR1250,00"),
    ("57A", "BANKFRPPXXX"),
    ("59", "/FR1420041010050500013M02606\nDUPONT SA\n12 RUE DE LA PAIX\nPARIS"),
    ("70", "/INV/4711"),
    ("71A", "SHA"),
    ("21", "TXN0002"),
    ("23E", "CHQB"),
    ("32B", "USD500,"),
    ("56A", "CHASUS33XXX"),
    ("57A", "BANKUS33XXX"),
    ("59A", "/123456789\nBANKUS33XXX"),
    ("71A", "OUR"),
]
DIRECT_DEBIT_107: Fields = [
    ("20", "DDREF230227"),
    ("30", "230301"),
    ("50K", "/DE89370400440532013000\nACME GMBH"),
    ("52A", "BANKDEFFXXX"),
    ("21", "DD0001"),
    ("21C", "MANDATE0001"),
    ("32B", "EUR100,00"),
    ("57A", "BANKDEMMXXX"),
    ("59", "/DE44500105175407324931\nJOHN DOE"),
    ("70", "INVOICE 4711"),
    ("21", "DD0002"),
    ("32B", "EUR250,50"),
    ("59", "/DE02120300000000202051\nJANE ROE"),
    ("32B", "EUR350,50"),
    ("19", "350,50"),
]
CHEQUES_WITH_CORRESPONDENT_110: Fields = [CHEQUES_110[0], ("53A", "BANKUS33XXX"), *CHEQUES_110[1:]]
STOP_111: Fields = [
    ("20", "STOP230227"),
    ("21", "CHQ000123"),
    ("30", "230220"),
    ("32B", "USD1500,"),
    ("59", "JOHN DOE"),
    ("75", "CHEQUE LOST IN TRANSIT"),
]
STOP_STATUS_112: Fields = [
    ("20", "ANS230228"),
    ("21", "CHQ000123"),
    ("30", "230220"),
    ("32A", "230301USD1500,"),
    ("76", "STOP PAYMENT EFFECTED"),
]
OWN_ACCOUNT_200: Fields = [
    ("20", "39857579"),
    ("32A", "230228USD1000000,"),
    ("53B", "/34554-3049"),
    ("56A", "CITIUS33XXX"),
    ("57A", "CITIUS33MIA"),
]
MARKET_DEBIT_204: Fields = [
    ("20", "XYZ/1234/ABC"),
    ("19", "1000,"),
    ("30", "230228"),
    ("58A", "BANKGB2LXXX"),
    ("20", "XYZ/1234/1"),
    ("32B", "USD600,"),
    ("53A", "BANKUS33XXX"),
    ("20", "XYZ/1234/2"),
    ("32B", "USD400,"),
    ("53A", "CHASUS33XXX"),
]
EXECUTION_205: Fields = [
    ("20", "REF205001"),
    ("21", "REL205001"),
    ("32A", "230228EUR500000,"),
    ("52A", "BANKDEFFXXX"),
    ("57A", "BANKFRPPXXX"),
    ("58A", "BANKBEBBXXX"),
]
COVER_205: Fields = [
    *EXECUTION_205,
    ("50K", "/DE89370400440532013000\nACME GMBH"),
    ("59", "/FR1420041010050500013M02606\nDUPONT SA"),
    ("70", "/INV/4711"),
    ("33B", "EUR500000,"),
]

MESSAGES: dict[str, Fields] = {
    "101": TRANSFER_REQUEST_101,
    "107": DIRECT_DEBIT_107,
    "110": CHEQUES_WITH_CORRESPONDENT_110,
    "111": STOP_111,
    "112": STOP_STATUS_112,
    "200": OWN_ACCOUNT_200,
    "204": MARKET_DEBIT_204,
    "205": EXECUTION_205,
    "205COV": COVER_205,
    "210": NOTICE_210,
    "190": CHARGES_190,
    "290": CHARGES_190,
    "191": CLAIM_191,
    "291": CLAIM_191,
    "192": CANCEL_192,
    "292": CANCEL_192,
    "196": ANSWER_196,
    "296": ANSWER_196,
    "199": FREE_199,
    "299": FREE_199,
    "900": DEBIT_900,
    "910": CREDIT_910,
    "920": REQUEST_920,
    "940": STATEMENT_940,
    "941": BALANCE_941,
    "942": INTERIM_942,
    "950": STATEMENT_950,
}

# (message type, tag removed from the message, location the error names)
MANDATORY: list[tuple[str, str, str]] = [
    ("101", "20", "4:20"),
    ("101", "28D", "4:28D"),
    ("101", "30", "4:30"),
    ("101", "21", "4:21"),
    ("101", "32B", "4:32B"),
    ("101", "59", "4:59a"),
    ("101", "71A", "4:71A"),
    ("107", "20", "4:20"),
    ("107", "30", "4:30"),
    ("107", "21", "4:21"),
    ("107", "32B", "4:32B"),
    ("107", "59", "4:59a"),
    ("110", "20", "4:20"),
    ("110", "21", "4:21"),
    ("110", "30", "4:30"),
    ("110", "59", "4:59a"),
    ("111", "21", "4:21"),
    ("111", "32B", "4:32a"),
    ("112", "76", "4:76"),
    ("200", "32A", "4:32A"),
    ("200", "57A", "4:57a"),
    ("204", "19", "4:19"),
    ("204", "30", "4:30"),
    ("204", "32B", "4:32B"),
    ("204", "53A", "4:53a"),
    ("205", "21", "4:21"),
    ("205", "32A", "4:32A"),
    ("205", "52A", "4:52a"),
    ("205", "58A", "4:58a"),
    ("205COV", "50K", "4:50a"),
    ("205COV", "59", "4:59a"),
    ("210", "20", "4:20"),
    ("210", "30", "4:30"),
    ("210", "21", "4:21"),
    ("210", "32B", "4:32B"),
    ("190", "20", "4:20"),
    ("190", "21", "4:21"),
    ("190", "25", "4:25"),
    ("190", "32D", "4:32a"),
    ("190", "71B", "4:71B"),
    ("191", "20", "4:20"),
    ("191", "21", "4:21"),
    ("191", "32B", "4:32B"),
    ("191", "71B", "4:71B"),
    ("192", "11S", "4:11S"),
    ("196", "21", "4:21"),
    ("196", "76", "4:76"),
    ("199", "20", "4:20"),
    ("199", "79", "4:79"),
    ("900", "20", "4:20"),
    ("900", "21", "4:21"),
    ("900", "25P", "4:25a"),
    ("900", "32A", "4:32A"),
    ("910", "20", "4:20"),
    ("910", "21", "4:21"),
    ("910", "25", "4:25a"),
    ("910", "32A", "4:32A"),
    ("920", "20", "4:20"),
    ("920", "12", "4:12"),
    ("920", "25", "4:25"),
    ("940", "20", "4:20"),
    ("940", "25", "4:25a"),
    ("940", "28C", "4:28C"),
    ("940", "60F", "4:60a"),
    ("940", "62F", "4:62a"),
    ("941", "20", "4:20"),
    ("941", "25P", "4:25a"),
    ("941", "28", "4:28"),
    ("941", "62F", "4:62F"),
    ("942", "20", "4:20"),
    ("942", "25", "4:25a"),
    ("942", "28C", "4:28C"),
    ("942", "34F", "4:34F"),
    ("942", "13D", "4:13D"),
    ("950", "20", "4:20"),
    ("950", "25", "4:25"),
    ("950", "28C", "4:28C"),
    ("950", "60F", "4:60a"),
    ("950", "62F", "4:62a"),
]

# (message type, text in the message, its malformed replacement, rule, location)
MALFORMED: list[tuple[str, str, str, str, str]] = [
    ("101", "EUR1250,00", "EUR1250,001", "currency_decimals", "4:32B"),
    ("101", ":30:230228", ":30:230230", "date_format", "4:30"),
    ("101", ":57A:BANKFRPPXXX", ":57A:BANKF1PPXXX", "bic_pattern", "4:57A"),
    ("101", ":28D:1/1", ":28D:1-1", "message_index_format", "4:28D"),
    ("101", ":70:/INV/4711", ":70:/INV/4711 \u00e9t\u00e9", "x_character_set", "4:70"),
    ("107", ":19:350,50", ":19:350.50", "amount_decimal_comma", "4:19"),
    ("110", "230301USD2500,25", "230231USD2500,25", "date_format", "4:32A"),
    ("111", "IN TRANSIT", "IN TRANSIT #1", "x_character_set", "4:75"),
    ("200", ":56A:CITIUS33XXX", ":56A:CITI", "bic_pattern", "4:56A"),
    ("204", ":19:1000,", ":19:1100,", "sum_of_amounts", "4:19"),
    ("205", "EUR500000,", "EUR500000,123", "currency_decimals", "4:32A"),
    ("205COV", "/INV/4711", "/INV/4711 @", "x_character_set", "4:70"),
    ("210", ":50C:ACMEUS33", ":50C:ACME1S33", "bic_pattern", "4:50C"),
    ("900", "230227USD233530,", "230230USD233530,", "date_format", "4:32A"),
    ("900", "2302271045+0100", "2302272545+0100", "time_format", "4:13D"),
    ("900", "0123456789\r\nBANKDEFFXXX", "0123456789\r\nBANK1EFFXXX", "bic_pattern", "4:25P"),
    ("910", ":52A:BANKUS33XXX", ":52A:BANK1S33XXX", "bic_pattern", "4:52A"),
    ("191", "USD35,00", "USD35,001", "currency_decimals", "4:32B"),
    ("190", "230227EUR25,00", "230227EUR25.00", "amount_decimal_comma", "4:32D"),
    ("199", "NON RECEIPT.", "NON RECEIPT @ 5%", "x_character_set", "4:79"),
    ("196", "192\r\n230227", "192\r\n230299", "date_format", "4:11R"),
    ("192", "103\r\n230227", "10\r\n230227", "message_reference_format", "4:11S"),
    ("940", "C230226EUR12500,00", "C230229EUR12500,00", "date_format", "4:60F"),
    ("940", ":60F:C", ":60F:X", "debit_credit_mark", "4:60F"),
    ("940", "D1250,00NTRF", "D1250,001NTRF", "currency_decimals", "4:61"),
    ("940", "2302270227D", "2302271327D", "date_format", "4:61"),
    ("940", "230227C23000,NMSC", "230227C23000NMSC", "amount_decimal_comma", "4:61"),
    ("940", "REVERSAL OF CHARGES", "REVERSAL OF CHARGES \u20ac", "x_character_set", "4:86"),
    ("940", "C230228EUR34265,50", "C230228USD34265,50", "balance_currency", "4:65"),
    ("950", "230227D250000,00S103", "230227D250000,001S103", "currency_decimals", "4:61"),
    ("941", "2302271800+0100", "2302271800*0100", "date_time_format", "4:13D"),
    ("941", "2EUR23015,50", "2EUR23015,505", "currency_decimals", "4:90C"),
    ("942", "EURD1000,", "EURX1000,", "debit_credit_mark", "4:34F"),
    ("942", "EURC5000,", "EURD5000,", "floor_limit_marks", "4:34F"),
    ("920", ":12:942", ":12:94", "message_type_format", "4:12"),
    ("920", ":12:940", ":12:103", "message_requested", "4:12"),
]


def fin(name: str, fields: Fields) -> str:
    """An input FIN message (CRLF line ends) from BANKDEFF to BANKUS33; a name ending in COV adds 119:COV."""
    return translation_support.fin(name[:3], fields, cover=name.endswith("COV"), receiver="BANKUS33XXX")


def rejected(text: str) -> dict[str, str]:
    """Location -> rule of the refusal of `text`."""
    return dict(violations(lambda: parse_message(text)))


@pytest.mark.parametrize("message_type", sorted(MESSAGES))
def test_message_renders_back_to_identical_text(message_type: str) -> None:
    text = fin(message_type, MESSAGES[message_type])
    message = parse_message(text)
    assert render_message(message) == text
    assert parse_message(render_message(message)) == message


@pytest.mark.parametrize(("message_type", "tag", "loc"), MANDATORY)
def test_missing_mandatory_field_is_named(message_type: str, tag: str, loc: str) -> None:
    fields = without(MESSAGES[message_type], tag)
    assert rejected(fin(message_type, fields)).get(loc) == "field_missing"


@pytest.mark.parametrize(("message_type", "old", "new", "rule", "loc"), MALFORMED)
def test_malformed_field_names_tag_and_rule(message_type: str, old: str, new: str, rule: str, loc: str) -> None:
    text = fin(message_type, MESSAGES[message_type])
    assert old in text
    assert rejected(text.replace(old, new)) == {loc: rule}


def test_free_format_fields_are_typed_and_category_kept() -> None:
    mt199 = parse_message(fin("199", FREE_199))
    mt299 = parse_message(fin("299", FREE_199))
    assert type(mt199) is Mt199 and type(mt299) is Mt299
    assert mt199.narrative[0] == "RE YOUR MT103 OF 230227"


def test_cancellation_request_keeps_the_copied_fields_in_order() -> None:
    mt = parse_message(fin("192", CANCEL_192))
    assert isinstance(mt, Mt192)
    assert mt.original_message.message_type == "103"
    assert [tag for tag, _ in mt.original_fields] == ["20", "23B", "32A", "50K", "59", "71A"]


def test_cancellation_request_needs_narrative_or_copy() -> None:
    assert rejected(fin("292", CANCEL_192[:3])) == {"4:79": "narrative_or_copy"}


def test_answer_carries_session_and_isn_of_the_original() -> None:
    mt = parse_message(fin("196", ANSWER_196))
    assert isinstance(mt, Mt196) and mt.original_message is not None
    assert (mt.original_message.option, mt.original_message.session, mt.original_message.isn) == ("R", "0102", "000123")


def test_answer_with_narrative_and_copy_is_refused() -> None:
    assert rejected(fin("296", [*ANSWER_196, ("20", "PAYREF123456")])) == {"4:79": "narrative_or_copy"}


def test_confirmations_type_account_time_and_amount() -> None:
    debit = parse_message(fin("900", DEBIT_900))
    assert isinstance(debit, Mt900)
    assert (debit.account.identifier, debit.account.bic) == ("0123456789", "BANKDEFFXXX")
    assert debit.debited_at is not None and debit.debited_at.utc_offset == "+0100"
    assert debit.debit.amount == Decimal("233530")
    credit = parse_message(fin("910", CREDIT_910))
    assert isinstance(credit, Mt910) and credit.account.lines == ["6231358"]


def test_credit_confirmation_needs_an_ordering_party() -> None:
    fields = without(CREDIT_910, "50K", "52A")
    assert rejected(fin("910", fields)) == {"4:50a": "ordering_party_required"}


def test_unknown_field_and_wrong_order_are_named() -> None:
    assert rejected(fin("900", [*DEBIT_900[:2], ("99", "X"), *DEBIT_900[2:]])) == {"4:99": "unexpected_field"}
    swapped = [DEBIT_900[1], DEBIT_900[0], *DEBIT_900[2:]]
    refusal = violations(lambda: parse_message(fin("900", swapped)))
    assert refusal == [("4:20", "field_order"), ("4:20", "field_missing")]


def test_statement_keeps_61_86_pairs_in_order() -> None:
    mt = parse_message(fin("940", STATEMENT_940))
    assert isinstance(mt, Mt940)
    pairs = [(e.line.owner_reference, e.information) for e in mt.entries]
    assert pairs == [
        ("PAYREF123456", ["/EREF/PAYREF123456/REMI/INVOICE 4711"]),
        ("NONREF", []),
        ("NONREF", ["REVERSAL OF CHARGES"]),
    ]
    assert mt.information == ["STATEMENT CLOSED"]
    assert [b.value_date.day for b in mt.forward_available_balances] == [28, 1]


def test_statement_line_parts_are_typed() -> None:
    mt = parse_message(fin("940", STATEMENT_940))
    assert isinstance(mt, Mt940)
    first, _, reversal = (e.line for e in mt.entries)
    assert (first.entry_date, first.mark, first.amount, first.transaction_type) == ("0227", "D", Decimal(1250), "NTRF")
    assert (first.servicer_reference, first.supplementary_details) == ("RT230227001", "SALARY PAYMENT BATCH 7")
    assert (reversal.mark, reversal.is_debit, reversal.servicer_reference) == ("RD", False, "CHG77")
    assert mt.opening_balance.signed_amount == Decimal("12500") and mt.closing_balance.option == "F"


def test_statement_line_funds_code_and_reversal_of_credit() -> None:
    line = StatementLine.parse("230227RCR1000,00NTRFNONREF")
    assert (line.mark, line.funds_code, line.is_debit) == ("RC", "R", True)
    assert line.render() == "230227RCR1000,00NTRFNONREF"


def test_too_long_account_owner_reference_is_refused() -> None:
    text = fin("950", STATEMENT_950).replace("PAYREF123456//OUR123", "PAYREF12345678901//OUR123")
    assert rejected(text) == {"4:61": "owner_reference_length"}


def test_interim_report_and_balance_report_are_typed() -> None:
    interim = parse_message(fin("942", INTERIM_942))
    assert isinstance(interim, Mt942)
    assert (interim.floor_limit.mark, interim.credit_floor_limit and interim.credit_floor_limit.mark) == ("D", "C")
    assert interim.debits is not None and interim.debits.entries == "1" and interim.debits.option == "D"
    balance = parse_message(fin("941", BALANCE_941))
    assert isinstance(balance, Mt941) and balance.statement_number.page == "1"


def test_request_message_has_one_sequence_per_account() -> None:
    mt = parse_message(fin("920", REQUEST_920))
    assert isinstance(mt, Mt920)
    assert [(r.message_requested, r.account) for r in mt.requests] == [
        ("942", "DE89370400440532013000"),
        ("940", "0123456789"),
    ]


def test_request_for_mt942_needs_a_floor_limit() -> None:
    fields = without(REQUEST_920, "34F")
    assert rejected(fin("920", fields)) == {"4:34F": "floor_limit_required"}


def test_missing_field_in_a_later_occurrence_names_the_occurrence() -> None:
    fields = REQUEST_920[:-1]
    with pytest.raises(RejectedInput) as exc:
        parse_message(fin("920", fields))
    [violation] = exc.value.violations
    assert (violation.loc, violation.rule) == ("4:25", "field_missing")
    assert "occurrence 2" in violation.detail


def test_request_for_transfer_has_one_sequence_b_per_transaction() -> None:
    mt = parse_message(fin("101", TRANSFER_REQUEST_101))
    assert isinstance(mt, Mt101)
    assert [(t.transaction_reference, t.amount.currency, t.details_of_charges) for t in mt.transactions] == [
        ("TXN0001", "EUR", "SHA"),
        ("TXN0002", "USD", "OUR"),
    ]
    assert mt.ordering_customer is not None and mt.ordering_customer.option == "H"
    assert mt.transactions[1].beneficiary.bic == "BANKUS33XXX" and mt.transactions[1].instruction_codes == ["CHQB"]


def test_ordering_customer_must_be_in_sequence_a_or_every_b() -> None:
    fields = without(TRANSFER_REQUEST_101, "50H")
    assert rejected(fin("101", fields)) == {"4:50a": "ordering_customer_placement"}


def test_direct_debit_settlement_follows_the_transactions() -> None:
    mt = parse_message(fin("107", DIRECT_DEBIT_107))
    assert isinstance(mt, Mt107)
    assert [t.amount.amount for t in mt.transactions] == [Decimal("100"), Decimal("250.5")]
    assert mt.settlement_amount.amount == Decimal("350.5") and mt.sum_of_amounts is not None


def test_cheque_amount_is_dated_or_not() -> None:
    mt = parse_message(fin("110", CHEQUES_WITH_CORRESPONDENT_110))
    assert isinstance(mt, Mt110)
    first, second = mt.cheques
    assert type(first.amount).__name__ == "CurrencyAmount" and type(second.amount).__name__ == "ValueDateAmount"
    assert second.payer is not None and second.payer.lines == ["ACME CORP", "NEW YORK"]


def test_market_direct_debit_repeats_field_20_per_debit() -> None:
    mt = parse_message(fin("204", MARKET_DEBIT_204))
    assert isinstance(mt, Mt204)
    assert mt.sender_reference == "XYZ/1234/ABC"
    assert [t.transaction_reference for t in mt.transactions] == ["XYZ/1234/1", "XYZ/1234/2"]


def test_mt205cov_carries_the_underlying_credit_transfer() -> None:
    plain = parse_message(fin("205", EXECUTION_205))
    cover = parse_message(fin("205COV", COVER_205))
    assert isinstance(plain, Mt205) and isinstance(cover, Mt205)
    assert not plain.is_cover and cover.is_cover
    assert cover.underlying is not None and cover.underlying.beneficiary.lines == ["DUPONT SA"]


def test_notice_to_receive_names_exactly_one_ordering_party() -> None:
    both = [*NOTICE_210, ("52A", "CHASUS33XXX")]
    assert rejected(fin("210", both)) == {"4:50a": "ordering_party_exclusive"}
