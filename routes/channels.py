"""Delivery rules of payment channels (adapters of category `payment`), applied before a partner call:

- a payment whose earlier call is *in doubt* (it may have reached the network) is first enquired
  about; only what the network does not know is sent again, flagged as a possible duplicate, and
  never on another channel;
- a future-dated payment waits for its settlement date; outside operating hours a payment waits for
  the channel to open; past the cut-off of its settlement day it is refused (nothing re-dates it);
- when the channel cannot send (breaker open, closed, past its cut-off) and the message's route names
  a backup channel, a payment never sent anywhere goes there, journalled with the channel first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nats.aio.msg import Msg

from adapters.base import POSSIBLE_DUPLICATE, AdapterError, PaymentChannel, TransientError
from canonical.envelope import Envelope
from canonical.payments import InterbankTransfer
from desk import PAYMENT_TYPES
from desk.answers import apply_partner_status, audit_enquiry
from desk.calendar import Verdict, judge
from routes import bus
from routes.retry import BreakerState, backoff_delay
from routes.rules import Decision, money_of

if TYPE_CHECKING:
    from routes.pipeline import Lane, Pipeline

SENT_OUTCOMES = ("ok", "in_doubt")  # the network may hold the message after these
# Messages about a payment go where the payment went (or are answered here if it never left).
FOLLOWS_PAYMENT = ("payment.cancellation_request", "payment.status_request")
NOT_SENT = ("accepted", "routed", "retrying")
# Refusals about the moment, not the payment (outside the network's hours, past its cut-off): with
# nothing taken by the network, the route's backup channel may carry the payment instead.
REFUSED_FOR_THE_HOUR = ("TM01",)


@dataclass(frozen=True)
class CallHistory:
    """What the journal's attempts say about a message: was it ever (maybe) sent, is it in doubt."""

    sent: bool
    in_doubt: bool
    failed_on: frozenset[str]  # the channels a call of it failed on

    @classmethod
    def of(cls, outcomes: list[tuple[str, str, str | None]]) -> CallHistory:
        in_doubt = False
        for _adapter, _version, outcome in outcomes:
            if outcome == "in_doubt":
                in_doubt = True
            elif outcome == "ok":
                in_doubt = False  # a later answered call settles what the network holds
        failed = frozenset(a for a, _v, o in outcomes if o not in ("ok", None))
        return cls(sent=any(o in SENT_OUTCOMES for *_, o in outcomes), in_doubt=in_doubt, failed_on=failed)

    def failed_here(self, channel: str) -> bool:
        return channel in self.failed_on


def is_channel(lane: Lane) -> bool:
    return getattr(lane.adapter, "category", "") == "payment"


async def prepare(p: Pipeline, lane: Lane, msg: Msg, env: Envelope) -> Envelope | None:
    """The envelope to send on `lane` now (flagged as a possible duplicate after an in-doubt call),
    or None when the message was dealt with here: resolved by an enquiry, held, failed over, refused
    or handed back to JetStream for later (never counted as an attempt)."""
    history = CallHistory.of(await p.store.attempt_outcomes(str(env.id)))
    if history.in_doubt:
        return await _after_doubt(p, lane, msg, env)
    verdict = _verdict(p, lane, env)
    if verdict.action == "hold":  # future-dated: waits for its own channel whatever happens meanwhile
        await _wait(p, msg, env, verdict, first=msg.metadata.num_delivered == 1)
        return None
    why = breaker_reason(lane, history)
    if verdict.action in ("closed", "refuse"):
        why = verdict.reason
    if why is None:
        return env
    if await _try_fail_over(p, msg, lane, env, history, why):
        await msg.ack()
        return None
    if verdict.action == "refuse":
        detail = {"reason": "channel_refused", "error": verdict.reason, "by": "hub", "channel": lane.name}
        await p.store.record(str(env.id), "rejected", detail=detail)
        await msg.ack()
        return None
    if verdict.action == "closed":
        await _wait(p, msg, env, verdict, first=msg.metadata.num_delivered == 1)
        return None
    await msg.nak(delay=max(1.0, lane.breaker.wait_s()))  # breaker open, nowhere else to go: not an attempt
    return None


async def follow_payment(p: Pipeline, env: Envelope, decision: Decision) -> Decision | None:
    """Where a cancellation or status request goes: the channel its payment went through (whatever
    the rules say, after a failover too), or nowhere when the payment never left the hub: then a
    cancellation cancels it here and a status request is answered from the journal (None)."""
    payments = await p.store.by_correlation([env.correlation_id], PAYMENT_TYPES) if env.correlation_id else []
    payment = payments[-1] if payments else None
    if payment is None or payment.adapter is None or payment.version is None:
        return decision  # unknown here: the network answers for itself
    mid = str(env.id)
    if payment.status in NOT_SENT and not CallHistory.of(await p.store.attempt_outcomes(payment.id)).sent:
        if env.type == "payment.cancellation_request":
            cancelled = {"reason": "cancelled", "error": "cancelled before it was sent", "by": "hub", "request": mid}
            done = await p.store.record(payment.id, "rejected", detail=cancelled)
            answer = {"resolution": "CNCL" if done else "RJCR", "payment": payment.id, "by": "hub"}
        else:
            answer = {"payment": payment.id, "payment_status": payment.status, "by": "hub"}
        await p.store.record(mid, "completed", detail=answer)
        return None
    if payment.status == "rejected" and env.type == "payment.cancellation_request":
        detail = {"reason": "already_rejected", "error": f"payment {payment.id} was rejected already", "by": "hub"}
        await p.store.record(mid, "rejected", detail=detail)
        return None
    reason = f"follows payment {payment.id} on {payment.adapter}@{payment.version}"
    return Decision(decision.route, payment.adapter, payment.version, reason)


async def fail_over_refused(p: Pipeline, lane: Lane, msg: Msg, env: Envelope, refusal: AdapterError) -> bool:
    """Send a payment the network refused for the hour (its NAK took nothing) to the backup channel;
    False when it cannot go there (another refusal, no backup, the backup cannot take it, or the
    payment is already at a network)."""
    if getattr(refusal, "code", "") not in REFUSED_FOR_THE_HOUR:
        return False
    history = CallHistory.of(await p.store.attempt_outcomes(str(env.id)))
    why = f"{lane.name} refused it for the hour: {refusal.reason[:200]}"
    return await _try_fail_over(p, msg, lane, env, history, why)


def breaker_reason(lane: Lane, history: CallHistory) -> str | None:
    """Why the breaker keeps this payment off its channel: open, or half-open while the payment has
    failed here before (the probe is for a payment with no such history, so one that keeps failing
    cannot keep arriving as the probe and never fail over)."""
    if lane.breaker.allows() == 0:
        return "the channel's circuit breaker is open"
    if lane.breaker.state is not BreakerState.CLOSED and history.failed_here(lane.name):
        return "the channel's circuit breaker is half-open and this payment already failed on it"
    return None


def _verdict(p: Pipeline, lane: Lane, env: Envelope) -> Verdict:
    policy = lane.config.channel
    money = money_of(env.payload)
    if policy is None or money is None:
        return Verdict("send")
    settles = env.payload.settlement_date if isinstance(env.payload, InterbankTransfer) else None
    return judge(policy, money.currency, settles, p.clock())


async def _wait(p: Pipeline, msg: Msg, env: Envelope, verdict: Verdict, first: bool) -> None:
    assert verdict.until is not None
    if first:  # journalled once, not at every look
        detail = {"held_until": verdict.until.isoformat(), "reason": verdict.reason}
        await p.store.record(str(env.id), "routed", detail=detail)
    left = (verdict.until - p.clock()).total_seconds()
    await msg.nak(delay=min(max(left, 0.05), p.hold_recheck_s))


async def _after_doubt(p: Pipeline, lane: Lane, msg: Msg, env: Envelope) -> Envelope | None:
    """Ask the network about a message it may hold: apply what it knows, resend (flagged) if it knows nothing."""
    mid = str(env.id)
    if lane.breaker.allows() == 0 or not isinstance(lane.adapter, PaymentChannel):
        await msg.nak(delay=max(1.0, lane.breaker.wait_s()))
        return None
    channel: PaymentChannel = lane.adapter
    try:
        status = await channel.enquire(env)
    except AdapterError as exc:
        if isinstance(exc, TransientError):
            lane.breaker.failure()
        await audit_enquiry(p.store, mid, lane.name, exc, why="in doubt")
        view = await p.store.message(mid)
        await msg.nak(delay=backoff_delay(lane.config.retry, view.round_attempts if view else 1))
        return None
    await audit_enquiry(p.store, mid, lane.name, status, why="in doubt")
    if not status.known:
        return env.model_copy(update={"headers": {**env.headers, POSSIBLE_DUPLICATE: "true"}})
    await apply_partner_status(p.store, mid, lane.name, status, via="status enquiry")
    await msg.ack()
    return None


def _backup(p: Pipeline, msg: Msg, lane: Lane) -> Lane | None:
    """The backup lane of the route that sent this message here, when it has one."""
    name = (msg.headers or {}).get(bus.ROUTE_HEADER)
    route = next((r for r in p.routing.routes if r.name == name and r.adapter == lane.name), None)
    if route is None or route.backup is None:
        return None
    versions = [r.stable_version for r in p.routing.routes if r.adapter == route.backup]
    adapter = p.routing.adapters.get(route.backup)
    if adapter is None:
        return None
    version = versions[0] if versions else next(iter(adapter.versions))
    return p.lanes.get((route.backup, version))


def has_backup(p: Pipeline, lane: Lane) -> bool:
    return any(r.adapter == lane.name and r.backup for r in p.routing.routes)


def _can_take(p: Pipeline, backup: Lane, env: Envelope) -> bool:
    if backup.paused.is_set() or backup.breaker.allows() == 0:
        return False
    return _verdict(p, backup, env).action in ("send", "hold")  # a hold there: it waits on the backup


async def _try_fail_over(p: Pipeline, msg: Msg, lane: Lane, env: Envelope, history: CallHistory, why: str) -> bool:
    """Move a payment never sent anywhere to its route's backup channel, if that one can take it now."""
    backup = _backup(p, msg, lane)
    if backup is None or history.sent or not _can_take(p, backup, env):
        return False
    # Journalled with its channel before it is published: the backup's worker sends it.
    detail = {"failover": f"{lane.name} -> {backup.name}", "reason": why, "route": "backup"}
    await p.store.record(str(env.id), "routed", detail=detail, adapter=backup.name, version=backup.version)
    headers = {"Nats-Msg-Id": f"{env.id}:failover:{backup.name}", bus.CORRELATION_HEADER: env.correlation_id}
    await p.js.publish(bus.out_subject(backup.name, backup.version), env.to_bytes(), headers=headers)
    return True
