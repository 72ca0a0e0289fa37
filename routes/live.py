"""Live switches in the JetStream KV bucket `hub-config`, the same for every hub instance."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from canonical.errors import RejectedInput
from routes.config import Route
from security import jose
from security.institutions import Institution, Institutions

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


INSTITUTION_PREFIX = "institutions."


class InstitutionDirectory:
    """Institutions in `hub-config`: partners.yaml seeds entries the bucket does not hold yet; after
    that the bucket is the truth, and every instance applies a change as soon as its watch sees it.
    An entry that does not validate is logged and ignored, so the last good version stays in force."""

    def __init__(self, kv: KeyValue, institutions: Institutions) -> None:
        self.kv, self.institutions = kv, institutions
        self._task: asyncio.Task[None] | None = None

    async def start(self, seed: list[Institution]) -> None:
        for inst in seed:
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.kv.create(INSTITUTION_PREFIX + inst.id, _entry(inst))
        watcher = await self.kv.watch(INSTITUTION_PREFIX + "*", include_history=False)
        async for entry in watcher:  # the current values first, then None marks the end of them
            if entry is None:
                break
            self._apply(entry)
        self._task = asyncio.create_task(self._follow(watcher), name="institutions-watch")

    def _apply(self, entry: Any) -> None:
        if entry.key is None:
            return
        iid = entry.key.removeprefix(INSTITUTION_PREFIX)
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            self.institutions.remove(iid)
            log.info("institution %s removed", iid)
            return
        try:
            self.institutions.put(Institution.model_validate_json(entry.value))
        except (ValidationError, jose.JoseError) as exc:
            log.error("institution %s in hub-config is invalid, keeping the last good one: %s", iid, exc)

    async def _follow(self, watcher: Any) -> None:
        try:
            async for entry in watcher:
                if entry is not None:
                    self._apply(entry)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def put(self, inst: Institution) -> int:
        """Write one institution (validated already); returns the bucket revision."""
        return int(await self.kv.put(INSTITUTION_PREFIX + inst.id, _entry(inst)))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _entry(inst: Institution) -> bytes:
    return inst.model_dump_json(exclude_defaults=True).encode()


ROUTES_KEY = "routes"


class RouteConflict(Exception):
    """The routes changed since the revision the writer read: read them again and redo the change."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"the routes are at revision {current}, not {expected}: read them again and redo the change")
        self.expected, self.current = expected, current


class RouteTable:
    """The routes in force, the same on every hub instance: the KV entry `routes` in `hub-config`,
    seeded from routes.yaml when absent. A write is a compare-and-set on the revision, validated
    first; every instance applies a change when its watch sees it (well within a second). A stored
    value that does not validate is not applied: the last good routes stay and `on_invalid` is told."""

    def __init__(
        self,
        kv: KeyValue,
        validate: Callable[[Any], list[Route]],
        apply: Callable[[list[Route]], None],
        on_invalid: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self.kv, self._validate, self._apply, self._on_invalid = kv, validate, apply, on_invalid
        self.routes: list[Route] = []
        self.revision = 0  # of the routes in force
        self.latest = 0  # the newest revision stored, in force or not: what a writer compares with
        self._task: asyncio.Task[None] | None = None

    async def start(self, seed: list[Route]) -> None:
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self.kv.create(ROUTES_KEY, _routes_entry(seed))
        entry = await self.kv.get(ROUTES_KEY)
        await self._take(entry.revision or 0, entry.value or b"")
        if not self.routes:  # the stored routes were bad from the start: run on the file's
            self.routes = seed
            self._apply(seed)
        watcher = await self.kv.watch(ROUTES_KEY, include_history=False)
        self._task = asyncio.create_task(self._follow(watcher), name="routes-watch")

    async def _take(self, revision: int, value: bytes) -> None:
        if revision <= self.revision:
            return
        self.latest = max(self.latest, revision)
        try:
            routes = self._validate(json.loads(value))
        except (ValueError, RejectedInput) as exc:  # JSON or validation: keep the last good routes
            log.error(
                "routes revision %d in hub-config is invalid, keeping revision %d: %s", revision, self.revision, exc
            )
            await self._on_invalid(revision, str(exc))
            return
        self.routes, self.revision = routes, revision
        self._apply(routes)

    async def _follow(self, watcher: Any) -> None:
        try:
            async for entry in watcher:
                if entry is not None and entry.value:
                    await self._take(entry.revision or 0, entry.value)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def set(self, routes: list[Route], expected_revision: int) -> int:
        """Write validated routes if the stored revision is still `expected_revision`; returns the
        new revision (applied here at once, elsewhere by the watch) or raises RouteConflict."""
        try:
            revision = int(await self.kv.update(ROUTES_KEY, _routes_entry(routes), last=expected_revision))
        except KeyWrongLastSequenceError:
            current = (await self.kv.get(ROUTES_KEY)).revision or 0
            raise RouteConflict(expected_revision, current) from None
        await self._take(revision, _routes_entry(routes))
        return revision

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _routes_entry(routes: list[Route]) -> bytes:
    return json.dumps([r.model_dump(mode="json", exclude_defaults=True) for r in routes]).encode()
