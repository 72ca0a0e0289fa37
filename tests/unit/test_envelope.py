"""The Envelope, its payload registry, JSON Schema export and the sensitive-field declaration."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical import Envelope, RejectedInput, json_schemas, mask, message_types, parse_envelope, sensitive_paths
from canonical.envelope import idempotency_scope
from canonical.trade import Invoice

PAYLOAD = {
    "invoice_no": "I-1",
    "issue_date": "2026-11-01",
    "due_date": "2026-12-01",
    "seller": {"name": "S", "country": "CN", "registration_id": "91330200MA2AB3CD4E"},
    "buyer": {"name": "B", "country": "DE", "contact_email": "b@example.org"},
    "total": {"currency": "EUR", "amount": "10.00"},
}


def make(**fields: object) -> Envelope:
    return parse_envelope(
        {"type": "trade.invoice", "source": "bank-a", "destination": "factor-json", "payload": PAYLOAD, **fields}
    )


def test_envelope_has_every_field_of_the_architecture() -> None:
    assert set(Envelope.model_fields) == {
        "id",
        "type",
        "schema_version",
        "source",
        "destination",
        "tenant",
        "correlation_id",
        "causation_id",
        "idempotency_key",
        "created_at",
        "classification",
        "residency",
        "headers",
        "payload",
        "signature",
    }


def test_id_is_uuid7_and_correlation_defaults_to_it() -> None:
    env = make()
    assert env.id.version == 7 and env.correlation_id == str(env.id)
    assert isinstance(env.payload, Invoice)


def test_round_trip_through_bytes_keeps_the_typed_payload() -> None:
    env = make(residency=["CN"], classification="important", headers={"traceparent": "00-abc"})
    again = Envelope.from_bytes(env.to_bytes())
    assert again == env and isinstance(again.payload, Invoice)


def test_payload_digest_ignores_envelope_metadata_only() -> None:
    assert make().payload_digest() == make(tenant="t2").payload_digest()
    other = {**PAYLOAD, "invoice_no": "I-2"}
    assert make().payload_digest() != make(payload=other).payload_digest()


def test_idempotency_scope_differs_per_sender() -> None:
    assert idempotency_scope("a", "k") != idempotency_scope("b", "k")


@pytest.mark.parametrize(
    ("fields", "loc", "rule"),
    [
        ({"type": "Trade Invoice"}, "type", "string_pattern_mismatch"),
        ({"type": "trade.unknown"}, "type", "unknown_message_type"),
        ({"residency": ["china"]}, "residency", "value_error"),
        ({"classification": "secret"}, "classification", "enum"),
        ({"source": "bad source!"}, "source", "string_pattern_mismatch"),
    ],
)
def test_invalid_envelopes_name_field_and_rule(fields: dict[str, object], loc: str, rule: str) -> None:
    with pytest.raises(RejectedInput) as info:
        make(**fields)
    assert (loc, rule) in {(v.loc, v.rule) for v in info.value.violations}


def test_json_schemas_are_exported_for_every_type() -> None:
    schemas = json_schemas()
    assert set(schemas) == set(message_types())
    assert "invoice_no" in schemas["trade.invoice"]["properties"]


def test_sensitive_fields_are_declared_once_and_masked() -> None:
    paths = sensitive_paths(Invoice)
    assert "seller.registration_id" in paths and "buyer.contact_email" in paths
    masked = mask(make().payload_json(), paths)
    assert masked["seller"]["registration_id"] == "***" and masked["buyer"]["contact_email"] == "***"
    assert masked["seller"]["name"] == "S"


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=10,
        ),
        max_size=6,
    )
)
def test_arbitrary_json_never_crashes_the_parser(data: dict[str, object]) -> None:
    try:
        parse_envelope(data)
    except RejectedInput as exc:
        assert exc.violations


def test_uuid_v7_ids_are_time_ordered() -> None:
    a, b = make().id, make().id
    assert isinstance(a, uuid.UUID) and a.bytes[:6] <= b.bytes[:6]
