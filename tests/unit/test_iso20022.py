"""ISO 20022 CBPR+ codec: samples, XSD and CBPR+ rules, the codec contract, and hostile input."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical.codecs import detect
from canonical.errors import RejectedInput
from canonical.iso20022 import BusinessHeader, Iso20022Message, codec, parse, render
from canonical.money import Money
from canonical.payments import Account, Agent, ChargeBearer, CreditTransfer, Party, PostalAddress
from tests.unit.translation_support import rules_of

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "iso20022" / "samples"
VALID = sorted(DATA.glob("*.xml"))
INVALID = DATA / "invalid" / "pacs_008_stp_2025_invalid.xml"
PACS008 = (DATA / "pacs008_credit_transfer_sample.xml").read_bytes()


@pytest.mark.parametrize("sample", VALID, ids=lambda p: p.name)
def test_every_sample_parses_renders_and_revalidates(sample: Path) -> None:
    message = parse(sample.read_bytes())
    again = parse(render(message))  # render validates against the XSDs, parse validates once more
    assert again.header == message.header
    assert again.payload == message.payload


def test_invalid_sample_fails_on_the_bic_pattern_naming_the_element() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(INVALID.read_bytes())
    assert rules_of(exc)["bic_pattern"] == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/InstgAgt/FinInstnId/BICFI"
    assert {"currency_code", "cbpr_business_service", "cbpr_reference_slash", "uetr_required"} <= set(rules_of(exc))


def test_codec_decodes_with_idempotency_key_destination_and_uetr() -> None:
    assert detect(PACS008, "application/xml") is codec
    decoded = codec.decode(PACS008)
    assert decoded.type == "payment.credit_transfer"
    assert decoded.idempotency_key == "FNTXDE2X:P008-20260413-5017"
    assert decoded.destination == "GLPBES2X"
    assert decoded.correlation_id == "a1b2c3d4-e5f6-4890-abcd-ef1234567890"
    assert isinstance(decoded.payload, CreditTransfer)
    assert decoded.payload.settlement_amount == Money(currency="EUR", amount=Decimal("750000"))


def test_bare_apphdr_and_document_in_another_wrapper_are_accepted() -> None:
    bare = PACS008.replace(b"urn:swift:xsd:envelope", b"urn:example:wrapper")
    assert parse(bare).payload == parse(PACS008).payload


def test_rendering_produces_the_swift_envelope() -> None:
    out = render(parse(PACS008))
    assert b'<Envelope xmlns="urn:swift:xsd:envelope">' in out
    assert b"<BizSvc>swift.cbprplus.02</BizSvc>" in out


def test_possible_duplicate_flag_survives_a_round_trip() -> None:
    message = parse(PACS008)
    resend = Iso20022Message(message.header.model_copy(update={"possible_duplicate": True}), message.payload)
    out = render(resend)
    assert b"<PssblDplct>true</PssblDplct>" in out
    assert parse(out).header.possible_duplicate


def test_missing_uetr_is_refused_with_its_path() -> None:
    broken = PACS008.replace(b"<pacs:UETR>a1b2c3d4-e5f6-4890-abcd-ef1234567890</pacs:UETR>", b"")
    with pytest.raises(RejectedInput) as exc:
        parse(broken)
    assert rules_of(exc)["uetr_required"] == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/PmtId/UETR"


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(PACS008.replace(b'Ccy="EUR"', b'Ccy="XYZ"'))
    assert rules_of(exc)["currency_code"].endswith("/CdtTrfTxInf/IntrBkSttlmAmt/@Ccy")


def test_too_many_decimals_for_jpy_is_refused() -> None:
    sample = (DATA / "pacs009_fi_transfer_sample.xml").read_bytes()
    with pytest.raises(RejectedInput) as exc:
        parse(sample.replace(b">45000000<", b">45000000.5<"))
    assert rules_of(exc)["currency_decimals"] == "/Document/FICdtTrf/CdtTrfTxInf/IntrBkSttlmAmt"


def test_iban_with_wrong_check_digits_is_refused() -> None:
    with_iban = PACS008.replace(
        b"<pacs:Othr>\n\t\t\t\t\t\t\t<pacs:Id>74829163</pacs:Id>\n\t\t\t\t\t\t</pacs:Othr>",
        b"<pacs:IBAN>DE89370400440532013001</pacs:IBAN>",
    )
    assert with_iban != PACS008
    with pytest.raises(RejectedInput) as exc:
        parse(with_iban)
    assert rules_of(exc)["iban_check_digits"] == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/DbtrAcct/Id/IBAN"


def test_wrong_namespace_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(PACS008.replace(b"pacs.008.001.08", b"pacs.008.001.99"))
    assert "wrong_namespace" in rules_of(exc)


def test_doctype_and_external_entities_are_refused_by_the_hardened_parser() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + PACS008[38:]
    with pytest.raises(RejectedInput) as exc:
        parse(xxe)
    assert "doctype_forbidden" in rules_of(exc)


def test_oversized_document_is_refused() -> None:
    with pytest.raises(RejectedInput) as exc:
        parse(PACS008 + b" " * (5 * 1024 * 1024))
    assert "too_large" in rules_of(exc)


def test_model_rejects_a_bad_bic_naming_field_and_rule() -> None:
    with pytest.raises(ValidationError) as exc:
        Agent(bic="WRONGUS33XXX")
    error = exc.value.errors()[0]
    assert (error["loc"], error["type"]) == (("bic",), "bic_pattern")


def test_model_rejects_an_iban_with_wrong_check_digits() -> None:
    with pytest.raises(ValidationError) as exc:
        Account(iban="DE89370400440532013001")
    assert exc.value.errors()[0]["type"] == "iban_check_digits"


def test_model_rejects_names_outside_the_cbpr_character_set() -> None:
    with pytest.raises(ValidationError) as exc:
        Party(name="Müller GmbH")
    assert exc.value.errors()[0]["type"] == "cbpr_character_set"


def test_model_rejects_jpy_with_decimals_and_unknown_currencies() -> None:
    with pytest.raises(ValidationError):
        Money(currency="JPY", amount=Decimal("1.5"))
    with pytest.raises(ValidationError):
        Money(currency="XYZ", amount=Decimal("1"))


# --- property: any valid credit transfer renders to a valid pacs.008 and parses back equal -----------------
X_TEXT = (
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-()?:'+", min_size=1, max_size=35
    )
    .map(str.strip)
    .filter(bool)
)
BIC = st.from_regex(r"\A[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(XXX)?\Z")
CURRENCIES = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}


@st.composite
def money(draw: st.DrawFn) -> Money:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    units = draw(st.integers(min_value=1, max_value=10**12))
    return Money(currency=currency, amount=Decimal(units).scaleb(-CURRENCIES[currency]))


@st.composite
def credit_transfers(draw: st.DrawFn) -> CreditTransfer:
    def party() -> Party:
        return Party(
            name=draw(X_TEXT),
            address=PostalAddress(
                country=draw(st.sampled_from(["DE", "CN", "SG"])), lines=draw(st.lists(X_TEXT, max_size=3))
            ),
            account=Account(other=draw(st.from_regex(r"\A[0-9]{6,20}\Z"))),
        )

    return CreditTransfer(
        message_id=draw(X_TEXT).replace("/", "-"),
        created_at=datetime(2026, 4, 13, 10, 30, tzinfo=UTC),
        uetr=str(uuid.UUID(int=draw(st.integers(min_value=0, max_value=2**128 - 1)), version=4)),
        instruction_id=draw(X_TEXT).replace("/", "-"),
        end_to_end_id=draw(X_TEXT).replace("/", "-"),
        settlement_amount=draw(money()),
        settlement_date=draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))),
        instructed_amount=draw(st.none() | money()),
        charge_bearer=draw(st.sampled_from(list(ChargeBearer))),
        instructing_agent=draw(BIC),
        instructed_agent=draw(BIC),
        debtor=party(),
        debtor_agent=Agent(bic=draw(BIC)),
        creditor_agent=Agent(bic=draw(BIC)),
        creditor=party(),
        remittance_information=draw(st.lists(X_TEXT, max_size=1)),
    )


@settings(max_examples=25, deadline=None)
@given(credit_transfers())
def test_generated_credit_transfers_round_trip_through_pacs008(ct: CreditTransfer) -> None:
    header = BusinessHeader(
        from_bic=ct.debtor_agent.bic or "",
        to_bic=ct.creditor_agent.bic or "",
        business_message_id=ct.message_id,
        message_definition="pacs.008.001.08",
        created_at=datetime(2026, 4, 13, tzinfo=UTC),
    )
    assert parse(render(Iso20022Message(header, ct))).payload == ct
