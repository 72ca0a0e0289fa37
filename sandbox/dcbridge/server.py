"""The bridge's HTTP JSON API and its sandbox knobs.

Business calls run one at a time in a worker thread (SQLite is synchronous and the settlement knob
sleeps between legs), so the event loop stays free for knobs and health while a settlement is open.
API (JSON; amounts are decimal strings; every refusal is {"error": code, "detail": text}):
  GET  /participants, /balances, /chain/head, /chain?from=N&limit=M, /chain/verify
  GET  /transactions/{tx_id}, /transactions/{tx_id}/proof
  POST /transfers {transfer_id, from, to, amount, currency, correspondent?}   idempotent on transfer_id
  POST /issuance {issue_id, central_bank, participant, currency, amount, operation: issue | redeem}
  POST /limits {central_bank, participant, currency, max_single, daily_outflow}
  POST /demands {demand_id, from, amount, source_currency, target_currency, beneficiary, purpose,
                 trade_reference?, valid_for_s?}                               idempotent on demand_id
  GET  /demands/{id};  POST /demands/{id}/quotes {quote_id, bank, rate, valid_for_s}
  POST /demands/{id}/accept {quote_id}   (no quote for a single-currency demand)
Knobs, under /_sandbox/ on the same port:
  POST /_sandbox/mode         {"mode": "ok" | "error" | "slow" | "down", "status": 503, "delay_s": 2}
  POST /_sandbox/clock        {"advance_s": 120}    moves the bridge's clock (quote and demand expiry)
  POST /_sandbox/settlement   {"delay_s": 5, "fault": false}   sleep / fail between the legs of a settlement
  POST /_sandbox/participants/{id}  {"eligible": false, "sanctioned": true}
  POST /_sandbox/market       {"quoting": true, "delay_s": 0.2, "validity_s": 30}   the simulated market
                              makers (LP-HK-A, LP-AE-A) quote on open cross-currency demands; false stops them
  GET  /_sandbox/received[?all=1]   settled transactions (all=1 includes the seeded opening balances)
  GET  /_sandbox/health       includes the transactions being settled right now
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.dcbridge.flows import Settlements
from sandbox.dcbridge.ledger import Ledger
from sandbox.dcbridge.market import QUOTE_VALIDITY_S, quote_open_demands
from sandbox.dcbridge.model import IDENTIFIER, BridgeError, Fields, parse_body
from sandbox.dcbridge.seed import seed
from sandbox.http import Drop, Request, Response

log = logging.getLogger("sandbox.dcbridge")
Reply = tuple[int, Any]


class SettlementInterrupted(RuntimeError):
    """The injected fault between legs: not a business refusal, so the acceptance stays to be retried."""


def _error(code: str, detail: str, status: int) -> Response:
    return Response.of_json({"error": code, "detail": detail}, status)


class Bridge:
    def __init__(self, name: str, state_dir: Path, now: Callable[[], float] = time.time) -> None:
        self.name = name
        state_dir.mkdir(parents=True, exist_ok=True)
        self._knob_file = state_dir / "dcbridge-knobs.json"
        self.knobs: dict[str, Any] = {
            "mode": {"mode": "ok"},
            "clock_offset_s": 0.0,
            "market": {"quoting": True, "delay_s": 0.2, "validity_s": QUOTE_VALIDITY_S},
        }
        if self._knob_file.exists():
            self.knobs |= json.loads(self._knob_file.read_text())
        self._wall_clock = now
        self.settle_delay_s, self.settle_fault = 0.0, False
        self.settling: set[str] = set()
        self.ledger = Ledger(state_dir / "dcbridge.sqlite3", self.now)
        seed(self.ledger)
        self.settlements = Settlements(self.ledger, self._between_legs)
        self.resumed = self.settlements.resume_accepted()
        self._lock = asyncio.Lock()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # built outside a server (a test's Bridge): no market makers
            loop = None
        self._market = loop.create_task(self._market_makers()) if loop is not None else None

    async def _market_makers(self) -> None:
        """The simulated liquidity providers: quote on open demands, a tick at a time, under the lock."""
        while True:
            await asyncio.sleep(float(self.knobs["market"]["delay_s"]))
            market = self.knobs["market"]  # read after the sleep: a knob turned meanwhile counts
            if not market["quoting"] or self.knobs["mode"]["mode"] != "ok":
                continue
            async with self._lock:
                try:
                    await asyncio.to_thread(quote_open_demands, self.settlements, float(market["validity_s"]))
                except (sqlite3.Error, BridgeError):
                    log.exception("the market makers failed to quote; trying again next tick")

    def now(self) -> float:
        """The one clock of the bridge: the injected clock plus what tests advanced it by."""
        return self._wall_clock() + float(self.knobs["clock_offset_s"])

    def _save_knobs(self) -> None:
        # Write-then-rename so a crash never leaves half a knob file behind.
        tmp = self._knob_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.knobs))
        os.replace(tmp, self._knob_file)

    def _between_legs(self, tx_id: str) -> None:
        self.settling.add(tx_id)
        try:
            if self.settle_delay_s:
                time.sleep(self.settle_delay_s)  # in the worker thread, with the SQLite transaction open
            if self.settle_fault:
                raise SettlementInterrupted(f"injected fault between the legs of {tx_id}")
        finally:
            self.settling.discard(tx_id)

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return await self.control(req)
        mode = self.knobs["mode"]
        if mode["mode"] == "down":
            raise Drop()
        if mode["mode"] == "slow":
            await asyncio.sleep(float(mode.get("delay_s", 5)))
        if mode["mode"] == "error":
            return _error(
                "simulated_outage", "the bridge is set to fail by /_sandbox/mode", int(mode.get("status", 503))
            )
        async with self._lock:
            return await asyncio.to_thread(self.dispatch, req)

    def dispatch(self, req: Request) -> Response:
        """Answer one API call; every refusal is {"error", "detail"} with a 4xx (or 5xx for our faults)."""
        try:
            status, body = self.route(req)
            return Response.of_json(body, status)
        except BridgeError as refusal:
            return Response.of_json(refusal.as_json(), refusal.status)
        except SettlementInterrupted as fault:
            return _error("settlement_interrupted", f"{fault}; accept again to finish it", 503)
        except sqlite3.Error as exc:
            log.exception("storage failure on %s %s", req.method, req.path)
            return _error("storage_error", f"the bridge's ledger failed: {exc}", 500)
        except Exception:  # a bug must still answer, or the caller sees a dropped connection
            log.exception("unexpected failure on %s %s", req.method, req.path)
            return _error("internal_error", "the bridge failed unexpectedly; see its log", 500)

    def route(self, req: Request) -> Reply:
        parts = [p for p in req.path.split("/") if p]
        if any(not IDENTIFIER.fullmatch(p) for p in parts):
            raise BridgeError("not_found", "no such resource", 404)
        s, ledger = self.settlements, self.ledger
        match req.method, parts:
            case "GET", ["participants"]:
                return 200, {"participants": ledger.participants()}
            case "GET", ["balances"]:
                return 200, {"balances": ledger.balances()}
            case "GET", ["chain", "head"]:
                return 200, ledger.head()
            case "GET", ["chain", "verify"]:
                return 200, ledger.verify()
            case "GET", ["chain"]:
                start, limit = _int_query(req, "from", 1), min(_int_query(req, "limit", 1000), 1000)
                return 200, {"entries": [e.as_json() for e in ledger.entries(start, limit)], **ledger.head()}
            case "GET", ["transactions", tx_id]:
                return 200, ledger.transaction_body(tx_id)
            case "GET", ["transactions", tx_id, "proof"]:
                return 200, ledger.proof(tx_id)
            case "POST", ["transfers"]:
                return s.transfer(parse_body(req.body))
            case "POST", ["issuance"]:
                return s.issuance(parse_body(req.body))
            case "POST", ["limits"]:
                return self.set_limit(parse_body(req.body))
            case "POST", ["demands"]:
                return s.publish(parse_body(req.body))
            case "GET", ["demands", demand_id]:
                return 200, s.view(demand_id)
            case "POST", ["demands", demand_id, "quotes"]:
                return s.quote(demand_id, parse_body(req.body))
            case "POST", ["demands", demand_id, "accept"]:
                return s.accept(demand_id, parse_body(req.body))
        raise BridgeError("not_found", f"no {req.method} {req.path[:100]} on the bridge", 404)

    def set_limit(self, body: dict[str, Any]) -> Reply:
        f = Fields(body, {"central_bank", "participant", "currency", "max_single", "daily_outflow"})
        central_bank, participant, currency = (
            f.identifier("central_bank"),
            f.identifier("participant"),
            f.currency("currency"),
        )
        max_single, daily = f.amount("max_single"), f.amount("daily_outflow")
        self.ledger.set_limit(central_bank, participant, currency, max_single, daily)
        return 200, next(p for p in self.ledger.participants() if p["id"] == participant)

    # -- knobs ---------------------------------------------------------------------------------------

    async def control(self, req: Request) -> Response:
        try:
            return await self._control(req)
        except BridgeError as refusal:
            return Response.of_json(refusal.as_json(), refusal.status)

    async def _control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_sandbox/")
        if action == "health":
            return Response.of_json(
                {"ok": True, "name": self.name, "settling": sorted(self.settling), "resumed": self.resumed}
            )
        if action == "clock" and req.method == "GET":
            return Response.of_json({"now": self.now(), "offset_s": self.knobs["clock_offset_s"]})
        if req.method == "GET" and action == "received":
            async with self._lock:
                return await asyncio.to_thread(self._received, "all" in req.query)
        if req.method != "POST":
            raise BridgeError("not_found", f"no {req.method} /_sandbox/{action[:60]}", 404)
        body = parse_body(req.body)
        if action == "mode":
            f = Fields(body, {"mode"}, frozenset({"status", "delay_s"}))
            if body["mode"] not in ("ok", "error", "slow", "down"):
                raise BridgeError("invalid_field", "mode must be ok, error, slow or down", 400)
            status = int(f.number("status", 400, 599)) if "status" in body else 503
            delay = f.number("delay_s", 0, 600) if "delay_s" in body else 5.0
            self.knobs["mode"] = {"mode": body["mode"], "status": status, "delay_s": delay}
        elif action == "clock":
            self.knobs["clock_offset_s"] += Fields(body, {"advance_s"}).number("advance_s", 0, 10 * 366 * 86400)
        elif action == "market":
            f = Fields(body, set(), frozenset({"quoting", "delay_s", "validity_s"}))
            market = dict(self.knobs["market"])
            if "quoting" in body:
                market["quoting"] = f.flag("quoting")
            if "delay_s" in body:
                market["delay_s"] = f.number("delay_s", 0.05, 60)
            if "validity_s" in body:
                market["validity_s"] = f.number("validity_s", 1, 86400)
            self.knobs["market"] = market
        elif action == "settlement":
            f = Fields(body, set(), frozenset({"delay_s", "fault"}))
            self.settle_delay_s = f.number("delay_s", 0, 60) if "delay_s" in body else 0.0
            self.settle_fault = f.flag("fault") if "fault" in body else False
        elif action.startswith("participants/"):
            f = Fields(body, set(), frozenset({"eligible", "sanctioned"}))
            eligible = f.flag("eligible") if "eligible" in body else None
            sanctioned = f.flag("sanctioned") if "sanctioned" in body else None
            async with self._lock:
                found = await asyncio.to_thread(
                    self.ledger.set_flags, action.removeprefix("participants/"), eligible, sanctioned
                )
            return Response.of_json(vars(found))
        else:
            raise BridgeError("not_found", f"unknown control {action[:60]!r}", 404)
        self._save_knobs()
        return Response.of_json({"ok": True, **self.knobs})

    def _received(self, include_opening: bool) -> Response:
        bodies = [{"position": e.position, **json.loads(e.canonical)} for e in self.ledger.entries(1, 1_000_000)]
        return Response.of_json([b for b in bodies if include_opening or b["type"] != "opening"])


def _int_query(req: Request, name: str, default: int) -> int:
    values = req.query.get(name)
    if not values:
        return default
    if not values[0].isdigit() or len(values[0]) > 12:
        raise BridgeError("invalid_field", f"{name} must be a non-negative integer", 400)
    return int(values[0])
