"""Checking a CBDC bridge settlement's evidence, without trusting the bridge or the hub alone.

The bridge keeps a hash chain over settled transactions (docs/digital-currency.md):
    entry hash = SHA-256(32 raw bytes of the previous entry's hash || the transaction's canonical JSON)
with the first entry linking to 32 zero bytes; positions start at 1. At settlement the hub anchors the
bridge's proof (position, prev_hash, tx_hash, head_position, chain_head) in its own hash-chained
journal. `check_settlement` recomputes the chain from the transaction to today's head with the bridge's
entries and says, check by check, whether the anchored copy and the bridge's chain still agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

GENESIS = "00" * 32


def link(prev_hash: str, canonical: bytes) -> str:
    """The hash of the chain entry holding `canonical` after the entry hashed `prev_hash`."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_settlement(
    anchored: dict[str, Any], current_proof: dict[str, Any], entries: Sequence[dict[str, Any]], head: dict[str, Any]
) -> list[Check]:
    """Checks of the proof `anchored` in the hub journal against the bridge now: its `current_proof`
    of the same transaction, its chain `entries` from the anchored position on, and its chain `head`."""
    checks: list[Check] = []
    same = ("tx_id", "position", "prev_hash", "tx_hash")
    differs = [k for k in same if str(anchored.get(k)) != str(current_proof.get(k))]
    checks.append(
        Check(
            "bridge_proof",
            not differs,
            "the bridge proves the same entry as the anchored copy"
            if not differs
            else f"the bridge's proof differs from the anchored copy in {', '.join(differs)}",
        )
    )
    position = int(anchored["position"])
    if not entries or int(entries[0]["position"]) != position or entries[0]["tx_id"] != anchored["tx_id"]:
        checks.append(Check("transaction", False, f"the bridge's chain has no {anchored['tx_id']} at {position}"))
        return checks
    recomputed = _hash_of(anchored["prev_hash"], entries[0])
    intact = recomputed == anchored["tx_hash"]
    checks.append(
        Check(
            "transaction",
            intact,
            f"entry {position} hashes to the anchored tx_hash"
            if intact
            else f"entry {position} ({anchored['tx_id']}) does not hash to the anchored tx_hash: it was altered",
        )
    )
    # Walk on from the transaction, recomputing each hash, and note the digest at the anchored head.
    digest, last, broken = recomputed, position, ""
    at_anchor = recomputed if position == int(anchored["head_position"]) else None
    for entry in entries[1:]:
        if int(entry["position"]) != last + 1 or entry["prev_hash"] != digest:
            broken = f"entry {entry['position']} does not follow entry {last}"
            break
        digest, last = _hash_of(digest, entry), last + 1
        if digest != entry["hash"]:
            broken = f"entry {last} was altered: its hash does not match"
            break
        if last == int(anchored["head_position"]):
            at_anchor = digest
    anchor_ok = at_anchor == anchored["chain_head"]
    checks.append(
        Check(
            "anchored_head",
            anchor_ok,
            f"the chain leads from the transaction to the anchored head at {anchored['head_position']}"
            if anchor_ok
            else broken or f"the chain does not lead to the anchored head at {anchored['head_position']}",
        )
    )
    head_ok = not broken and last == int(head["head_position"]) and digest == head["chain_head"]
    checks.append(
        Check(
            "bridge_head",
            head_ok,
            f"the chain leads on to the bridge's current head at {head['head_position']}"
            if head_ok
            else broken or f"the entries do not lead to the bridge's current head at {head['head_position']}",
        )
    )
    return checks


def _hash_of(prev_hash: str, entry: dict[str, Any]) -> str:
    return link(str(prev_hash), str(entry["canonical"]).encode())
