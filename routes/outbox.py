"""Outbox relay: publishes journalled status changes to HUB_EVT, and notifies institutions.

Events leave from the journal (never ahead of it), at least once, with deterministic msg-ids so
JetStream drops the duplicates a crash or a second hub instance would cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from nats.js import JetStreamContext

from canonical.envelope import Envelope
from canonical.notifications import StatusNotification
from routes.pipeline import scope_of
from security.origin import SEAL_HEADER, IngressSeal
from store import Store

log = logging.getLogger("hub.outbox")
NOTIFICATION = "hub.status_notification"
HOUSEKEEPING_S = 60.0
PUBLISHED_KEPT = timedelta(hours=1)  # long enough to look into a relay problem


class OutboxRelay:
    def __init__(
        self,
        js: JetStreamContext,
        store: Store,
        webhook_statuses: Callable[[str], list[str]],
        seal: IngressSeal | None = None,
    ) -> None:
        """`webhook_statuses(institution)` lists the statuses that institution wants notified; `seal`
        marks the notifications as the hub's own, as the router requires of anything on hub.in."""
        self.js, self.store, self.seal = js, store, seal
        self._statuses = webhook_statuses
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        next_housekeeping = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + HOUSEKEEPING_S
                await self._housekeeping()
            try:
                published = await self.flush()
            except Exception as exc:
                log.warning("outbox relay: %s; retrying", exc)
                published = 0
                await asyncio.sleep(1.0)
            if published == 0:  # nothing pending: look again shortly, or leave at once on stop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=0.2)

    async def _housekeeping(self) -> None:
        # Idempotent deletes, so every hub instance may run them.
        try:
            pruned = await self.store.prune_published_events(PUBLISHED_KEPT)
            purged = await self.store.purge_expired_keys()
        except Exception as exc:
            log.warning("journal housekeeping: %s", exc)
            return
        if pruned or purged:
            log.info("journal housekeeping: %d published events pruned, %d expired keys purged", pruned, purged)

    async def flush(self) -> int:
        rows = await self.store.pending_events(limit=1024)
        if not rows:
            return 0
        acks = []
        for _seq, subject, msg_id, data in rows:
            acks.append(await self.js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id}))
            notice = self._notification(json.loads(data))
            if notice is not None:
                body, scope = notice.to_bytes(), scope_of(notice)
                headers = {"Nats-Msg-Id": scope, **({SEAL_HEADER: self.seal.seal(scope, body)} if self.seal else {})}
                acks.append(await self.js.publish_async(notice.subject, body, headers=headers))
        await asyncio.gather(*acks)
        await self.store.mark_published([seq for seq, *_ in rows])
        return len(rows)

    def _notification(self, event: dict[str, object]) -> Envelope | None:
        if "type" not in event or event["type"] == NOTIFICATION:
            return None  # not about a message (a customs set), or about a notification: those would never end
        source, status = str(event["source"]), str(event["status"])
        if status not in self._statuses(source):
            return None
        detail = event.get("detail")
        payload = StatusNotification(
            message_id=str(event["id"]),
            message_type=str(event["type"]),
            status=status,
            at=datetime.fromisoformat(str(event["at"])),
            correlation_id=str(event.get("correlation_id", "")),
            detail=detail if isinstance(detail, dict) else {},
        )
        return Envelope(
            type=NOTIFICATION,
            source="hub",
            destination=source,
            payload=payload,
            correlation_id=str(event.get("correlation_id", "")),
            causation_id=str(event["id"]),
            idempotency_key=f"notify:{event['id']}:{status}",
        )
