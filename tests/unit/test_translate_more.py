"""MT <-> canonical <-> MX for statements (MT940/950 <-> camt.053) and cancellations (MT192/196 <-> camt.056/029)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.codecs import detect
from canonical.iso20022 import parse as parse_mx
from canonical.payments import (
    AccountStatement,
    CancellationRequest,
    CancellationResolution,
    CreditDebit,
    ResolutionStatus,
)
from canonical.swift_mt import SwiftMtCodec, codec, mt_to_mx, mx_to_mt, parse_message
from canonical.swift_mt.statements import Mt940, Mt950
from tests.unit.translation_support import UETR, through_mx, violations

CUSTOMER = "CUSTGB2LXXX"
MT940 = (
    "{1:F01BANKDEFFAXXX0000000000}{2:I940CUSTGB2LXXXXN}{4:\r\n"
    ":20:STMT20260413\r\n"
    ":25:DE89370400440532013000\r\n"
    ":28C:123\r\n"
    ":60F:C260412EUR1500,\r\n"
    ":61:2604130413D250,NMSCINV4711//BK2604130001\r\n"
    f":86:/UETR/{UETR}\r\n"
    ":61:2604130413C1000,NMSCNONREF//BK2604130002\r\n"
    ":62F:C260413EUR2250,\r\n"
    ":64:C260413EUR2250,\r\n"
    "-}"
)
MT950 = (
    "{1:F01BANKDEFFAXXX0000000000}{2:I950BANKGB2LXXXXN}{4:\r\n"
    ":20:NOSTRO0413\r\n:25:0012345678\r\n:28C:77/1\r\n:60F:D260412USD10,5\r\n"
    ":61:260413C100,S103PAY1//SRV1\r\n:62F:C260413USD89,5\r\n-}"
)

MT192 = (
    "{1:F01BANKDEFFAXXX0000000000}{2:I192BANKGB2LXXXXN}{3:{121:" + UETR + "}}{4:\r\n"
    ":20:CXL20260413001\r\n:21:PAY20260413017\r\n:11S:103\r\n260413\r\n"
    ":79:/DUPL/\r\nDUPLICATE OF PAY20260412009\r\n"
    ":32A:260413EUR12500,\r\n-}"
)
MT196 = (
    "{1:F01BANKGB2LAXXX0000000000}{2:I196BANKDEFFXXXXN}{3:{121:" + UETR + "}}{4:\r\n"
    ":20:ANS20260413001\r\n:21:CXL20260413001\r\n:76:/RJCR/LEGL\r\n:11R:103\r\n260413\r\n"
    ":20:PAY20260413017\r\n:32A:260413EUR12500,\r\n-}"
)


def without_uetr(text: str) -> str:
    return text.replace("{3:{121:" + UETR + "}}", "")


def refusal(text: str) -> list[tuple[str, str]]:
    return violations(lambda: codec.decode(text.encode()))


def test_mt940_decodes_to_an_account_statement() -> None:
    assert detect(MT940.encode(), "text/plain") is codec
    decoded = codec.decode(MT940.encode())
    assert decoded.type == "payment.account_statement"
    assert decoded.idempotency_key == "BANKDEFFXXX:STMT20260413"  # sender BIC + field 20
    s = decoded.payload
    assert isinstance(s, AccountStatement)
    assert (s.report_id, s.sequence_number, s.account.iban) == ("STMT20260413", 123, "DE89370400440532013000")
    assert (s.account_currency, s.account_servicer) == ("EUR", "BANKDEFFXXX")
    assert [(b.type, b.amount, b.credit_debit, b.as_of) for b in s.balances] == [
        ("OPBD", Decimal("1500"), CreditDebit.CRDT, date(2026, 4, 12)),
        ("CLBD", Decimal("2250"), CreditDebit.CRDT, date(2026, 4, 13)),
        ("CLAV", Decimal("2250"), CreditDebit.CRDT, date(2026, 4, 13)),
    ]
    first, second = s.entries
    assert (first.credit_debit, first.amount.amount, first.value_date, first.booking_date) == (
        CreditDebit.DBIT,
        Decimal("250"),
        date(2026, 4, 13),
        date(2026, 4, 13),
    )
    assert (first.end_to_end_id, first.account_servicer_reference, first.uetr) == ("INV4711", "BK2604130001", UETR)
    assert (second.credit_debit, second.end_to_end_id, second.uetr) == (CreditDebit.CRDT, None, None)  # NONREF


def test_mt940_statement_becomes_a_valid_camt053_and_back_unchanged() -> None:
    statement = codec.decode(MT940.encode()).payload
    assert through_mx(statement, "camt.053.001.08", receiver=CUSTOMER) == statement
    xml, _ = mt_to_mx(MT940)
    assert parse_mx(xml).header.message_definition == "camt.053.001.08"
    text, warnings = mx_to_mt(xml)
    assert text == MT940  # every field of this MT940 is mapped
    assert any("NMSC" in w for w in warnings)  # the transaction type is not in the canonical entry


def test_mt950_maps_its_fields_and_warns_about_what_is_lost() -> None:
    decoded = codec.decode(MT950.encode())
    s = decoded.payload
    assert isinstance(s, AccountStatement) and s.account.other == "0012345678"
    assert s.balances[0].credit_debit is CreditDebit.DBIT and s.balances[0].amount == Decimal("10.5")
    assert "28C: page number not carried" in decoded.warnings
    assert "61 (entry 1): transaction type S103 not carried" in decoded.warnings
    assert through_mx(s, "camt.053.001.08", receiver=CUSTOMER) == s
    back = parse_message(SwiftMtCodec().encode(s, "BANKDEFFXXX", "BANKGB2LXXX"))
    original = parse_message(MT950)
    assert isinstance(back, Mt940) and isinstance(original, Mt950)
    assert (back.sender_reference, back.account, back.opening_balance, back.closing_balance) == (
        original.sender_reference,
        original.account,
        original.opening_balance,
        original.closing_balance,
    )
    line, before = back.entries[0].line, original.lines[0]
    assert (line.value_date, line.mark, line.amount, line.owner_reference, line.servicer_reference) == (
        before.value_date,
        before.mark,
        before.amount,
        before.owner_reference,
        before.servicer_reference,
    )


def test_intermediate_statement_page_is_refused_naming_the_balance() -> None:
    page = MT940.replace(":60F:", ":60M:")
    assert refusal(page) == [("4:60M", "intermediate_balance_not_carried")]


def test_mt192_decodes_to_a_cancellation_request() -> None:
    decoded = codec.decode(MT192.encode())
    assert (decoded.type, decoded.idempotency_key, decoded.correlation_id) == (
        "payment.cancellation_request",
        "BANKDEFFXXX:CXL20260413001",
        UETR,
    )
    r = decoded.payload
    assert isinstance(r, CancellationRequest)
    assert (r.assignment_id, r.case_id, r.assigner, r.assignee, r.case_creator) == (
        "CXL20260413001",
        "CXL20260413001",
        "BANKDEFFXXX",
        "BANKGB2LXXX",
        "BANKDEFFXXX",
    )
    o = r.original
    assert (o.message_id, o.instruction_id, o.message_type, o.uetr) == (
        "PAY20260413017",
        "PAY20260413017",
        "MT103",
        UETR,
    )
    assert (r.reason_code, r.additional_information) == ("DUPL", ["DUPLICATE OF PAY20260412009"])
    assert (r.original_settlement_amount.amount, r.original_settlement_date) == (Decimal("12500"), date(2026, 4, 13))


def test_mt192_becomes_a_valid_camt056_and_back_unchanged() -> None:
    request = codec.decode(MT192.encode()).payload
    assert through_mx(request, "camt.056.001.08", receiver=CUSTOMER) == request
    xml, _ = mt_to_mx(MT192)
    assert parse_mx(xml).header.message_definition == "camt.056.001.08"
    text, warnings = mx_to_mt(xml)
    assert text == MT192
    assert warnings == ["11S: date taken from OrgnlIntrBkSttlmDt"]


def test_mt196_decodes_to_a_cancellation_resolution() -> None:
    decoded = codec.decode(MT196.encode())
    assert (decoded.type, decoded.idempotency_key, decoded.correlation_id) == (
        "payment.cancellation_resolution",
        "BANKGB2LXXX:ANS20260413001",
        UETR,
    )
    r = decoded.payload
    assert isinstance(r, CancellationResolution)
    assert (r.status, r.reason_code, r.case_id, r.case_creator) == (
        ResolutionStatus.RJCR,
        "LEGL",
        "CXL20260413001",
        "BANKDEFFXXX",
    )
    assert (r.original.message_id, r.original.message_type, r.original.uetr) == ("PAY20260413017", "MT103", UETR)
    assert r.original_settlement_amount is not None and r.original_settlement_amount.amount == Decimal("12500")


def test_mt196_becomes_a_valid_camt029_and_back_unchanged() -> None:
    resolution = codec.decode(MT196.encode()).payload
    assert through_mx(resolution, "camt.029.001.09", receiver=CUSTOMER) == resolution
    xml, _ = mt_to_mx(MT196)
    assert parse_mx(xml).header.message_definition == "camt.029.001.09"
    assert mx_to_mt(xml)[0] == MT196


def test_mt196_answering_with_a_copy_of_the_mt192_finds_the_payment_there() -> None:
    answer = MT196.replace(":76:/RJCR/LEGL", ":76:/CNCL/").replace(
        ":11R:103\r\n260413\r\n:20:PAY20260413017\r\n:32A:260413EUR12500,\r\n",
        ":11R:192\r\n260413\r\n:20:CXL20260413001\r\n:21:PAY20260413017\r\n:11S:103\r\n260413\r\n",
    )
    r = codec.decode(answer.encode()).payload
    assert isinstance(r, CancellationResolution) and r.status is ResolutionStatus.CNCL
    assert (r.original.message_id, r.original.message_type, r.original_settlement_amount) == (
        "PAY20260413017",
        "MT103",
        None,
    )


@pytest.mark.parametrize("text", [MT192, MT196], ids=["MT192", "MT196"])
def test_investigation_without_uetr_is_refused_naming_field_121(text: str) -> None:
    assert refusal(without_uetr(text)) == [("3:121", "uetr_required")]


def test_unmapped_cancellation_reason_is_refused_naming_field_79() -> None:
    assert refusal(MT192.replace("/DUPL/", "/XXXX/")) == [("4:79", "cancellation_reason_code")]
    assert refusal(MT192.replace("/DUPL/", "PLEASE CANCEL")) == [("4:79", "cancellation_reason_required")]


def test_unmapped_answer_codes_are_refused_naming_field_76() -> None:
    assert refusal(MT196.replace("/RJCR/LEGL", "/RJCR/ZZZZ")) == [("4:76", "cancellation_status_reason")]
    assert refusal(MT196.replace("/RJCR/LEGL", "/RJCR/")) == [("4:76", "rejection_reason_required")]
    assert refusal(MT196.replace("/RJCR/LEGL", "/ACCP/")) == [("4:76", "cancellation_answer_code")]


def test_mt192_without_the_original_amount_is_refused_naming_32a() -> None:
    assert refusal(MT192.replace(":32A:260413EUR12500,\r\n", "")) == [("4:32A", "original_amount_required")]
