"""The bridge's business flows on top of the ledger: multilateral demands with quotes, bilateral
transfers, and issuance. Synchronous; the server runs them one at a time.

A demand moves published -> quoted -> accepted -> settled, or ends rejected / expired. Acceptance is
committed before settlement starts, so a bridge that dies while settling finishes the job on restart
(`resume_accepted`) rather than forgetting an accepted trade.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from sandbox.dcbridge.ledger import Ledger, Leg
from sandbox.dcbridge.model import BridgeError, Fields, convert, parse_rate, request_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS demands (demand_id TEXT PRIMARY KEY, request_hash TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT, detail TEXT, quote_id TEXT, accepted_at REAL, tx_id TEXT,
  published_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS quotes (quote_id TEXT PRIMARY KEY, demand_id TEXT NOT NULL, bank TEXT NOT NULL,
  rate TEXT NOT NULL, quoted_at REAL NOT NULL, expires_at REAL NOT NULL, request_hash TEXT NOT NULL);
"""

DEMAND_FIELDS = {"demand_id", "from", "amount", "source_currency", "target_currency", "beneficiary", "purpose"}
DEMAND_OPTIONAL = frozenset({"trade_reference", "valid_for_s"})
DEFAULT_DEMAND_VALIDITY_S = 3600.0
Reply = tuple[int, dict[str, Any]]


class Settlements:
    def __init__(self, ledger: Ledger, between_legs: Callable[[str], None] | None = None) -> None:
        self.ledger, self.db = ledger, ledger.db
        self.db.executescript(SCHEMA)
        # Called with the tx id after the first leg of a settlement: where tests inject delay or failure.
        self.between_legs = between_legs

    def _hook(self, tx_id: str) -> Callable[[], None] | None:
        hook = self.between_legs
        return (lambda: hook(tx_id)) if hook is not None else None

    # -- multilateral demands ------------------------------------------------------------------------

    def publish(self, body: dict[str, Any]) -> Reply:
        f = Fields(body, DEMAND_FIELDS, DEMAND_OPTIONAL)
        demand_id, payer, beneficiary = f.identifier("demand_id"), f.identifier("from"), f.identifier("beneficiary")
        amount, source, target = f.amount("amount"), f.currency("source_currency"), f.currency("target_currency")
        f.text("purpose")
        if "trade_reference" in body:
            f.text("trade_reference")
        validity = f.number("valid_for_s", 1, 30 * 86400) if "valid_for_s" in body else DEFAULT_DEMAND_VALIDITY_S
        digest = request_hash(body)
        row = self.db.execute("SELECT request_hash FROM demands WHERE demand_id=?", (demand_id,)).fetchone()
        if row is not None:
            if row[0] != digest:
                raise BridgeError(
                    "idempotency_conflict", f"demand {demand_id} was published with a different body", 409
                )
            known = self._demand(demand_id)
            if known["status"] == "rejected" and known["accepted_at"] is None:  # refused at publication
                raise BridgeError(known["reason"], known["detail"])
            return 200, self.view(demand_id)
        now = self.ledger.now()
        status, reason = "published", None
        try:
            if payer == beneficiary:
                raise BridgeError("same_participant", "the payer and the beneficiary are the same participant")
            self.ledger.active(payer)
            self.ledger.active(beneficiary)
            self.ledger.balance(payer, source)
            self.ledger.balance(beneficiary, target)
            self.ledger.check_limits(payer, source, amount)
        except BridgeError as refusal:
            status, reason = "rejected", refusal
        with self.ledger.transaction():
            self.db.execute(
                "INSERT INTO demands (demand_id, request_hash, body, status, reason, detail, published_at, expires_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    demand_id,
                    digest,
                    json.dumps(body),
                    status,
                    reason and reason.code,
                    reason and reason.detail,
                    now,
                    now + validity,
                ),
            )
        if reason is not None:
            raise reason
        return 201, self.view(demand_id)

    def _demand(self, demand_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT body, status, reason, detail, quote_id, accepted_at, tx_id, published_at, expires_at "
            "FROM demands WHERE demand_id=?",
            (demand_id,),
        ).fetchone()
        if row is None:
            raise BridgeError("unknown_demand", f"no demand {demand_id}", 404)
        keys = ("status", "reason", "detail", "quote_id", "accepted_at", "tx_id", "published_at", "expires_at")
        demand: dict[str, Any] = {**json.loads(row[0]), **dict(zip(keys, row[1:], strict=True))}
        if demand["status"] in ("published", "quoted") and self.ledger.now() >= demand["expires_at"]:
            with self.ledger.transaction():
                self.db.execute("UPDATE demands SET status='expired' WHERE demand_id=?", (demand_id,))
            demand["status"] = "expired"
        return demand

    def _quotes(self, demand_id: str) -> list[dict[str, Any]]:
        now = self.ledger.now()
        rows = self.db.execute(
            "SELECT quote_id, bank, rate, quoted_at, expires_at FROM quotes WHERE demand_id=? "
            "ORDER BY quoted_at, quote_id",
            (demand_id,),
        )
        return [
            {"quote_id": q, "bank": b, "rate": r, "quoted_at": at, "expires_at": exp, "expired": now >= exp}
            for q, b, r, at, exp in rows
        ]

    def view(self, demand_id: str) -> dict[str, Any]:
        d = self._demand(demand_id)
        view = {
            key: d.get(key)
            for key in (
                "demand_id",
                "from",
                "amount",
                "source_currency",
                "target_currency",
                "beneficiary",
                "purpose",
                "trade_reference",
                "status",
                "published_at",
                "expires_at",
                "tx_id",
            )
        }
        view["accepted_quote"] = d["quote_id"]
        view["quotes"] = self._quotes(demand_id)
        if d["reason"]:
            view["reason"] = {"error": d["reason"], "detail": d["detail"]}
        if d["status"] == "settled":
            view["proof"] = self.ledger.proof(d["tx_id"])
        return view

    def quote(self, demand_id: str, body: dict[str, Any]) -> Reply:
        f = Fields(body, {"quote_id", "bank", "rate", "valid_for_s"})
        quote_id, bank, rate = f.identifier("quote_id"), f.identifier("bank"), f.rate("rate")
        validity = f.number("valid_for_s", 1, 86400)
        demand = self._demand(demand_id)
        digest = request_hash({**body, "demand_id": demand_id})
        row = self.db.execute("SELECT request_hash FROM quotes WHERE quote_id=?", (quote_id,)).fetchone()
        if row is not None:
            if row[0] != digest:
                raise BridgeError("idempotency_conflict", f"quote {quote_id} was given with a different body", 409)
            return 200, next(q for q in self._quotes(demand_id) if q["quote_id"] == quote_id)
        self._open(demand)
        if demand["source_currency"] == demand["target_currency"]:
            raise BridgeError("quote_not_allowed", "a single-currency demand settles without an FX quote")
        if bank in (demand["from"], demand["beneficiary"]):
            raise BridgeError("quote_not_allowed", f"{bank} is a party to the demand and cannot quote on it")
        self.ledger.active(bank)
        self.ledger.balance(bank, demand["source_currency"])  # it receives the source leg
        self.ledger.balance(bank, demand["target_currency"])  # and pays the target leg
        if convert(demand_amount(demand), rate) <= 0:
            raise BridgeError("invalid_rate", "the rate converts the amount to nothing", 400)
        now = self.ledger.now()
        with self.ledger.transaction():
            self.db.execute(
                "INSERT INTO quotes VALUES (?,?,?,?,?,?,?)",
                (quote_id, demand_id, bank, str(rate), now, now + validity, digest),
            )
            self.db.execute("UPDATE demands SET status='quoted' WHERE demand_id=?", (demand_id,))
        return 201, next(q for q in self._quotes(demand_id) if q["quote_id"] == quote_id)

    @staticmethod
    def _open(demand: dict[str, Any]) -> None:
        if demand["status"] == "expired":
            raise BridgeError("demand_expired", f"demand {demand['demand_id']} expired", 409)
        if demand["status"] not in ("published", "quoted"):
            raise BridgeError("demand_not_open", f"demand {demand['demand_id']} is {demand['status']}", 409)

    def accept(self, demand_id: str, body: dict[str, Any]) -> Reply:
        f = Fields(body, set(), frozenset({"quote_id"}))
        quote_id = f.optional_identifier("quote_id")
        demand = self._demand(demand_id)
        if demand["accepted_at"] is not None and demand["quote_id"] == quote_id:
            # The same acceptance again: answer what it came to, or finish an interrupted settlement.
            if demand["status"] == "rejected":
                raise BridgeError(demand["reason"], demand["detail"])
            if demand["status"] == "accepted":
                self._settle(demand)
            return 200, self.view(demand_id)
        self._open(demand)
        if demand["source_currency"] != demand["target_currency"]:
            if quote_id is None:
                raise BridgeError("invalid_field", "quote_id is required to accept a cross-currency demand", 400)
            quote = self.db.execute(
                "SELECT expires_at FROM quotes WHERE quote_id=? AND demand_id=?", (quote_id, demand_id)
            ).fetchone()
            if quote is None:
                raise BridgeError("unknown_quote", f"no quote {quote_id} on demand {demand_id}")
            if self.ledger.now() >= quote[0]:
                raise BridgeError("quote_expired", f"quote {quote_id} expired; ask for a new one")
        elif quote_id is not None:
            raise BridgeError("quote_not_allowed", "a single-currency demand is accepted without a quote")
        with self.ledger.transaction():
            self.db.execute(
                "UPDATE demands SET status='accepted', quote_id=?, accepted_at=? WHERE demand_id=?",
                (quote_id, self.ledger.now(), demand_id),
            )
        self._settle(self._demand(demand_id))
        return 200, self.view(demand_id)

    def _settle(self, demand: dict[str, Any]) -> None:
        demand_id, amount = demand["demand_id"], demand_amount(demand)
        tx_id = f"DEM-{demand_id}"
        reference: dict[str, Any] = {
            "demand_id": demand_id,
            "purpose": demand["purpose"],
            "trade_reference": demand.get("trade_reference"),
        }
        if demand["quote_id"] is None:
            kind, legs = "p2p", [Leg(demand["from"], demand["beneficiary"], demand["source_currency"], amount)]
        else:
            bank, rate = self.db.execute(
                "SELECT bank, rate FROM quotes WHERE quote_id=?", (demand["quote_id"],)
            ).fetchone()
            counter = convert(amount, parse_rate(rate))
            kind = "pvp"
            legs = [
                Leg(demand["from"], bank, demand["source_currency"], amount),
                Leg(bank, demand["beneficiary"], demand["target_currency"], counter),
            ]
            reference |= {"quote_id": demand["quote_id"], "rate": rate, "liquidity_provider": bank}

        def mark_settled(_: dict[str, Any]) -> None:
            self.db.execute("UPDATE demands SET status='settled', tx_id=? WHERE demand_id=?", (tx_id, demand_id))

        try:
            self.ledger.settle(tx_id, kind, legs, reference, between_legs=self._hook(tx_id), then=mark_settled)
        except BridgeError as refusal:  # a business refusal is final for this acceptance
            with self.ledger.transaction():
                self.db.execute(
                    "UPDATE demands SET status='rejected', reason=?, detail=? WHERE demand_id=?",
                    (refusal.code, refusal.detail, demand_id),
                )
            raise

    def resume_accepted(self) -> list[str]:
        """Settle demands that were accepted when the bridge last stopped; returns their ids."""
        pending = [r[0] for r in self.db.execute("SELECT demand_id FROM demands WHERE status='accepted'").fetchall()]
        for demand_id in pending:
            try:
                self._settle(self._demand(demand_id))
            except BridgeError:
                continue  # recorded on the demand as its rejection reason
        return pending

    # -- bilateral transfers and issuance ------------------------------------------------------------

    def transfer(self, body: dict[str, Any]) -> Reply:
        f = Fields(body, {"transfer_id", "from", "to", "amount", "currency"}, frozenset({"correspondent"}))
        transfer_id, payer, payee = f.identifier("transfer_id"), f.identifier("from"), f.identifier("to")
        amount, currency = f.amount("amount"), f.currency("currency")
        correspondent = f.optional_identifier("correspondent")
        digest = request_hash(body)
        tx_id = f"TRF-{transfer_id}"
        if self.ledger.remembered("transfer", transfer_id, digest) is not None:
            return 200, self._transfer_view(transfer_id, tx_id)
        if payer == payee:
            raise BridgeError("same_participant", "the payer and the payee are the same participant")
        if correspondent in (payer, payee):
            raise BridgeError("same_participant", "the correspondent must be a third participant")
        hops = [payer, payee] if correspondent is None else [payer, correspondent, payee]
        legs = [Leg(a, b, currency, amount) for a, b in itertools.pairwise(hops)]
        reference = {"transfer_id": transfer_id, "correspondent": correspondent}

        def remember(_: dict[str, Any]) -> None:
            self.ledger.remember("transfer", transfer_id, digest, {"tx_id": tx_id})

        self.ledger.settle(tx_id, "transfer", legs, reference, between_legs=self._hook(tx_id), then=remember)
        return 201, self._transfer_view(transfer_id, tx_id)

    def _transfer_view(self, transfer_id: str, tx_id: str) -> dict[str, Any]:
        return {"transfer_id": transfer_id, "status": "settled", "tx_id": tx_id, "proof": self.ledger.proof(tx_id)}

    def issuance(self, body: dict[str, Any]) -> Reply:
        f = Fields(body, {"issue_id", "central_bank", "participant", "currency", "amount", "operation"})
        issue_id, central_bank = f.identifier("issue_id"), f.identifier("central_bank")
        participant, currency, amount = f.identifier("participant"), f.currency("currency"), f.amount("amount")
        operation = f.identifier("operation")
        if operation not in ("issue", "redeem"):
            raise BridgeError("invalid_field", "operation must be issue or redeem", 400)
        digest = request_hash(body)
        tx_id = f"ISS-{issue_id}"
        if self.ledger.remembered("issuance", issue_id, digest) is None:
            with self.ledger.transaction():
                self.ledger.issue(issue_id, central_bank, participant, currency, amount, redeem=operation == "redeem")
                self.ledger.remember("issuance", issue_id, digest, {"tx_id": tx_id})
            status = 201
        else:
            status = 200
        return status, {"issue_id": issue_id, "status": "settled", "tx_id": tx_id, "proof": self.ledger.proof(tx_id)}


def demand_amount(demand: dict[str, Any]) -> int:
    """The demand's amount in minor units (it was validated when the demand was published)."""
    whole, _, cents = str(demand["amount"]).partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))
