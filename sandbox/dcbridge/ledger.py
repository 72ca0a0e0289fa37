"""The bridge's books: participants, wallets and reserves, central-bank limits, and the hash-chained ledger.

Money is integer minor units in SQLite. A settlement moves balances and appends its canonical JSON to the
chain inside one SQLite transaction (WAL, synchronous=FULL), so a crash leaves all of it or none of it.
The chain is the record: replaying its movements from zero gives every balance, which `verify` checks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.dcbridge.chain import GENESIS, Entry, chain_problems, link
from sandbox.dcbridge.model import BridgeError, canonical_bytes, from_minor

SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
  jurisdiction TEXT NOT NULL, issues TEXT, eligible INTEGER NOT NULL, sanctioned INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (participant TEXT NOT NULL, kind TEXT NOT NULL, currency TEXT NOT NULL,
  balance INTEGER NOT NULL CHECK (balance >= 0), PRIMARY KEY (participant, kind, currency));
CREATE TABLE IF NOT EXISTS limits (participant TEXT NOT NULL, currency TEXT NOT NULL,
  max_single INTEGER NOT NULL, daily_outflow INTEGER NOT NULL, set_by TEXT NOT NULL,
  PRIMARY KEY (participant, currency));
CREATE TABLE IF NOT EXISTS outflows (participant TEXT NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL,
  total INTEGER NOT NULL, PRIMARY KEY (participant, currency, day));
CREATE TABLE IF NOT EXISTS chain (position INTEGER PRIMARY KEY, tx_id TEXT NOT NULL UNIQUE,
  canonical TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
  outcome TEXT NOT NULL, PRIMARY KEY (scope, key));
"""

WALLET, RESERVE = "wallet", "reserve"


@dataclass(frozen=True)
class Participant:
    id: str
    name: str
    kind: str  # central_bank | commercial_bank
    jurisdiction: str
    issues: str | None  # the currency a central bank issues
    eligible: bool
    sanctioned: bool


@dataclass(frozen=True)
class Leg:
    """One wallet-to-wallet payment in one currency, part of a settlement."""

    payer: str
    payee: str
    currency: str
    amount: int  # minor units


@dataclass(frozen=True)
class Movement:
    participant: str
    account: str  # wallet | reserve
    currency: str
    delta: int

    def as_json(self) -> dict[str, str]:
        return {
            "participant": self.participant,
            "account": self.account,
            "currency": self.currency,
            "amount": from_minor(self.delta),
        }


class Ledger:
    """Synchronous and single-writer: callers serialize access (the server holds one lock)."""

    def __init__(self, path: Path, now: Callable[[], float]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the server runs calls in worker threads, one at a time under its lock.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # FULL: a settlement the bridge answered for is on disk even if the machine loses power after.
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;" + SCHEMA)
        self.now = now
        self._in_tx = threading.local()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One SQLite write transaction; anything raised inside rolls all of it back."""
        if getattr(self._in_tx, "active", False):
            yield self.db  # nested: the outer transaction decides
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._in_tx.active = True
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._in_tx.active = False

    # -- participants ------------------------------------------------------------------------------

    def participant(self, pid: str) -> Participant:
        row = self.db.execute(
            "SELECT id, name, kind, jurisdiction, issues, eligible, sanctioned FROM participants WHERE id=?", (pid,)
        ).fetchone()
        if row is None:
            raise BridgeError("unknown_participant", f"{pid} is not a participant of the bridge")
        return Participant(row[0], row[1], row[2], row[3], row[4], bool(row[5]), bool(row[6]))

    def active(self, pid: str) -> Participant:
        """The participant, if it may take part in a payment now (known, not sanctioned, eligible)."""
        found = self.participant(pid)
        if found.sanctioned:
            raise BridgeError("participant_sanctioned", f"{pid} is on a sanctions list")
        if not found.eligible:
            raise BridgeError("participant_not_eligible", f"{pid} is not eligible to transact on the bridge")
        return found

    def issuer(self, currency: str) -> Participant:
        row = self.db.execute("SELECT id FROM participants WHERE issues=?", (currency,)).fetchone()
        if row is None:
            raise BridgeError("unsupported_currency", f"no central bank issues {currency} on the bridge")
        return self.participant(row[0])

    def balance(self, pid: str, currency: str, account: str = WALLET) -> int:
        row = self.db.execute(
            "SELECT balance FROM accounts WHERE participant=? AND kind=? AND currency=?", (pid, account, currency)
        ).fetchone()
        if row is None:
            raise BridgeError("currency_mismatch", f"{pid} holds no {currency} {account}")
        return int(row[0])

    def set_flags(self, pid: str, eligible: bool | None, sanctioned: bool | None) -> Participant:
        self.participant(pid)
        with self.transaction():
            if eligible is not None:
                self.db.execute("UPDATE participants SET eligible=? WHERE id=?", (int(eligible), pid))
            if sanctioned is not None:
                self.db.execute("UPDATE participants SET sanctioned=? WHERE id=?", (int(sanctioned), pid))
        return self.participant(pid)

    def set_limit(self, central_bank: str, pid: str, currency: str, max_single: int, daily_outflow: int) -> None:
        """A central bank caps what a participant may pay out in the currency it issues."""
        if self.issuer(currency).id != central_bank:
            raise BridgeError("not_issuer", f"{central_bank} does not issue {currency}, so it cannot set its limits")
        self.balance(self.participant(pid).id, currency)
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO limits VALUES (?,?,?,?,?)",
                (pid, currency, max_single, daily_outflow, central_bank),
            )

    def _today(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).date().isoformat()

    def check_limits(self, pid: str, currency: str, amount: int) -> None:
        row = self.db.execute(
            "SELECT max_single, daily_outflow, set_by FROM limits WHERE participant=? AND currency=?", (pid, currency)
        ).fetchone()
        if row is None:
            return
        max_single, daily, set_by = row
        if amount > max_single:
            raise BridgeError(
                "limit_exceeded",
                f"{from_minor(amount)} {currency} is over {pid}'s single-payment limit "
                f"of {from_minor(max_single)} set by {set_by}",
            )
        used = self.db.execute(
            "SELECT total FROM outflows WHERE participant=? AND currency=? AND day=?", (pid, currency, self._today())
        ).fetchone()
        if (used[0] if used else 0) + amount > daily:
            raise BridgeError(
                "limit_exceeded",
                f"{pid} would exceed its daily {currency} outflow limit of {from_minor(daily)} set by {set_by}",
            )

    # -- settlement --------------------------------------------------------------------------------

    def settle(
        self,
        tx_id: str,
        kind: str,
        legs: Sequence[Leg],
        reference: dict[str, Any],
        *,
        movements: Sequence[Movement] = (),
        between_legs: Callable[[], None] | None = None,
        then: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Apply every leg (or none), append the transaction to the chain, run `then` in the same
        transaction, and return the proof. `between_legs` runs after the first leg: the hook for
        injecting a failure or a delay exactly where a non-atomic bridge would break."""
        with self.transaction():
            applied: list[Movement] = list(movements)
            for movement in movements:
                self._move(movement)
            for index, leg in enumerate(legs):
                if index and between_legs is not None:
                    between_legs()
                applied += self._pay(leg)
            body = {
                "tx_id": tx_id,
                "type": kind,
                "settled_at": datetime.fromtimestamp(self.now(), UTC).isoformat(),
                "legs": [
                    {"payer": g.payer, "payee": g.payee, "currency": g.currency, "amount": from_minor(g.amount)}
                    for g in legs
                ],
                "movements": [m.as_json() for m in applied],
                "reference": reference,
            }
            self._append(tx_id, body)
            if then is not None:
                then(body)
        return self.proof(tx_id)

    def _pay(self, leg: Leg) -> list[Movement]:
        if leg.payer == leg.payee:
            raise BridgeError("same_participant", f"{leg.payer} cannot pay itself")
        payer, payee = self.active(leg.payer), self.active(leg.payee)
        self.balance(payee.id, leg.currency)  # the payee must hold a wallet in this currency
        if self.balance(payer.id, leg.currency) < leg.amount:
            raise BridgeError("insufficient_funds", f"{payer.id} has less than {from_minor(leg.amount)} {leg.currency}")
        self.check_limits(payer.id, leg.currency, leg.amount)
        self.db.execute(
            "INSERT INTO outflows VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET total = total + excluded.total",
            (payer.id, leg.currency, self._today(), leg.amount),
        )
        moves = [
            Movement(payer.id, WALLET, leg.currency, -leg.amount),
            Movement(payee.id, WALLET, leg.currency, leg.amount),
        ]
        for movement in moves:
            self._move(movement)
        return moves

    def _move(self, m: Movement) -> None:
        # UPDATE first: an upsert would test CHECK (balance >= 0) on the delta itself, refusing every debit.
        try:
            moved = self.db.execute(
                "UPDATE accounts SET balance = balance + ? WHERE participant=? AND kind=? AND currency=?",
                (m.delta, m.participant, m.account, m.currency),
            )
            if moved.rowcount == 0:
                self.db.execute(
                    "INSERT INTO accounts VALUES (?,?,?,?)", (m.participant, m.account, m.currency, m.delta)
                )
        except sqlite3.IntegrityError as exc:  # the CHECK (balance >= 0) constraint
            raise BridgeError(
                "insufficient_funds", f"{m.participant}'s {m.currency} {m.account} cannot go below zero"
            ) from exc

    def _append(self, tx_id: str, body: dict[str, Any]) -> None:
        if self.db.execute("SELECT 1 FROM chain WHERE tx_id=?", (tx_id,)).fetchone():
            raise BridgeError("already_settled", f"{tx_id} is already on the ledger", 409)
        head = self.head()
        canonical = canonical_bytes(body)
        digest = link(head["chain_head"], canonical)
        position = head["head_position"] + 1
        self.db.execute(
            "INSERT INTO chain VALUES (?,?,?,?,?)", (position, tx_id, canonical.decode(), head["chain_head"], digest)
        )
        self.db.execute("INSERT OR REPLACE INTO chain_head VALUES (1, ?, ?)", (position, digest))

    def issue(
        self, issue_id: str, central_bank: str, pid: str, currency: str, amount: int, redeem: bool
    ) -> dict[str, Any]:
        """Issue CBDC into a bank's wallet against its reserves at the central bank, or redeem it back."""
        if self.issuer(currency).id != central_bank:
            raise BridgeError("not_issuer", f"{central_bank} does not issue {currency}")
        bank = self.active(pid)
        sign = -1 if redeem else 1
        self.balance(bank.id, currency, RESERVE)
        if (self.balance(bank.id, currency) if redeem else self.balance(bank.id, currency, RESERVE)) < amount:
            raise BridgeError(
                "insufficient_funds", f"{pid} cannot {'redeem' if redeem else 'fund'} {from_minor(amount)}"
            )
        movements = [
            Movement(bank.id, RESERVE, currency, -sign * amount),
            Movement(bank.id, WALLET, currency, sign * amount),
        ]
        kind = "redeem" if redeem else "issue"
        return self.settle(
            f"ISS-{issue_id}", kind, [], {"issue_id": issue_id, "issuer": central_bank}, movements=movements
        )

    # -- the chain ---------------------------------------------------------------------------------

    def head(self) -> dict[str, Any]:
        row = self.db.execute("SELECT position, hash FROM chain_head WHERE id=1").fetchone()
        position, digest = row if row else (0, GENESIS)
        return {"head_position": position, "chain_head": digest}

    def proof(self, tx_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT position, prev_hash, hash FROM chain WHERE tx_id=?", (tx_id,)).fetchone()
        if row is None:
            raise BridgeError("unknown_transaction", f"{tx_id} is not on the ledger", 404)
        return {"tx_id": tx_id, "position": row[0], "prev_hash": row[1], "tx_hash": row[2], **self.head()}

    def entries(self, start: int = 1, limit: int = 1000) -> list[Entry]:
        rows = self.db.execute(
            "SELECT position, tx_id, canonical, prev_hash, hash FROM chain WHERE position >= ? "
            "ORDER BY position LIMIT ?",
            (start, limit),
        )
        return [Entry(*row) for row in rows]

    def transaction_body(self, tx_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT canonical FROM chain WHERE tx_id=?", (tx_id,)).fetchone()
        if row is None:
            raise BridgeError("unknown_transaction", f"{tx_id} is not on the ledger", 404)
        body: dict[str, Any] = json.loads(row[0])
        return body

    def verify(self) -> dict[str, Any]:
        """Recompute the chain, compare it with the stored head, and replay it against the balances."""
        rows = self.db.execute("SELECT position, tx_id, canonical, prev_hash, hash FROM chain ORDER BY position")
        entries = [Entry(*row) for row in rows]
        problems, position, digest = chain_problems(entries)
        head = self.head()
        if (position, digest) != (head["head_position"], head["chain_head"]):
            problems.append(f"the chain ends at {position}, but the recorded head is {head['head_position']}")
        replayed: dict[tuple[str, str, str], int] = {}
        for entry in entries:
            try:
                for m in json.loads(entry.canonical)["movements"]:
                    key = (m["participant"], m["account"], m["currency"])
                    replayed[key] = replayed.get(key, 0) + int(m["amount"].replace(".", ""))
            except (ValueError, KeyError, TypeError, AttributeError):  # an edit that broke the JSON itself
                problems.append(f"entry {entry.position} is not a readable transaction")
        stored = {
            (p, k, c): b for p, k, c, b in self.db.execute("SELECT participant, kind, currency, balance FROM accounts")
        }
        for key in sorted(set(replayed) | set(stored)):
            if replayed.get(key, 0) != stored.get(key, 0):
                problems.append(f"{'/'.join(key)} balance does not match the ledger")
        return {"ok": not problems, "problems": problems, **head}

    # -- views -------------------------------------------------------------------------------------

    def balances(self) -> dict[str, dict[str, dict[str, str]]]:
        out: dict[str, dict[str, dict[str, str]]] = {}
        rows = self.db.execute("SELECT participant, kind, currency, balance FROM accounts ORDER BY 1, 2, 3")
        for pid, kind, currency, balance in rows:
            out.setdefault(pid, {}).setdefault(kind, {})[currency] = from_minor(balance)
        return out

    def participants(self) -> list[dict[str, Any]]:
        limits: dict[str, dict[str, Any]] = {}
        for pid, currency, single, daily, set_by in self.db.execute("SELECT * FROM limits"):
            limits.setdefault(pid, {})[currency] = {
                "max_single": from_minor(single),
                "daily_outflow": from_minor(daily),
                "set_by": set_by,
            }
        wallets: dict[str, list[str]] = {}
        for pid, currency in self.db.execute(
            "SELECT participant, currency FROM accounts WHERE kind=? ORDER BY 2", (WALLET,)
        ):
            wallets.setdefault(pid, []).append(currency)
        rows = self.db.execute("SELECT id FROM participants ORDER BY kind, id").fetchall()
        return [
            {**vars(p), "wallets": wallets.get(p.id, []), "limits": limits.get(p.id, {})}
            for p in (self.participant(r[0]) for r in rows)
        ]

    # -- remembered answers (idempotency) ----------------------------------------------------------

    def remembered(self, scope: str, key: str, digest: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT request_hash, outcome FROM requests WHERE scope=? AND key=?", (scope, key)
        ).fetchone()
        if row is None:
            return None
        if row[0] != digest:
            raise BridgeError("idempotency_conflict", f"{scope} {key} was already used with a different body", 409)
        outcome: dict[str, Any] = json.loads(row[1])
        return outcome

    def remember(self, scope: str, key: str, digest: str, outcome: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO requests VALUES (?,?,?,?)", (scope, key, digest, json.dumps(outcome)))
