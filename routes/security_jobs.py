"""Periodic security work, run by one hub instance at a time (the leader lease): a signed journal
checkpoint, overdue four-eyes proposals expired, and alerts before keys and certificates expire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from routes.bus import publish_alert
from routes.lease import LeaderLease, cancel, every
from security import jose
from security.keystore import HUB, KeyStore, Purpose, Suite
from security.tls import expiring as expiring_certificates
from store import Store
from store.approvals import Approvals
from store.checkpoints import Checkpoint, JournalCheckpoints

log = logging.getLogger("hub.security")


class SecurityJobs:
    def __init__(
        self,
        js: JetStreamContext,
        store: Store,
        keys: KeyStore,
        approvals: Approvals,
        lease: LeaderLease,
        interval_s: float,
        warn_days: int,
        certificates: Callable[[], list[Path]] = list,
    ) -> None:
        self.js, self.store, self.keys, self.approvals, self.lease = js, store, keys, approvals, lease
        self.interval_s, self.warn = interval_s, timedelta(days=warn_days)
        self.certificates = certificates
        self.checkpoints = JournalCheckpoints(store, self._sign)
        self._alerted: dict[str, date] = {}
        self._task: asyncio.Task[None] | None = None

    def _sign(self, body: bytes) -> str:
        # Ask the key store each time, so a rotated checkpoint key signs the next checkpoint.
        return jose.sign_detached_with(body, self.keys.signer(HUB, Purpose.JOURNAL_CHECKPOINTS, Suite.JOSE))

    def start(self) -> None:
        self._task = every("security-jobs", self.interval_s, self.lease.held, self.run_once)

    async def run_once(self) -> Checkpoint:
        """One round: checkpoint, expire proposals, alert on what expires within warn_days."""
        self.keys.reload()
        checkpoint = await self.checkpoints.create()
        await self.approvals.expire_overdue()
        now = datetime.now(UTC)
        for record in self.keys.expiring(self.warn, now):
            await self._alert(
                record.kid, "key_expiring", kid=record.kid, owner=record.owner, not_after=record.not_after
            )
        for cert in expiring_certificates(self.certificates(), self.warn, now):
            await self._alert(str(cert.path), "certificate_expiring", path=str(cert.path), not_after=cert.not_after)
        return checkpoint

    async def _alert(self, item: str, kind: str, **fields: Any) -> None:
        today = datetime.now(UTC).date()
        if self._alerted.get(item) == today:
            return  # once a day per key or certificate
        self._alerted[item] = today
        await publish_alert(self.js, "warning", kind, **fields)
        log.warning("%s: %s", kind, fields)

    async def stop(self) -> None:
        await cancel(self._task)
        await self.lease.release()
