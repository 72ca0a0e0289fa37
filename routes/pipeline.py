"""The pipeline: consume -> route -> deliver -> journal -> events, as asyncio tasks of one process.

Every loop is a durable JetStream pull consumer with explicit ack. Business decisions are in
`routes.rules` and the adapters; this module only moves messages and records what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from adapters.base import Adapter, AdapterError, InDoubtError, PermanentError, RejectedByPartner, TransientError
from canonical.envelope import Envelope, idempotency_scope
from desk.calendar import utc_now
from routes import bus, channels
from routes.config import AdapterConfig, RoutingConfig
from routes.export_guard import export_refusal
from routes.retry import CircuitBreaker, backoff_delay
from routes.rules import Decision, decide
from routes.shadow import SHADOW_HEADER, compare
from security.masking import mask_text
from security.origin import SEAL_HEADER, IngressSeal
from store import Store

log = logging.getLogger("hub.pipeline")
REPLAY_HEADER = "Hub-Replay"
CORRELATION_HEADER = bus.CORRELATION_HEADER
ROUTER_IN_FLIGHT = 256


def scope_of(env: Envelope) -> str:
    return idempotency_scope(env.source, env.idempotency_key or str(env.id))


@dataclass
class Lane:
    """One adapter version's delivery lane: its adapter, policy, breaker and pause switch."""

    name: str
    version: str
    adapter: Adapter
    config: AdapterConfig
    breaker: CircuitBreaker
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0

    @property
    def ack_wait_s(self) -> float:
        # Longer than the partner timeout, so no other worker gets the message while we call.
        return float(self.config.versions[self.version].timeout_s) * 2 + 5


class Pipeline:
    def __init__(
        self,
        js: JetStreamContext,
        store: Store,
        routing: RoutingConfig,
        lanes: dict[tuple[str, str], Lane],
        seal: IngressSeal | None = None,
        may_publish: Callable[[str, str], bool] = lambda service, message_type: False,
        clock: Callable[[], datetime] = utc_now,
        hold_recheck_s: float = 60.0,
    ) -> None:
        """`seal` checks what the gateway published; `may_publish(source, type)` says whether an
        internal service may send a type (without a seal, the router believes nothing else).
        `clock` is the business clock of channel hours and cut-offs; a held payment is looked at
        again at least every `hold_recheck_s` (so a moved clock or changed calendar takes effect)."""
        self.js, self.store, self.routing, self.lanes = js, store, routing, lanes
        self.seal, self.may_publish = seal, may_publish
        self.clock, self.hold_recheck_s = clock, hold_recheck_s
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await bus.ensure_consumer(self.js, "HUB_IN", bus.ROUTER, "hub.in.>", ack_wait_s=30)
        for (name, version), lane in self.lanes.items():
            await bus.ensure_consumer(
                self.js,
                "HUB_OUT",
                bus.delivery_consumer(name, version),
                bus.out_subject(name, version),
                ack_wait_s=lane.ack_wait_s,
            )
            await lane.adapter.start()
        self._tasks.append(asyncio.create_task(self._route_loop(), name="router"))
        for lane in self.lanes.values():
            self._tasks.append(
                asyncio.create_task(self._deliver_loop(lane), name=f"deliver-{lane.name}-{lane.version}")
            )

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop pulling; let in-flight messages finish (unfinished ones stay unacked for redelivery)."""
        self.stop_event.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for lane in self.lanes.values():
            await lane.adapter.stop()

    # -- routing ------------------------------------------------------------------------------

    async def _route_loop(self) -> None:
        async def capacity(in_flight: int) -> int:
            return ROUTER_IN_FLIGHT - in_flight

        await bus.pull_loop(self.js, "HUB_IN", bus.ROUTER, "hub.in.>", self.route, self.stop_event, capacity)

    async def _readable(self, msg: Msg, stage: str) -> Envelope | None:
        """The message's Envelope; an unreadable one (only an internal publisher can send that: the
        gateway validates) is audited with the evidence and termed, since no retry can read it."""
        try:
            return Envelope.from_bytes(msg.data)
        except ValidationError as exc:
            await self.store.audit("hub", f"{stage}.unreadable", msg.subject, {"error": str(exc)[:2000]})
            await msg.term()
            return None

    async def route(self, msg: Msg) -> None:
        env = await self._readable(msg, "router")
        if env is None:
            return
        forged = self._forged(msg, env)
        if forged is not None:
            # Not accepted by the hub, so not journalled: audited with the evidence and termed.
            detail = {"source": env.source, "type": env.type, "rule": forged}
            await self.store.audit("hub", "router.refused_origin", str(env.id), detail)
            await msg.term()
            return
        view, owner = await self.store.ensure(env, scope_of(env))
        if not owner:
            await self.store.audit("hub", "router.duplicate", str(env.id), {"original": view.id})
            await msg.ack()
            return
        if view.status not in ("received", "accepted"):
            if view.status == "routed" and view.adapter and view.version:
                await self._publish_out(env, view.adapter, view.version)  # crashed after routing: dedup makes it safe
            await msg.ack()
            return
        decision = decide(self.routing, env)
        if decision is not None and env.type in channels.FOLLOWS_PAYMENT:
            decision = await channels.follow_payment(self, env, decision)
            if decision is None:  # answered here: the payment was never sent
                await msg.ack()
                return
        refusal = await self._refusal(env, decision)
        if refusal is not None:
            reason, error = refusal
            await self.store.record(str(env.id), "rejected", detail={"reason": reason, "error": error, "by": "hub"})
            await msg.ack()
            return
        assert decision is not None  # _refusal refuses a message no rule matches
        await self._publish_out(env, decision.adapter, decision.version, route=decision.route)
        await self.store.record(
            str(env.id), "routed", detail=decision.as_json(), adapter=decision.adapter, version=decision.version
        )
        if decision.shadow and (decision.adapter, decision.shadow) in self.lanes:
            headers = {"Nats-Msg-Id": f"{env.id}:shadow:{decision.shadow}", SHADOW_HEADER: decision.version}
            await self.js.publish(bus.out_subject(decision.adapter, decision.shadow), env.to_bytes(), headers=headers)
        await msg.ack()

    def _forged(self, msg: Msg, env: Envelope) -> str | None:
        """Why a message on hub.in is not what it claims (None when it is): the gateway's seal, or an
        internal service sending under its own id a type it may send, with the dedup id it implies."""
        if self.seal is None:
            return None
        scope, headers = scope_of(env), msg.headers or {}
        if headers.get("Nats-Msg-Id") != scope:
            return "msg_id_mismatch"  # a chosen dedup id could suppress another sender's message
        if self.seal.valid(scope, msg.data, headers.get(SEAL_HEADER)):
            return None
        return None if self.may_publish(env.source, env.type) else "source_not_permitted"

    async def _refusal(self, env: Envelope, decision: Decision | None) -> tuple[str, str] | None:
        """(reason, error) if `env` may not go where `decision` sends it; export refusals are audited."""
        if decision is None:
            return "no_route", f"no routing rule matches type {env.type!r} to {env.destination!r}"
        if (decision.adapter, decision.version) not in self.lanes:
            return "adapter_unavailable", f"{decision.adapter}@{decision.version} is not running"
        country = self.routing.adapters[decision.adapter].country
        why = export_refusal(env, country, self.routing.data_export, datetime.now(UTC).date())
        if why is None:
            return None
        detail = {"classification": env.classification.value, "adapter": decision.adapter, "reason": why}
        await self.store.audit("hub", "export_guard.refused", str(env.id), detail)
        return "export_guard", why

    async def _publish_out(
        self, env: Envelope, adapter: str, version: str, replay: int = 0, route: str | None = None
    ) -> None:
        msg_id = f"{env.id}:out" if not replay else f"{env.id}:replay:{replay}"
        headers = {
            "Nats-Msg-Id": msg_id,
            CORRELATION_HEADER: env.correlation_id,
            **({REPLAY_HEADER: str(replay)} if replay else {}),
            **({bus.ROUTE_HEADER: route} if route else {}),
        }
        await self.js.publish(bus.out_subject(adapter, version), env.to_bytes(), headers=headers)

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver_loop(self, lane: Lane) -> None:
        async def capacity(in_flight: int) -> int:
            # A pause or an open breaker stops pulling: waiting messages are not attempts.
            if lane.paused.is_set():
                await asyncio.sleep(0.2)
                return 0
            allowed = lane.breaker.allows()
            if allowed == 0 and channels.is_channel(lane) and channels.has_backup(self, lane):
                allowed = lane.config.concurrency  # keep pulling: payments never sent here fail over
            if allowed == 0:
                await asyncio.sleep(min(0.5, max(0.05, lane.breaker.wait_s())))
                return 0
            return min(lane.config.concurrency - in_flight, allowed - in_flight)

        async def deliver(msg: Msg) -> None:
            await self.deliver(lane, msg)

        # Messages of one correlation keep their order; different correlations go in parallel.
        await bus.pull_loop(
            self.js,
            "HUB_OUT",
            bus.delivery_consumer(lane.name, lane.version),
            bus.out_subject(lane.name, lane.version),
            deliver,
            self.stop_event,
            capacity,
            _correlation,
        )

    async def deliver(self, lane: Lane, msg: Msg) -> None:
        env = await self._readable(msg, "deliver")
        if env is None:
            return
        mid = str(env.id)
        stable = (msg.headers or {}).get(SHADOW_HEADER)
        if stable is not None:
            await self._shadow(lane, env, stable)
            await msg.ack()
            return
        stable = self._withdrawn(lane)
        if stable is not None:
            await self._reroute(env, lane, stable)
            await msg.ack()
            return
        if lane.paused.is_set() or (lane.breaker.allows() == 0 and not channels.is_channel(lane)):
            await msg.nak(delay=max(1.0, lane.breaker.wait_s()))  # not an attempt: the partner was not called
            return
        if channels.is_channel(lane):
            prepared = await channels.prepare(self, lane, msg, env)
            if prepared is None:
                return
            env = prepared
        attempt, view = await self.store.begin_attempt(mid, lane.name, lane.version)
        if view is None:  # published straight to HUB_OUT, unknown to the journal: take it in first
            await self.store.ensure(env, scope_of(env))
            attempt, view = await self.store.begin_attempt(mid, lane.name, lane.version)
        if attempt == 0 and view is not None and view.status == "dead_lettered":
            await self._dead_letter_publish(lane, env, view.round_attempts, view.last_error or "", view.replays)
            await msg.term()
            return
        if attempt == 0:
            await msg.ack()  # already final: a redelivery must not call the partner again
            return
        lane.breaker.started()
        started = datetime.now(UTC)
        await msg.in_progress()
        lane.in_flight += 1
        try:
            outbound = lane.adapter.render(env)
            receipt = await lane.adapter.send(outbound)
        except AdapterError as exc:
            await self._failed(lane, msg, env, attempt, exc, started)
            return
        except Exception as exc:
            # A fault of the adapter itself: retrying would loop forever, so it goes to the DLQ with
            # its reason, and an operator replays it once the adapter is fixed.
            log.exception("%s@%s failed on %s", lane.name, lane.version, mid)
            await self._failed(lane, msg, env, attempt, PermanentError(f"adapter fault: {exc!r}"), started)
            return
        finally:
            lane.in_flight -= 1
        lane.breaker.success()
        then = [("delivered", {"attempt": attempt, "reference": receipt.reference, **receipt.detail})]
        if receipt.final:
            then.append(("completed", {"by": lane.name, "reference": receipt.reference}))
        await self.store.finish_attempt(mid, lane.name, lane.version, started, "ok", then=then)
        await msg.ack()

    async def _shadow(self, lane: Lane, env: Envelope, stable: str) -> None:
        """Compare the candidate's rendering with the stable version's and record it; send nothing."""
        base = self.lanes.get((lane.name, stable))
        if base is None:
            return
        result = compare(base.adapter, lane.adapter, env, stable, lane.version)
        await self.store.audit("hub", "shadow.compared", str(env.id), {"adapter": lane.name, **result.as_json()})

    def _withdrawn(self, lane: Lane) -> str | None:
        """The stable version to send to instead, when a rollback withdrew this lane's version."""
        for route in self.routing.routes:
            if route.adapter == lane.name and lane.version in route.withdrawn:
                return route.stable_version
        return None

    async def _reroute(self, env: Envelope, lane: Lane, stable: str) -> None:
        # A rolled-back version's messages (waiting or retrying) go to the stable version; the
        # message's own idempotency key keeps the partner from applying it twice.
        headers = {"Nats-Msg-Id": f"{env.id}:reroute:{lane.version}:{stable}", CORRELATION_HEADER: env.correlation_id}
        await self.js.publish(bus.out_subject(lane.name, stable), env.to_bytes(), headers=headers)
        detail = {"reroute": f"{lane.name}@{lane.version} -> {lane.name}@{stable}", "reason": "version rolled back"}
        await self.store.record(str(env.id), "routed", detail=detail, adapter=lane.name, version=stable)

    async def _failed(
        self, lane: Lane, msg: Msg, env: Envelope, attempt: int, exc: AdapterError, started: datetime
    ) -> None:
        mid = str(env.id)
        error = mask_text(exc.reason)  # partner error text may echo account numbers or credentials
        if isinstance(exc, TransientError):
            lane.breaker.failure()
        else:
            lane.breaker.success()  # the partner answered: it is up, it just refused this message
        outcome = "in_doubt" if isinstance(exc, InDoubtError) else "transient" if exc.retryable else "permanent"
        if isinstance(exc, RejectedByPartner):  # a business answer, final: nothing to replay
            await self.store.finish_attempt(mid, lane.name, lane.version, started, outcome, error[:2000])
            if not (channels.is_channel(lane) and await channels.fail_over_refused(self, lane, msg, env, exc)):
                detail = {"reason": "partner_rejected", "error": error, "by": lane.name, "attempt": attempt}
                await self.store.record(mid, "rejected", detail=detail)
            await msg.ack()
            return
        if isinstance(exc, TransientError) and attempt < lane.config.retry.max_attempts:
            delay = backoff_delay(lane.config.retry, attempt)
            retry = {"attempt": attempt, "error": error, "next_delay_s": round(delay, 3)}
            then = [("retrying", {**retry, "in_doubt": True} if outcome == "in_doubt" else retry)]
            await self.store.finish_attempt(mid, lane.name, lane.version, started, outcome, error[:2000], then)
            await msg.nak(delay=delay)
            return
        reason = "permanent_error" if isinstance(exc, PermanentError) else "attempts_exhausted"
        then = [
            (
                "dead_lettered",
                {
                    "reason": reason,
                    "attempts": attempt,
                    "error": error,
                    "adapter": lane.name,
                    "version": lane.version,
                },
            )
        ]
        await self.store.finish_attempt(mid, lane.name, lane.version, started, outcome, error[:2000], then)
        view = await self.store.message(mid)
        await self._dead_letter_publish(lane, env, attempt, error, view.replays if view else 0, reason)
        await msg.term()

    async def _dead_letter_publish(
        self, lane: Lane, env: Envelope, attempts: int, error: str, replays: int, reason: str = "dead_lettered"
    ) -> None:
        headers = {
            "Nats-Msg-Id": f"{env.id}:dlq:{replays}",
            "Hub-Reason": reason,
            "Hub-Attempts": str(attempts),
            "Hub-Error": error[:1000].replace("\n", " "),
            "Hub-Adapter": lane.name,
            "Hub-Version": lane.version,
        }
        await self.js.publish(f"hub.dlq.{lane.name}", env.to_bytes(), headers=headers)

    async def replay(self, message_id: str, actor: str) -> None:
        """Send a dead letter back to its adapter version with a fresh attempt budget."""
        view = await self.store.mark_replayed(message_id, actor)
        env = Envelope.from_bytes(view.envelope)
        if not view.adapter or not view.version:
            raise LookupError(f"message {message_id} was never routed")
        await self._publish_out(env, view.adapter, view.version, replay=view.replays)


def _correlation(msg: Msg) -> str:
    return (msg.headers or {}).get(CORRELATION_HEADER, "")
