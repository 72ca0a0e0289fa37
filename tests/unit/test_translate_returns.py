"""MT <-> MX for answers about a payment: MT103 / MT202 / MT205 returns (RETN in 72) <-> pacs.004, and MT199 /
MT299 status (gpi confirmation or reject in 79) <-> pacs.002."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

from canonical.iso20022 import parse as parse_mx
from canonical.money import Money
from canonical.payments import (
    ChargeBearer,
    OriginalReference,
    Party,
    PaymentReturn,
    StatusReport,
    TransactionStatus,
)
from canonical.swift_mt import codec, mx_to_mt, parse_message
from canonical.swift_mt.common import Mt199, Mt299
from canonical.swift_mt.messages import Mt103, Mt202
from tests.unit import translation_support
from tests.unit.translation_support import (
    UETR,
    Fields,
    mt_round_trip,
    mx,
    mx_mt_mx,
    refusal_of_mt,
    refusal_of_mx,
    replaced,
    translated,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "iso20022" / "samples"
fin = partial(translation_support.fin, uetr=UETR)  # CBPR+ wants the UETR in block 3: a test drops it with uetr=None


# --- returns --------------------------------------------------------------------------------------------

RETURN_103: Fields = [
    ("20", "RET0001"),
    ("23B", "CRED"),
    ("32A", "260414EUR990,"),
    ("33B", "EUR1000,"),
    ("50K", "DUPONT SA\n12 RUE DE LA PAIX\nPARIS"),
    ("59", "ACME GMBH\nHAUPTSTRASSE 1\nBERLIN"),
    ("71A", "SHA"),
    ("72", "/RETN/59\n/AC04/\n/MREF/PAY0001\n/TREF/E2E-INV-4711"),
]
RETURN_202: Fields = [
    ("20", "RET0002"),
    ("21", "PAY0002"),
    ("32A", "260414EUR500000,"),
    ("52A", "BANKBEBBXXX"),
    ("58A", "BANKDEMMXXX"),
    ("72", "/RETN/58A\n/AC01/\n/MREF/PAY0002"),
]


def test_mt103_retn_becomes_a_pacs004_with_its_reason_and_original() -> None:
    payload, warnings, xml = translated(fin("103", RETURN_103))
    assert parse_mx(xml).header.message_definition == "pacs.004.001.09"
    assert isinstance(payload, PaymentReturn)
    assert (payload.message_id, payload.return_id, payload.reason_code) == ("RET0001", "RET0001", "AC04")
    assert payload.original == OriginalReference(
        message_id="PAY0001", message_type="MT103", instruction_id="PAY0001", end_to_end_id="E2E-INV-4711", uetr=UETR
    )
    assert (payload.returned_amount, payload.settlement_date) == (
        Money(currency="EUR", amount=Decimal(990)),
        date(2026, 4, 14),
    )
    assert payload.original_settlement_amount == Money(currency="EUR", amount=Decimal(1000))  # 33B
    assert payload.charge_bearer is ChargeBearer.SHAR
    assert payload.return_debtor is not None and payload.return_debtor.name == "DUPONT SA"
    assert payload.return_creditor is not None and payload.return_creditor.name == "ACME GMBH"
    assert warnings == ["72: field tag 59 of the original not carried"]


def test_pacs004_back_to_mt103_retn_and_again_keeps_every_mapped_field() -> None:
    back = mt_round_trip(fin("103", RETURN_103))
    assert isinstance(back, Mt103)
    assert back.sender_to_receiver_information == ["/RETN/", "/AC04/", "/MREF/PAY0001", "/TREF/E2E-INV-4711"]


def test_mt202_and_mt205_retn_become_pacs004_and_return_as_mt202_retn() -> None:
    payload, _, xml = translated(fin("202", RETURN_202))
    assert isinstance(payload, PaymentReturn) and payload.original.message_type == "MT202"
    assert (payload.return_debtor, payload.return_creditor) == (Party(bic="BANKBEBBXXX"), Party(bic="BANKDEMMXXX"))
    again, text = mx_mt_mx(xml)
    assert again == payload
    without_field_tag = replaced(RETURN_202, "72", "/RETN/\n/AC01/\n/MREF/PAY0002")
    assert parse_message(text) == parse_message(fin("202", without_field_tag))  # the field tag was warned about
    mt205 = translated(fin("205", RETURN_202))[0]
    assert isinstance(mt205, PaymentReturn) and mt205.original.message_type == "MT205"


def test_mt103_rejt_is_a_return_too_with_a_warning() -> None:
    rejected = [(t, v.replace("/RETN/", "/REJT/")) for t, v in RETURN_103]
    payload, warnings, _ = translated(fin("103", rejected))
    assert isinstance(payload, PaymentReturn) and payload.reason_code == "AC04"
    assert "72: /REJT/ carried as a return (pacs.004 has no separate reject)" in warnings


@pytest.mark.parametrize(
    ("narrative", "rule"),
    [
        ("/RETN/59\n/MREF/PAY0001", "return_reason_required"),
        ("/RETN/59\n/AC04/", "return_reference_required"),
        ("/RETN/59\n/AC04/\nPLEASE NOTE", "return_format"),
    ],
)
def test_return_without_its_conventions_is_refused_naming_field_72(narrative: str, rule: str) -> None:
    fields = replaced(RETURN_103, "72", narrative)
    assert refusal_of_mt(fin("103", fields)) == [("4:72", rule)]


def test_return_without_uetr_is_refused() -> None:
    assert refusal_of_mt(fin("103", RETURN_103, uetr=None)) == [("3:121", "uetr_required")]


def test_pacs004_sample_becomes_an_mt103_retn() -> None:
    text, warnings = mx_to_mt((SAMPLES / "pacs004_payment_return_sample.xml").read_bytes())
    mt = parse_message(text)
    assert isinstance(mt, Mt103) and mt.header.uetr == "c3d4e5f6-a7b8-4012-9def-123456789012"
    assert mt.sender_to_receiver_information == ["/RETN/", "/AC04/", "/MREF/IN20260412-1100", "/TREF/E2E-04124421"]
    assert (mt.settlement.render(), mt.details_of_charges) == ("260413GBP125000,", "SHA")
    assert "RtrRsnInf/Orgtr: not carried in MT" in warnings
    assert "OrgnlMsgId: not carried (/MREF/ carries OrgnlInstrId)" in warnings


RETURN = PaymentReturn(
    message_id="RTR-1",
    original=OriginalReference(message_id="P9", message_type="pacs.009.001.08", instruction_id="P9", uetr=UETR),
    returned_amount=Money(currency="USD", amount=Decimal("10.5")),
    settlement_date=date(2026, 4, 14),
    return_debtor=Party(bic="BANKGB2LXXX"),
    return_creditor=Party(bic="BANKDEFFXXX"),
    reason_code="AC01",
)


def test_pacs004_of_an_fi_transfer_becomes_an_mt202_retn() -> None:
    text, _ = mx_to_mt(mx(RETURN, "pacs.004.001.09"))
    mt = parse_message(text)
    assert isinstance(mt, Mt202) and (mt.related_reference, mt.beneficiary_institution.bic) == ("P9", "BANKDEFFXXX")
    assert mt.ordering_institution is not None and mt.ordering_institution.bic == "BANKGB2LXXX"


@pytest.mark.parametrize(
    ("update", "loc", "rule"),
    [
        ({"settlement_date": None}, "TxInf/IntrBkSttlmDt", "settlement_date_required"),
        (
            {"original": RETURN.original.model_copy(update={"message_type": "camt.056.001.08"})},
            "OrgnlGrpInf/OrgnlMsgNmId",
            "original_type_not_in_mt",
        ),
        ({"return_creditor": Party(name="SOME BANK")}, "TxInf/RtrChain/Cdtr", "bic_required"),
        (
            {"original": RETURN.original.model_copy(update={"message_type": "pacs.008.001.08"})},
            "TxInf/ChrgBr",
            "charge_bearer_not_in_mt",
        ),
    ],
)
def test_pacs004_without_an_mt_form_is_refused_naming_the_element(
    update: dict[str, object], loc: str, rule: str
) -> None:
    assert refusal_of_mx(mx(RETURN.model_copy(update=update), "pacs.004.001.09")) == [(loc, rule)]


# --- statuses -------------------------------------------------------------------------------------------

GPI_199: Fields = [
    ("20", "STS0001"),
    ("21", "PAY0001"),
    ("79", "//2604141530+0100\n//ACSP/G000\n//BANKFRPPXXX/BANKUS33XXX"),
]
REJECT_299: Fields = [
    ("20", "REJ0001"),
    ("21", "PAY0002"),
    ("79", "/REJT/58A\n/AC01/ACCOUNT NUMBER INVALID\n/MREF/PAY0002\n/TEXT/PLEASE CHECK THE ACCOUNT AND\n//SEND AGAIN"),
]


def test_gpi_mt199_becomes_a_pacs002_with_status_reason_time_and_originator() -> None:
    payload, warnings, xml = translated(fin("199", GPI_199))
    assert parse_mx(xml).header.message_definition == "pacs.002.001.10"
    assert isinstance(payload, StatusReport)
    assert (payload.status, payload.reason_code, payload.instructing_agent) == (
        TransactionStatus.ACSP,
        "G000",
        "BANKFRPPXXX",
    )
    assert payload.created_at == datetime(2026, 4, 14, 15, 30, tzinfo=timezone(timedelta(hours=1)))
    assert payload.original == OriginalReference(
        message_id="PAY0001", message_type="MT103", instruction_id="PAY0001", uetr=UETR
    )
    assert warnings == ["79 line 3: forwarded-to agent BANKUS33XXX not carried"]


def test_pacs002_back_to_mt199_and_again_keeps_every_mapped_field() -> None:
    back = mt_round_trip(fin("199", GPI_199))
    assert isinstance(back, Mt199) and back.narrative == ["//2604141530+0100", "//ACSP/G000", "//BANKFRPPXXX"]


def test_gpi_confirmation_with_the_confirmed_amount_maps_its_status() -> None:
    fields = replaced(GPI_199, "79", "//2604141530+0000\n//ACSC\n//USD750000,")
    decoded = codec.decode(fin("199", fields).encode())
    assert (decoded.type, decoded.correlation_id) == ("payment.status_report", UETR)
    assert isinstance(decoded.payload, StatusReport) and decoded.payload.status is TransactionStatus.ACSC
    assert decoded.warnings == ["79 line 3: confirmed amount USD750000, not carried"]


def test_mt299_reject_becomes_a_rejected_status_and_comes_back_as_mt299() -> None:
    payload, warnings, xml = translated(fin("299", REJECT_299))
    assert isinstance(payload, StatusReport)
    assert (payload.status, payload.reason_code, payload.original.message_type) == (
        TransactionStatus.RJCT,
        "AC01",
        "MT202",
    )
    assert payload.additional_information == ["ACCOUNT NUMBER INVALID", "PLEASE CHECK THE ACCOUNT ANDSEND AGAIN"]
    assert warnings == ["79: field tag 58A of the original not carried"]
    again, text = mx_mt_mx(xml)
    assert again == payload
    back = parse_message(text)
    assert isinstance(back, Mt299) and back.narrative[:3] == ["/REJT/", "/AC01/", "/MREF/PAY0002"]


@pytest.mark.parametrize(
    ("narrative", "rule"),
    [
        ("RE YOUR MT103 OF 260413\nPLEASE CONFIRM", "status_format"),
        ("//2604141530+0100\n//DONE", "status_code"),
        ("//2604141599+0100\n//ACSP", "time_format"),
        ("//2604141530+0100", "status_format"),
    ],
    ids=["free-text", "unknown-status", "bad-time", "no-status-line"],
)
def test_mt199_that_is_no_status_is_refused_naming_field_79(narrative: str, rule: str) -> None:
    fields = replaced(GPI_199, "79", narrative)
    assert refusal_of_mt(fin("199", fields)) == [("4:79", rule)]


def test_gpi_lines_the_status_report_cannot_hold_are_warned_about() -> None:
    fields = replaced(GPI_199, "79", "//2604141530+0100\n//ACSP\n//NOTABIC\n//0,9215")
    payload, warnings, _ = translated(fin("199", fields))
    assert isinstance(payload, StatusReport) and payload.instructing_agent == "BANKDEFFXXX"  # the Sender
    assert warnings == ["79 line 3: '//NOTABIC' not carried", "79 line 4: '//0,9215' not carried"]


def test_pacs002_sample_becomes_an_mt199_gpi_status() -> None:
    text, warnings = mx_to_mt((SAMPLES / "pacs002_status_report_sample.xml").read_bytes())
    mt = parse_message(text)
    assert isinstance(mt, Mt199) and type(mt) is Mt199  # the original was a pacs.008: a customer payment
    assert (mt.related_reference, mt.narrative) == ("IN20260412-4410", ["//2604130810+0000", "//ACSP"])
    assert mt.header.uetr == "d4e5f6a7-b8c9-4123-9efa-234567890123"
    assert "OrgnlEndToEndId: not carried in MT199 / MT299" in warnings


STATUS = StatusReport(
    message_id="STS-1",
    created_at=datetime(2026, 4, 14, 9, 0, tzinfo=UTC),
    original=OriginalReference(message_id="P9", message_type="pacs.009.001.08", instruction_id="P9", uetr=UETR),
    status=TransactionStatus.RJCT,
    reason_code="AM04",
)


def test_pacs002_of_an_fi_transfer_becomes_an_mt299() -> None:
    text, _ = mx_to_mt(mx(STATUS, "pacs.002.001.10"))
    assert isinstance(parse_message(text), Mt299)


def test_rejected_pacs002_without_reason_is_refused() -> None:
    xml = mx(STATUS.model_copy(update={"reason_code": None}), "pacs.002.001.10")
    assert refusal_of_mx(xml) == [("TxInfAndSts/StsRsnInf/Rsn/Cd", "rejection_reason_required")]
