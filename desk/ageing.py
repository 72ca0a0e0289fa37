"""Ageing payments: a payment the network took (status `delivered`) with no final status after its
channel's `status_timeout_s` raises a warning alert and is enquired about (pacs.028 / tracker);
what the network says is applied. Run by one hub instance at a time (the leader lease)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime

from nats.js import JetStreamContext

from adapters.base import AdapterError, PaymentChannel
from canonical.envelope import Envelope
from desk import PAYMENT_TYPES
from desk.answers import apply_partner_status, audit_enquiry
from desk.calendar import ChannelPolicy
from routes.bus import publish_alert
from routes.lease import LeaderLease, cancel, every
from store import Store

SCAN_LIMIT = 500


class PaymentAgeing:
    def __init__(
        self,
        js: JetStreamContext,
        store: Store,
        channels: Callable[[], Mapping[tuple[str, str], tuple[PaymentChannel, ChannelPolicy]]],
        lease: LeaderLease,
        interval_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        """`channels()` gives the running payment channels by (adapter, version) with their policy."""
        self.js, self.store, self.channels, self.lease = js, store, channels, lease
        self.interval_s, self.clock = interval_s, clock
        self._alerted: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = every("payment-ageing", self.interval_s, self.lease.held, self.run_once)

    async def run_once(self) -> list[str]:
        """One round: the ids of the ageing payments found (each alerted once, enquired every round)."""
        now, channels, aged = self.clock(), self.channels(), []
        for view in await self.store.by_status("delivered", SCAN_LIMIT):
            entry = channels.get((view.adapter or "", view.version or ""))
            if view.type not in PAYMENT_TYPES or entry is None:
                continue
            channel, policy = entry
            waited = (now - view.updated_at).total_seconds()
            if waited < policy.status_timeout_s:
                continue
            aged.append(view.id)
            if view.id not in self._alerted:
                self._alerted.add(view.id)
                fields = {"message_id": view.id, "uetr": view.correlation_id, "channel": view.adapter}
                await publish_alert(self.js, "warning", "payment_ageing", waited_s=round(waited), **fields)
            await self._enquire(view.id, view.adapter or "", channel, Envelope.from_bytes(view.envelope))
        return aged

    async def _enquire(self, message_id: str, name: str, channel: PaymentChannel, env: Envelope) -> None:
        try:
            status = await channel.enquire(env)
        except AdapterError as exc:
            await audit_enquiry(self.store, message_id, name, exc, why="ageing")
            return
        await audit_enquiry(self.store, message_id, name, status, why="ageing")
        if status.known and status.status != "delivered":
            await apply_partner_status(self.store, message_id, name, status, via="status enquiry (ageing)")
            self._alerted.discard(message_id)

    async def stop(self) -> None:
        await cancel(self._task)
        await self.lease.release()
