"""A leader lease in NATS KV, so that N hub instances run a periodic job once.

The lease is a key in the bucket `hub-leases` whose entries expire after `ttl_s`. An instance takes
it with an atomic create and keeps it by updating it with compare-and-set on its revision before it
expires; when the holder dies, the entry expires and another instance's create succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

LEASE_BUCKET = "hub-leases"
log = logging.getLogger("hub.lease")


class LeaderLease:
    """`await lease.held()` says whether this instance leads now (taking or renewing the lease)."""

    def __init__(self, kv: KeyValue, name: str) -> None:
        self.kv, self.name = kv, name
        self.holder = uuid.uuid4().hex
        self._revision: int | None = None

    @classmethod
    async def open(cls, js: JetStreamContext, name: str, ttl_s: float = 30) -> LeaderLease:
        try:
            kv = await js.key_value(LEASE_BUCKET)
        except (NotFoundError, BucketNotFoundError):
            with contextlib.suppress(BadRequestError):  # another instance created it first, differently
                await js.create_key_value(bucket=LEASE_BUCKET, history=1, ttl=ttl_s)
            kv = await js.key_value(LEASE_BUCKET)
        return cls(kv, name)

    async def held(self) -> bool:
        """Renew the lease if this instance holds it, else try to take it; call well within the TTL."""
        try:
            if self._revision is not None:
                self._revision = await self.kv.update(self.name, self.holder.encode(), last=self._revision)
            else:
                self._revision = await self.kv.create(self.name, self.holder.encode())
        except KeyWrongLastSequenceError:
            self._revision = None  # lost it (expired and taken by another), or another holds it
            return False
        return True

    async def release(self) -> None:
        if self._revision is not None:
            with contextlib.suppress(KeyWrongLastSequenceError):  # already lost: nothing to give back
                await self.kv.delete(self.name, last=self._revision)
            self._revision = None


def every(
    name: str, interval_s: float, leads: Callable[[], Awaitable[bool]], work: Callable[[], Awaitable[object]]
) -> asyncio.Task[None]:
    """Run `work` every `interval_s` while `leads()` says this instance holds the job's lease. A failed
    round is logged and must not end the loop: the next round retries."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                if await leads():
                    await work()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", name, interval_s)

    return asyncio.create_task(loop(), name=name)


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Stop a task started by `every` (and wait until it has)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
