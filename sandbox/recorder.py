"""A partner that records what it receives and honours idempotency keys, with failure knobs.

Used for the generic http-json partner and for institutions' webhook inboxes. State (what was
received, the answers it gave) lives in SQLite under the sandbox's state folder, so it survives a
crash of the hub. Knobs, set over HTTP on the same port under /_sandbox/:
  POST /_sandbox/mode    {"mode": "ok" | "error" | "slow" | "down", "status": 503, "delay_s": 2}
  POST /_sandbox/script  {"correlation_id": "...", "answers": [503, 503, 200]}  (answers used in turn)
  GET  /_sandbox/received[?all=1]   effects (first successful call per idempotency key), or every call
  POST /_sandbox/reset
Only successful answers are remembered: a replay after a refusal is a new try, a repeat of a
success is answered from memory without a second effect.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from sandbox.http import Drop, Request, Response

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY, at REAL, idempotency_key TEXT, message_id TEXT,
  correlation_id TEXT, status INTEGER, effect INTEGER, body BLOB);
CREATE TABLE IF NOT EXISTS answers (idempotency_key TEXT PRIMARY KEY, status INTEGER, body BLOB, reference TEXT);
CREATE TABLE IF NOT EXISTS knobs (name TEXT PRIMARY KEY, value TEXT);
"""


class Recorder:
    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(state_dir / "recorder.sqlite3", isolation_level=None)
        # WAL + NORMAL survives a crash of any process (what the tests do to the hub), not a power cut.
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
        self.scripts: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()

    def _knob(self) -> dict[str, Any]:
        row = self.db.execute("SELECT value FROM knobs WHERE name='mode'").fetchone()
        return json.loads(row[0]) if row else {"mode": "ok"}

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return self.control(req)
        if req.method != "POST":
            return Response.of_json({"error": "POST only"}, 404)
        knob = self._knob()
        if knob["mode"] == "down":
            raise Drop()
        if knob["mode"] == "slow":
            await asyncio.sleep(float(knob.get("delay_s", 5)))
        return await self.receive(req, knob)

    async def receive(self, req: Request, knob: dict[str, Any]) -> Response:
        try:
            body = json.loads(req.body)
            message_id, correlation_id = str(body.get("id", "")), str(body.get("correlation_id", ""))
        except (ValueError, AttributeError):
            return Response.of_json({"error": "body is not a JSON object"}, 400)
        key = req.headers.get("idempotency-key", "")
        async with self._lock:  # one call at a time per key decides effect vs duplicate
            if key:
                row = self.db.execute("SELECT status, body FROM answers WHERE idempotency_key=?", (key,)).fetchone()
                if row:
                    self._log(key, message_id, correlation_id, row[0], 0, req.body)
                    return Response(row[0], row[1], {"content-type": "application/json", "idempotent-replay": "1"})
            script = self.scripts.get(correlation_id)
            status = script.pop(0) if script else (int(knob.get("status", 500)) if knob["mode"] == "error" else 200)
            if status >= 300:
                self._log(key, message_id, correlation_id, status, 0, req.body)
                return Response.of_json({"error": f"simulated {status}"}, status)
            reference = f"{self.name}-{int(time.time() * 1000)}-{message_id[-6:]}"
            answer = json.dumps({"status": "completed", "reference": reference}).encode()
            with self.db:  # the effect and the remembered answer commit together
                self.db.execute("BEGIN")
                if key:
                    self.db.execute("INSERT INTO answers VALUES (?,?,?,?)", (key, 200, answer, reference))
                self._log(key, message_id, correlation_id, 200, 1, req.body)
            return Response(200, answer, {"content-type": "application/json"})

    def _log(self, key: str, message_id: str, correlation_id: str, status: int, effect: int, body: bytes) -> None:
        self.db.execute(
            "INSERT INTO calls (at, idempotency_key, message_id, correlation_id, status, effect, body) "
            "VALUES (?,?,?,?,?,?,?)",
            (time.time(), key, message_id, correlation_id, status, effect, body),
        )

    def control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_sandbox/")
        if action == "received" and req.method == "GET":
            only_effects = "all" not in req.query
            sql = (
                "SELECT seq, at, idempotency_key, message_id, correlation_id, status, effect FROM calls"
                + (" WHERE effect=1" if only_effects else "")
                + " ORDER BY seq"
            )
            rows = [
                dict(
                    zip(
                        ("seq", "at", "idempotency_key", "message_id", "correlation_id", "status", "effect"),
                        r,
                        strict=True,
                    )
                )
                for r in self.db.execute(sql)
            ]
            return Response.of_json(rows)
        if action == "mode" and req.method == "POST":
            knob = req.json()
            if knob.get("mode") not in ("ok", "error", "slow", "down"):
                return Response.of_json({"error": "mode must be ok, error, slow or down"}, 422)
            self.db.execute("INSERT OR REPLACE INTO knobs VALUES ('mode', ?)", (json.dumps(knob),))
            return Response.of_json({"ok": True})
        if action == "script" and req.method == "POST":
            spec = req.json()
            self.scripts[str(spec["correlation_id"])] = [int(s) for s in spec["answers"]]
            return Response.of_json({"ok": True})
        if action == "reset" and req.method == "POST":
            self.db.executescript("DELETE FROM calls; DELETE FROM answers; DELETE FROM knobs;")
            self.scripts.clear()
            return Response.of_json({"ok": True})
        if action == "health":
            return Response.of_json({"ok": True, "name": self.name})
        return Response.of_json({"error": f"unknown control {action!r}"}, 404)
