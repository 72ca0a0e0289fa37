"""The hash chain over settled transactions, as pure functions a counterparty can run on its own.

entry hash = SHA-256(raw 32 bytes of the previous hash || canonical JSON bytes of the transaction);
the first entry links to GENESIS (32 zero bytes). Positions start at 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "00" * 32


def link(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


@dataclass(frozen=True)
class Entry:
    position: int
    tx_id: str
    canonical: str
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "tx_id": self.tx_id,
            "canonical": self.canonical,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def chain_problems(entries: Iterable[Entry]) -> tuple[list[str], int, str]:
    """Recompute the chain; returns (problems, last position, last hash). An empty list means intact."""
    problems: list[str] = []
    position, head = 0, GENESIS
    for entry in entries:
        if entry.position != position + 1:
            problems.append(f"position {position + 1} is missing (next is {entry.position})")
        if entry.prev_hash != head:
            problems.append(f"entry {entry.position} does not link to the entry before it")
        if link(entry.prev_hash, entry.canonical.encode()) != entry.hash:
            problems.append(f"entry {entry.position} ({entry.tx_id}) was edited: its hash does not match")
        position, head = entry.position, link(head, entry.canonical.encode())
    return problems, position, head


def proves_inclusion(proof: dict[str, Any], canonical: str, later: Sequence[str]) -> bool:
    """True if `canonical` sits at the proof's position and, followed by the `later` transactions'
    canonical texts, leads exactly to the proof's chain head."""
    digest = link(str(proof["prev_hash"]), canonical.encode())
    if digest != proof["tx_hash"]:
        return False
    for text in later:
        digest = link(digest, text.encode())
    return digest == proof["chain_head"] and int(proof["position"]) + len(later) == int(proof["head_position"])
