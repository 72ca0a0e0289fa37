"""Credit queries: consent, quota and cost per tenant, a report cache, and the bureau's breaker.

What a caller may rely on (`CreditDesk.report`):
- A query about a person needs a recorded consent of that person (`record_consent`) for the querying
  tenant, not expired nor revoked: otherwise `CreditRefused` (rule `consent_required`, `consent_unknown`,
  `consent_expired`, `consent_revoked`, `consent_mismatch`) and no bureau is asked. A consent id given
  with an enterprise query is checked too.
- A report still within its kind's TTL (`[credit] cache_ttl_s`) is served from the cache: no bureau call,
  no cost. Cached reports are stored as envelopes sealed by the hub's field sealer (the subject's
  identity encrypted at rest); the cache key and the consent's subject are keyed digests, never clear.
- A query the cache cannot answer costs `[credit] costs.<bureau>.<kind>` units, reserved atomically
  against the tenant's monthly quota before the bureau is called (`quota_exceeded` when it would pass
  it) and given back when the bureau did not answer.
- The bureau's lane breaker is honoured (`bureau_unavailable` while open); only failures before the
  request went out are retried, a timeout after it is not (the bureau may have charged).
- Every query is audited (`credit.query`, without personal data) and every report fetched is journalled
  as a `credit.report` message (sealed at rest), which publishes `hub.evt.credit.report.completed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from adapters.base import InDoubtError, PermanentError, RejectedByPartner, TransientError
from adapters.bureaus import BureauAdapter
from canonical.credit import CreditReport, CreditReportRequest, EntityKind
from canonical.envelope import Envelope, idempotency_scope
from canonical.sensitive import EnvelopeSealer, mask, sensitive_paths
from desk.calendar import utc_now
from routes.retry import CircuitBreaker
from routes.settings import CreditTuning
from store import Store
from store.journal import Batch
from store.schema import CreditCacheRow, CreditConsentRow, CreditQuotaRow

Clock = Callable[[], datetime]
Bureaus = Callable[[], Mapping[str, tuple[BureauAdapter, CircuitBreaker]]]
REPORT_PATHS = sensitive_paths(CreditReport)


class CreditRefused(Exception):
    """The query is refused: `rule` names why, `status` is the HTTP status it maps to."""

    def __init__(self, rule: str, detail: str, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.rule, self.detail, self.status, self.retry_after_s = rule, detail, status, retry_after_s


@dataclass(frozen=True)
class Consent:
    id: str
    tenant: str
    purpose: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    evidence: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "consent_id": self.id,
            "tenant": self.tenant,
            "purpose": self.purpose,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class CreditAnswer:
    report: CreditReport
    bureau: str
    cached: bool
    cost: int
    message_id: str | None

    def as_json(self, reveal: bool) -> dict[str, Any]:
        report = self.report.model_dump(mode="json")
        return {
            "bureau": self.bureau,
            "cached": self.cached,
            "cost": self.cost,
            "message_id": self.message_id,
            "masked": not reveal,
            "has_sanction": self.report.has_sanction,
            "report": report if reveal else mask(report, REPORT_PATHS),
        }


@dataclass(frozen=True)
class Usage:
    tenant: str
    period: str
    spent: int
    queries: int
    cached: int
    quota: int

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("tenant", "period", "spent", "queries", "cached", "quota")}


class CreditDesk:
    def __init__(
        self,
        store: Store,
        bureaus: Bureaus,
        tuning: CreditTuning,
        sealer: EnvelopeSealer | None,
        subject_key: bytes,
        clock: Clock = utc_now,
    ) -> None:
        self.store, self.bureaus, self.tuning, self.sealer = store, bureaus, tuning, sealer
        self._key, self.clock = subject_key, clock
        self._lock = store.engine.dialect.name == "postgresql"

    def digest(self, *parts: str) -> str:
        """A keyed digest: a subject's id never stands in clear in the consent or cache tables."""
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    # -- consent ----------------------------------------------------------------------------------

    async def record_consent(
        self, tenant: str, subject_id: str, purpose: str, valid_for: timedelta, evidence: str | None, by: str
    ) -> Consent:
        if not (timedelta(0) < valid_for <= timedelta(days=3 * 366)):
            raise CreditRefused("consent_validity", "a consent is valid for more than 0 s and at most 3 years", 422)
        now = self.clock()
        row = CreditConsentRow(
            id=str(uuid.uuid4()),
            tenant=tenant,
            subject_digest=self.digest("subject", subject_id),
            purpose=purpose,
            granted_at=now,
            expires_at=now + valid_for,
            evidence=evidence,
            recorded_by=by,
        )

        async def op(batch: Batch) -> None:
            batch.s.add(row)

        await self.store.transaction(op)
        await self.store.audit(by, "credit.consent_recorded", row.id, {"tenant": tenant, "purpose": purpose})
        return _consent(row)

    async def revoke_consent(self, consent_id: str, by: str) -> bool:
        now = self.clock()

        async def op(batch: Batch) -> bool:
            result = await batch.s.execute(
                update(CreditConsentRow)
                .where(CreditConsentRow.id == consent_id, CreditConsentRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

        revoked: bool = await self.store.transaction(op)
        if revoked:
            await self.store.audit(by, "credit.consent_revoked", consent_id)
        return revoked

    async def check_consent(self, tenant: str, request: CreditReportRequest) -> None:
        if request.consent_id is None:
            if request.entity_kind is EntityKind.PERSON:
                raise CreditRefused(
                    "consent_required", "a credit query about a person needs the person's consent_id", 403
                )
            return
        async with self.store.engine.connect() as conn:
            found = (
                await conn.execute(select(CreditConsentRow).where(CreditConsentRow.id == request.consent_id))
            ).first()
        if found is None:
            raise CreditRefused("consent_unknown", f"no consent {request.consent_id}: record it first", 403)
        row = found._mapping
        if row["tenant"] != tenant or not hmac.compare_digest(
            row["subject_digest"], self.digest("subject", request.entity_id)
        ):
            raise CreditRefused("consent_mismatch", f"consent {request.consent_id} is not for this subject", 403)
        if row["revoked_at"] is not None:
            raise CreditRefused("consent_revoked", f"consent {request.consent_id} was revoked", 403)
        if _aware(row["expires_at"]) <= self.clock():
            raise CreditRefused("consent_expired", f"consent {request.consent_id} expired", 403)

    # -- quota ------------------------------------------------------------------------------------

    def period(self) -> str:
        return self.clock().strftime("%Y-%m")

    async def _reserve(self, tenant: str, cost: int, cached: bool) -> bool:
        """Add `cost` to the tenant's month if it stays within its quota (atomic); False if it would not."""
        period, quota, now = self.period(), self.tuning.quota(tenant), self.clock()

        async def op(batch: Batch) -> bool:
            s = batch.s
            if await s.get(CreditQuotaRow, (tenant, period)) is None:
                s.add(CreditQuotaRow(tenant=tenant, period=period, spent=0, queries=0, cached=0, updated_at=now))
                await s.flush()
            t = CreditQuotaRow
            result = await s.execute(
                update(t)
                .where(t.tenant == tenant, t.period == period, t.spent + cost <= quota)
                .values(spent=t.spent + cost, queries=t.queries + 1, cached=t.cached + int(cached), updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

        try:
            reserved: bool = await self.store.transaction(op)
        except IntegrityError:  # another instance created the month's row first
            reserved = await self.store.transaction(op)
        return reserved

    async def _give_back(self, tenant: str, cost: int) -> None:
        period = self.period()

        async def op(batch: Batch) -> None:
            t = CreditQuotaRow
            await batch.s.execute(
                update(t)
                .where(t.tenant == tenant, t.period == period)
                .values(spent=t.spent - cost, queries=t.queries - 1, updated_at=self.clock())
            )

        await self.store.transaction(op)

    async def usage(self, tenant: str) -> Usage:
        period = self.period()
        async with self.store.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(CreditQuotaRow).where(CreditQuotaRow.tenant == tenant, CreditQuotaRow.period == period)
                )
            ).first()
        spent, queries, cached = (
            (found._mapping["spent"], found._mapping["queries"], found._mapping["cached"]) if found else (0, 0, 0)
        )
        return Usage(tenant, period, spent, queries, cached, self.tuning.quota(tenant))

    # -- cache ------------------------------------------------------------------------------------

    def _cache_key(self, bureau: str, request: CreditReportRequest) -> str:
        kind = request.entity_kind.value
        return self.digest("cache", bureau, request.report_kind.value, kind, request.country, request.entity_id)

    async def _cached(self, key: str) -> CreditReport | None:
        async with self.store.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(CreditCacheRow.envelope).where(
                        CreditCacheRow.key == key, CreditCacheRow.expires_at > self.clock()
                    )
                )
            ).first()
        if found is None:
            return None
        data = found[0] if self.sealer is None else self.sealer.open_envelope(found[0])
        report = Envelope.from_bytes(data).payload
        return report if isinstance(report, CreditReport) else None

    async def _keep(self, key: str, bureau: str, request: CreditReportRequest, envelope: Envelope) -> None:
        now = self.clock()
        report = envelope.payload
        assert isinstance(report, CreditReport)
        ttl = timedelta(seconds=self.tuning.cache_ttl_s.get(request.report_kind.value, 0))
        expires = min(now + ttl, report.valid_until)
        if expires <= now:
            return
        data = envelope.to_bytes()
        sealed = data if self.sealer is None else self.sealer.seal_envelope(data)

        async def op(batch: Batch) -> None:
            row = await batch.s.get(CreditCacheRow, key, with_for_update=self._lock)
            if row is None:
                batch.s.add(
                    CreditCacheRow(
                        key=key,
                        bureau=bureau,
                        report_kind=request.report_kind.value,
                        envelope=sealed,
                        retrieved_at=now,
                        expires_at=expires,
                    )
                )
            else:
                row.envelope, row.retrieved_at, row.expires_at = sealed, now, expires

        try:
            await self.store.transaction(op)
        except IntegrityError:  # another instance cached it at the same time: theirs is as good
            pass

    # -- the query --------------------------------------------------------------------------------

    async def report(self, tenant: str, bureau: str, request: CreditReportRequest, actor: str) -> CreditAnswer:
        """The bureau's report about the request's subject, from the cache or the bureau (see above)."""
        entry = self.bureaus().get(bureau)
        if entry is None:
            known = ", ".join(sorted(self.bureaus())) or "none"
            raise CreditRefused("unknown_bureau", f"no bureau {bureau!r}; bureaus: {known}", 404)
        adapter, breaker = entry
        await self.check_consent(tenant, request)
        audit: dict[str, Any] = {
            "tenant": tenant,
            "kind": request.report_kind.value,
            "subject_kind": request.entity_kind.value,
            "consent_id": request.consent_id,
        }
        key = self._cache_key(bureau, request)
        cached = await self._cached(key)
        if cached is not None:
            await self._reserve(tenant, 0, cached=True)
            await self.store.audit(actor, "credit.query", bureau, {**audit, "cached": True, "cost": 0})
            return CreditAnswer(cached, bureau, True, 0, None)
        cost = self.tuning.cost(bureau, request.report_kind.value)
        if not await self._reserve(tenant, cost, cached=False):
            usage = await self.usage(tenant)
            detail = f"tenant {tenant} spent {usage.spent} of {usage.quota} this month; this query costs {cost}"
            await self.store.audit(actor, "credit.refused", bureau, {**audit, "rule": "quota_exceeded"})
            raise CreditRefused("quota_exceeded", detail, 429)
        try:
            report, reported_cost = await self._ask(bureau, adapter, breaker, request)
        except BaseException:
            await self._give_back(tenant, cost)
            raise
        envelope = Envelope(
            type="credit.report",
            source=bureau,
            destination=tenant,
            tenant=tenant,
            correlation_id=report.report_id or "",
            idempotency_key=f"credit:{uuid.uuid4()}",
            payload=report,
        )
        view, _owner = await self.store.ensure(envelope, idempotency_scope(bureau, envelope.idempotency_key))
        await self.store.record(view.id, "completed", actor=bureau, detail={"tenant": tenant, "cost": cost})
        await self._keep(key, bureau, request, envelope)
        done = {**audit, "cached": False, "cost": cost, "bureau_cost": reported_cost, "message_id": view.id}
        await self.store.audit(actor, "credit.query", bureau, done)
        return CreditAnswer(report, bureau, False, cost, view.id)

    async def _ask(
        self, bureau: str, adapter: BureauAdapter, breaker: CircuitBreaker, request: CreditReportRequest
    ) -> tuple[CreditReport, int | None]:
        last: TransientError | None = None
        for _attempt in range(self.tuning.attempts):
            if breaker.allows() == 0:
                wait = breaker.wait_s()
                raise CreditRefused(
                    "bureau_unavailable", f"{bureau} is unavailable (circuit open); retry in {wait:.0f} s", 503, wait
                )
            breaker.started()
            try:
                answer = await adapter.query(request)
            except InDoubtError as exc:  # it may have been answered and charged: never asked twice
                breaker.failure()
                raise CreditRefused("bureau_timeout", exc.reason, 504) from None
            except TransientError as exc:
                breaker.failure()
                last = exc
                continue
            except RejectedByPartner as exc:
                breaker.success()
                raise CreditRefused("bureau_refused", exc.reason, 422) from None
            except PermanentError as exc:
                breaker.success()
                raise CreditRefused("bureau_error", exc.reason, 502) from None
            breaker.success()
            return answer
        assert last is not None
        raise CreditRefused("bureau_unavailable", last.reason, 503, breaker.wait_s() or None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite keeps no offset


def _consent(row: CreditConsentRow) -> Consent:
    return Consent(row.id, row.tenant, row.purpose, row.granted_at, row.expires_at, row.revoked_at, row.evidence)


def masked_json(report: CreditReport) -> str:
    """A report as JSON for logs: every field declared sensitive masked."""
    return json.dumps(mask(report.model_dump(mode="json"), REPORT_PATHS))
