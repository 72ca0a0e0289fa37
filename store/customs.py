"""The customs desk's records: three-document sets by order number, and every declared entity with its receipts.

What a caller may rely on:
- `take` records one declared entity (an Order, a Payment, a waybill, an inventory ...) once per entity
  guid: a repeat changes nothing. An order's order, payment or waybill opens its set (or adds to it);
  a newer document of a kind replaces the earlier one while the set is still open (collecting or held)
  and bumps the set's revision, so an evaluation of an older revision can no longer settle it.
- Every change runs in the journal's write stream under a row lock (PostgreSQL) with its event
  `hub.evt.customs.set.<status>` in the same commit, so several hub instances can share the sets.
- Sets hold no personal data: the documents are the journal's messages, sealed there; a set keeps
  their ids and what customs answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from store.journal import Batch, Store
from store.schema import CustomsDocumentRow, CustomsSetRow

SET_KINDS = ("order", "payment", "waybill")
OPEN = frozenset({"collecting", "held"})  # still waiting for (corrected) documents
SET_STATUSES = ("collecting", "held", "matched", "declared", "accepted", "released", "rejected", "timed_out")
_RANK = {"submitted": 0, "declared": 1, "accepted": 2, "released": 3}  # a document never moves back


@dataclass(frozen=True)
class Document:
    guid: str
    kind: str
    order_no: str
    message_id: str
    source: str
    key: str
    status: str
    receipts: list[dict[str, str]]
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "guid": self.guid,
            "kind": self.kind,
            "message_id": self.message_id,
            "source": self.source,
            "key": self.key,
            "status": self.status,
            "receipts": self.receipts,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class CustomsSet:
    order_no: str
    status: str
    revision: int
    mismatches: list[dict[str, Any]]
    reason: str | None
    inventory_id: str | None
    deadline: datetime
    created_at: datetime
    updated_at: datetime
    documents: list[Document] = field(default_factory=list)

    def current(self, kind: str) -> Document | None:
        """The document of `kind` the set is judged on: the newest one not replaced."""
        found = [d for d in self.documents if d.kind == kind and d.status != "superseded"]
        return max(found, key=lambda d: d.created_at, default=None)

    @property
    def missing(self) -> list[str]:
        return [k for k in SET_KINDS if self.current(k) is None]

    @property
    def senders(self) -> list[str]:
        return sorted({d.source for d in self.documents if d.kind in SET_KINDS and d.status != "superseded"})

    def as_json(self) -> dict[str, Any]:
        return {
            "order_no": self.order_no,
            "status": self.status,
            "revision": self.revision,
            "missing": self.missing,
            "mismatches": self.mismatches,
            "reason": self.reason,
            "inventory_id": self.inventory_id,
            "deadline": self.deadline.isoformat(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "documents": [d.as_json() for d in sorted(self.documents, key=lambda d: d.created_at)],
        }


@dataclass(frozen=True)
class Entity:
    """One declared entity as the desk reads it from a message."""

    guid: str
    kind: str
    order_no: str
    key: str


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _document(r: CustomsDocumentRow) -> Document:
    return Document(
        r.guid,
        r.kind,
        r.order_no,
        r.message_id,
        r.source,
        r.key,
        r.status,
        json.loads(r.receipts),
        _aware(r.created_at),
        _aware(r.updated_at),
    )


def _set(r: CustomsSetRow, docs: list[CustomsDocumentRow]) -> CustomsSet:
    return CustomsSet(
        r.order_no,
        r.status,
        r.revision,
        json.loads(r.mismatches),
        r.reason,
        r.inventory_id,
        _aware(r.deadline),
        _aware(r.created_at),
        _aware(r.updated_at),
        [_document(d) for d in docs],
    )


class CustomsSets:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._session = async_sessionmaker(store.engine, expire_on_commit=False)

    # -- reads --------------------------------------------------------------------------------

    async def get(self, order_no: str) -> CustomsSet | None:
        async with self._session() as s:
            row = await s.get(CustomsSetRow, order_no)
            if row is None:
                return None
            return _set(row, await _documents(s, order_no))

    async def documents_of(self, message_id: str) -> list[Document]:
        async with self._session() as s:
            query = select(CustomsDocumentRow).where(CustomsDocumentRow.message_id == message_id)
            return [_document(r) for r in (await s.execute(query)).scalars()]

    async def order_nos(self, message_id: str) -> list[str]:
        return sorted({d.order_no for d in await self.documents_of(message_id)})

    async def due(self, now: datetime, limit: int = 200) -> list[CustomsSet]:
        """Open sets past their deadline."""
        query = (
            select(CustomsSetRow)
            .where(CustomsSetRow.status.in_(OPEN), CustomsSetRow.deadline < now)
            .order_by(CustomsSetRow.deadline)
            .limit(limit)
        )
        return await self._sets(query)

    async def stalled(self, older_than: datetime, limit: int = 200) -> list[CustomsSet]:
        """Sets matched before `older_than` with no receipt for their inventory yet: perhaps never filed."""
        query = (
            select(CustomsSetRow)
            .where(CustomsSetRow.updated_at < older_than, CustomsSetRow.status == "matched")
            .order_by(CustomsSetRow.updated_at)
            .limit(limit)
        )
        return await self._sets(query)

    async def _sets(self, query: Any) -> list[CustomsSet]:
        async with self._session() as s:
            rows = list((await s.execute(query)).scalars())
            return [_set(r, await _documents(s, r.order_no)) for r in rows]

    # -- changes ------------------------------------------------------------------------------

    async def take(
        self, entity: Entity, message_id: str, source: str, deadline: datetime
    ) -> tuple[CustomsSet | None, bool]:
        """Record one declared entity; (its order's set if it belongs to one, whether it was new)."""

        async def op(t: Batch) -> tuple[CustomsSet | None, bool]:
            now = _now()
            known = await t.s.get(CustomsDocumentRow, entity.guid)
            in_set = entity.kind in SET_KINDS
            row = await _locked(t, entity.order_no) if in_set else None
            if known is not None:
                return (_set(row, await _documents(t.s, entity.order_no)) if row else None), False
            if in_set and row is None:
                row = CustomsSetRow(
                    order_no=entity.order_no,
                    status="collecting",
                    revision=0,
                    mismatches="[]",
                    deadline=deadline,
                    created_at=now,
                    updated_at=now,
                )
                t.s.add(row)
            doc = CustomsDocumentRow(
                guid=entity.guid,
                order_no=entity.order_no,
                kind=entity.kind,
                message_id=message_id,
                source=source,
                key=entity.key,
                status="submitted",
                receipts="[]",
                created_at=now,
                updated_at=now,
            )
            t.s.add(doc)
            if row is None:
                return None, True
            if row.status in OPEN:  # a newer document of a kind replaces the earlier one
                for other in await _documents(t.s, entity.order_no):
                    if other.kind == entity.kind and other.guid != entity.guid and other.status != "superseded":
                        other.status, other.updated_at = "superseded", now
                row.revision += 1
                row.updated_at = now
                if row.status == "held":  # judged again on the new revision
                    row.status = "collecting"
            await t.s.flush()
            return _set(row, await _documents(t.s, entity.order_no)), True

        return await self.store.transaction(op)

    async def settle(
        self,
        order_no: str,
        revision: int,
        status: str,
        *,
        mismatches: list[dict[str, Any]] | None = None,
        reason: str | None = None,
        inventory_id: str | None = None,
    ) -> CustomsSet | None:
        """Judge an open set on `revision`: held (with its mismatches) or matched (with the inventory to
        file). None when the set changed since (a newer revision, or another instance judged it)."""

        def allowed(row: CustomsSetRow) -> bool:
            return row.status in OPEN and row.revision == revision

        return await self._move(
            order_no, status, allowed, mismatches=mismatches, reason=reason, inventory_id=inventory_id
        )

    async def advance(
        self, order_no: str, status: str, *, reason: str | None = None, only_from: frozenset[str]
    ) -> CustomsSet | None:
        """Move a set from one of `only_from` to `status` (inventory receipts, time-outs); None if it was elsewhere."""
        return await self._move(order_no, status, lambda row: row.status in only_from, reason=reason)

    async def _move(
        self,
        order_no: str,
        status: str,
        allowed: Any,
        *,
        mismatches: list[dict[str, Any]] | None = None,
        reason: str | None = None,
        inventory_id: str | None = None,
    ) -> CustomsSet | None:
        if status not in SET_STATUSES:
            raise ValueError(f"unknown set status {status!r}")

        async def op(t: Batch) -> CustomsSet | None:
            row = await _locked(t, order_no)
            if row is None or not allowed(row):
                return None
            row.status, row.updated_at = status, _now()
            if mismatches is not None:
                row.mismatches = json.dumps(mismatches, default=str)
            if reason is not None:
                row.reason = reason
            if inventory_id is not None:
                row.inventory_id = inventory_id
            result = _set(row, await _documents(t.s, order_no))
            event = {"order_no": order_no, "status": status, "revision": row.revision, "senders": result.senders}
            if reason:
                event["reason"] = reason
            if mismatches:
                event["mismatches"] = [m.get("rule") for m in mismatches]
            t.event(f"hub.evt.customs.set.{status}", f"customs-set:{order_no}:{status}:{row.revision}", event)
            return result

        return await self.store.transaction(op)

    async def receipt(
        self, entity_guid: str, kind: str, key: str, entry: dict[str, str], status: str
    ) -> Document | None:
        """Add one receipt (`entry`: status, time, info) to the document it answers (by entity guid, else
        the newest of that kind and key) and move the document to `status`; a repeat changes nothing."""

        async def op(t: Batch) -> Document | None:
            row = await t.s.get(CustomsDocumentRow, entity_guid, with_for_update=True)
            if row is None and key:
                query = (
                    select(CustomsDocumentRow)
                    .where(CustomsDocumentRow.kind == kind, CustomsDocumentRow.key == key)
                    .order_by(CustomsDocumentRow.created_at.desc())
                    .limit(1)
                    .with_for_update()
                )
                row = (await t.s.execute(query)).scalars().first()
            if row is None:
                return None
            receipts = json.loads(row.receipts)
            if entry in receipts:
                return _document(row)
            receipts.append(entry)
            row.receipts, row.updated_at = json.dumps(receipts, ensure_ascii=False), _now()
            if row.status not in ("rejected", "superseded") and (
                status == "rejected" or _RANK[status] > _RANK[row.status]
            ):
                row.status = status
            return _document(row)

        return await self.store.transaction(op)


async def _locked(t: Batch, order_no: str) -> CustomsSetRow | None:
    query = select(CustomsSetRow).where(CustomsSetRow.order_no == order_no).with_for_update()
    return (await t.s.execute(query)).scalars().first()


async def _documents(s: Any, order_no: str) -> list[CustomsDocumentRow]:
    query = select(CustomsDocumentRow).where(CustomsDocumentRow.order_no == order_no)
    return list((await s.execute(query.order_by(CustomsDocumentRow.created_at))).scalars())
