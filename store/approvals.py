"""Four eyes: an action one operator proposes runs only after another operator approved it.

What a caller may rely on:
- `propose(action, params, by)` stores a proposal that expires after `ttl` (24 h by default);
  `action` is a `security.rbac.Permission` value naming what will run (`keys.rotate`,
  `routes.change`, `dlq.replay` ...), `params` a JSON object the caller needs to run it.
- `decide(id, by, approve, reason)` records the decision and returns the decided Approval; on an
  approval the caller then runs the action with its params. It raises `SameOperator` when `by`
  proposed it, `NotPending` when it was already decided or expired, `ApprovalExpired` when its
  time ran out (it is then marked expired), `UnknownApproval` for an unknown id. Two concurrent
  decisions cannot both succeed.
- Whether `by` may decide (role) is the caller's check (`security.rbac.may_decide`); this
  module enforces only that two different operators are involved.
- Every proposal, decision and expiry writes an audit row (actor = the operator's name, action
  `approval.proposed|approved|refused|expired`, target = the approval id) via `Store.audit`.
- Time comes from the injected clock (aware datetimes), so expiry is testable without sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from uuid6 import uuid7

from security.rbac import Permission
from store.journal import Store
from store.schema import ApprovalRow

Clock = Callable[[], datetime]
DEFAULT_TTL = timedelta(hours=24)
PROPOSED, APPROVED, REFUSED, EXPIRED = "proposed", "approved", "refused", "expired"
MAX_REASON = 2000


class ApprovalError(Exception):
    """Base class of the errors of this module."""


class InvalidProposal(ApprovalError, ValueError):
    """The proposal cannot be stored as given; the message says why."""


class UnknownApproval(ApprovalError, LookupError):
    def __init__(self, approval_id: str) -> None:
        super().__init__(f"no approval {approval_id!r}; list pending ones with GET /admin/approvals")
        self.approval_id = approval_id


class SameOperator(ApprovalError):
    def __init__(self, approval_id: str, name: str) -> None:
        super().__init__(f"{name} proposed {approval_id} and cannot also decide it: another operator must")
        self.approval_id, self.name = approval_id, name


class NotPending(ApprovalError):
    def __init__(self, approval_id: str, status: str) -> None:
        super().__init__(f"approval {approval_id} is {status}, not pending: propose the action again")
        self.approval_id, self.status = approval_id, status


class ApprovalExpired(NotPending):
    def __init__(self, approval_id: str, expires_at: datetime) -> None:
        ApprovalError.__init__(
            self, f"approval {approval_id} expired at {expires_at.isoformat()} undecided: propose the action again"
        )
        self.approval_id, self.status, self.expires_at = approval_id, EXPIRED, expires_at


@dataclass(frozen=True)
class Approval:
    id: str
    action: Permission
    params: dict[str, Any]
    proposed_by: str
    proposed_at: datetime
    status: str  # proposed | approved | refused | expired
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    expires_at: datetime

    @property
    def approved(self) -> bool:
        return self.status == APPROVED

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action.value,
            "params": self.params,
            "proposed_by": self.proposed_by,
            "proposed_at": self.proposed_at.isoformat(),
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "expires_at": self.expires_at.isoformat(),
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class Approvals:
    """Proposals and decisions in the Store's database."""

    def __init__(self, store: Store, clock: Clock = _now, ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"approval ttl must be positive, got {ttl}")
        self._store, self._clock, self._ttl = store, clock, ttl
        self._session = async_sessionmaker(store.engine, expire_on_commit=False)

    async def propose(self, action: Permission | str, params: Mapping[str, Any], by: str) -> Approval:
        """Store a pending proposal of `action` by operator `by`; InvalidProposal if malformed."""
        try:
            action_ = Permission(action)
        except ValueError:
            raise InvalidProposal(
                f"unknown action {action!r}; use a permission name such as keys.rotate or routes.change"
            ) from None
        try:
            params_json = json.dumps(dict(params), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidProposal(f"params of {action_.value} must be a JSON object: {exc}") from None
        if not by:
            raise InvalidProposal("a proposal needs the proposing operator's name")
        now = self._clock()
        row = ApprovalRow(
            id=str(uuid7()),
            action=action_.value,
            params=params_json,
            proposed_by=by,
            proposed_at=now,
            status=PROPOSED,
            expires_at=now + self._ttl,
        )
        async with self._session() as s, s.begin():
            s.add(row)
        await self._store.audit(by, "approval.proposed", row.id, {"action": action_.value, "params": dict(params)})
        return self._approval(row)

    async def decide(self, approval_id: str, by: str, approve: bool, reason: str | None = None) -> Approval:
        """Approve or refuse a pending proposal as operator `by`; see the module docstring."""
        found = await self._row(approval_id)
        if found.status != PROPOSED:
            raise NotPending(approval_id, found.status)
        if by == found.proposed_by:
            raise SameOperator(approval_id, by)
        now = self._clock()
        if now >= _aware(found.expires_at):
            await self._expire(found)
            raise ApprovalExpired(approval_id, _aware(found.expires_at))
        status = APPROVED if approve else REFUSED
        reason = reason[:MAX_REASON] if reason else None
        async with self._session() as s, s.begin():
            # Conditional on still being pending: of two concurrent decisions only one matches.
            result = await s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == approval_id, ApprovalRow.status == PROPOSED)
                .values(status=status, decided_by=by, decided_at=now, reason=reason)
            )
            if not getattr(result, "rowcount", 0):
                current = await s.get(ApprovalRow, approval_id, populate_existing=True)
                raise NotPending(approval_id, current.status if current else "gone")
        detail = {"action": found.action, "proposed_by": found.proposed_by, "reason": reason}
        await self._store.audit(by, f"approval.{status}", approval_id, detail)
        return replace(self._approval(found), status=status, decided_by=by, decided_at=now, reason=reason)

    async def get(self, approval_id: str) -> Approval | None:
        """The approval with its status as of now (an undecided one past its time reads expired)."""
        async with self._session() as s:
            row = await s.get(ApprovalRow, approval_id)
            return self._approval(row) if row else None

    async def pending(self) -> list[Approval]:
        """Undecided, unexpired proposals, oldest first."""
        now = self._clock()
        async with self._session() as s:
            rows = (
                await s.execute(
                    select(ApprovalRow)
                    .where(ApprovalRow.status == PROPOSED, ApprovalRow.expires_at > now)
                    .order_by(ApprovalRow.proposed_at)
                )
            ).scalars()
            return [self._approval(r) for r in rows]

    async def expire_overdue(self) -> int:
        """Mark every undecided proposal past its time expired (audited); returns how many."""
        now = self._clock()
        async with self._session() as s:
            rows = list(
                (
                    await s.execute(
                        select(ApprovalRow).where(ApprovalRow.status == PROPOSED, ApprovalRow.expires_at <= now)
                    )
                ).scalars()
            )
        expired = 0
        for row in rows:
            expired += await self._expire(row)
        return expired

    async def _row(self, approval_id: str) -> ApprovalRow:
        async with self._session() as s:
            row = await s.get(ApprovalRow, approval_id)
        if row is None:
            raise UnknownApproval(approval_id)
        return row

    async def _expire(self, row: ApprovalRow) -> int:
        async with self._session() as s, s.begin():
            result = await s.execute(
                update(ApprovalRow)
                .where(ApprovalRow.id == row.id, ApprovalRow.status == PROPOSED)
                .values(status=EXPIRED)
            )
            changed = int(getattr(result, "rowcount", 0) or 0)
        if changed:
            await self._store.audit(
                "hub", "approval.expired", row.id, {"action": row.action, "proposed_by": row.proposed_by}
            )
        return changed

    def _approval(self, row: ApprovalRow) -> Approval:
        expires_at = _aware(row.expires_at)
        status = EXPIRED if row.status == PROPOSED and self._clock() >= expires_at else row.status
        return Approval(
            row.id,
            Permission(row.action),
            json.loads(row.params),
            row.proposed_by,
            _aware(row.proposed_at),
            status,
            row.decided_by,
            _aware(row.decided_at) if row.decided_at else None,
            row.reason,
            expires_at,
        )
