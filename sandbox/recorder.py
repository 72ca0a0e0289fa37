"""A partner that records what it receives and honours idempotency keys, with failure knobs.

Used for the generic http-json partner and for institutions' webhook inboxes. State (what was
received, the answers it gave) lives in SQLite under the sandbox's state folder, so it survives a
crash of the hub. Knobs, set over HTTP on the same port under /_sandbox/:
  POST /_sandbox/mode    {"mode": "ok" | "error" | "slow" | "down", "status": 503, "delay_s": 2}
  POST /_sandbox/script  {"correlation_id": "...", "answers": [503, 503, 200]}  (answers used in turn)
  POST /_sandbox/require_signature {"required": true}   401 to calls without a valid hub signature
  GET  /_sandbox/received[?all=1]   effects (first successful call per idempotency key), or every call,
       each with the signature status, whether the body came encrypted, and the clear body
  GET  /_sandbox/jwks     the partner's public keys (also in <state>/jwks.json)
  POST /_sandbox/reset
Only successful answers are remembered: a replay after a refusal is a new try, a repeat of a
success is answered from memory without a second effect.

Like a real partner it checks the hub's protection (security.outbound): it generates its own
X25519 and SM2 key pairs once (kept in <state>/partner-keys.json, owner-only) and publishes their
public halves in <state>/jwks.json before it listens, for the hub's `recipient: sandbox`; it
verifies `X-Hub-Signature` against <state>/hub-jwks.json (written by the hub, re-read whenever the
file is replaced) and decrypts `application/jose` bodies. An undecryptable body gets 400.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from sandbox.http import Drop, Request, Response
from security import jose
from security.outbound import (
    HUB_JWKS_FILE,
    PARTNER_JWKS_FILE,
    OpenedRequest,
    ProtectionConfigError,
    UndecryptableBody,
    open_protected,
    publish_jwks,
    read_jwks,
)
from security.owner_only import write_json

KEYS_FILE = "partner-keys.json"
KEY_KINDS: tuple[jose.KeyKind, ...] = ("X25519", "SM2")  # what the jose and the sm suites encrypt to
PROTECTION_COLUMNS = {"signature": "TEXT", "signature_kid": "TEXT", "encrypted": "INTEGER", "content_type": "TEXT"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY, at REAL, idempotency_key TEXT, message_id TEXT,
  correlation_id TEXT, status INTEGER, effect INTEGER, body BLOB, signature TEXT, signature_kid TEXT,
  encrypted INTEGER, content_type TEXT);
CREATE TABLE IF NOT EXISTS answers (idempotency_key TEXT PRIMARY KEY, status INTEGER, body BLOB, reference TEXT);
CREATE TABLE IF NOT EXISTS knobs (name TEXT PRIMARY KEY, value TEXT);
"""


class Recorder:
    database = "recorder.sqlite3"
    key_kinds = KEY_KINDS  # a subclass that also signs what it sends adds a signing kind

    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(state_dir / self.database, isolation_level=None)
        # WAL + NORMAL survives a crash of any process (what the tests do to the hub), not a power cut.
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
        have = {row[1] for row in self.db.execute("PRAGMA table_info(calls)")}
        for column, sql_type in PROTECTION_COLUMNS.items():  # state folders of older sandboxes
            if column not in have:
                self.db.execute(f"ALTER TABLE calls ADD COLUMN {column} {sql_type}")
        self.scripts: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()
        self.keys = _partner_keys(name, state_dir / KEYS_FILE, self.key_kinds)
        publish_jwks(state_dir / PARTNER_JWKS_FILE, self.keys)
        self._hub_jwks = state_dir / HUB_JWKS_FILE
        self._hub_jwks_seen: tuple[int, int, int] | None = None
        self._hub_keys: list[jose.HubKey] = []

    def _knob(self, name: str = "mode") -> dict[str, Any]:
        row = self.db.execute("SELECT value FROM knobs WHERE name=?", (name,)).fetchone()
        default: dict[str, Any] = {"mode": "ok"} if name == "mode" else {}
        return json.loads(row[0]) if row else default

    def hub_keys(self) -> list[jose.HubKey]:
        """The hub's public keys from hub-jwks.json, re-read when the file was replaced or changed."""
        try:
            st = self._hub_jwks.stat()
        except FileNotFoundError:
            self._hub_jwks_seen, self._hub_keys = None, []
            return []
        seen = (st.st_mtime_ns, st.st_ino, st.st_size)  # the inode changes on every atomic replace
        if seen != self._hub_jwks_seen:
            try:
                self._hub_keys = read_jwks(self._hub_jwks)
            except ProtectionConfigError as exc:
                print(f"sandbox {self.name}: {exc}; hub signatures count as invalid", file=sys.stderr, flush=True)
                self._hub_keys = []
            self._hub_jwks_seen = seen
        return self._hub_keys

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return self.control(req)
        knob = self._knob()
        if knob["mode"] == "down":
            raise Drop()
        if knob["mode"] == "slow":
            await asyncio.sleep(float(knob.get("delay_s", 5)))
        return await self.receive(req, knob)

    async def receive(self, req: Request, knob: dict[str, Any]) -> Response:
        if req.method != "POST":
            return Response.of_json({"error": "POST only"}, 404)
        key = req.headers.get("idempotency-key", "")
        opened = self.open_call(req, key)
        if isinstance(opened, Response):
            return opened
        try:
            body = json.loads(opened.plaintext)
            ids: tuple[str, str] | None = (str(body.get("id", "")), str(body.get("correlation_id", "")))
        except (ValueError, AttributeError):
            ids = None
        if opened.signature != "valid" and self._knob("require_signature").get("required"):
            self._log(key, *(ids or ("", "")), 401, 0, opened.plaintext, opened)
            why = opened.detail or "send X-Hub-Signature"
            return Response.of_json({"error": f"hub signature {opened.signature}: {why}"}, 401)
        if ids is None:
            return Response.of_json({"error": "body is not a JSON object"}, 400)
        message_id, correlation_id = ids
        async with self._lock:  # one call at a time per key decides effect vs duplicate
            if key:
                row = self.db.execute("SELECT status, body FROM answers WHERE idempotency_key=?", (key,)).fetchone()
                if row:
                    self._log(key, message_id, correlation_id, row[0], 0, opened.plaintext, opened)
                    return Response(row[0], row[1], {"content-type": "application/json", "idempotent-replay": "1"})
            script = self.scripts.get(correlation_id)
            status = script.pop(0) if script else (int(knob.get("status", 500)) if knob["mode"] == "error" else 200)
            if status >= 300:
                self._log(key, message_id, correlation_id, status, 0, opened.plaintext, opened)
                return Response.of_json({"error": f"simulated {status}"}, status)
            reference = f"{self.name}-{int(time.time() * 1000)}-{message_id[-6:]}"
            answer = json.dumps({"status": "completed", "reference": reference}).encode()
            with self.db:  # the effect and the remembered answer commit together
                self.db.execute("BEGIN")
                if key:
                    self.db.execute("INSERT INTO answers VALUES (?,?,?,?)", (key, 200, answer, reference))
                self._log(key, message_id, correlation_id, 200, 1, opened.plaintext, opened)
            return Response(200, answer, {"content-type": "application/json"})

    def open_call(self, req: Request, key: str) -> OpenedRequest | Response:
        """The hub's call decrypted and its signature checked, or the 400 for a body it cannot decrypt."""
        try:
            return open_protected(req.body, req.headers, self.hub_keys(), self.keys)
        except UndecryptableBody as exc:
            self._log(key, "", "", 400, 0, req.body, None)
            return Response.of_json({"error": f"cannot decrypt the body: {exc}"}, 400)

    def _log(
        self,
        key: str,
        message_id: str,
        correlation_id: str,
        status: int,
        effect: int,
        body: bytes,
        opened: OpenedRequest | None,
    ) -> None:
        """One call; `body` is the clear body when it could be decrypted. `opened` None: not readable."""
        self.db.execute(
            "INSERT INTO calls (at, idempotency_key, message_id, correlation_id, status, effect, body, "
            "signature, signature_kid, encrypted, content_type) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                time.time(),
                key,
                message_id,
                correlation_id,
                status,
                effect,
                body,
                opened.signature if opened else None,
                opened.kid if opened else None,
                int(opened.encrypted) if opened else 1,
                opened.content_type if opened else None,
            ),
        )

    def control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_sandbox/")
        if action == "received" and req.method == "GET":
            only_effects = "all" not in req.query
            columns = ("seq", "at", "idempotency_key", "message_id", "correlation_id", "status", "effect")
            extra = ("signature", "signature_kid", "encrypted", "body")
            sql = (
                f"SELECT {', '.join(columns + extra)} FROM calls"
                + (" WHERE effect=1" if only_effects else "")
                + " ORDER BY seq"
            )
            rows = []
            for r in self.db.execute(sql):
                row = dict(zip(columns, r[: len(columns)], strict=True))
                signature, kid, encrypted, body = r[len(columns) :]
                row.update(signature=signature, signature_kid=kid, encrypted=bool(encrypted), body=_shown(body))
                rows.append(row)
            return Response.of_json(rows)
        if action == "mode" and req.method == "POST":
            knob = req.json()
            if knob.get("mode") not in ("ok", "error", "slow", "down"):
                return Response.of_json({"error": "mode must be ok, error, slow or down"}, 422)
            self.db.execute("INSERT OR REPLACE INTO knobs VALUES ('mode', ?)", (json.dumps(knob),))
            return Response.of_json({"ok": True})
        if action == "require_signature" and req.method == "POST":
            required = req.json().get("required")
            if not isinstance(required, bool):
                return Response.of_json({"error": 'send {"required": true} or {"required": false}'}, 422)
            self.db.execute(
                "INSERT OR REPLACE INTO knobs VALUES ('require_signature', ?)", (json.dumps({"required": required}),)
            )
            return Response.of_json({"ok": True})
        if action == "jwks" and req.method == "GET":
            return Response.of_json({"keys": [k.public_jwk() for k in self.keys]})
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


def _shown(body: bytes | None) -> Any:
    """A recorded body as /_sandbox/received shows it: the JSON value, else the text."""
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _partner_keys(name: str, path: Path, kinds: tuple[jose.KeyKind, ...] = KEY_KINDS) -> list[jose.HubKey]:
    """This partner's private keys, one per kind in `kinds` (KEY_KINDS: key agreement): read from `path`, and
    generated (then kept there) the first time, so the hub's recipient keys survive restarts."""
    stored: list[dict[str, Any]] = json.loads(path.read_text())["keys"] if path.exists() else []
    keys = [jose.import_jwk(k) for k in stored]
    missing = [kind for kind in kinds if all(k.kind != kind for k in keys)]
    if missing:
        keys += [jose.generate_key(kind, f"{name}-{kind.lower()}-{secrets.token_hex(4)}") for kind in missing]
        write_json(path, {"keys": [k.private_jwk() for k in keys]})
    return keys
