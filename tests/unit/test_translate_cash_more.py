"""MT <-> MX for notices, charges and cheques: MT210 <-> camt.057, MT190 / MT290 <-> camt.105, MT191 / MT291 <->
camt.106, MT110 <-> camt.107, MT111 <-> camt.108, MT112 <-> camt.109.

Every translation is checked against the official XSD, both ways round, and every refusal names the field or
element and the rule that failed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from pydantic import BaseModel

from canonical.cash import (
    ChargesPaymentNotification,
    ChargesPaymentRequest,
    ChequePresentmentNotification,
    ChequeStopReport,
    ChequeStopRequest,
    ChequeToStop,
    ExpectedCredit,
    NoticeToReceive,
    PresentedCheque,
    StoppedCheque,
    StopReason,
    StopStatus,
    UnderlyingTransaction,
)
from canonical.money import Money
from canonical.payments import Account, Agent, CreditDebit, Party, PostalAddress
from canonical.swift_mt import codec, mt_to_mx, mx_to_mt, parse_message
from canonical.swift_mt.common import Mt190, Mt191, Mt290, Mt291
from canonical.swift_mt.transfers import Mt111, Mt112
from tests.unit.translation_support import (
    CHEQUES_110,
    NOTICE_210,
    UETR,
    fin,
    mt_mx_mt,
    mx,
    refusal_of_mt,
    refusal_of_mx,
    replaced,
    through_mt,
    without,
)

# --- MT210 <-> camt.057 --------------------------------------------------------------------------------------

MT210 = fin("210", NOTICE_210)


def test_mt210_becomes_an_xsd_valid_camt057_and_back_the_same_mt() -> None:
    assert mt_mx_mt(MT210, "camt.057.001.06") == ([], MT210, [])


def test_mt210_maps_each_notice_to_an_item() -> None:
    notice = codec.decode(MT210.encode()).payload
    assert isinstance(notice, NoticeToReceive)
    assert (notice.notification_id, notice.account, notice.expected_value_date) == (
        "318393",
        Account(other="123456789"),
        date(2023, 2, 28),
    )
    first, second, third = notice.items
    assert (first.item_id, first.amount.amount, first.debtor_agent) == (
        "TRANSREF1",
        Decimal("230000"),
        Agent(bic="CHASUS33XXX"),
    )
    assert (second.debtor, second.intermediary_agent) == (Party(bic="ACMEUS33"), Agent(bic="BANKUS33XXX"))
    assert third.debtor == Party(name="JOHN DOE", address=PostalAddress(lines=["1 MAIN STREET", "NEW YORK"]))


def notice() -> NoticeToReceive:
    return NoticeToReceive(
        message_id="NTR0413",
        notification_id="NTR0413",
        account=Account(iban="DE89370400440532013000"),
        expected_value_date=date(2026, 4, 15),
        items=[
            ExpectedCredit(
                item_id="PAY1",
                amount=Money(currency="EUR", amount=Decimal("1000.5")),
                debtor=Party(name="ACME GMBH", address=PostalAddress(lines=["BERLIN"])),
                intermediary_agent=Agent(bic="BANKBEBBXXX"),
            ),
            ExpectedCredit(
                item_id="PAY2",
                amount=Money(currency="EUR", amount=Decimal("20")),
                debtor_agent=Agent(bic="BANKFRPPXXX"),
            ),
        ],
    )


def test_camt057_to_mt210_and_back_keeps_every_mapped_field() -> None:
    assert through_mt(notice(), "camt.057.001.06") == notice()


def test_camt057_items_mt210_cannot_carry_are_refused_naming_the_item() -> None:
    items = notice().items
    orphan = notice().model_copy(update={"items": [items[0], items[1].model_copy(update={"debtor_agent": None})]})
    assert refusal_of_mx(mx(orphan, "camt.057.001.06")) == [("Ntfctn/Itm[2]/Dbtr", "ordering_party_required")]
    dollars = items[1].model_copy(update={"amount": Money(currency="USD", amount=Decimal("20"))})
    mixed = notice().model_copy(update={"items": [items[0], dollars]})
    assert refusal_of_mx(mx(mixed, "camt.057.001.06")) == [("Ntfctn/Itm[2]/Amt", "notice_currency")]
    undated = notice().model_copy(update={"expected_value_date": None})
    assert refusal_of_mx(mx(undated, "camt.057.001.06")) == [("Ntfctn/XpctdValDt", "expected_value_date_required")]
    crowded = notice().model_copy(update={"items": items * 6})
    assert refusal_of_mx(mx(crowded, "camt.057.001.06")) == [("Ntfctn/Itm", "too_many_notices")]


def test_camt057_item_with_debtor_and_agent_keeps_the_debtor_with_a_warning() -> None:
    both = notice().items[0].model_copy(update={"debtor_agent": Agent(bic="BANKFRPPXXX")})
    _, warnings = mx_to_mt(mx(notice().model_copy(update={"items": [both]}), "camt.057.001.06"))
    assert warnings == ["Ntfctn/Itm[1]/DbtrAgt: not carried (MT210 rule C2: 50a or 52a, not both)"]


def test_malformed_notices_get_specific_errors() -> None:
    assert refusal_of_mt(fin("210", without(NOTICE_210, "30"))) == [("4:30", "field_missing")]
    mixed = fin("210", [("32B", "EUR5,") if v == "USD5," else (t, v) for t, v in NOTICE_210])
    assert refusal_of_mt(mixed) == [("4:32B", "notice_currency")]
    decimals = fin("210", [("32B", "USD5,001") if v == "USD5," else (t, v) for t, v in NOTICE_210])
    assert refusal_of_mt(decimals) == [("4:32B", "currency_decimals")]
    both = fin("210", [*NOTICE_210, ("52A", "CHASUS33XXX")])
    assert refusal_of_mt(both) == [("4:50a", "ordering_party_exclusive")]
    xml = mx(notice(), "camt.057.001.06").replace(b'Ccy="EUR">20<', b'Ccy="ABC">20<')
    assert ("/Document/NtfctnToRcv/Ntfctn/Itm/Amt/@Ccy", "currency_code") in refusal_of_mx(xml)


# --- MT190 / MT290 <-> camt.105, MT191 / MT291 <-> camt.106 -----------------------------------------------------

CHARGES_190 = [
    ("20", "CHG2302270001"),
    ("21", "PAYREF123456"),
    ("25", "0123456789"),
    ("32D", "230227EUR25,"),
    ("52A", "BANKDEFFXXX"),
    ("71B", "/COMM/EUR25,00"),
    ("72", "/REC/CHARGES AS AGREED"),
]
CLAIM_191 = [
    ("20", "CLM2302270001"),
    ("21", "PAYREF123456"),
    ("32B", "USD35,"),
    ("52A", "BANKUS33XXX"),
    ("57A", "BANKDEFFXXX"),
    ("71B", "/OURCHG/USD35,00"),
    ("72", "/INS/BANKUS33"),
]
MT190 = fin("190", CHARGES_190, UETR)
MT191 = fin("191", CLAIM_191, UETR)


@pytest.mark.parametrize(
    ("text", "definition"), [(MT190, "camt.105.001.02"), (MT191, "camt.106.001.02")], ids=["MT190", "MT191"]
)
def test_charges_become_xsd_valid_camt_and_back_the_same_mt(text: str, definition: str) -> None:
    assert mt_mx_mt(text, definition) == ([], text, [])


def test_mt190_maps_the_charges_record() -> None:
    n = codec.decode(MT190.encode()).payload
    assert isinstance(n, ChargesPaymentNotification)
    assert (n.charges_id, n.underlying.instruction_id, n.underlying.uetr) == ("CHG2302270001", "PAYREF123456", UETR)
    assert (n.amount.amount, n.credit_debit, n.value_date) == (Decimal("25"), CreditDebit.DBIT, date(2023, 2, 27))
    assert (n.charges_account, n.debtor_agent) == (Account(other="0123456789"), Agent(bic="BANKDEFFXXX"))
    assert (n.additional_information, n.instruction) == ("/COMM/EUR25,00", "/REC/CHARGES AS AGREED")


def test_mt191_maps_the_account_with_institution() -> None:
    r = codec.decode(MT191.encode()).payload
    assert isinstance(r, ChargesPaymentRequest)
    assert (r.amount.currency, r.credit_debit, r.charges_account_agent) == ("USD", None, Agent(bic="BANKDEFFXXX"))


def charges_notification() -> ChargesPaymentNotification:
    return ChargesPaymentNotification(
        message_id="CHG0413",
        charges_id="CHG0413",
        underlying=UnderlyingTransaction(instruction_id="PAY20260413017", uetr=UETR),
        amount=Money(currency="EUR", amount=Decimal("12.5")),
        credit_debit=CreditDebit.CRDT,
        value_date=date(2026, 4, 13),
        debtor_agent=Agent(name="ORDERING BANK", address=PostalAddress(lines=["FRANKFURT"])),
        additional_information="/COMM/EUR12,5 COMMISSION REFUNDED AS AGREED WITH YOUR BACK OFFICE",
        instruction="/REC/REFUND",
        charges_account=Account(iban="DE89370400440532013000"),
    )


def charges_request() -> ChargesPaymentRequest:
    return ChargesPaymentRequest(
        message_id="CLM0413",
        charges_id="CLM0413",
        underlying=UnderlyingTransaction(instruction_id="PAY20260413017"),
        amount=Money(currency="JPY", amount=Decimal("3500")),
        debtor_agent=Agent(bic="BANKJPJTXXX"),
        additional_information="/OURCHG/JPY3500,",
        charges_account_agent=Agent(bic="BANKDEFFXXX"),
    )


@pytest.mark.parametrize(
    ("payload", "definition"),
    [(charges_notification(), "camt.105.001.02"), (charges_request(), "camt.106.001.02")],
    ids=["camt.105", "camt.106"],
)
def test_camt105_and_camt106_to_mt_and_back_keep_every_mapped_field(payload: BaseModel, definition: str) -> None:
    assert through_mt(payload, definition) == payload


def test_category_two_charges_are_chosen_by_the_underlying_message_or_on_request() -> None:
    fi = charges_notification().model_copy(
        update={"underlying": UnderlyingTransaction(instruction_id="FI1", message_name="pacs.009.001.08")}
    )
    text, warnings = mx_to_mt(mx(fi, "camt.105.001.02"))
    assert isinstance(parse_message(text), Mt290)
    assert "Chrgs/Sngl/UndrlygTx/MsgNmId: not carried in MT" in warnings
    assert isinstance(parse_message(mx_to_mt(mx(charges_request(), "camt.106.001.02"), "291")[0]), Mt291)
    assert isinstance(parse_message(mx_to_mt(mx(charges_request(), "camt.106.001.02"))[0]), Mt191)
    xml, warnings = mt_to_mx(fin("290", CHARGES_190))
    assert warnings == ["MT290: the category is not carried; translates back as MT190 unless asked"]
    assert isinstance(parse_message(mx_to_mt(xml)[0]), Mt190)


@pytest.mark.parametrize(
    ("missing", "loc", "rule"),
    [
        ("charges_account", "Chrgs/Sngl/ChrgsAcct", "charges_account_required"),
        ("credit_debit", "Chrgs/Sngl/CdtDbtInd", "credit_debit_required"),
        ("value_date", "Chrgs/Sngl/ValDt", "value_date_required"),
        ("additional_information", "Chrgs/Sngl/AddtlInf", "charges_details_required"),
    ],
)
def test_camt105_without_mandatory_mt190_data_is_refused_naming_the_element(missing: str, loc: str, rule: str) -> None:
    payload = charges_notification().model_copy(update={missing: None})
    assert refusal_of_mx(mx(payload, "camt.105.001.02")) == [(loc, rule)]


def test_camt105_charge_type_stands_in_for_missing_details() -> None:
    coded = charges_notification().model_copy(update={"additional_information": None, "charge_type": "COMM"})
    mt = parse_message(mx_to_mt(mx(coded, "camt.105.001.02"))[0])
    assert isinstance(mt, Mt190) and mt.details_of_charges == ["/COMM/"]


def test_camt105_with_charges_per_transaction_is_refused_naming_the_single_record() -> None:
    xml = mx(charges_notification(), "camt.105.001.02")
    root = etree.fromstring(xml)
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.105.001.02"
    record = root.find(f".//{{{ns}}}Chrgs/{{{ns}}}Sngl")
    assert record is not None
    per_tx = etree.Element(f"{{{ns}}}PerTx")
    rcrd = etree.SubElement(per_tx, f"{{{ns}}}Rcrd")
    etree.SubElement(rcrd, f"{{{ns}}}UndrlygTx")
    breakdown = etree.SubElement(rcrd, f"{{{ns}}}ChrgsBrkdwn")
    etree.SubElement(breakdown, f"{{{ns}}}Amt", Ccy="EUR").text = "12.5"
    record.getparent().replace(record, per_tx)
    assert refusal_of_mx(etree.tostring(root)) == [("/Document/ChrgsPmtNtfctn/Chrgs/Sngl", "single_charges_record")]


def test_malformed_charges_get_specific_errors() -> None:
    assert refusal_of_mt(fin("190", without(CHARGES_190, "71B"))) == [("4:71B", "field_missing")]
    assert refusal_of_mt(fin("191", replaced(CLAIM_191, "32B", "USD35,001"))) == [("4:32B", "currency_decimals")]
    assert refusal_of_mt(fin("191", replaced(CLAIM_191, "32B", "US35,"))) == [("4:32B", "currency_code")]
    xml = mx(charges_request(), "camt.106.001.02").replace(b">3500<", b">3500.5<")
    assert ("/Document/ChrgsPmtReq/Chrgs/Sngl/Amt", "currency_decimals") in refusal_of_mx(xml)


# --- MT110 <-> camt.107, MT111 <-> camt.108, MT112 <-> camt.109 ----------------------------------------------

STOP_111 = [
    ("20", "STOP230227"),
    ("21", "CHQ000123"),
    ("30", "230220"),
    ("32B", "USD1500,"),
    ("52D", "FIRST NATIONAL BANK\nCHICAGO"),
    ("59", "JOHN DOE"),
    ("75", "CHEQUE LOST IN TRANSIT\nPLEASE CONFIRM THE STOP"),
]
STATUS_112 = [
    ("20", "ANS230228"),
    ("21", "CHQ000123"),
    ("30", "230220"),
    ("32A", "230301USD1500,"),
    ("52A", "CHASUS33XXX"),
    ("76", "STOP PAYMENT EFFECTED"),
]
MT110, MT111, MT112 = fin("110", CHEQUES_110), fin("111", STOP_111), fin("112", STATUS_112)


@pytest.mark.parametrize(
    ("text", "definition"),
    [(MT110, "camt.107.001.01"), (MT111, "camt.108.001.01"), (MT112, "camt.109.001.01")],
    ids=["MT110", "MT111", "MT112"],
)
def test_cheque_messages_become_xsd_valid_camt_and_back_the_same_mt(text: str, definition: str) -> None:
    assert mt_mx_mt(text, definition) == ([], text, [])


def test_mt110_maps_each_cheque() -> None:
    n = codec.decode(MT110.encode()).payload
    assert isinstance(n, ChequePresentmentNotification)
    first, second = n.cheques
    assert (first.cheque_number, first.issue_date, first.value_date, first.payer) == (
        "CHQ000123",
        date(2023, 2, 20),
        None,
        None,
    )
    assert (second.amount.amount, second.value_date, second.drawer_agent) == (
        Decimal("2500.25"),
        date(2023, 3, 1),
        Agent(bic="CHASUS33XXX"),
    )
    assert second.payer == Party(name="ACME CORP", address=PostalAddress(lines=["NEW YORK"]))
    assert second.payee == Party(name="JANE ROE", account=Account(other="12345"))


def test_mt111_and_mt112_map_the_reason_and_the_status() -> None:
    request = codec.decode(MT111.encode()).payload
    assert isinstance(request, ChequeStopRequest)
    assert request.cheques[0].reason == StopReason(
        proprietary="CHEQUE LOST IN TRANSIT", information="PLEASE CONFIRM THE STOP"
    )
    assert request.cheques[0].drawer_agent == Agent(
        name="FIRST NATIONAL BANK", address=PostalAddress(lines=["CHICAGO"])
    )
    report = codec.decode(MT112.encode()).payload
    assert isinstance(report, ChequeStopReport)
    assert report.cheques[0].status == StopStatus(proprietary="STOP PAYMENT EFFECTED")
    assert report.cheques[0].settlement_date == date(2023, 3, 1)  # the 32A date


def presentment() -> ChequePresentmentNotification:
    return ChequePresentmentNotification(
        message_id="CHQ0413",
        cheques=[
            PresentedCheque(
                cheque_number="100001",
                issue_date=date(2026, 4, 1),
                amount=Money(currency="GBP", amount=Decimal("99.99")),
                value_date=date(2026, 4, 14),
                payer=Party(bic="ACMEGB2LXXX", account=Account(other="55555555")),
                drawer_agent=Agent(bic="BANKGB2LXXX"),
                payee=Party(name="JANE ROE", account=Account(iban="GB82WEST12345698765432")),
            ),
            PresentedCheque(
                cheque_number="100002",
                issue_date=date(2026, 4, 2),
                amount=Money(currency="GBP", amount=Decimal("10")),
                payee=Party(name="JOHN DOE", address=PostalAddress(lines=["LONDON"])),
            ),
        ],
    )


def stop_cheque() -> dict[str, object]:
    return dict(
        cheque_number="100001",
        issue_date=date(2026, 4, 1),
        settlement_date=date(2026, 4, 14),
        amount=Money(currency="GBP", amount=Decimal("99.99")),
        drawer_agent=Agent(bic="BANKGB2LXXX"),
        payee=Party(name="JANE ROE"),
    )


def stop_request() -> ChequeStopRequest:
    reason = StopReason(proprietary="LOST", information="REPORTED LOST BY THE PAYEE ON 10 APRIL, PLEASE STOP")
    return ChequeStopRequest(
        message_id="STP0413", cheques=[ChequeToStop.model_validate({**stop_cheque(), "reason": reason})]
    )


def stop_report() -> ChequeStopReport:
    status = StopStatus(proprietary="STOPPED", information="STOP EFFECTIVE")
    return ChequeStopReport(
        message_id="ANS0413", cheques=[StoppedCheque.model_validate({**stop_cheque(), "status": status})]
    )


@pytest.mark.parametrize(
    ("payload", "definition"),
    [
        (presentment(), "camt.107.001.01"),
        (stop_request(), "camt.108.001.01"),
        (stop_report(), "camt.109.001.01"),
    ],
    ids=["camt.107", "camt.108", "camt.109"],
)
def test_cheque_camt_to_mt_and_back_keeps_every_mapped_field(payload: BaseModel, definition: str) -> None:
    assert through_mt(payload, definition) == payload


def test_coded_stop_status_becomes_the_first_line_of_76() -> None:
    coded = stop_report().model_copy(
        update={"cheques": [stop_report().cheques[0].model_copy(update={"status": StopStatus(code="ACCP")})]}
    )
    mt = parse_message(mx_to_mt(mx(coded, "camt.109.001.01"))[0])
    assert isinstance(mt, Mt112) and mt.answers == ["/ACCP/"]


def test_cheque_camt_messages_mt_cannot_carry_are_refused_naming_the_cheque() -> None:
    two = stop_request().model_copy(update={"cheques": stop_request().cheques * 2})
    assert refusal_of_mx(mx(two, "camt.108.001.01")) == [("Chq[2]", "single_cheque")]
    first, second = presentment().cheques
    nameless = presentment().model_copy(
        update={"cheques": [first, second.model_copy(update={"payee": Party(bic="ACMEGB2LXXX")})]}
    )
    assert refusal_of_mx(mx(nameless, "camt.107.001.01")) == [("Chq[2]/Pyee/Nm", "payee_name_required")]
    euros = second.model_copy(update={"amount": Money(currency="EUR", amount=Decimal("10"))})
    mixed = presentment().model_copy(update={"cheques": [first, euros]})
    assert refusal_of_mx(mx(mixed, "camt.107.001.01")) == [("Chq[2]/Amt", "cheque_currency")]


def test_camt107_whose_count_or_control_sum_disagree_is_refused() -> None:
    xml = mx(presentment(), "camt.107.001.01")
    header = "/Document/ChqPresntmntNtfctn/GrpHdr"
    assert refusal_of_mx(xml.replace(b"<NbOfChqs>2<", b"<NbOfChqs>3<")) == [(f"{header}/NbOfChqs", "number_of_cheques")]
    assert refusal_of_mx(xml.replace(b"<CtrlSum>109.99<", b"<CtrlSum>110<")) == [(f"{header}/CtrlSum", "control_sum")]


def test_stop_request_with_the_payee_only_by_bic_leaves_59_out_with_a_warning() -> None:
    cheque = stop_request().cheques[0].model_copy(update={"payee": Party(bic="ACMEGB2LXXX")})
    text, warnings = mx_to_mt(mx(stop_request().model_copy(update={"cheques": [cheque]}), "camt.108.001.01"))
    mt = parse_message(text)
    assert isinstance(mt, Mt111) and mt.payee is None
    assert "Chq[1]/Pyee: a payee without a name has no 59a form" in warnings


def test_malformed_cheque_messages_get_specific_errors() -> None:
    assert refusal_of_mt(fin("112", without(STATUS_112, "76"))) == [("4:76", "field_missing")]
    assert refusal_of_mt(fin("111", replaced(STOP_111, "32B", "USD1500,001"))) == [("4:32B", "currency_decimals")]
    mixed = fin("110", replaced(CHEQUES_110, "32A", "230301EUR2500,25"))
    assert refusal_of_mt(mixed) == [("4:32a", "cheque_currency")]
    assert refusal_of_mt(fin("110", without(CHEQUES_110, "30"))) == [
        ("4:30", "field_missing"),
        ("4:30", "field_missing"),
    ]
