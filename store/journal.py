"""The journal: the record of every message's state, with idempotency, attempts, outbox and audit.

One `Store` per process over SQLAlchemy 2 async (SQLite by default, PostgreSQL in production).
Every status change is written together with its outbox event in one transaction, so events are
published from the journal and never get ahead of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from uuid6 import uuid7

from canonical.envelope import Envelope
from canonical.sensitive import EnvelopeSealer
from store.chain import GENESIS, HASHES, ChainBreak, ChainReport, check_algorithm, link
from store.schema import AttemptRow, AuditRow, ChainHeadRow, IdempotencyRow, MessageRow, OutboxRow, TransitionRow

STATUSES = ("accepted", "routed", "sent", "delivered", "completed", "rejected", "retrying", "dead_lettered")
FINAL = frozenset({"completed", "rejected"})
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MAX_GROUP = 512  # writes per group commit
Write = Callable[["_Loaded"], Awaitable[Any]]
T = TypeVar("T")


class IdempotencyConflict(Exception):
    """The same idempotency key was used before with a different payload."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"idempotency key already used for message {message_id} with a different payload")
        self.message_id = message_id


@dataclass(frozen=True)
class Claim:
    message_id: str
    new: bool  # False: an earlier submission with the same key and payload owns it
    status: str


@dataclass(frozen=True)
class Transition:
    seq: int
    status: str
    at: datetime
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class MessageView:
    id: str
    type: str
    source: str
    destination: str
    correlation_id: str
    status: str
    adapter: str | None
    version: str | None
    attempts: int
    round_attempts: int
    replays: int
    last_error: str | None
    envelope: bytes
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "destination": self.destination,
            "correlation_id": self.correlation_id,
            "status": self.status,
            "adapter": self.adapter,
            "version": self.version,
            "attempts": self.attempts,
            "replays": self.replays,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class _Loaded:
    """One group commit's session with the rows its writes touch, loaded up front in one query,
    so a write finds its message and idempotency key without a query of its own."""

    def __init__(self, s: AsyncSession) -> None:
        self.s = s
        self.messages: dict[str, MessageRow] = {}
        self.keys: dict[str, IdempotencyRow] = {}
        self.absent_ids: set[str] = set()
        self.absent_scopes: set[str] = set()
        self.transitions: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    async def message(self, message_id: str) -> MessageRow | None:
        if message_id in self.messages or message_id in self.absent_ids:
            return self.messages.get(message_id)
        row = await self.s.get(MessageRow, message_id)  # one not announced to the batch
        if row is not None:
            self.messages[message_id] = row
        return row

    async def key(self, scope: str) -> IdempotencyRow | None:
        if scope in self.keys or scope in self.absent_scopes:
            return self.keys.get(scope)
        row = await self.s.get(IdempotencyRow, scope)
        if row is not None:
            self.keys[scope] = row
        return row

    def add_message(self, row: MessageRow) -> MessageRow:
        self.s.add(row)
        self.messages[row.id] = row
        self.absent_ids.discard(row.id)
        return row

    def add_key(self, row: IdempotencyRow) -> None:
        self.s.add(row)
        self.keys[row.scope] = row
        self.absent_scopes.discard(row.scope)

    def event(self, subject: str, msg_id: str, data: dict[str, Any]) -> None:
        """An event published by the outbox relay once this batch commits (`msg_id`: JetStream dedup)."""
        body = json.dumps(data, default=str).encode()
        self.outbox.append(
            {"subject": subject, "msg_id": msg_id, "data": body, "published": False, "created_at": _now()}
        )


Batch = _Loaded  # what an op given to `Store.transaction` works with: `s` (the session) and `event()`


@dataclass
class _Pending:
    op: Write
    ids: tuple[str, ...]
    scopes: tuple[str, ...]
    future: asyncio.Future[Any]


def _settle(future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # the caller went away (cancelled): nobody to tell
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the hub writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _migrate(connection: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


class Store:
    """Async access to the journal. Safe to share across tasks of one process."""

    def __init__(
        self,
        engine: AsyncEngine,
        idempotency_days: int = 30,
        chain_hash: str = "sha256",
        *,
        sealer: EnvelopeSealer | None = None,
    ) -> None:
        self.engine = engine
        self.chain_hash = check_algorithm(chain_hash)  # this writer's chain digest: sha256 or sm3
        self._session = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._retention = timedelta(days=idempotency_days)
        self._sealer = sealer  # seals the sensitive fields of stored envelopes; None: stored in clear
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._lock_rows = engine.dialect.name == "postgresql"
        # This process's hash chain: a new one per start, so writers never contend for one head.
        self._chain = str(uuid7())
        self._head, self._count = GENESIS, 0

    @classmethod
    async def open(
        cls, url: str, idempotency_days: int = 30, chain_hash: str = "sha256", *, sealer: EnvelopeSealer | None = None
    ) -> Store:
        """Connect and bring the schema to the newest migration. `chain_hash` (sha256 or sm3) is
        the digest of the hash chain this Store writes; other writers' chains keep their own.
        With a `sealer`, the sensitive fields of every stored envelope are sealed on write and opened
        on every read (`MessageView.envelope` is always in clear), so callers see no difference."""
        check_algorithm(chain_hash)  # before connecting: a typo must not cost a migration run
        if url.startswith("sqlite"):
            # Writes go through one writer task; a few more connections serve concurrent reads (WAL).
            engine = create_async_engine(url, pool_size=4, max_overflow=0, pool_timeout=60)
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        async with engine.begin() as conn:
            await conn.run_sync(_migrate)
        return cls(engine, idempotency_days, chain_hash, sealer=sealer)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._session() as session, session.begin():
            yield session

    # -- the group-committed write stream ------------------------------------------------------

    async def _write(self, op: Write, ids: tuple[str, ...] = (), scopes: tuple[str, ...] = ()) -> Any:
        """Run `op` in the write stream: concurrent writes share one transaction, whose rows (`ids`
        messages, `scopes` idempotency keys) are loaded in one query first; `op`'s result or error
        comes back to its caller alone."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="journal-writer")
        pending = _Pending(op, ids, scopes, asyncio.get_running_loop().create_future())
        await self._queue.put(pending)
        return await pending.future

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_GROUP:
                batch.append(self._queue.get_nowait())
            try:
                results = await self._apply(batch)
            except Exception:
                for pending in batch:
                    try:
                        (result,) = await self._apply([pending])
                    except Exception as exc:
                        _settle(pending.future, error=exc)
                    else:
                        _settle(pending.future, result)
            else:
                for pending, result in zip(batch, results, strict=True):
                    _settle(pending.future, result)

    async def _apply(self, batch: list[_Pending]) -> list[Any]:
        ids = {i for p in batch for i in p.ids}
        scopes = {k for p in batch for k in p.scopes}
        async with self._tx() as s:
            loaded = _Loaded(s)
            if ids:
                query = select(MessageRow).where(MessageRow.id.in_(ids))
                rows = (await s.execute(query.with_for_update() if self._lock_rows else query)).scalars()
                loaded.messages.update({r.id: r for r in rows})
                loaded.absent_ids.update(ids - set(loaded.messages))
            if scopes:
                rows_ = (await s.execute(select(IdempotencyRow).where(IdempotencyRow.scope.in_(scopes)))).scalars()
                loaded.keys.update({r.scope: r for r in rows_})
                loaded.absent_scopes.update(scopes - set(loaded.keys))
            results = [await p.op(loaded) for p in batch]
            await s.flush()  # unique keys are checked here, still inside the batch's transaction
            # Rows nobody reads back go in one statement per table, not one per row.
            batched: list[tuple[Any, list[dict[str, Any]]]] = [
                (TransitionRow, loaded.transitions),
                (OutboxRow, loaded.outbox),
                (AttemptRow, loaded.attempts),
            ]
            head, count = self._head, self._count
            for row in loaded.transitions:
                row["chain"], row["prev_hash"] = self._chain, head
                row["hash"] = head = link(head, row, self.chain_hash)
            if loaded.transitions:
                if count == 0:
                    s.add(
                        ChainHeadRow(
                            chain=self._chain,
                            head=head,
                            count=len(loaded.transitions),
                            updated_at=_now(),
                            algorithm=self.chain_hash,
                        )
                    )
                else:
                    await s.execute(
                        update(ChainHeadRow)
                        .where(ChainHeadRow.chain == self._chain)
                        .values(head=head, count=count + len(loaded.transitions), updated_at=_now())
                    )
                count += len(loaded.transitions)
            for table, values in batched:
                if values:
                    statement: Any = insert(table)
                    await s.execute(statement, values)
        self._head, self._count = head, count  # only once the commit went through
        return results

    async def transaction(self, op: Callable[[Batch], Awaitable[T]]) -> T:
        """Run `op` in the journal's write stream (committed with other writes: keep it short). On
        PostgreSQL it must lock the rows it changes (`with_for_update`): other hub instances write too."""
        result: T = await self._write(op)
        return result

    # -- acceptance ---------------------------------------------------------------------------

    async def claim(self, env: Envelope, scope: str) -> Claim:
        """Reserve the idempotency key for `env`, or say which message already holds it.

        Raises IdempotencyConflict if the key was used with a different payload.
        """
        digest = env.payload_digest()
        now = _now()
        mid = str(env.id)

        async def op(t: _Loaded) -> Claim:
            held = await t.key(scope)
            if held is None:
                t.add_key(
                    IdempotencyRow(scope=scope, message_id=mid, payload_digest=digest, expires_at=now + self._retention)
                )
                t.add_message(_message_row(env, scope, "received", now, self._sealer))
                return Claim(mid, True, "received")
            if held.payload_digest != digest:
                raise IdempotencyConflict(held.message_id)
            owner = await t.message(held.message_id)
            return Claim(held.message_id, False, owner.status if owner else "received")

        try:
            return await self._write(op, (mid,), (scope,))  # type: ignore[no-any-return]
        except IntegrityError:  # another hub instance claimed the key a moment ago: read its claim
            return await self.claim(env, scope)

    async def release(self, message_id: str, scope: str) -> None:
        """Undo a claim whose publish failed, so the caller may try again."""

        async def op(t: _Loaded) -> None:
            await t.s.execute(
                delete(IdempotencyRow).where(IdempotencyRow.scope == scope, IdempotencyRow.message_id == message_id)
            )
            await t.s.execute(delete(MessageRow).where(MessageRow.id == message_id, MessageRow.status == "received"))

        await self._write(op)

    async def ensure(self, env: Envelope, scope: str) -> tuple[MessageView, bool]:
        """The journal row of a message taken from HUB_IN; inserted (accepted) if an internal
        service published it directly. Returns (view, owner): owner is False when another message
        already holds its idempotency key, i.e. this one is a duplicate to drop."""
        now = _now()
        mid = str(env.id)

        async def op(t: _Loaded) -> tuple[MessageView, bool]:
            msg = await t.message(mid)
            if msg is None:
                held = await t.key(scope)
                if held is not None and held.message_id != mid:
                    owner = await t.message(held.message_id)
                    if owner is not None:
                        return _view(owner, self._sealer), False
                if held is None:
                    t.add_key(
                        IdempotencyRow(
                            scope=scope,
                            message_id=mid,
                            payload_digest=env.payload_digest(),
                            expires_at=now + self._retention,
                        )
                    )
                msg = t.add_message(_message_row(env, scope, "received", now, self._sealer))
            if msg.status == "received":  # the row is locked (or the writer is the only one): no race
                self._transition(t, msg, "accepted", "hub", {}, now)
            return _view(msg, self._sealer), True

        held_ids = (mid,)
        return await self._write(op, held_ids, (scope,))  # type: ignore[no-any-return]

    # -- transitions --------------------------------------------------------------------------

    async def record(
        self,
        message_id: str,
        status: str,
        *,
        actor: str = "hub",
        detail: dict[str, Any] | None = None,
        adapter: str | None = None,
        version: str | None = None,
    ) -> bool:
        """Append a status transition (and its outbox event). False if the message is already final
        or unknown, so a redelivered message never moves backwards."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")

        async def op(t: _Loaded) -> bool:
            return await self._record(t, message_id, status, actor, detail or {}, adapter, version)

        return await self._write(op, (message_id,))  # type: ignore[no-any-return]

    async def _record(
        self,
        t: _Loaded,
        message_id: str,
        status: str,
        actor: str,
        detail: dict[str, Any],
        adapter: str | None,
        version: str | None,
    ) -> bool:
        msg = await t.message(message_id)
        if msg is None or msg.status in FINAL:
            return False
        if adapter:
            msg.adapter, msg.version = adapter, version
        if status in ("retrying", "dead_lettered", "rejected") and "error" in detail:
            msg.last_error = str(detail["error"])[:2000]
        self._transition(t, msg, status, actor, detail, _now())
        return True

    def _transition(
        self, t: _Loaded, msg: MessageRow, status: str, actor: str, detail: dict[str, Any], now: datetime
    ) -> None:
        msg.status, msg.updated_at = status, now
        t.transitions.append(
            {"message_id": msg.id, "status": status, "at": now, "actor": actor, "detail": json.dumps(detail)}
        )
        event = {
            "id": msg.id,
            "type": msg.type,
            "status": status,
            "at": now.isoformat(),
            "source": msg.source,
            "destination": msg.destination,
            "correlation_id": msg.correlation_id,
            "detail": detail,
        }
        t.outbox.append(
            {
                "subject": f"hub.evt.{msg.type}.{status}",
                # Deterministic, so a relay's re-publish is dropped; a failover's `routed` names its channel.
                "msg_id": f"{msg.id}:{status}:{msg.attempts}:{msg.replays}"
                + (f":{msg.adapter}" if status == "routed" and msg.adapter else ""),
                "data": json.dumps(event).encode(),
                "published": False,
                "created_at": now,
            }
        )

    # -- attempts -----------------------------------------------------------------------------

    async def begin_attempt(self, message_id: str, adapter: str, version: str) -> tuple[int, MessageView | None]:
        """Journal the intent to call the partner (status `sent`) before the call.

        Returns (attempt number within this round, view). The number is 0 and nothing is recorded
        when the message must not be sent: unknown, already final, or dead-lettered."""
        now = _now()

        async def op(t: _Loaded) -> tuple[int, MessageView | None]:
            msg = await t.message(message_id)
            if msg is None or msg.status in FINAL or msg.status == "dead_lettered":
                return 0, _view(msg, self._sealer) if msg else None
            msg.attempts += 1
            msg.round_attempts += 1
            msg.adapter, msg.version = adapter, version
            self._transition(
                t, msg, "sent", "hub", {"attempt": msg.attempts, "adapter": adapter, "version": version}, now
            )
            return msg.round_attempts, _view(msg, self._sealer)

        return await self._write(op, (message_id,))  # type: ignore[no-any-return]

    async def finish_attempt(
        self,
        message_id: str,
        adapter: str,
        version: str,
        started_at: datetime,
        outcome: str,
        error: str | None = None,
        then: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        """Journal one partner call with its outcome, and the statuses `then`, in one write."""

        async def op(t: _Loaded) -> None:
            msg = await t.message(message_id)
            n = msg.attempts if msg else 0
            t.attempts.append(
                dict(
                    message_id=message_id,
                    n=n,
                    adapter=adapter,
                    version=version,
                    started_at=started_at,
                    finished_at=_now(),
                    outcome=outcome,
                    error=error,
                )
            )
            for status, detail in then or []:
                await self._record(t, message_id, status, "hub", detail, None, None)

        await self._write(op, (message_id,))

    async def mark_replayed(self, message_id: str, actor: str) -> MessageView:
        """A dead letter goes back to delivery with a fresh attempt budget; audited with the actor."""

        async def op(t: _Loaded) -> MessageView:
            msg = await t.message(message_id)
            if msg is None or msg.status != "dead_lettered":
                raise LookupError(f"message {message_id} is not dead-lettered")
            msg.round_attempts = 0
            msg.replays += 1
            self._transition(t, msg, "retrying", actor, {"replay": msg.replays}, _now())
            t.s.add(
                AuditRow(
                    at=_now(),
                    actor=actor,
                    action="dlq.replay",
                    target=message_id,
                    detail=json.dumps({"replay": msg.replays}),
                )
            )
            return _view(msg, self._sealer)

        return await self._write(op, (message_id,))  # type: ignore[no-any-return]

    # -- reads --------------------------------------------------------------------------------

    async def message(self, message_id: str) -> MessageView | None:
        async with self._session() as s:
            msg = await s.get(MessageRow, message_id)
            return _view(msg, self._sealer) if msg else None

    async def history(self, message_id: str) -> list[Transition]:
        async with self._session() as s:
            rows = (
                await s.execute(
                    select(TransitionRow).where(TransitionRow.message_id == message_id).order_by(TransitionRow.seq)
                )
            ).scalars()
            return [Transition(r.seq, r.status, _aware(r.at), r.actor, json.loads(r.detail)) for r in rows]

    async def by_status(self, status: str, limit: int = 500) -> list[MessageView]:
        async with self._session() as s:
            rows = (
                await s.execute(
                    select(MessageRow).where(MessageRow.status == status).order_by(MessageRow.updated_at).limit(limit)
                )
            ).scalars()
            return [_view(r, self._sealer) for r in rows]

    async def attempt_outcomes(self, message_id: str) -> list[tuple[str, str, str | None]]:
        """(adapter, version, outcome) of every partner call of a message, oldest first."""
        query = (
            select(AttemptRow.adapter, AttemptRow.version, AttemptRow.outcome)
            .where(AttemptRow.message_id == message_id)
            .order_by(AttemptRow.seq)
        )
        async with self._session() as s:
            return [(a, v, o) for a, v, o in (await s.execute(query)).tuples()]

    async def by_correlation(self, correlation_ids: list[str], types: tuple[str, ...] = ()) -> list[MessageView]:
        """The messages of these correlations (UETRs, order numbers), oldest first; only of `types` if given."""
        if not correlation_ids:
            return []
        query = select(MessageRow).where(MessageRow.correlation_id.in_(correlation_ids))
        if types:
            query = query.where(MessageRow.type.in_(types))
        async with self._session() as s:
            rows = (await s.execute(query.order_by(MessageRow.created_at))).scalars()
            return [_view(r, self._sealer) for r in rows]

    async def changed_between(
        self,
        types: tuple[str, ...],
        since: datetime,
        until: datetime,
        *,
        adapter: str | None = None,
        status: str | None = None,
    ) -> list[MessageView]:
        """Messages of `types` whose status last changed in [since, until) (for a final status: when it
        became final), oldest change first; only through `adapter` and in `status` if given."""
        since, until = since.astimezone(UTC), until.astimezone(UTC)  # SQLite compares the stored UTC text
        query = select(MessageRow).where(
            MessageRow.type.in_(types), MessageRow.updated_at >= since, MessageRow.updated_at < until
        )
        if adapter is not None:
            query = query.where(MessageRow.adapter == adapter)
        if status is not None:
            query = query.where(MessageRow.status == status)
        async with self._session() as s:
            rows = (await s.execute(query.order_by(MessageRow.updated_at))).scalars()
            return [_view(r, self._sealer) for r in rows]

    async def recent(self, limit: int = 1000, exclude_type: str | None = None) -> list[MessageView]:
        """The newest messages, newest first (e.g. to replay routing decisions under a proposed config)."""
        query = select(MessageRow).order_by(MessageRow.created_at.desc()).limit(limit)
        if exclude_type:
            query = query.where(MessageRow.type != exclude_type)
        async with self._session() as s:
            return [_view(r, self._sealer) for r in (await s.execute(query)).scalars()]

    async def count_by_status(self) -> dict[str, int]:
        async with self._session() as s:
            rows = await s.execute(select(MessageRow.status, func.count()).group_by(MessageRow.status))
            return {status: n for status, n in rows.tuples()}

    # -- outbox and audit ---------------------------------------------------------------------

    async def pending_events(self, limit: int = 256) -> list[tuple[int, str, str, bytes]]:
        async with self._session() as s:
            rows = (
                await s.execute(
                    select(OutboxRow).where(OutboxRow.published.is_(False)).order_by(OutboxRow.seq).limit(limit)
                )
            ).scalars()
            return [(r.seq, r.subject, r.msg_id, r.data) for r in rows]

    async def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return

        async def op(t: _Loaded) -> None:
            await t.s.execute(update(OutboxRow).where(OutboxRow.seq.in_(seqs)).values(published=True))

        await self._write(op)

    async def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        async def op(t: _Loaded) -> None:
            t.s.add(AuditRow(at=_now(), actor=actor, action=action, target=target, detail=json.dumps(detail or {})))

        await self._write(op)

    async def audit_log(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        """The newest audit records, newest first; only those of `action` (`reconciliation.report`) if given."""
        query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(AuditRow.action == action)
        async with self._session() as s:
            return [_audit_json(r) for r in (await s.execute(query)).scalars()]

    async def verify_chains(self) -> ChainReport:
        """Recompute every writer's hash chain and compare it with its recorded head and length."""
        records, chains = 0, 0
        async with self._session() as s:
            heads = {h.chain: h for h in (await s.execute(select(ChainHeadRow))).scalars()}
            query = (
                select(TransitionRow)
                .where(TransitionRow.chain.is_not(None))
                .order_by(TransitionRow.chain, TransitionRow.seq)
            )
            chain, prev, length = None, GENESIS, 0

            def ends_well(name: str | None) -> ChainBreak | None:
                if name is None:
                    return None
                recorded = heads.pop(name, None)
                if recorded is None:
                    return ChainBreak(None, None, name, "no recorded head for this chain")
                if recorded.head != prev or recorded.count != length:
                    return ChainBreak(
                        None,
                        None,
                        name,
                        f"ends after {length} records, {recorded.count} were written: records deleted at its end",
                    )
                return None

            async for row in await s.stream_scalars(query.execution_options(yield_per=2000)):
                if row.chain != chain:
                    if broken := ends_well(chain):
                        return ChainReport(records, chains, broken)
                    chain, prev, length, chains = row.chain, GENESIS, 0, chains + 1
                    # The head names the chain's digest, so without it the records cannot be checked.
                    recorded = heads.get(str(chain))
                    if recorded is None or recorded.algorithm not in HASHES:
                        problem = (
                            "no recorded head for this chain"
                            if recorded is None
                            else f"its head names an unknown hash algorithm {recorded.algorithm!r}"
                        )
                        return ChainReport(records, chains, ChainBreak(None, None, str(chain), problem))
                    algorithm = recorded.algorithm
                fields = {
                    "message_id": row.message_id,
                    "status": row.status,
                    "at": row.at,
                    "actor": row.actor,
                    "detail": row.detail,
                }
                if row.prev_hash != prev:
                    problem = "does not follow the record before it: records deleted before it"
                    return ChainReport(records, chains, ChainBreak(row.seq, row.message_id, str(chain), problem))
                if link(prev, fields, algorithm) != row.hash:
                    problem = "its content does not match its hash: edited after it was written"
                    return ChainReport(records, chains, ChainBreak(row.seq, row.message_id, str(chain), problem))
                prev, length, records = str(row.hash), length + 1, records + 1
            if broken := ends_well(chain):
                return ChainReport(records, chains, broken)
            if heads:  # a head whose every record is gone
                name = next(iter(heads))
                return ChainReport(records, chains, ChainBreak(None, None, name, "all its records were deleted"))
        return ChainReport(records, chains, None)

    async def prune_published_events(self, older_than: timedelta) -> int:
        """Drop outbox rows already published (HUB_EVT keeps the events; the journal keeps the history)."""
        cutoff = _now() - older_than

        async def op(t: _Loaded) -> int:
            result = await t.s.execute(
                delete(OutboxRow).where(OutboxRow.published.is_(True), OutboxRow.created_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return await self._write(op)  # type: ignore[no-any-return]

    async def purge_expired_keys(self) -> int:
        async def op(t: _Loaded) -> int:
            result = await t.s.execute(delete(IdempotencyRow).where(IdempotencyRow.expires_at < _now()))
            return int(getattr(result, "rowcount", 0) or 0)

        return await self._write(op)  # type: ignore[no-any-return]


def _message_row(env: Envelope, scope: str, status: str, now: datetime, sealer: EnvelopeSealer | None) -> MessageRow:
    return MessageRow(
        id=str(env.id),
        type=env.type,
        source=env.source,
        destination=env.destination,
        tenant=env.tenant,
        correlation_id=env.correlation_id,
        idempotency_scope=scope,
        payload_digest=env.payload_digest(),  # over the clear payload: a resubmission is recognised as the same
        envelope=sealer.seal_envelope(env.to_bytes()) if sealer else env.to_bytes(),
        status=status,
        attempts=0,
        round_attempts=0,
        replays=0,
        created_at=now,
        updated_at=now,
    )


def _view(m: MessageRow, sealer: EnvelopeSealer | None) -> MessageView:
    return MessageView(
        m.id,
        m.type,
        m.source,
        m.destination,
        m.correlation_id,
        m.status,
        m.adapter,
        m.version,
        m.attempts,
        m.round_attempts,
        m.replays,
        m.last_error,
        sealer.open_envelope(m.envelope) if sealer else m.envelope,
        _aware(m.created_at),
        _aware(m.updated_at),
    )


def _audit_json(r: AuditRow) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": _aware(r.at).isoformat(),
        "actor": r.actor,
        "action": r.action,
        "target": r.target,
        "detail": json.loads(r.detail),
    }


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # the journal is the record of state: fsync each commit
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
