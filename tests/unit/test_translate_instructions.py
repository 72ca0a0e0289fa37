"""MT <-> MX for payment instructions: MT101 <-> pain.001, MT107 <-> pacs.003, MT204 <-> pacs.010, and MT200 /
MT205(COV) -> pacs.009 (back as MT205 on request). MT -> MX validates against the XSDs, MX -> MT -> MX keeps
every mapped field, what cannot be carried is warned about, and refusals name the field and the rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial

import pytest
from lxml import etree

from canonical.iso20022 import parse as parse_mx
from canonical.iso20022.schemas import schema
from canonical.iso20022.tree import ISO_NS
from canonical.money import Money
from canonical.payments import (
    Account,
    Agent,
    ChargeBearer,
    CreditorAgentInstruction,
    DirectDebit,
    FiDirectDebit,
    FiTransfer,
    InitiatingParty,
    InstructionPriority,
    Party,
    PaymentInitiation,
)
from canonical.swift_mt import codec, mx_to_mt, parse_message
from canonical.swift_mt.transfers import Mt101, Mt107, Mt204, Mt205
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
    without,
)

fin = partial(translation_support.fin, uetr=UETR)  # CBPR+ wants the UETR in block 3: a test drops it with uetr=None


def xsd_checked(xml: bytes) -> str:
    """The message definition of an enveloped MX, after checking AppHdr and Document against their XSDs."""
    root = etree.fromstring(xml)
    assert etree.QName(root).namespace == "urn:swift:xsd:envelope"
    header, document = list(root)
    definition = str(etree.QName(document).namespace).removeprefix(ISO_NS)
    for part, name in ((header, "head.001.001.02"), (document, definition)):
        compiled = schema(name)
        assert compiled.validate(part), compiled.error_log
    return definition


# --- MT101 <-> pain.001 ---------------------------------------------------------------------------------

MT101: Fields = [
    ("20", "11FF99RR"),
    ("21R", "BATCH0042"),
    ("28D", "1/1"),
    ("50C", "CUSTDEFFXXX"),
    ("50H", "/DE89370400440532013000\nACME GMBH\nHAUPTSTRASSE 1\nDE/BERLIN"),
    ("52A", "BANKDEMMXXX"),
    ("30", "260414"),
    ("25", "SIGNED BY TREASURY"),
    ("21", "TXN0001"),
    ("21F", "FX20260414"),
    ("23E", "URGP"),
    ("23E", "INTC"),
    ("23E", "PHON"),
    ("23E", "OTHR/CALL BEFORE NOON"),
    ("32B", "USD1250,5"),
    ("56A", "CHASUS33XXX"),
    ("57A", "BANKUS33XXX"),
    ("59", "/123456789\nGLOBEX INC\n1 MAIN STREET\nNEW YORK"),
    ("70", "/INV/4711"),
    ("71A", "SHA"),
    ("25A", "/DE02120300000000202051"),
    ("36", "1,0842"),
]


def test_mt101_becomes_an_xsd_valid_pain001_with_every_mapped_field() -> None:
    payload, warnings, xml = translated(fin("101", MT101))
    assert xsd_checked(xml) == "pain.001.001.09"
    assert warnings == []
    assert isinstance(payload, PaymentInitiation)
    assert (payload.message_id, payload.payment_information_id, payload.authorisation) == (
        "11FF99RR",
        "BATCH0042",
        "SIGNED BY TREASURY",
    )
    assert payload.initiating_party == InitiatingParty(bic="CUSTDEFFXXX")  # 50C
    assert payload.debtor.name == "ACME GMBH" and payload.debtor.account == Account(iban="DE89370400440532013000")
    assert payload.debtor_agent == Agent(bic="BANKDEMMXXX") and payload.requested_execution_date == date(2026, 4, 14)
    assert (payload.instruction_id, payload.end_to_end_id, payload.uetr) == ("TXN0001", "TXN0001", UETR)
    assert (payload.priority, payload.category_purpose) == (InstructionPriority.HIGH, "INTC")
    assert payload.creditor_agent_instructions == [CreditorAgentInstruction.PHOB]
    assert payload.instructions_for_debtor_agent == "OTHR/CALL BEFORE NOON"
    assert payload.instructed_amount == Money(currency="USD", amount=Decimal("1250.5"))
    assert (payload.exchange_rate, payload.fx_contract_id) == (Decimal("1.0842"), "FX20260414")
    assert payload.intermediary_agent == Agent(bic="CHASUS33XXX") and payload.creditor_agent == Agent(bic="BANKUS33XXX")
    assert payload.creditor.name == "GLOBEX INC" and payload.creditor.account == Account(other="123456789")
    assert (payload.charge_bearer, payload.remittance_information) == (ChargeBearer.SHAR, ["/INV/4711"])
    assert payload.charges_account == Account(iban="DE02120300000000202051")


def test_pain001_back_to_mt101_and_again_keeps_every_mapped_field() -> None:
    back = mt_round_trip(fin("101", MT101))
    assert isinstance(back, Mt101) and back == parse_message(fin("101", MT101))  # every field of this MT101 maps


def test_mt101_without_instructing_party_names_the_ordering_customer_as_initiating_party() -> None:
    fields = without(MT101, "50C", "52A")
    payload, _, xml = translated(fin("101", fields))
    assert isinstance(payload, PaymentInitiation)
    assert payload.initiating_party == InitiatingParty(name="ACME GMBH")
    assert payload.debtor_agent == Agent(bic="BANKGB2LXXX")  # without 52a the Receiver services the account
    back = parse_message(mx_to_mt(xml)[0])
    assert isinstance(back, Mt101) and back.instructing_party is None and back.account_servicing_institution is None


def test_mt101_zero_amount_with_33b_is_an_equivalent_amount_and_comes_back_so() -> None:
    fields = without(replaced(MT101, "32B", "USD0,"), "36")
    fields.insert(fields.index(("71A", "SHA")), ("33B", "EUR1000,"))
    payload, _, xml = translated(fin("101", fields))
    assert isinstance(payload, PaymentInitiation) and payload.instructed_amount is None
    assert (payload.equivalent_amount, payload.transfer_currency) == (
        Money(currency="EUR", amount=Decimal(1000)),
        "USD",
    )
    back = parse_message(mx_to_mt(xml)[0])
    assert isinstance(back, Mt101) and back.transactions[0].original_amount is not None
    assert back.transactions[0].amount.render() == "USD0,"
    assert back.transactions[0].original_amount.render() == "EUR1000,"


def test_mt101_warns_about_what_pain001_cannot_carry() -> None:
    fields = replaced(MT101, "28D", "1/2")
    fields.insert(fields.index(("71A", "SHA")), ("77B", "/ORDERRES/DE//REGULATORY"))
    fields.insert(fields.index(("21F", "FX20260414")) + 1, ("23E", "CMZB"))
    _, warnings, _ = translated(fin("101", fields))
    assert "28D: message index 1/2 not carried (pain.001 is one message)" in warnings
    assert "77B: not carried in the ISO 20022 message" in warnings


@pytest.mark.parametrize(
    ("change", "loc", "rule"),
    [
        (lambda f: [*f, *f[8:]], "4:21", "cbpr_single_transaction"),  # a second sequence B
        (lambda f: replaced(f, "32B", "USD0,"), "4:32B", "amount_zero"),
        (lambda f: replaced(f, "52A", "/123456", "52C"), "4:52C", "institution_identification"),
        (lambda f: replaced(f, "50H", "ACMEDEFFXXX", "50G"), "4:50G", "debtor_account_required"),
    ],
    ids=["two-transactions", "zero-amount-without-33B", "52C-clearing-code", "50G-without-account"],
)
def test_mt101_that_cannot_be_carried_is_refused_naming_the_field(
    change: Callable[[Fields], Fields], loc: str, rule: str
) -> None:
    assert refusal_of_mt(fin("101", change(MT101))) == [(loc, rule)]


INITIATION = PaymentInitiation(
    message_id="PAIN-20260414-0001",
    initiating_party=InitiatingParty(name="ACME GMBH"),
    payment_information_id="PAIN-20260414-0001",
    requested_execution_date=date(2026, 4, 14),
    debtor=Party(name="ACME GMBH", account=Account(iban="DE89370400440532013000")),
    debtor_agent=Agent(bic="BANKDEMMXXX"),
    instruction_id="TXN-1",
    end_to_end_id="E2E-INV-4711",
    uetr=UETR,
    instructed_amount=Money(currency="EUR", amount=Decimal("99.99")),
    charge_bearer=ChargeBearer.DEBT,
    creditor=Party(name="GLOBEX INC", account=Account(other="123456789")),
    creditor_agent_instructions=[CreditorAgentInstruction.HOLD],
)


def test_pain001_to_mt101_warns_about_what_mt101_cannot_carry() -> None:
    text, warnings = mx_to_mt(mx(INITIATION, "pain.001.001.09"))
    mt = parse_message(text)
    assert isinstance(mt, Mt101) and mt.sender_reference == "PAIN-20260414-0001"[:16]
    assert "EndToEndId: not carried in MT101 (21 carries InstrId)" in warnings
    assert "InstrForCdtrAgt: HOLD has no 23E code; not carried" in warnings
    assert "MsgId: truncated to 16 characters" in warnings
    assert mt.transactions[0].details_of_charges == "OUR" and mt.account_servicing_institution is not None


@pytest.mark.parametrize(
    ("update", "loc", "rule"),
    [
        ({"charge_bearer": ChargeBearer.SLEV}, "CdtTrfTxInf/ChrgBr", "charge_bearer_not_in_mt"),
        ({"charge_bearer": None}, "CdtTrfTxInf/ChrgBr", "charge_bearer_not_in_mt"),
        ({"debtor_agent": Agent(name="SOME BANK")}, "PmtInf/DbtrAgt", "bic_required"),
        ({"debtor": Party(account=Account(other="12345"))}, "PmtInf/Dbtr", "party_identification"),
    ],
)
def test_pain001_without_an_mt101_form_is_refused_naming_the_element(
    update: dict[str, object], loc: str, rule: str
) -> None:
    xml = mx(INITIATION.model_copy(update=update), "pain.001.001.09")
    assert refusal_of_mx(xml) == [(loc, rule)]


def test_pain001_with_two_transactions_is_refused_by_the_mx_reader() -> None:
    xml = mx(INITIATION, "pain.001.001.09")
    tx_start, tx_end = xml.index(b"<CdtTrfTxInf>"), xml.index(b"</CdtTrfTxInf>") + len(b"</CdtTrfTxInf>")
    doubled = xml[:tx_end] + xml[tx_start:tx_end] + xml[tx_end:]
    assert refusal_of_mx(doubled) == [("/Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf", "cbpr_single_transaction")]


# --- MT107 <-> pacs.003 ---------------------------------------------------------------------------------

MT107: Fields = [
    ("20", "DDREF260414"),
    ("30", "260415"),
    ("50C", "CUSTDEFFXXX"),
    ("50K", "/DE89370400440532013000\nACME GMBH\nHAUPTSTRASSE 1"),
    ("52A", "BANKDEMMXXX"),
    ("21", "DD0001"),
    ("21C", "MANDATE0001"),
    ("21D", "ACME-INV-4711"),
    ("32B", "EUR100,25"),
    ("57A", "BANKFRPPXXX"),
    ("59", "/FR1420041010050500013M02606\nJEAN DUPONT"),
    ("70", "INVOICE 4711"),
    ("33B", "EUR100,25"),
    ("71A", "SHA"),
    ("32B", "EUR100,25"),
]


def test_mt107_becomes_an_xsd_valid_pacs003_with_every_mapped_field() -> None:
    payload, warnings, xml = translated(fin("107", MT107))
    assert xsd_checked(xml) == "pacs.003.001.08"
    assert warnings == []
    assert isinstance(payload, DirectDebit)
    assert (payload.message_id, payload.instruction_id, payload.end_to_end_id, payload.uetr) == (
        "DDREF260414",
        "DD0001",
        "ACME-INV-4711",
        UETR,
    )
    assert (payload.settlement_amount, payload.settlement_date) == (
        Money(currency="EUR", amount=Decimal("100.25")),
        date(2026, 4, 15),
    )
    assert (payload.mandate_id, payload.charge_bearer) == ("MANDATE0001", ChargeBearer.SHAR)
    assert payload.creditor.name == "ACME GMBH" and payload.creditor_agent == Agent(bic="BANKDEMMXXX")
    assert payload.initiating_party == InitiatingParty(bic="CUSTDEFFXXX")
    assert payload.debtor.account == Account(iban="FR1420041010050500013M02606")
    assert payload.debtor_agent == Agent(bic="BANKFRPPXXX") and payload.remittance_information == ["INVOICE 4711"]
    assert (payload.instructing_agent, payload.instructed_agent) == ("BANKDEFFXXX", "BANKGB2LXXX")


def test_pacs003_back_to_mt107_and_again_keeps_every_mapped_field() -> None:
    back, original = mt_round_trip(fin("107", MT107)), parse_message(fin("107", MT107))
    assert isinstance(back, Mt107) and isinstance(original, Mt107)
    assert back.transactions == original.transactions


def test_mt107_without_21d_gets_notprovided_and_a_warning() -> None:
    payload, warnings, _ = translated(fin("107", without(MT107, "21D")))
    assert isinstance(payload, DirectDebit) and payload.end_to_end_id == "NOTPROVIDED"
    assert "EndToEndId set to NOTPROVIDED: no 21D direct debit reference" in warnings


@pytest.mark.parametrize(
    ("text", "loc", "rule"),
    [
        (fin("107", MT107, uetr=None), "3:121", "uetr_required"),
        (fin("107", without(MT107, "71A")), "4:71A", "charges_code_required"),
        (
            fin("107", replaced(MT107, "59", "JEAN DUPONT")),
            "4:59a",
            "debtor_account_required",
        ),
        (fin("107", [*MT107[:-1], *MT107[5:-1], MT107[-1]]), "4:21", "cbpr_single_transaction"),
    ],
    ids=["no-uetr", "no-71A", "debtor-without-account", "two-debits"],
)
def test_mt107_that_cannot_be_carried_is_refused_naming_the_field(text: str, loc: str, rule: str) -> None:
    assert refusal_of_mt(text) == [(loc, rule)]


def test_pacs003_without_uetr_is_refused_naming_the_element() -> None:
    _, _, xml = translated(fin("107", MT107))
    no_uetr = xml.replace(f"<UETR>{UETR}</UETR>".encode(), b"")
    assert refusal_of_mx(no_uetr) == [("/Document/FIToFICstmrDrctDbt/DrctDbtTxInf/PmtId/UETR", "uetr_required")]


# --- MT204 <-> pacs.010 ---------------------------------------------------------------------------------

MT204: Fields = [
    ("20", "XYZ1234ABC"),
    ("19", "1000,"),
    ("30", "260414"),
    ("57A", "BANKGB22XXX"),
    ("58A", "/GB29NWBK60161331926819\nBANKGB2LXXX"),
    ("72", "/INS/MARGIN CALL 42"),
    ("20", "XYZ12341"),
    ("21", "CALL42"),
    ("32B", "USD1000,"),
    ("53A", "/0012345678\nCHASUS33XXX"),
]


def test_mt204_becomes_an_xsd_valid_pacs010_with_every_mapped_field() -> None:
    payload, warnings, xml = translated(fin("204", MT204))
    assert xsd_checked(xml) == "pacs.010.001.03"
    assert warnings == []
    assert isinstance(payload, FiDirectDebit)
    assert (payload.message_id, payload.credit_id, payload.instruction_id, payload.end_to_end_id) == (
        "XYZ1234ABC",
        "XYZ1234ABC",
        "XYZ12341",
        "CALL42",
    )
    assert (payload.settlement_amount, payload.settlement_date) == (
        Money(currency="USD", amount=Decimal(1000)),
        date(2026, 4, 14),
    )
    assert payload.creditor_agent == Agent(bic="BANKGB22XXX") and payload.creditor == Agent(bic="BANKGB2LXXX")
    assert payload.creditor_account == Account(iban="GB29NWBK60161331926819")
    assert payload.debtor == Agent(bic="CHASUS33XXX") and payload.debtor_account == Account(other="0012345678")
    assert payload.instructions_for_debtor_agent == "/INS/MARGIN CALL 42"


def test_pacs010_back_to_mt204_and_again_keeps_every_mapped_field() -> None:
    back, original = mt_round_trip(fin("204", MT204)), parse_message(fin("204", MT204))
    assert isinstance(back, Mt204) and isinstance(original, Mt204)
    assert back.transactions[0].model_copy(update={"sender_to_receiver_information": []}) == original.transactions[0]
    assert back.sender_to_receiver_information == [] and back.transactions[0].sender_to_receiver_information == [
        "/INS/MARGIN CALL 42"
    ]  # 72 of sequence A goes back in sequence B, where the instruction to the debtor's agent belongs


def test_mt204_without_58a_names_the_sender_as_creditor() -> None:
    payload, _, xml = translated(fin("204", without(MT204, "58A")))
    assert isinstance(payload, FiDirectDebit) and payload.creditor == Agent(bic="BANKDEFFXXX")
    back = parse_message(mx_to_mt(xml)[0])
    assert isinstance(back, Mt204) and back.beneficiary_institution is None


@pytest.mark.parametrize(
    ("fields", "loc", "rule"),
    [
        ([*MT204[:-1], ("53B", "/0012345678")], "4:53B", "institution_identification"),
        (replaced(MT204, "19", "2000,") + MT204[6:], "4:20", "cbpr_single_transaction"),
    ],
    ids=["53B-location-only", "two-debits"],
)
def test_mt204_that_cannot_be_carried_is_refused_naming_the_field(fields: Fields, loc: str, rule: str) -> None:
    assert refusal_of_mt(fin("204", fields)) == [(loc, rule)]


# --- MT200 / MT205 -> pacs.009, pacs.009 -> MT205 ---------------------------------------------------------

MT200: Fields = [
    ("20", "39857579"),
    ("32A", "260414USD1000000,"),
    ("53B", "/34554-3049"),
    ("56A", "CITIUS33XXX"),
    ("57A", "CITIUS33MIA"),
    ("72", "/BNF/TREASURY"),
]
MT205: Fields = [
    ("20", "REF205001"),
    ("21", "REL205001"),
    ("32A", "260414EUR500000,"),
    ("52A", "BANKDEFFXXX"),
    ("57A", "BANKFRPPXXX"),
    ("58A", "/FR1420041010050500013M02606\nBANKBEBBXXX"),
    ("72", "/INS/BANKDEFF"),
]


def test_mt200_becomes_a_pacs009_own_account_transfer() -> None:
    payload, warnings, xml = translated(fin("200", MT200))
    assert xsd_checked(xml) == "pacs.009.001.08"
    assert isinstance(payload, FiTransfer)
    assert (payload.debtor, payload.creditor, payload.creditor_agent, payload.intermediary_agent) == (
        "BANKDEFFXXX",
        "BANKDEFFXXX",
        "CITIUS33MIA",
        "CITIUS33XXX",
    )
    assert (payload.instruction_id, payload.end_to_end_id, payload.uetr) == ("39857579", "NOTPROVIDED", UETR)
    assert payload.settlement_amount == Money(currency="USD", amount=Decimal(1000000))
    assert payload.instructions_for_next_agent == ["/BNF/TREASURY"]
    assert warnings == [
        "EndToEndId set to NOTPROVIDED: MT200 has no related reference",
        "53B: the Sender's account to debit is not carried",
    ]


def test_mt200_whose_57a_has_no_bic_is_refused() -> None:
    fields = replaced(MT200, "57A", "CITIBANK MIAMI\nMIAMI FL", "57D")
    assert refusal_of_mt(fin("200", fields)) == [("4:57a", "bic_required")]


def test_mt205_becomes_pacs009_and_comes_back_as_mt205_when_asked() -> None:
    payload, warnings, xml = translated(fin("205", MT205))
    assert xsd_checked(xml) == "pacs.009.001.08" and warnings == []
    assert isinstance(payload, FiTransfer) and payload.creditor_account == Account(iban="FR1420041010050500013M02606")
    again, text = mx_mt_mx(xml, "205")
    assert again == payload
    assert parse_message(text) == parse_message(fin("205", MT205))  # every field of this MT205 maps
    default, _ = mx_to_mt(xml)
    assert "{2:I202" in default  # pacs.009 -> MT202 stays the default


def test_mt205cov_keeps_its_underlying_transfer_both_ways() -> None:
    cover = [
        *MT205,
        ("50K", "/DE89370400440532013000\nACME GMBH"),
        ("52A", "BANKDEMMXXX"),
        ("57A", "BANKFRPPXXX"),
        ("59", "/FR1420041010050500013M02606\nDUPONT SA"),
        ("70", "/INV/4711"),
        ("33B", "EUR500000,"),
    ]
    payload, _, xml = translated(fin("205", cover, cover=True))
    assert parse_mx(xml).header.business_service == "swift.cbprplus.cov.02"
    assert isinstance(payload, FiTransfer) and payload.cover and payload.underlying is not None
    again, text = mx_mt_mx(xml, "205")
    assert again == payload
    back = parse_message(text)
    assert isinstance(back, Mt205) and back.is_cover and back.header.user_value("119") == "COV"
    original = parse_message(fin("205", cover, cover=True))
    assert isinstance(original, Mt205) and back.underlying == original.underlying


def test_mt205_form_is_refused_for_a_message_that_has_none() -> None:
    _, _, xml = translated(fin("107", MT107))
    assert refusal_of_mx(xml, "205") == [("mt_type", "mt_type_not_available")]


def test_codec_decodes_the_new_mt_types_to_their_canonical_types() -> None:
    kinds = {
        mt: codec.decode(fin(mt, fields).encode()).type
        for mt, fields in (
            ("101", MT101),
            ("107", MT107),
            ("204", MT204),
            ("200", MT200),
            ("205", MT205),
        )
    }
    assert kinds == {
        "101": "payment.initiation",
        "107": "payment.direct_debit",
        "204": "payment.fi_direct_debit",
        "200": "payment.fi_transfer",
        "205": "payment.fi_transfer",
    }
