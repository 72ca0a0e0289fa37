"""Live switches in the JetStream KV bucket `hub-config`, the same for every hub instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger("hub.live")
PAUSE_PREFIX = "adapters.paused."


class PauseSwitches:
    """Which adapters are paused; every instance applies a change as soon as the KV watch sees it."""

    def __init__(self, kv: KeyValue, apply: Callable[[str, bool], None]) -> None:
        self.kv, self._apply = kv, apply
        self._task: asyncio.Task[None] | None = None

    async def start(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(KeyNotFoundError):
                entry = await self.kv.get(PAUSE_PREFIX + name)
                self._apply(name, entry.value == b"1")
        self._task = asyncio.create_task(self._watch(), name="pause-watch")

    async def _watch(self) -> None:
        watcher = await self.kv.watch(PAUSE_PREFIX + "*", include_history=False, ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None or entry.key is None:
                    continue
                self._apply(entry.key.removeprefix(PAUSE_PREFIX), entry.value == b"1")
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def set(self, name: str, paused: bool) -> None:
        await self.kv.put(PAUSE_PREFIX + name, b"1" if paused else b"0")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
