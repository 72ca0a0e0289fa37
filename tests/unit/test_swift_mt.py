"""SWIFT FIN MT: blocks, fields, typed MT103 / MT202, rendering, the codec, and malformed input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from canonical.codecs import detect
from canonical.errors import RejectedInput
from canonical.swift_mt import Mt103, Mt202, codec, parse, parse_fin, render, split_rje
from tests.unit.translation_support import rules_of

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "swift-mt" / "samples"
UETR = "8579f4a4-a547-463e-ae63-e7c6620d59b4"


def samples() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DATA.iterdir()):
        text = path.read_text()
        chunks = split_rje(text) if path.suffix == ".rje" else [text]
        out += [(f"{path.name}#{i}", chunk) for i, chunk in enumerate(chunks)]
    return out


SAMPLES = samples()
MT103_UETR = (DATA / "MT103-out-ack_msg1_uetr_sha.fin").read_text()
MT202 = (DATA / "MT202ParserTest_test202_1.fin").read_text()


def test_rje_batch_splits_into_its_three_messages_without_the_acks() -> None:
    messages = split_rje((DATA / "MT103-bulk-with-ack.rje").read_text())
    assert len(messages) == 3
    assert all(m.startswith("{1:F01") for m in messages)


@pytest.mark.parametrize(("name", "text"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_every_sample_round_trips_field_for_field(name: str, text: str) -> None:
    message = parse(text)
    out = render(message)
    assert parse_fin(out).fields == parse_fin(text).fields
    assert parse_fin(out).header == parse_fin(text).header
    assert parse(out) == message


def test_crlf_and_lf_line_ends_parse_the_same() -> None:
    assert parse(MT103_UETR.replace("\n", "\r\n")) == parse(MT103_UETR)


def test_mt103_fields_are_typed() -> None:
    mt = parse(MT103_UETR)
    assert isinstance(mt, Mt103)
    assert mt.header.uetr == UETR
    assert mt.settlement.amount == Decimal("1814.28") and mt.settlement.currency == "USD"
    assert mt.beneficiary.identifier == "/00123456789012345678"
    assert mt.ordering_institution is not None and mt.ordering_institution.option == "D"
    assert mt.details_of_charges == "SHA"
    assert mt.header.sender_bic == "BBBBUS3NXXX" and mt.header.receiver_bic == "BICFOOYYXXX"


def test_mt202_fields_are_typed_and_trailer_kept() -> None:
    mt = parse(MT202)
    assert isinstance(mt, Mt202) and not mt.is_cover
    assert mt.beneficiary_institution.bic == "FOOBARYYXXX"
    assert mt.beneficiary_institution.identifier == "/ES4100940060792840000017"
    assert mt.header.trailer == [("MAC", "0D3E6718"), ("CHK", "76FFBA03C41F")]


def test_possible_duplicate_trailer_is_recognised_and_rendered() -> None:
    pde = MT103_UETR.rstrip() + "{5:{PDE:1348120811BANKFRPPAXXX2222123456}}"
    mt = parse(pde)
    assert mt.header.possible_duplicate
    assert "{5:{PDE:1348120811BANKFRPPAXXX2222123456}}" in render(mt)


def test_input_block2_is_supported() -> None:
    text = MT103_UETR.replace("{2:O1031610191014BBBBUS3NBXXX63382244921910142210N}", "{2:I103BANKDEFFXXXXN}")
    mt = parse(text)
    assert mt.header.application.direction == "I"
    assert mt.header.receiver_bic == "BANKDEFFXXX"
    assert "{2:I103BANKDEFFXXXXN}" in render(mt)


def test_truncated_block_4_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.split(":71A:")[0])
    assert rules_of(exc) == {"block4_unterminated": "4"}


def test_non_swift_characters_in_field_70_are_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.replace(":70:FINDERS FEES", ":70:FINDERS FEES €100 @ 5%"))
    assert rules_of(exc)["x_character_set"] == "4:70"


def test_amount_with_a_decimal_point_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.replace("USD1814,28", "USD1814.28"))
    assert rules_of(exc) == {"amount_decimal_comma": "4:32A"}


def test_too_many_decimals_for_jpy_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.replace("USD1814,28", "JPY1814,28"))
    assert rules_of(exc) == {"currency_decimals": "4:32A"}


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT202.replace("EUR12345,67", "XYZ12345,67"))
    assert rules_of(exc) == {"currency_code": "4:32A"}


def test_invalid_bic_in_option_a_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT202.replace(":57A:FOOBARYYXXX", ":57A:FOOBA1YYXXX"))
    assert rules_of(exc) == {"bic_pattern": "4:57A"}


def test_missing_mandatory_field_and_too_long_lines_are_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.replace(":71A:SHA\n", "").replace(":20:22342343", ":20:22342343AAAAAAAAAAAA"))
    assert rules_of(exc) == {"field_missing": "4:71A", "line_too_long": "4:20"}


def test_bad_uetr_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(MT103_UETR.replace(UETR, UETR.upper()))
    assert rules_of(exc) == {"uetr_format": "3:121"}


def test_oversized_message_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        codec.decode(MT103_UETR.encode() + b" " * 200_000)
    assert "too_large" in rules_of(exc)


def test_codec_decodes_mt103_with_its_idempotency_key() -> None:
    body = MT103_UETR.encode()
    assert detect(body, "text/plain") is codec
    decoded = codec.decode(body)
    assert decoded.type == "payment.credit_transfer"
    assert decoded.idempotency_key == "BBBBUS3NXXX:22342343:FDF1910141142100"
    assert decoded.correlation_id == UETR
    assert decoded.destination == "BICFOOYYXXX"


def test_codec_refuses_an_mt103_without_uetr() -> None:
    with pytest.raises(RejectedInput) as exc:
        codec.decode((DATA / "MT103-out-ack_msg2_our.fin").read_bytes())
    assert rules_of(exc) == {"uetr_required": "3:121"}
