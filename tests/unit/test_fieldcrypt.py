"""Field encryption at rest: every declared sensitive value sealed, bound to its message and path."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from canonical import Envelope, parse_envelope, sensitive_paths
from canonical.codecs import detect
from canonical.payments import CreditTransfer
from security.fieldcrypt import (
    AES_256_GCM,
    SEALED_PREFIX,
    SM4_GCM,
    Cipher,
    FieldCryptError,
    FieldNotOpened,
    FieldSealer,
    KekDataKeys,
    UnknownDataKey,
)

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))
CEB311 = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "customs-ceb" / "samples" / "CEB311Message.xml"
)
DEBTOR_IBAN = "DE89370400440532013000"
CREDITOR_IBAN = "GB29NWBK60161331926819"


def credit_transfer() -> Envelope:
    return parse_envelope(
        {
            "type": "payment.credit_transfer",
            "source": "bank-a",
            "destination": "cips",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": {
                "message_id": "M-1",
                "uetr": "8a562c67-ca16-48ba-b074-65581be6f011",
                "end_to_end_id": "E2E-1",
                "settlement_amount": {"currency": "EUR", "amount": "1250.00"},
                "settlement_date": "2026-11-02",
                "charge_bearer": "SHAR",
                "debtor": {"name": "Anna Muster", "account": {"iban": DEBTOR_IBAN}},
                "debtor_agent": {"bic": "COBADEFFXXX"},
                "creditor_agent": {"bic": "NWBKGB2L"},
                "creditor": {"name": "Bob Smith Ltd", "account": {"iban": CREDITOR_IBAN}},
            },
        }
    )


def as_dict(env: Envelope) -> dict[str, Any]:
    return env.model_dump(mode="json")


def customs_order() -> dict[str, Any]:
    raw = CEB311.read_bytes()
    codec = detect(raw, "application/xml")
    assert codec is not None
    decoded = codec.decode(raw)
    return {"id": str(uuid.uuid4()), "type": decoded.type, "payload": decoded.payload.model_dump(mode="json")}


def parse_order_model(order: dict[str, Any]) -> Any:
    return Envelope.model_validate({**order, "source": "ebp", "destination": "customs"}).payload


@pytest.fixture(params=[AES_256_GCM, SM4_GCM])
def sealer(request: pytest.FixtureRequest) -> FieldSealer:
    cipher: Cipher = request.param
    return FieldSealer.from_kek(KEK, "k1", cipher=cipher)


def test_every_declared_field_is_sealed_and_opens_back(sealer: FieldSealer) -> None:
    env = as_dict(credit_transfer())
    sealed = sealer.seal(env)
    debtor, creditor = sealed["payload"]["debtor"], sealed["payload"]["creditor"]
    for value in (debtor["name"], debtor["account"]["iban"], creditor["name"], creditor["account"]["iban"]):
        assert value.startswith(f"{SEALED_PREFIX}v1:k1:{sealer.cipher}:")
    assert "Anna Muster" not in json.dumps(sealed) and DEBTOR_IBAN not in json.dumps(sealed)
    assert sealer.open(sealed) == env


def test_fields_not_declared_sensitive_are_untouched(sealer: FieldSealer) -> None:
    env = as_dict(credit_transfer())
    sealed = sealer.seal(env)
    declared = {"debtor", "creditor"}
    assert {k: v for k, v in sealed["payload"].items() if k not in declared} == {
        k: v for k, v in env["payload"].items() if k not in declared
    }
    assert {k: v for k, v in sealed.items() if k != "payload"} == {k: v for k, v in env.items() if k != "payload"}


def test_absent_sensitive_values_stay_absent(sealer: FieldSealer) -> None:
    sealed = sealer.seal(as_dict(credit_transfer()))
    assert sealed["payload"]["debtor"]["account"]["other"] is None  # None says nothing: nothing to seal


def test_each_list_item_is_sealed_at_its_own_index(sealer: FieldSealer) -> None:
    order = customs_order()
    assert "orders.*.head.buyer_name" in sensitive_paths(type(parse_order_model(order)))
    sealed = sealer.seal(order)
    heads = [o["head"] for o in sealed["payload"]["orders"]]
    assert len(heads) > 1 and all(h["buyer_name"].startswith(SEALED_PREFIX) for h in heads)
    assert sealer.open(sealed) == order


def test_a_value_moved_to_another_list_item_does_not_open(sealer: FieldSealer) -> None:
    sealed = sealer.seal(customs_order())
    orders = sealed["payload"]["orders"]
    orders[1]["head"]["buyer_name"] = orders[0]["head"]["buyer_name"]
    with pytest.raises(FieldNotOpened) as refused:
        sealer.open(sealed)
    assert refused.value.path == "orders.1.head.buyer_name"


def test_numbers_lists_and_objects_come_back_with_their_type(sealer: FieldSealer) -> None:
    mid = str(uuid.uuid4())
    for value in (42, 3.5, True, ["Line 1", "Line 2"], {"street": "Hauptstr. 1", "zip": 10115}, "张三"):
        token = sealer.seal_value(value, mid, "recipient.address_lines")
        assert isinstance(token, str) and sealer.open_value(token, mid, "recipient.address_lines") == value


def test_a_value_moved_to_another_field_does_not_open(sealer: FieldSealer) -> None:
    sealed = sealer.seal(as_dict(credit_transfer()))
    sealed["payload"]["creditor"]["name"] = sealed["payload"]["debtor"]["name"]
    with pytest.raises(FieldNotOpened) as refused:
        sealer.open(sealed)
    assert refused.value.path == "creditor.name"
    assert "creditor.name" in str(refused.value) and sealed["id"] in str(refused.value)


def test_a_value_copied_into_another_message_does_not_open(sealer: FieldSealer) -> None:
    first, second = sealer.seal(as_dict(credit_transfer())), sealer.seal(as_dict(credit_transfer()))
    second["payload"]["debtor"]["name"] = first["payload"]["debtor"]["name"]
    with pytest.raises(FieldNotOpened) as refused:
        sealer.open(second)
    assert refused.value.path == "debtor.name" and refused.value.message_id == second["id"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # ciphertext / tag altered
        lambda t: t.rsplit(":", 1)[0] + ":" + t.rsplit(":", 1)[1][:10],  # truncated
        lambda t: t.replace(":v1:", ":v9:"),  # unknown token version
        lambda t: t.rsplit(":", 1)[0] + ":not base64!",  # data garbled
        lambda t: "$sealed:v1:k1",  # parts missing
    ],
    ids=["altered", "truncated", "version", "garbled", "short"],
)
def test_a_tampered_token_does_not_open(sealer: FieldSealer, tamper: Any) -> None:
    mid = str(uuid.uuid4())
    token = sealer.seal_value("Anna Muster", mid, "debtor.name")
    with pytest.raises(FieldNotOpened):
        sealer.open_value(tamper(token), mid, "debtor.name")


def test_the_algorithm_named_in_a_token_cannot_be_swapped() -> None:
    sealer = FieldSealer.from_kek(KEK, "k1")
    mid = str(uuid.uuid4())
    token = sealer.seal_value("Anna Muster", mid, "debtor.name")
    with pytest.raises(FieldNotOpened):
        sealer.open_value(token.replace(f":{AES_256_GCM}:", f":{SM4_GCM}:"), mid, "debtor.name")


def test_sealing_one_value_twice_gives_two_tokens(sealer: FieldSealer) -> None:
    mid = str(uuid.uuid4())
    assert sealer.seal_value("Anna Muster", mid, "debtor.name") != sealer.seal_value("Anna Muster", mid, "debtor.name")


def test_an_unknown_kid_is_refused_naming_it() -> None:
    sealed = FieldSealer.from_kek(KEK, "k9").seal(as_dict(credit_transfer()))
    with pytest.raises(UnknownDataKey) as refused:
        FieldSealer.from_kek(KEK, "k1").open(sealed)
    assert refused.value.kid == "k9" and "'k9'" in str(refused.value) and "k1" in str(refused.value)


def test_after_rotation_the_new_kid_seals_and_the_retired_one_still_opens(sealer: FieldSealer) -> None:
    env = as_dict(credit_transfer())
    before = sealer.seal(env)
    rotated = FieldSealer.from_kek(KEK, "k2", retired_kids=["k1"], cipher=sealer.cipher)
    assert rotated.open(before) == env
    after = rotated.seal(env)
    assert after["payload"]["debtor"]["name"].startswith(f"{SEALED_PREFIX}v1:k2:")
    with pytest.raises(UnknownDataKey):
        sealer.open(after)  # a hub that was not told about k2 cannot open it


def test_another_kek_does_not_open() -> None:
    sealed = FieldSealer.from_kek(KEK, "k1").seal(as_dict(credit_transfer()))
    with pytest.raises(FieldNotOpened):
        FieldSealer.from_kek(OTHER_KEK, "k1").open(sealed)


def test_a_journal_sealed_before_a_suite_switch_still_opens() -> None:
    env = as_dict(credit_transfer())
    under_aes = FieldSealer.from_kek(KEK, "k1", cipher=AES_256_GCM).seal(env)
    assert FieldSealer.from_kek(KEK, "k1", cipher=SM4_GCM).open(under_aes) == env


def test_a_sealer_without_keys_for_a_cipher_says_so() -> None:
    env = as_dict(credit_transfer())
    under_sm4 = FieldSealer.from_kek(KEK, "k1", cipher=SM4_GCM).seal(env)
    aes_only = FieldSealer(KekDataKeys(KEK, "k1"), AES_256_GCM)
    with pytest.raises(FieldNotOpened, match="SM4GCM"):
        aes_only.open(under_sm4)


def test_data_keys_are_derived_per_kid_and_per_cipher() -> None:
    aes, sm4 = KekDataKeys(KEK, "k2", ["k1"]), KekDataKeys(KEK, "k2", ["k1"], cipher=SM4_GCM)
    assert len(aes.key("k1")) == 32
    assert aes.key("k1") != aes.key("k2") and aes.key("k1") != sm4.key("k1")
    assert KekDataKeys(KEK, "k1").key("k1") == aes.key("k1")  # deterministic: any hub with the KEK opens
    assert aes.current() == ("k2", aes.key("k2"))


def test_a_short_kek_and_a_kid_that_cannot_be_written_into_a_token_are_refused() -> None:
    with pytest.raises(FieldCryptError, match="at least 32 are needed"):
        KekDataKeys(b"short", "k1")
    with pytest.raises(FieldCryptError, match="kid 'k:1'"):
        KekDataKeys(KEK, "k:1")


def test_serialized_envelopes_round_trip_and_old_clear_ones_open_unchanged(sealer: FieldSealer) -> None:
    env = credit_transfer()
    stored = sealer.seal_envelope(env.to_bytes())
    assert b"Anna Muster" not in stored and DEBTOR_IBAN.encode() not in stored
    assert Envelope.from_bytes(sealer.open_envelope(stored)) == env
    assert sealer.open_envelope(env.to_bytes()) == env.to_bytes()  # written before sealing was turned on


def test_types_without_sensitive_fields_are_stored_as_they_are(sealer: FieldSealer) -> None:
    status = parse_envelope(
        {
            "type": "payment.status_report",
            "source": "cips",
            "destination": "bank-a",
            "payload": {
                "message_id": "S-1",
                "original": {"message_id": "M-1", "message_type": "pacs.008.001.08"},
                "status": "ACSC",
            },
        }
    )
    assert sealer.seal_envelope(status.to_bytes()) == status.to_bytes()


def test_an_envelope_without_an_id_cannot_be_sealed(sealer: FieldSealer) -> None:
    env = as_dict(credit_transfer())
    del env["id"]
    with pytest.raises(FieldCryptError, match="no id"):
        sealer.seal(env)


def test_the_credit_transfer_declares_names_and_accounts() -> None:
    # The integration tests rely on these being sealed; a change of declaration must be deliberate.
    assert {"debtor.name", "debtor.account.iban", "creditor.name", "creditor.account.iban"} <= set(
        sensitive_paths(CreditTransfer)
    )
