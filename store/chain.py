"""Tamper evidence for the journal: every status transition is a link in its writer's hash chain.

A link's hash is a digest over the previous link's hash and the transition's canonical bytes, so an
edited row breaks its own hash and a deleted row breaks the next row's `prev_hash`; the head and
length of each chain, written in the same commit, reveal rows deleted at the end. Verification
needs nothing but the database. Each chain names its digest in `chain_heads.algorithm`: `sha256`
(the default, and every chain written before the column existed) or `sm3` (GB/T 32905); both give
64 hex characters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from security.sm import sm3

GENESIS = "0" * 64
HASHES: dict[str, Callable[[bytes], str]] = {
    "sha256": lambda data: hashlib.sha256(data).hexdigest(),
    "sm3": lambda data: sm3(data).hex(),
}


class UnknownChainHash(ValueError):
    """A chain hash algorithm the journal does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown chain hash {name!r}; use one of {', '.join(HASHES)}")
        self.name = name


def check_algorithm(name: str) -> str:
    """`name` if it is a chain hash algorithm, else UnknownChainHash listing the known ones."""
    if name not in HASHES:
        raise UnknownChainHash(name)
    return name


def digest(algorithm: str, data: bytes) -> str:
    """Hex digest of `data` with the chain hash `algorithm`."""
    return HASHES[check_algorithm(algorithm)](data)


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


def link(prev_hash: str, row: dict[str, Any], algorithm: str = "sha256") -> str:
    """The hash of the link holding `row` after the link hashed `prev_hash`."""
    return digest(algorithm, prev_hash.encode() + b"\n" + canonical(row))


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
