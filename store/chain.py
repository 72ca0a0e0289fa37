"""Tamper evidence for the journal: every status transition is a link in its writer's hash chain.

A link's hash is SHA-256 over the previous link's hash and the transition's canonical bytes, so an
edited row breaks its own hash and a deleted row breaks the next row's `prev_hash`; the head and
length of each chain, written in the same commit, reveal rows deleted at the end. Verification
needs nothing but the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical(row: dict[str, Any]) -> bytes:
    at: datetime = row["at"]
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    detail = row["detail"] if isinstance(row["detail"], str) else json.dumps(row["detail"])
    body = {
        "message_id": row["message_id"],
        "status": row["status"],
        "at": at.isoformat(),
        "actor": row["actor"],
        "detail": json.loads(detail),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(row)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first record where the journal stops being what was written."""

    seq: int | None
    message_id: str | None
    chain: str
    problem: str

    def __str__(self) -> str:
        where = f"record {self.seq} (message {self.message_id})" if self.seq is not None else "the end"
        return f"chain {self.chain}: {where}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    records: int
    chains: int
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None
