"""Signed journal checkpoints: what every hash chain looked like at a moment, under the hub's key.

The hash chains (store/chain.py) show an edit or a deletion only as long as nobody recomputed
them: whoever can write the database can also rewrite every later hash and the chain_heads table.
A checkpoint closes that gap. It states, for every chain, its length and head hash at one moment,
as RFC 8785 JSON signed with a detached JWS by a key the database does not hold. Later, the record
at each checkpointed position must still carry the checkpointed hash, so a record changed or
removed before a checkpoint is found even in a chain that recomputes cleanly.

What a caller may rely on:
- `JournalCheckpoints(store, sign).create()` stores checkpoint n+1 (numbers have no gaps; each
  body holds the digest of the one before, so a checkpoint removed from the middle is found).
  `sign(body) -> compact detached JWS` is any signer; `jws_signer(key)` makes one of a HubKey.
- The body is `{"type": "journal.checkpoint", "n", "at", "prev", "digest", "chains": [{"chain",
  "length", "head", "alg"}, ...]}` with chains sorted by id; `prev` is the `digest` (the writing
  Store's chain hash) of the previous checkpoint's body, null for the first.
- `verify_checkpoints(store, resolve_key)` returns a CheckpointReport whose `broken` names the
  first failing checkpoint (lowest number) and chain; `verify_journal` runs the chain check first
  and then this, and is what `hub journal verify` reports.
- Checkpoints removed from the end cannot be told from checkpoints never made: anchor the latest
  one outside the database (e.g. publish it) where that matters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from security import jose
from security.jcs import canonicalize
from store.chain import HASHES, ChainBreak, digest
from store.journal import Store
from store.schema import ChainHeadRow, CheckpointRow, TransitionRow

SignBody = Callable[[bytes], str]
KeyResolver = Callable[[str], jose.HubKey | None]
Clock = Callable[[], datetime]
BODY_TYPE = "journal.checkpoint"
_ALG_OF_KIND = {kind: alg for alg, kind in jose.SIGN_ALGS.items()}
_CREATE_TRIES = 5  # another hub instance may take the same number; each retry reads the newest


class CheckpointError(Exception):
    """A checkpoint could not be made; the message says why."""


@dataclass(frozen=True)
class ChainHead:
    chain: str
    length: int
    head: str
    alg: str

    def as_json(self) -> dict[str, Any]:
        return {"chain": self.chain, "length": self.length, "head": self.head, "alg": self.alg}


@dataclass(frozen=True)
class Checkpoint:
    n: int
    at: datetime
    heads: tuple[ChainHead, ...]
    kid: str


@dataclass(frozen=True)
class CheckpointBreak:
    """The first checkpoint that the journal (or the checkpoint itself) no longer matches."""

    checkpoint: int
    chain: str | None
    problem: str
    seq: int | None = None

    def __str__(self) -> str:
        where = f"checkpoint {self.checkpoint}"
        if self.chain is not None:
            where += f", chain {self.chain}"
        if self.seq is not None:
            where += f", record {self.seq}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class CheckpointReport:
    checkpoints: int  # verified before the break, or all of them
    broken: CheckpointBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class JournalReport:
    """Both checks of the journal: its hash chains, then its signed checkpoints."""

    records: int
    chains: int
    checkpoints: int
    broken: ChainBreak | CheckpointBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def summary(self) -> str:
        """The one line `hub journal verify` prints."""
        if self.broken is None:
            return (
                f"journal verified: {self.records} records in {self.chains} chains, "
                f"{self.checkpoints} signed checkpoints"
            )
        return (
            f"journal broken: {self.broken} ({self.records} records and {self.checkpoints} checkpoints "
            "verified before it)"
        )


def jws_signer(key: jose.HubKey, alg: str | None = None) -> SignBody:
    """A signer making detached JWS with a private HubKey (alg from the key kind by default)."""
    alg_ = alg or _ALG_OF_KIND.get(key.kind)
    if alg_ is None or not key.is_private:
        raise CheckpointError(f"key {key.kid!r} ({key.kind}) cannot sign checkpoints: give a private signing key")
    return lambda body: jose.sign_detached(body, key, key.kid, alg_)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class JournalCheckpoints:
    """Makes signed checkpoints of the journal of `store`. Run it under the leader lease, so
    N hub instances make one checkpoint per period (a race only costs a retry)."""

    def __init__(self, store: Store, sign: SignBody, clock: Clock = _now) -> None:
        self._store, self._sign, self._clock = store, sign, clock
        self._session = async_sessionmaker(store.engine, expire_on_commit=False)

    async def create(self) -> Checkpoint:
        """Sign and store the next checkpoint; CheckpointError if the signer fails."""
        for _ in range(_CREATE_TRIES):
            async with self._session() as s:
                heads = (await s.execute(select(ChainHeadRow).order_by(ChainHeadRow.chain))).scalars().all()
                last = (
                    await s.execute(select(CheckpointRow).order_by(CheckpointRow.n.desc()).limit(1))
                ).scalar_one_or_none()
            at = self._clock()
            chain_heads = tuple(ChainHead(h.chain, h.count, h.head, h.algorithm) for h in heads)
            n = last.n + 1 if last else 1
            body = canonicalize(
                {
                    "type": BODY_TYPE,
                    "n": n,
                    "at": at.astimezone(UTC).isoformat(),
                    "prev": digest(self._store.chain_hash, last.body) if last else None,
                    "digest": self._store.chain_hash,
                    "chains": [h.as_json() for h in chain_heads],
                }
            )
            signature = self._sign(body)
            try:
                kid = str(jose.parse_detached_header(signature)["kid"])
            except jose.MalformedToken as exc:
                raise CheckpointError(f"the checkpoint signer returned no detached JWS: {exc}") from None
            try:
                async with self._session() as s, s.begin():
                    s.add(CheckpointRow(n=n, at=at, body=body, signature=signature, kid=kid))
            except IntegrityError:
                continue  # another instance stored checkpoint n a moment ago: build on it
            return Checkpoint(n, at, chain_heads, kid)
        raise CheckpointError(f"checkpoint numbers kept being taken by other writers ({_CREATE_TRIES} tries)")

    async def latest(self) -> Checkpoint | None:
        async with self._session() as s:
            row = (
                await s.execute(select(CheckpointRow).order_by(CheckpointRow.n.desc()).limit(1))
            ).scalar_one_or_none()
        if row is None:
            return None
        body = json.loads(row.body)
        heads = tuple(ChainHead(c["chain"], c["length"], c["head"], c["alg"]) for c in body["chains"])
        return Checkpoint(row.n, _aware(row.at), heads, row.kid)


@dataclass
class _Expected:
    """What the checkpoints say about one chain: the head at each checkpointed length."""

    alg: str
    first: int  # the first checkpoint naming the chain
    heads: dict[int, tuple[str, int]]  # length -> (head, first checkpoint stating it)


def _read_body(raw: bytes, n: int) -> tuple[dict[str, Any], list[ChainHead]]:
    """The checkpoint's fields; ValueError when it is not a checkpoint body of number n."""
    body = json.loads(raw)
    if not isinstance(body, dict) or body.get("type") != BODY_TYPE or body.get("n") != n:
        raise ValueError(f"not the body of checkpoint {n}")
    if body.get("digest") not in HASHES or not isinstance(body.get("chains"), list):
        raise ValueError("digest or chains missing")
    heads = []
    for c in body["chains"]:
        head = ChainHead(str(c["chain"]), c["length"], str(c["head"]), str(c["alg"]))
        if not isinstance(head.length, int) or head.length < 1 or head.alg not in HASHES:
            raise ValueError(f"chain entry {c!r} is malformed")
        heads.append(head)
    return body, heads


async def verify_checkpoints(store: Store, resolve_key: KeyResolver) -> CheckpointReport:
    """Check every checkpoint's signature (`resolve_key(kid)` gives the public key, None if
    unknown), their unbroken sequence, and that each checkpointed head is still the hash of the
    record at that position of its chain."""
    session = async_sessionmaker(store.engine, expire_on_commit=False)
    expected: dict[str, _Expected] = {}
    count, prev_body = 0, b""
    async with session() as s:
        rows = await s.stream_scalars(select(CheckpointRow).order_by(CheckpointRow.n).execution_options(yield_per=200))
        async for row in rows:
            n = row.n
            if n != count + 1:
                problem = f"checkpoint {count + 1} before it is missing: checkpoints were deleted"
                return CheckpointReport(count, CheckpointBreak(n, None, problem))
            try:
                header = jose.verify_detached(row.signature, row.body, resolve_key)
            except jose.SignatureError as exc:
                return CheckpointReport(count, CheckpointBreak(n, None, f"signature does not verify: {exc}"))
            if header["kid"] != row.kid:
                problem = f"signed with kid {header['kid']!r} but stored as kid {row.kid!r}"
                return CheckpointReport(count, CheckpointBreak(n, None, problem))
            try:
                body, heads = _read_body(row.body, n)
            except (ValueError, KeyError, TypeError) as exc:
                return CheckpointReport(count, CheckpointBreak(n, None, f"signed body is not a checkpoint: {exc}"))
            if body.get("prev") != (digest(body["digest"], prev_body) if n > 1 else None):
                problem = f"does not follow checkpoint {n - 1}: the checkpoint before it was replaced"
                return CheckpointReport(count, CheckpointBreak(n, None, problem))
            for h in heads:
                seen = expected.setdefault(h.chain, _Expected(h.alg, n, {}))
                if seen.alg != h.alg:
                    problem = f"names hash {h.alg}, checkpoint {seen.first} named {seen.alg}"
                    return CheckpointReport(count, CheckpointBreak(n, h.chain, problem))
                stated = seen.heads.setdefault(h.length, (h.head, n))
                if stated[0] != h.head:
                    problem = f"states another head at length {h.length} than checkpoint {stated[1]}"
                    return CheckpointReport(count, CheckpointBreak(n, h.chain, problem))
            count, prev_body = n, row.body
        broken = await _heads_still_there(s, expected)
    if broken is not None:
        return CheckpointReport(broken.checkpoint - 1, broken)
    return CheckpointReport(count, None)


async def _heads_still_there(s: AsyncSession, expected: dict[str, _Expected]) -> CheckpointBreak | None:
    """One pass over the chains: the earliest checkpoint whose stated head is no longer there."""
    breaks: list[CheckpointBreak] = []
    for head_row in (await s.execute(select(ChainHeadRow))).scalars():
        seen = expected.get(head_row.chain)
        if seen is not None and head_row.algorithm != seen.alg:
            problem = f"chain_heads names hash {head_row.algorithm}, the checkpoint signed {seen.alg}"
            breaks.append(CheckpointBreak(seen.first, head_row.chain, problem))
    query = (
        select(TransitionRow.chain, TransitionRow.seq, TransitionRow.hash)
        .where(TransitionRow.chain.is_not(None))
        .order_by(TransitionRow.chain, TransitionRow.seq)
        .execution_options(yield_per=5000)
    )
    chain: str | None = None
    position = 0

    def missing_after(name: str | None, length: int) -> None:
        # Checkpointed lengths the chain no longer reaches: records deleted (and the chain recomputed).
        if name is None or name not in expected:
            return
        for stated_length, (_head, n) in expected.pop(name).heads.items():
            if stated_length > length:
                problem = f"checkpoint states {stated_length} records, only {length} remain: records were deleted"
                breaks.append(CheckpointBreak(n, name, problem))

    async for row in await s.stream(query):
        row_chain, seq, row_hash = str(row.chain), row.seq, row.hash
        if row_chain != chain:
            missing_after(chain, position)
            chain, position = row_chain, 0
        position += 1
        seen = expected.get(row_chain)
        stated = seen.heads.get(position) if seen else None
        if stated is not None and stated[0] != row_hash:
            problem = (
                f"record {position} of the chain no longer has the signed hash: records up to it were edited "
                "or deleted and the chain recomputed"
            )
            breaks.append(CheckpointBreak(stated[1], row_chain, problem, seq))
    missing_after(chain, position)
    for name in list(expected):
        missing_after(name, 0)
    return min(breaks, key=lambda b: b.checkpoint) if breaks else None


async def verify_journal(store: Store, resolve_key: KeyResolver) -> JournalReport:
    """The hash chains first (naming the first broken record), then the signed checkpoints."""
    chains = await store.verify_chains()
    if not chains.ok:
        return JournalReport(chains.records, chains.chains, 0, chains.broken)
    checkpoints = await verify_checkpoints(store, resolve_key)
    return JournalReport(chains.records, chains.chains, checkpoints.checkpoints, checkpoints.broken)
