"""What the CIPS and SWIFT sandboxes share: a payment network on loopback (see docs/payment-channels.md).

A network is a `Recorder` (the same calls log and `/_sandbox/received`, mode and signature knobs,
published keys, the hub's protection checked and opened), that reads each message with the hub's own
codecs and answers at once: a JSON ACK, or a 422 NAK carrying an ISO 20022 status reason. Accepted
payments settle after `settlement.delay_s`; every later answer (pacs.002, camt.029, pacs.004, camt.053,
or FIN text for MT traffic) is queued for the hub's callback URL from `<state>/hub-callback.json`,
signed with the network's own Ed25519 key (published in jwks.json), and retried with backoff until the
hub answers 2xx. Payments, remembered answers and queued callbacks live in SQLite (WAL) and survive a
restart; one background task settles and delivers, and `stop()` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import sqlite3
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel

from canonical.errors import RejectedInput, Violation
from canonical.iso20022 import BusinessHeader, Iso20022Message, parse, render
from canonical.iso20022.codec import definition_for
from canonical.money import Money
from canonical.payments import (
    UETR_RE,
    Account,
    AccountStatement,
    Balance,
    CancellationRequest,
    CancellationResolution,
    ChargeBearer,
    CreditDebit,
    CreditTransfer,
    FiTransfer,
    InterbankTransfer,
    OriginalReference,
    Party,
    PaymentReturn,
    ResolutionStatus,
    StatementEntry,
    StatusReport,
    StatusRequest,
    TransactionStatus,
)
from sandbox.http import Drop, Request, Response
from sandbox.recorder import KEY_KINDS, Recorder
from security import jose
from security.outbound import CALLBACK_FILE, OpenedRequest, Protector

log = logging.getLogger("sandbox.payments")

MAX_MESSAGE_BYTES = 1024 * 1024  # far beyond any one-transaction CBPR+ message
DEFAULT_DELAY_S = 0.3
SWALLOW_S = 120.0  # how long a swallowed request is held before the connection drops
POLL_S = 0.5  # the worker looks again at least this often (a new hub-callback.json, a released hold)
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.2, 10.0
CALLBACK_TIMEOUT_S = 5.0
XML, FIN = "application/xml", "text/plain"
PENDING, SETTLED, REJECTED, CANCELLED = "ACSP", "ACSC", "RJCT", "CNCL"
CODE = re.compile(r"^[A-Z0-9]{4}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (uetr TEXT PRIMARY KEY, reference TEXT NOT NULL, syntax TEXT NOT NULL,
  definition TEXT NOT NULL, sender TEXT NOT NULL, message_id TEXT NOT NULL, instruction_id TEXT,
  end_to_end_id TEXT, currency TEXT NOT NULL, amount TEXT NOT NULL, settlement_date TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT, settled_on TEXT, returned_on TEXT, idempotency_key TEXT,
  business_message_id TEXT, received_at REAL NOT NULL, settle_at REAL NOT NULL, body BLOB);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, uetr TEXT NOT NULL, at TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT, what TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS callbacks (seq INTEGER PRIMARY KEY, uetr TEXT NOT NULL, what TEXT NOT NULL,
  message_id TEXT NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL, created_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at REAL, last_error TEXT);
CREATE TABLE IF NOT EXISTS outcomes (uetr TEXT PRIMARY KEY, outcome TEXT NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS holds (uetr TEXT PRIMARY KEY);
"""
# A queued callback may go (once due) when no earlier one about the same payment is still queued.
IN_TURN = (
    "c.delivered_at IS NULL AND NOT EXISTS (SELECT 1 FROM callbacks e "
    "WHERE e.uetr = c.uetr AND e.seq < c.seq AND e.delivered_at IS NULL)"
)


class Nak(Exception):
    """The network refuses a message: `reason` is an ExternalStatusReason1Code (AM03, AM05, FF01 ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail

    def response(self) -> Response:
        return Response.of_json({"ack": "NAK", "reason": self.reason, "detail": self.detail}, 422)


class KnobRefused(Exception):
    """A knob call that cannot be done (unknown payment, wrong state): answered with `status`."""

    def __init__(self, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


@dataclass(frozen=True)
class Inbound:
    """One message as the network read it, whatever its syntax (MX envelope or FIN text)."""

    syntax: Literal["mx", "mt"]
    definition: str  # pacs.008.001.08, MT103 ...
    sender: str  # AppHdr Fr / the MT sender: where the network's answers go
    receiver: str
    business_id: str  # BizMsgIdr / MT field 20
    possible_duplicate: bool
    payload: BaseModel

    @property
    def uetr(self) -> str:
        original = getattr(self.payload, "original", None)
        return str(getattr(self.payload, "uetr", None) or getattr(original, "uetr", None) or "")


@dataclass(frozen=True)
class Payment:
    uetr: str
    reference: str
    syntax: str
    definition: str
    sender: str
    message_id: str
    instruction_id: str | None
    end_to_end_id: str | None
    currency: str
    amount: Decimal
    settlement_date: date
    status: str
    reason: str | None
    settled_on: date | None
    returned_on: date | None

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> Payment:
        """From the PAYMENT_COLUMNS of a row of `payments`."""
        values = dict(zip(PAYMENT_FIELDS, row, strict=True))
        values["amount"] = Decimal(values["amount"])
        for day in ("settlement_date", "settled_on", "returned_on"):
            values[day] = date.fromisoformat(values[day]) if values[day] else None
        return cls(**values)

    @property
    def money(self) -> Money:
        return Money(currency=self.currency, amount=self.amount)

    @property
    def original(self) -> OriginalReference:
        return OriginalReference(
            message_id=self.message_id,
            message_type=self.definition,
            instruction_id=self.instruction_id,
            end_to_end_id=self.end_to_end_id,
            uetr=self.uetr,
        )


PAYMENT_FIELDS = tuple(f.name for f in fields(Payment))
PAYMENT_COLUMNS = ", ".join(PAYMENT_FIELDS)


@dataclass(frozen=True)
class CallbackTarget:
    url: str
    cafile: str | None


def read_mx(body: bytes) -> Inbound:
    """An ISO 20022 envelope read by the hub's codec; RejectedInput naming the first broken rule."""
    if len(body) > MAX_MESSAGE_BYTES:
        detail = f"{len(body)} bytes, the limit is {MAX_MESSAGE_BYTES}"
        raise RejectedInput("message too large", [Violation("message", "too_large", detail)])
    message = parse(body)
    h = message.header
    return Inbound(
        "mx", h.message_definition, h.from_bic, h.to_bic, h.business_message_id, h.possible_duplicate, message.payload
    )


def ack(reference: str, uetr: str, duplicate: bool = False) -> bytes:
    return json.dumps({"ack": "ACK", "reference": reference, "uetr": uetr, "duplicate": duplicate}).encode()


def _first_violation(exc: RejectedInput) -> str:
    return str(exc.violations[0]) if exc.violations else exc.title


def _backoff(attempts: int) -> float:
    return float(min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _code(value: Any, what: str) -> str:
    if not isinstance(value, str) or not CODE.match(value):
        raise ValueError(f"{what} must be a 4-character ISO 20022 code, not {value!r}")
    return value


def _uetr(value: Any) -> str:
    if not isinstance(value, str) or not UETR_RE.match(value):
        raise ValueError(f"uetr must be a lower-case UUIDv4, not {value!r}")
    return value


class PaymentNetwork(Recorder):
    """A payment network; a subclass names itself and adds its rules (`admit`) and routes (`route`)."""

    database = "network.sqlite3"
    key_kinds: tuple[jose.KeyKind, ...] = (*KEY_KINDS, "Ed25519")  # Ed25519 signs the callbacks
    network_bic: ClassVar[str]
    reference_prefix: ClassVar[str]
    accepts: ClassVar[str] = "pacs.008, pacs.009, pacs.028 or camt.056"
    readers: ClassVar[dict[str, Callable[[bytes], Inbound]]] = {"mx": read_mx}  # by syntax

    def __init__(self, name: str, state_dir: Path) -> None:
        super().__init__(name, state_dir)
        self.db.executescript(SCHEMA)
        self.state_dir = state_dir
        self.signing_key = next(k for k in self.keys if k.kind == "Ed25519")
        self._protector = Protector(self.signing_key)
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._target: CallbackTarget | None = None
        self._target_seen: tuple[int, int, int] | None = None
        self._client: httpx.AsyncClient | None = None
        self._ensure_worker()

    # -- the business clock ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The network's clock: real time moved by `/_sandbox/clock`."""
        return datetime.now(UTC) + timedelta(seconds=float(self._knob("clock").get("offset_s", 0.0)))

    def timezone(self) -> tzinfo:
        return UTC

    def business_date(self) -> date:
        return self.now().astimezone(self.timezone()).date()

    def new_id(self, kind: str) -> str:
        """A network reference of 15 characters (fits MT field 20): prefix, kind letter, random hex."""
        return f"{self.reference_prefix}{kind}{secrets.token_hex(5).upper()}"

    # -- requests ---------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        self._ensure_worker()
        return await super().handle(req)

    async def receive(self, req: Request, knob: dict[str, Any]) -> Response:
        """A business call the mode let through (the recorder's `handle` drops or delays it)."""
        if knob["mode"] == "error":
            status = int(knob.get("status", 500))
            return Response.of_json({"error": f"simulated {status}"}, status)
        try:
            return await self.route(req)
        except sqlite3.Error as exc:
            log.exception("%s: storage failure on %s %s", self.name, req.method, req.path)
            return Response.of_json({"error": f"the network's storage failed: {exc}"}, 500)

    async def route(self, req: Request) -> Response:
        if req.method == "POST" and req.path == "/messages":
            return await self.submit(req, read_mx)
        return Response.of_json({"error": f"no {req.method} {req.path[:100]} on {self.name}"}, 404)

    async def submit(self, req: Request, read: Callable[[bytes], Inbound]) -> Response:
        """One message: open the protection, read it, answer a status request, replay a known key, or
        take it (transfer or cancellation) and maybe swallow the answer."""
        key = req.headers.get("idempotency-key", "")
        opened = self._open(req, key)
        if isinstance(opened, Response):
            return opened
        try:
            message = read(opened.plaintext)
        except RejectedInput as exc:
            self._log(key, "", "", 422, 0, opened.plaintext, opened)
            return Nak("FF01", _first_violation(exc)).response()
        if isinstance(message.payload, StatusRequest):
            return self._status_answer(message, key, opened)
        remembered = self._remembered(key)
        if remembered is not None:
            self._log(key, message.business_id, message.uetr, remembered.status, 0, opened.plaintext, opened)
            return remembered
        try:
            answer, effect = self._take(message, key, opened)
        except Nak as nak:
            self._log(key, message.business_id, message.uetr, 422, 0, opened.plaintext, opened)
            return nak.response()
        if effect and self._swallow_one():
            # The effect is committed; the caller waits in vain, as when a network answer is lost.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SWALLOW_S)
            raise Drop()
        return answer

    def _open(self, req: Request, key: str) -> OpenedRequest | Response:
        opened = self.open_call(req, key)
        if isinstance(opened, Response):
            return opened
        if opened.signature != "valid" and self._knob("require_signature").get("required"):
            self._log(key, "", "", 401, 0, opened.plaintext, opened)
            return Response.of_json({"error": f"hub signature {opened.signature}: {opened.detail or 'missing'}"}, 401)
        return opened

    def _remembered(self, key: str) -> Response | None:
        if not key:
            return None
        row = self.db.execute("SELECT status, body FROM answers WHERE idempotency_key=?", (key,)).fetchone()
        if row is None:
            return None
        return Response(row[0], row[1], {"content-type": "application/json", "idempotent-replay": "1"})

    def _take(self, message: Inbound, key: str, opened: OpenedRequest) -> tuple[Response, bool]:
        payload = message.payload
        if isinstance(payload, InterbankTransfer):
            return self._take_transfer(message, payload, key, opened)
        if isinstance(payload, CancellationRequest):
            return self._take_cancellation(message, payload, key, opened), True
        raise Nak("FF01", f"{message.definition} is not accepted by {self.name}: send {self.accepts}")

    def admit(self, transfer: InterbankTransfer, message: Inbound) -> None:
        """The network's own rules for a new payment; raises Nak. Every currency and BIC by default."""

    def _take_transfer(
        self, message: Inbound, transfer: InterbankTransfer, key: str, opened: OpenedRequest
    ) -> tuple[Response, bool]:
        known = self.payment(transfer.uetr)
        if known is not None:
            if not message.possible_duplicate:
                detail = f"UETR {transfer.uetr} was received already ({known.reference})"
                raise Nak("AM05", detail + "; a resend carries the possible-duplicate flag")
            self._log(key, message.business_id, transfer.uetr, 200, 0, opened.plaintext, opened)
            return Response(200, ack(known.reference, known.uetr, True), {"content-type": "application/json"}), False
        self.admit(transfer, message)
        reference = self.new_id("R")
        answer = ack(reference, transfer.uetr)
        settle_at = time.time() + float(self._knob("settlement").get("delay_s", DEFAULT_DELAY_S))
        with self._transaction():
            self.db.execute(
                "INSERT INTO payments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    *(transfer.uetr, reference, message.syntax, message.definition, message.sender),
                    *(transfer.message_id, transfer.instruction_id, transfer.end_to_end_id),
                    *(transfer.settlement_amount.currency, str(transfer.settlement_amount.amount)),
                    *(transfer.settlement_date.isoformat(), PENDING, None, None, None),
                    *(key, message.business_id, time.time(), settle_at, opened.plaintext),
                ),
            )
            self._event(transfer.uetr, PENDING, None, "received")
            self._remember(key, answer, reference)
            self._log(key, message.business_id, transfer.uetr, 200, 1, opened.plaintext, opened)
        self._wake.set()
        return Response(200, answer, {"content-type": "application/json"}), True

    def _take_cancellation(
        self, message: Inbound, request: CancellationRequest, key: str, opened: OpenedRequest
    ) -> Response:
        uetr = message.uetr
        payment = self.payment(uetr)
        status, reason = self._decide_cancellation(payment)
        resolution = CancellationResolution(
            assignment_id=self.new_id("C"),
            assigner=request.assignee,
            assignee=request.assigner,
            case_id=request.case_id,
            case_creator=request.case_creator,
            status=status,
            original=request.original,
            reason_code=reason,
            original_settlement_amount=request.original_settlement_amount,
            original_settlement_date=request.original_settlement_date,
        )
        body, content_type = self.pushed(message.syntax, resolution, message.sender)
        answer = ack(resolution.assignment_id, uetr)
        with self._transaction():
            if payment is not None and payment.status == PENDING:
                self.db.execute(
                    "UPDATE payments SET status=?, reason=? WHERE uetr=?", (CANCELLED, request.reason_code, uetr)
                )
                self._event(uetr, CANCELLED, request.reason_code, "cancelled")
            self._remember(key, answer, resolution.assignment_id)
            self._log(key, message.business_id, uetr, 200, 1, opened.plaintext, opened)
            self._push(uetr, "cancellation", resolution.assignment_id, body, content_type)
        return Response(200, answer, {"content-type": "application/json"})

    def _decide_cancellation(self, payment: Payment | None) -> tuple[ResolutionStatus, str | None]:
        if payment is None:
            return ResolutionStatus.RJCR, "NOOR"  # no original received
        if payment.status in (PENDING, CANCELLED):
            return ResolutionStatus.CNCL, None
        if payment.returned_on is not None:
            return ResolutionStatus.RJCR, "ARDT"  # already returned
        if payment.status == SETTLED:
            return ResolutionStatus.RJCR, str(self._knob("cancellation").get("reason", "CUST"))
        return ResolutionStatus.RJCR, "AGNT"  # the network rejected it: nothing left to cancel

    def _status_answer(self, message: Inbound, key: str, opened: OpenedRequest) -> Response:
        payment = self.payment(message.uetr)
        if payment is None:
            self._log(key, message.business_id, message.uetr, 404, 0, opened.plaintext, opened)
            return Response.of_json({"error": "the network never received this UETR", "uetr": message.uetr}, 404)
        body = self.render_mx(self.status_report(payment), message.sender)
        self._log(key, message.business_id, message.uetr, 200, 0, opened.plaintext, opened)
        return Response(200, body, {"content-type": XML})

    # -- what the network says ----------------------------------------------------------------------

    def status_report(self, payment: Payment) -> StatusReport:
        """A cancelled payment reports RJCT with the reason of the cancellation request."""
        status = REJECTED if payment.status == CANCELLED else payment.status
        return StatusReport(
            message_id=self.new_id("S"),
            created_at=self.now(),
            original=payment.original,
            status=TransactionStatus(status),
            reason_code=payment.reason if status == REJECTED else None,
            instructing_agent=self.network_bic,
            instructed_agent=payment.sender,
        )

    def render_mx(self, payload: BaseModel, to: str) -> bytes:
        business_id = str(getattr(payload, "message_id", None) or getattr(payload, "assignment_id", ""))
        header = BusinessHeader(
            from_bic=self.network_bic,
            to_bic=to,
            business_message_id=business_id,
            message_definition=definition_for(payload).id,
            created_at=self.now(),
        )
        return render(Iso20022Message(header, payload), self.now)

    def pushed(self, syntax: str, payload: BaseModel, to: str) -> tuple[bytes, str]:
        """(body, content type) of an answer pushed to `to` about a message in `syntax` ("mx" or "mt"):
        ISO 20022 here; a network that speaks FIN answers MT traffic in FIN."""
        return self.render_mx(payload, to), XML

    # -- state ------------------------------------------------------------------------------------

    def payment(self, uetr: str) -> Payment | None:
        row = self.db.execute(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE uetr=?", (uetr,)).fetchone()
        return None if row is None else Payment.of_row(row)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _event(self, uetr: str, status: str, reason: str | None, what: str) -> None:
        self.db.execute(
            "INSERT INTO events (uetr, at, status, reason, what) VALUES (?,?,?,?,?)",
            (uetr, self.now().isoformat(), status, reason, what),
        )

    def _remember(self, key: str, answer: bytes, reference: str) -> None:
        if key:
            self.db.execute("INSERT OR REPLACE INTO answers VALUES (?,?,?,?)", (key, 200, answer, reference))

    def _push(self, uetr: str, what: str, message_id: str, body: bytes, content_type: str) -> None:
        self.db.execute(
            "INSERT INTO callbacks (uetr, what, message_id, content_type, body, created_at, next_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (uetr, what, message_id, content_type, body, time.time(), time.time()),
        )
        self._wake.set()

    def _set_knob(self, name: str, value: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO knobs VALUES (?, ?)", (name, json.dumps(value)))

    def _swallow_one(self) -> bool:
        count = int(self._knob("swallow").get("count", 0))
        if count > 0:
            self._set_knob("swallow", {"count": count - 1})
        return count > 0

    # -- settlement and callbacks (the background task) ---------------------------------------------

    def _ensure_worker(self) -> None:
        if self._stopping.is_set() or (self._worker is not None and not self._worker.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a loop: the first request starts it
        self._worker = loop.create_task(self._run(), name=f"sandbox-{self.name}")

    async def stop(self) -> None:
        """End the background task and close the state; queued work stays for the next start."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._client is not None:
            await self._client.aclose()
        self.db.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._settle_due()
                await self._deliver_due()
                wait = self._next_due_in()
            except Exception:  # a bug or a full disk must not end settlement for good: log, try again
                log.exception("%s: settlement or callback round failed", self.name)
                wait = POLL_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _settle_due(self) -> None:
        due = self.db.execute(
            "SELECT uetr FROM payments WHERE status=? AND settle_at<=? AND uetr NOT IN (SELECT uetr FROM holds) "
            "ORDER BY settle_at",
            (PENDING, time.time()),
        ).fetchall()
        for (uetr,) in due:
            payment = self.payment(uetr)
            assert payment is not None
            self._settle(payment)

    def _settle(self, payment: Payment) -> None:
        """The outcome: the payment's script, else the settlement knob, else ACSC."""
        scripted = self.db.execute("SELECT outcome, reason FROM outcomes WHERE uetr=?", (payment.uetr,)).fetchone()
        knob = self._knob("settlement")
        outcome, reason = scripted or (knob.get("outcome", SETTLED), knob.get("reason"))
        if outcome == REJECTED:
            reason = reason or "AC04"
        settled_on = self.business_date().isoformat() if outcome == SETTLED else None
        with self._transaction():
            self.db.execute(
                "UPDATE payments SET status=?, reason=?, settled_on=? WHERE uetr=?",
                (outcome, reason if outcome == REJECTED else None, settled_on, payment.uetr),
            )
            self._event(payment.uetr, outcome, reason, "settled" if outcome == SETTLED else "rejected")
            updated = self.payment(payment.uetr)
            assert updated is not None
            report = self.status_report(updated)
            body, content_type = self.pushed(updated.syntax, report, updated.sender)
            self._push(payment.uetr, "status", report.message_id, body, content_type)

    async def _deliver_due(self) -> None:
        target = await self._callback_target()
        if target is None or self._client is None:
            return  # no hub to call yet: everything stays queued
        rows = self.db.execute(
            f"SELECT seq, message_id, content_type, body, attempts FROM callbacks c WHERE next_at <= ? AND {IN_TURN} "
            "ORDER BY seq LIMIT 50",
            (time.time(),),
        ).fetchall()
        for seq, message_id, content_type, body, attempts in rows:
            error = await self._post(self._client, target, message_id, body, content_type)
            if error is None:
                self.db.execute("UPDATE callbacks SET delivered_at=?, last_error=NULL WHERE seq=?", (time.time(), seq))
            else:
                self.db.execute(
                    "UPDATE callbacks SET attempts=?, next_at=?, last_error=? WHERE seq=?",
                    (attempts + 1, time.time() + _backoff(attempts + 1), error, seq),
                )
                break  # the hub is likely down or hanging: settle first, try the others next round

    async def _post(
        self, client: httpx.AsyncClient, target: CallbackTarget, message_id: str, body: bytes, content_type: str
    ) -> str | None:
        """None when the hub took the callback (2xx), else what went wrong."""
        _, headers = self._protector.protect(body, content_type)  # signs anew: a retry is never a replay
        headers |= {"Content-Type": content_type, "Idempotency-Key": message_id}
        try:
            response = await client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"

    async def _callback_target(self) -> CallbackTarget | None:
        """The hub's callback endpoint from hub-callback.json, re-read when the file was replaced."""
        path = self.state_dir / CALLBACK_FILE
        try:
            st = path.stat()
        except FileNotFoundError:
            self._target_seen, self._target = None, None
            return None
        seen = (st.st_mtime_ns, st.st_ino, st.st_size)
        if seen == self._target_seen:
            return self._target
        self._target_seen = seen
        try:
            data = json.loads(path.read_text())
            target: CallbackTarget | None = CallbackTarget(str(data["url"]), data.get("cafile") or None)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: %s is not usable (%s); callbacks wait", self.name, path, exc)
            target = None
        if target != self._target:
            await self._connect(target)
        # A rewritten file means a (re)started hub: what waits goes at once, not after the old backoff.
        self.db.execute("UPDATE callbacks SET next_at=? WHERE delivered_at IS NULL", (time.time(),))
        return self._target

    async def _connect(self, target: CallbackTarget | None) -> None:
        if self._client is not None:
            await self._client.aclose()
        verify: ssl.SSLContext | bool = True
        if target is not None and target.cafile:
            verify = ssl.create_default_context(cafile=target.cafile)
        self._target = target
        self._client = None
        if target is not None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S, verify=verify, trust_env=False)

    def _next_due_in(self) -> float:
        now = time.time()
        (settle_at,) = self.db.execute(
            "SELECT MIN(settle_at) FROM payments WHERE status=? AND uetr NOT IN (SELECT uetr FROM holds)", (PENDING,)
        ).fetchone()
        due = [now + POLL_S, settle_at or now + POLL_S]
        if self._target is not None:
            (next_at,) = self.db.execute(f"SELECT MIN(next_at) FROM callbacks c WHERE {IN_TURN}").fetchone()
            due.append(next_at or now + POLL_S)
        return max(0.0, min(due) - now)

    # -- knobs ------------------------------------------------------------------------------------

    def control(self, req: Request) -> Response:
        action = req.path.removeprefix("/_sandbox/")
        try:
            answer = self.network_control(action, req)
            return answer if answer is not None else super().control(req)
        except KnobRefused as exc:
            return Response.of_json({"error": exc.detail}, exc.status)
        except (ValueError, KeyError, TypeError, RejectedInput) as exc:  # pydantic's ValidationError is a ValueError
            return Response.of_json({"error": f"{action}: {exc}"}, 422)

    def network_control(self, action: str, req: Request) -> Response | None:
        """Answer a network knob, or None to leave `action` to the recorder's knobs."""
        if req.method == "GET" and action == "payments":
            rows = self.db.execute(
                f"SELECT {PAYMENT_COLUMNS}, idempotency_key, business_message_id, "
                "uetr IN (SELECT uetr FROM holds) FROM payments ORDER BY received_at"
            ).fetchall()
            return Response.of_json([self._shown_payment(r) for r in rows])
        if req.method == "GET" and action == "callbacks":
            columns = ("seq", "uetr", "what", "message_id", "content_type", "attempts", "delivered_at", "last_error")
            rows = self.db.execute(f"SELECT {', '.join(columns)} FROM callbacks ORDER BY seq").fetchall()
            return Response.of_json([dict(zip(columns, r, strict=True)) for r in rows])
        if req.method != "POST":
            return None
        if action == "reset":
            for table in ("payments", "events", "callbacks", "outcomes", "holds"):
                self.db.execute(f"DELETE FROM {table}")
            return None  # the recorder's reset clears calls, answers and knobs
        spec = req.json() or {}
        if not isinstance(spec, dict):
            raise TypeError("send a JSON object")
        match action:
            case "settlement":
                return self._settlement_knob(spec)
            case "script":
                outcome = spec["outcome"]
                if outcome not in (SETTLED, REJECTED):
                    raise ValueError("outcome must be ACSC or RJCT")
                reason = _code(spec.get("reason", "AC04"), "reason") if outcome == REJECTED else None
                self.db.execute(
                    "INSERT OR REPLACE INTO outcomes VALUES (?,?,?)", (_uetr(spec["uetr"]), outcome, reason)
                )
            case "hold":
                held = (
                    "DELETE FROM holds WHERE uetr=?"
                    if spec.get("release")
                    else "INSERT OR IGNORE INTO holds VALUES (?)"
                )
                self.db.execute(held, (_uetr(spec["uetr"]),))
                self._wake.set()
            case "clock":
                moment = spec["now"]
                offset = 0.0 if moment is None else (_aware(moment) - datetime.now(UTC)).total_seconds()
                self._set_knob("clock", {"offset_s": offset})
                return Response.of_json({"ok": True, "now": self.now().isoformat()})
            case "swallow":
                count = int(spec["count"])
                if not 0 <= count <= 1000:
                    raise ValueError("count must be 0 to 1000")
                self._set_knob("swallow", {"count": count})
            case "cancellation":
                self._set_knob("cancellation", {"reason": _code(spec["reason"], "reason")})
            case "return":
                return self._return(_uetr(spec["uetr"]), _code(spec.get("reason", "AC04"), "reason"))
            case "statement":
                return self._statement(spec)
            case _:
                return None
        return Response.of_json({"ok": True})

    def _settlement_knob(self, spec: dict[str, Any]) -> Response:
        delay = float(spec.get("delay_s", DEFAULT_DELAY_S))
        outcome = spec.get("outcome", SETTLED)
        if not 0 <= delay <= 3600 or outcome not in (SETTLED, REJECTED):
            raise ValueError("delay_s is 0 to 3600 seconds, outcome ACSC or RJCT")
        reason = _code(spec.get("reason", "AC04"), "reason") if outcome == REJECTED else None
        self._set_knob("settlement", {"delay_s": delay, "outcome": outcome, "reason": reason})
        return Response.of_json({"ok": True})

    def _shown_payment(self, row: tuple[Any, ...]) -> dict[str, Any]:
        count = len(PAYMENT_FIELDS)
        payment = Payment.of_row(row[:count])
        shown = {k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in vars(payment).items()}
        key, business_id, held = row[count:]
        return shown | {"idempotency_key": key, "business_message_id": business_id, "held": bool(held)}

    def _return(self, uetr: str, reason: str) -> Response:
        payment = self.payment(uetr)
        if payment is None:
            raise KnobRefused(f"no payment {uetr}", 404)
        if payment.status != SETTLED or payment.returned_on is not None:
            raise KnobRefused(f"only a settled payment is returned, once; {uetr} is {payment.status}")
        (body,) = self.db.execute("SELECT body FROM payments WHERE uetr=?", (uetr,)).fetchone()
        debtor, creditor = _parties(self.readers[payment.syntax](body).payload)  # an MT return names them
        day = self.business_date()
        returned = PaymentReturn(
            message_id=self.new_id("T"),
            return_id=self.new_id("T"),
            original=payment.original,
            returned_amount=payment.money,
            settlement_date=day,
            charge_bearer=ChargeBearer.SHAR,  # CBPR+ wants it, and MT103 / MT202 RETN carry it in 71A
            instructing_agent=self.network_bic,
            instructed_agent=payment.sender,
            reason_code=reason,
            original_settlement_amount=payment.money,
            original_settlement_date=payment.settlement_date,
            original_debtor=debtor,
            original_creditor=creditor,
        )
        body, content_type = self.pushed(payment.syntax, returned, payment.sender)
        with self._transaction():
            self.db.execute("UPDATE payments SET returned_on=? WHERE uetr=?", (day.isoformat(), uetr))
            self._event(uetr, SETTLED, reason, "returned")
            self._push(uetr, "return", returned.message_id, body, content_type)
        return Response.of_json({"ok": True, "message_id": returned.message_id})

    def statement_currency(self, settled: list[Payment]) -> str:
        return settled[0].currency if settled else "USD"

    def _statement(self, spec: dict[str, Any]) -> Response:
        """A camt.053 of the business day: a debit per payment settled, a credit per payment returned, and
        `extra_entries` (e.g. {"amount": "12.50", "credit_debit": "CRDT", "end_to_end_id": "..."})."""
        day = self.business_date()
        rows = self.db.execute(
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE settled_on=? OR returned_on=? ORDER BY received_at",
            (day.isoformat(), day.isoformat()),
        ).fetchall()
        payments = [Payment.of_row(r) for r in rows]
        currency = str(spec.get("currency") or self.statement_currency(payments))
        entries = [e for p in payments if p.currency == currency for e in _entries_of(p, day)]
        for extra in spec.get("extra_entries", []):
            amount = extra.get("amount")
            money = amount if isinstance(amount, dict) else {"currency": currency, "amount": str(amount)}
            defaults = {"credit_debit": "CRDT", "booking_date": day, "value_date": day}
            entries.append(StatementEntry.model_validate(defaults | extra | {"amount": money}))
        opening = Decimal(str(spec.get("opening_balance", "100000000")))
        closing = opening + sum(
            (e.amount.amount if e.credit_debit == CreditDebit.CRDT else -e.amount.amount for e in entries), Decimal(0)
        )
        statement = AccountStatement(
            message_id=self.new_id("A"),
            report_id=self.new_id("A"),
            account=Account(other=str(spec.get("account") or f"{self.reference_prefix}-SETTLEMENT")),
            account_currency=currency,
            account_servicer=self.network_bic,
            balances=[_balance("OPBD", opening, currency, day), _balance("CLBD", closing, currency, day)],
            entries=entries,
        )
        to = str(spec.get("bic") or (payments[-1].sender if payments else self.network_bic))
        self._push("", "statement", statement.message_id, self.render_mx(statement, to), XML)
        return Response.of_json({"ok": True, "message_id": statement.message_id, "entries": len(entries)})


def _entries_of(payment: Payment, day: date) -> list[StatementEntry]:
    """The entries a payment makes on the sender's settlement account on `day`."""
    refs = {
        "amount": payment.money,
        "booking_date": day,
        "value_date": day,
        "entry_reference": payment.reference,
        "account_servicer_reference": payment.reference,
        "instruction_id": payment.instruction_id,
        "end_to_end_id": payment.end_to_end_id,
        "uetr": payment.uetr,
    }
    out = []
    if payment.settled_on == day:  # the payment left the account
        out.append(refs | {"credit_debit": "DBIT", "bank_transaction_code": ("PMNT", "ICDT", "XBCT")})
    if payment.returned_on == day:  # and came back
        out.append(refs | {"credit_debit": "CRDT", "bank_transaction_code": ("PMNT", "ICDT", "RRTN")})
    return [StatementEntry.model_validate(entry) for entry in out]


def _parties(transfer: BaseModel) -> tuple[Party | None, Party | None]:
    """The debtor and creditor of a transfer, as parties."""
    if isinstance(transfer, CreditTransfer):
        return transfer.debtor, transfer.creditor
    if isinstance(transfer, FiTransfer):
        return Party(bic=transfer.debtor), Party(bic=transfer.creditor)
    return None, None


def _balance(kind: str, amount: Decimal, currency: str, day: date) -> Balance:
    side = CreditDebit.CRDT if amount >= 0 else CreditDebit.DBIT
    return Balance(type=kind, currency=currency, amount=abs(amount), credit_debit=side, as_of=day)


def _aware(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("now needs a UTC offset, e.g. 2026-11-23T09:00:00+08:00")
    return moment
