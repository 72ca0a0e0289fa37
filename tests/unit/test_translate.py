"""MT <-> MX translation per the CBPR+ field map: mapped fields survive, losses are warned, gaps raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from canonical.errors import RejectedInput
from canonical.iso20022 import Iso20022Message
from canonical.iso20022 import parse as parse_mx
from canonical.iso20022 import render as render_mx
from canonical.payments import ChargeBearer, CreditTransfer, FiTransfer
from canonical.swift_mt import Mt103, Mt202, mt_to_mx, mx_to_mt, parse, split_rje
from canonical.swift_mt.fields import PartyField

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MT = SHARED / "swift-mt" / "samples"
MX = SHARED / "iso20022" / "samples"
UETR = "8579f4a4-a547-463e-ae63-e7c6620d59b4"


def with_uetr(text: str) -> str:
    """Samples from before gpi lack field 121; add one, as CBPR+ requires it."""
    return text if "{121:" in text else text.replace("{3:", "{3:{121:" + UETR + "}", 1)


def mt103_samples() -> list[str]:
    texts = split_rje((MT / "MT103-bulk-with-ack.rje").read_text())
    texts += [(MT / name).read_text() for name in ("MT103-out-ack_msg1_uetr_sha.fin", "MT103-out-ack_msg2_our.fin")]
    return [with_uetr(t) for t in texts]


def account_and_lines(field: PartyField | None) -> tuple[str | None, str | None, list[str]]:
    return (None, None, []) if field is None else (field.identifier, field.bic, field.lines)


@pytest.mark.parametrize("text", mt103_samples())
def test_mt103_to_pacs008_and_back_keeps_every_mapped_field(text: str) -> None:
    original = parse(text)
    xml, _ = mt_to_mx(text)
    back_text, _ = mx_to_mt(xml)
    back = parse(back_text)
    assert isinstance(original, Mt103) and isinstance(back, Mt103)
    assert back.sender_reference == original.sender_reference  # 20 -> InstrId
    assert back.header.uetr == original.header.uetr  # 121 -> UETR
    assert (back.settlement.value_date, back.settlement.currency, back.settlement.amount) == (
        original.settlement.value_date,
        original.settlement.currency,
        original.settlement.amount,
    )  # 32A
    assert (back.instructed_amount and back.instructed_amount.amount) == (
        original.instructed_amount and original.instructed_amount.amount
    )  # 33B
    assert account_and_lines(back.ordering_customer) == account_and_lines(original.ordering_customer)  # 50a
    assert account_and_lines(back.beneficiary) == account_and_lines(original.beneficiary)  # 59a
    for attr in ("ordering_institution", "intermediary", "account_with_institution"):  # 52a, 56a, 57a
        before = getattr(original, attr)
        if before is not None and before.bic != original.header.sender_bic:
            assert account_and_lines(getattr(back, attr))[1:] == account_and_lines(before)[1:]
    assert "".join(back.remittance_information) == "".join(original.remittance_information)  # 70 (lines joined)
    assert back.details_of_charges == original.details_of_charges  # 71A
    assert back.sender_to_receiver_information == original.sender_to_receiver_information  # 72


def test_mt103_charges_codes_map_to_charge_bearer() -> None:
    our = with_uetr((MT / "MT103-out-ack_msg2_our.fin").read_text())
    payload = parse_mx(mt_to_mx(our)[0]).payload
    assert isinstance(payload, CreditTransfer) and payload.charge_bearer is ChargeBearer.DEBT
    assert payload.creditor.account is not None and payload.creditor.account.other == "00123456789012345678"


def test_mt202_to_pacs009_and_back_keeps_every_mapped_field() -> None:
    text = with_uetr((MT / "MT202ParserTest_test202_1.fin").read_text())
    original = parse(text)
    xml, warnings = mt_to_mx(text)
    payload = parse_mx(xml).payload
    assert isinstance(payload, FiTransfer)
    assert payload.creditor_account is not None and payload.creditor_account.iban == "ES4100940060792840000017"
    assert any(w.startswith("52a: party identifier") for w in warnings)  # '//FOO...' clearing code is not carried
    back = parse(mx_to_mt(xml)[0])
    assert isinstance(original, Mt202) and isinstance(back, Mt202)
    assert (back.sender_reference, back.related_reference) == (original.sender_reference, original.related_reference)
    assert back.settlement.render() == original.settlement.render()
    assert back.beneficiary_institution == original.beneficiary_institution
    for attr in ("ordering_institution", "account_with_institution"):
        assert getattr(back, attr).bic == getattr(original, attr).bic
    assert back.sender_to_receiver_information == original.sender_to_receiver_information


def test_mt202cov_translates_to_pacs009_with_the_underlying_transfer() -> None:
    cov = with_uetr((MT / "MT202ParserTest_test202_1.fin").read_text()).replace("{3:", "{3:{119:COV}", 1)
    cov = cov.replace(
        "-}",
        ":50K:/12345678\nACME TRADING LTD\n:52A:FOODESMMXXX\n:57A:BICFOOYYXXX\n"
        ":59:/00123456789012345678\nGLOBEX SA\nMADRID\n:70:INVOICE 42\n-}",
    )
    xml, _ = mt_to_mx(cov)
    message = parse_mx(xml)
    assert message.header.business_service == "swift.cbprplus.cov.02"
    assert isinstance(message.payload, FiTransfer) and message.payload.cover
    back = parse(mx_to_mt(xml)[0])
    assert isinstance(back, Mt202) and back.underlying is not None
    assert back.underlying == parse(cov).underlying  # type: ignore[union-attr]
    assert back.header.user_value("119") == "COV"


def test_pacs008_to_mt103_warns_about_what_the_mt_cannot_carry() -> None:
    text, warnings = mx_to_mt((MX / "pacs008_credit_transfer_sample.xml").read_bytes())
    mt = parse(text)
    assert isinstance(mt, Mt103)
    assert mt.header.uetr == "a1b2c3d4-e5f6-4890-abcd-ef1234567890"
    assert mt.details_of_charges == "OUR" and mt.sender_reference == "IN20260413-5017"
    assert "50 name: truncated to 35 characters" in warnings
    assert "EndToEndId: not carried in MT103" in warnings


def test_possible_duplicate_maps_between_pde_and_pssbldplct() -> None:
    message = parse_mx((MX / "pacs008_credit_transfer_sample.xml").read_bytes())
    resend = Iso20022Message(message.header.model_copy(update={"possible_duplicate": True}), message.payload)
    mt_text, _ = mx_to_mt(render_mx(resend))
    assert parse(mt_text).header.possible_duplicate
    assert parse_mx(mt_to_mx(mt_text)[0]).header.possible_duplicate


def test_mt103_without_uetr_cannot_be_translated() -> None:
    with pytest.raises(RejectedInput) as exc:
        mt_to_mx((MT / "MT103-out-ack_msg2_our.fin").read_text())
    assert [(v.loc, v.rule) for v in exc.value.violations] == [("3:121", "uetr_required")]


def test_slev_has_no_mt_charges_code_and_raises() -> None:
    message = parse_mx((MX / "pacs008_credit_transfer_sample.xml").read_bytes())
    slev = message.payload.model_copy(update={"charge_bearer": ChargeBearer.SLEV})
    with pytest.raises(RejectedInput) as exc:
        mx_to_mt(render_mx(Iso20022Message(message.header, slev)))
    assert exc.value.violations[0].rule == "charge_bearer_not_in_mt"
