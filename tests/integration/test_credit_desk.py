"""The credit desk on a real journal (SQLite and PostgreSQL) against the two bureau sandboxes on
loopback: consent, cache hit / miss / expiry, quota and cost, sealing at rest, the breaker, and the
bureaus' schemas normalized. Time is moved, never slept."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.base import AdapterContext, InDoubtError, RejectedByPartner, TransientError
from adapters.bureaus import BureauAAdapter, BureauAdapter, BureauBAdapter
from canonical.credit import CreditReportRequest, EntityKind, ReportKind, uscc_check_character
from desk.credit import CreditDesk, CreditRefused
from routes.config import BreakerPolicy
from routes.retry import BreakerState, CircuitBreaker
from routes.settings import CreditTuning
from sandbox.bureaus import Bureau, BureauA, BureauB
from sandbox.http import serve
from security.fieldcrypt import FieldSealer
from store import Store
from store.schema import CreditCacheRow, MessageRow


def uscc(seed: int) -> str:
    first = f"91310000{seed:09d}"
    return first + uscc_check_character(first)


class Clock:
    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


class Rig:
    def __init__(self, store: Store, sandboxes: dict[str, tuple[Bureau, str]], **tuning: Any) -> None:
        self.clock = Clock()
        self.sandboxes = sandboxes
        self.adapters: dict[str, BureauAdapter] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        for name, (_sandbox, url) in sandboxes.items():
            cls = BureauAAdapter if name == "bureau-a" else BureauBAdapter
            self.adapters[name] = cls(AdapterContext(name, "v1", {"url": url, "timeout_s": 1}, lambda u: u))
            self.breakers[name] = CircuitBreaker(
                BreakerPolicy(failure_threshold=2, reset_after_s=5), self.clock.monotonic
            )
        self.sealer = FieldSealer.from_kek(os.urandom(32), "k1")
        settings = CreditTuning.model_validate(
            {"costs": {"bureau-a": {"credit_report": 10, "basic_info": 1}, "bureau-b": {"credit_report": 20}}, **tuning}
        )
        self.desk = CreditDesk(
            store,
            lambda: {n: (self.adapters[n], self.breakers[n]) for n in self.adapters},
            settings,
            self.sealer,
            b"k" * 32,
            self.clock.now,
        )

    async def knob(self, bureau: str, action: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.sandboxes[bureau][1], trust_env=False) as c:
            r = await (c.post(f"/_sandbox/{action}", json=body) if body is not None else c.get(f"/_sandbox/{action}"))
            return r.json()


async def _rig(store: Store, tmp: Path, **tuning: Any) -> AsyncIterator[Rig]:
    started = []
    sandboxes: dict[str, tuple[Bureau, str]] = {}
    for name, cls in (("bureau-a", BureauA), ("bureau-b", BureauB)):
        sandbox = cls(name, tmp / name)
        server = await serve(sandbox.handle)
        started.append(server)
        sandboxes[name] = (sandbox, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    rig = Rig(store, sandboxes, **tuning)
    try:
        yield rig
    finally:
        for adapter in rig.adapters.values():
            await adapter.stop()
        for server in started:
            server.close()


@pytest.fixture
async def rig(store: Store, tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(store, tmp_path):
        yield r


def enterprise(seed: int = 1, kind: ReportKind = ReportKind.CREDIT_REPORT) -> CreditReportRequest:
    return CreditReportRequest(entity_id=uscc(seed), entity_kind=EntityKind.ENTERPRISE, country="CN", report_kind=kind)


def person(consent_id: str, subject: str = "P1234567") -> CreditReportRequest:
    return CreditReportRequest(
        entity_id=subject,
        entity_kind=EntityKind.PERSON,
        country="GB",
        report_kind="credit_report",
        consent_id=consent_id,
    )


async def test_both_bureaus_normalize_to_the_canonical_report(rig: Rig) -> None:
    a = await rig.desk.report("bank-a", "bureau-a", enterprise(), "bank-a")
    b = await rig.desk.report("bank-a", "bureau-b", enterprise(), "bank-a")
    assert (a.report.bureau, b.report.bureau) == ("bureau-a", "bureau-b")
    assert a.report.entity.registration_id == b.report.entity.registration_id == uscc(1)
    assert a.report.score is not None and a.report.score.raw_scale == "0-900"
    assert b.report.score is not None and b.report.score.raw_scale == "AAA..D"
    basic = await rig.desk.report("bank-a", "bureau-a", enterprise(kind=ReportKind.BASIC_INFO), "bank-a")
    assert basic.report.score is None and basic.cost == 1


async def test_a_person_query_needs_a_valid_consent(rig: Rig) -> None:
    with pytest.raises(CreditRefused) as unknown:
        await rig.desk.report("bank-a", "bureau-b", person("no-such-consent"), "bank-a")
    assert unknown.value.rule == "consent_unknown"
    consent = await rig.desk.record_consent("bank-a", "P1234567", "trade finance KYC", timedelta(days=30), None, "ops")
    with pytest.raises(CreditRefused, match="not for this subject"):
        await rig.desk.report("bank-a", "bureau-b", person(consent.id, "P999"), "bank-a")
    with pytest.raises(CreditRefused) as other_tenant:
        await rig.desk.report("bank-b", "bureau-b", person(consent.id), "bank-b")
    assert other_tenant.value.rule == "consent_mismatch"
    answer = await rig.desk.report("bank-a", "bureau-b", person(consent.id), "bank-a")
    assert answer.report.entity.kind is EntityKind.PERSON
    assert (await rig.knob("bureau-b", "stats"))["queries"] == 1


async def test_an_expired_or_revoked_consent_is_refused(rig: Rig) -> None:
    consent = await rig.desk.record_consent("bank-a", "P1", "kyc", timedelta(days=1), "doc-7", "ops")
    rig.clock.advance(86_401)
    with pytest.raises(CreditRefused) as expired:
        await rig.desk.report("bank-a", "bureau-b", person(consent.id, "P1"), "bank-a")
    assert expired.value.rule == "consent_expired"
    fresh = await rig.desk.record_consent("bank-a", "P1", "kyc", timedelta(days=1), None, "ops")
    assert await rig.desk.revoke_consent(fresh.id, "ops")
    with pytest.raises(CreditRefused) as revoked:
        await rig.desk.report("bank-a", "bureau-b", person(fresh.id, "P1"), "bank-a")
    assert revoked.value.rule == "consent_revoked"
    assert (await rig.knob("bureau-b", "stats"))["queries"] == 0


async def test_a_report_is_cached_until_its_kinds_ttl(rig: Rig) -> None:
    first = await rig.desk.report("bank-a", "bureau-a", enterprise(), "bank-a")
    again = await rig.desk.report("bank-b", "bureau-a", enterprise(), "bank-b")
    assert (first.cached, again.cached, again.cost) == (False, True, 0)
    assert again.report == first.report
    assert (await rig.knob("bureau-a", "stats"))["queries"] == 1
    rig.clock.advance(86_401)  # credit_report TTL: one day
    expired = await rig.desk.report("bank-a", "bureau-a", enterprise(), "bank-a")
    assert not expired.cached and (await rig.knob("bureau-a", "stats"))["queries"] == 2


async def test_cached_reports_and_journalled_ones_are_sealed_at_rest(journal_url: str, tmp_path: Path) -> None:
    sealer = FieldSealer.from_kek(os.urandom(32), "k1")
    sealed = await Store.open(journal_url, sealer=sealer)  # as the hub opens its journal
    try:
        async for rig in _rig(sealed, tmp_path):
            answer = await rig.desk.report("bank-a", "bureau-a", enterprise(7), "bank-a")
            assert (await rig.desk.report("bank-a", "bureau-a", enterprise(7), "bank-a")).report == answer.report
            async with sealed.engine.connect() as conn:
                cached = (await conn.execute(select(CreditCacheRow.envelope))).scalars().all()
                query = select(MessageRow.envelope).where(MessageRow.type == "credit.report")
                stored = [*cached, *(await conn.execute(query)).scalars()]
    finally:
        await sealed.close()
    name = answer.report.entity.name.encode()
    assert len(stored) == 2 and all(name not in blob and uscc(7).encode() not in blob for blob in stored)


async def test_queries_past_the_monthly_quota_are_refused(store: Store, tmp_path: Path) -> None:
    async for rig in _rig(store, tmp_path, default_quota=25):
        await rig.desk.report("bank-a", "bureau-a", enterprise(1), "bank-a")
        await rig.desk.report("bank-a", "bureau-a", enterprise(2), "bank-a")
        with pytest.raises(CreditRefused) as refused:
            await rig.desk.report("bank-a", "bureau-a", enterprise(3), "bank-a")
        assert (refused.value.rule, refused.value.status) == ("quota_exceeded", 429)
        assert (await rig.desk.report("bank-a", "bureau-a", enterprise(1), "bank-a")).cached  # free
        usage = await rig.desk.usage("bank-a")
        assert (usage.spent, usage.queries, usage.cached) == (20, 3, 1)
        assert (await rig.desk.usage("bank-b")).spent == 0
        rig.clock.advance(31 * 86_400)  # a new month
        assert not (await rig.desk.report("bank-a", "bureau-a", enterprise(3), "bank-a")).cached


async def test_a_bureau_that_is_down_opens_the_breaker_which_closes_again(rig: Rig) -> None:
    await rig.knob("bureau-a", "mode", {"mode": "error", "status": 503})
    for seed in (1, 2):
        with pytest.raises(CreditRefused) as down:
            await rig.desk.report("bank-a", "bureau-a", enterprise(seed), "bank-a")
        assert down.value.rule == "bureau_unavailable"
    assert rig.breakers["bureau-a"].state is BreakerState.OPEN
    with pytest.raises(CreditRefused, match="circuit open"):
        await rig.desk.report("bank-a", "bureau-a", enterprise(3), "bank-a")
    assert (await rig.desk.usage("bank-a")).spent == 0  # nothing answered: nothing charged
    await rig.knob("bureau-a", "mode", {"mode": "ok"})
    rig.clock.advance(5)
    assert not (await rig.desk.report("bank-a", "bureau-a", enterprise(3), "bank-a")).cached
    assert rig.breakers["bureau-a"].state is BreakerState.CLOSED


async def test_a_timeout_is_not_retried_since_the_bureau_may_have_charged(rig: Rig) -> None:
    await rig.knob("bureau-b", "mode", {"mode": "slow", "delay_s": 3})
    with pytest.raises(InDoubtError):
        await rig.adapters["bureau-b"].query(enterprise())
    with pytest.raises(CreditRefused) as timed_out:
        await rig.desk.report("bank-a", "bureau-b", enterprise(), "bank-a")
    assert timed_out.value.rule == "bureau_timeout"


async def test_the_bureaus_refusals_are_final(rig: Rig) -> None:
    first = "00000000000000001"  # the sandboxes know no subject whose id starts with 0000
    nobody = CreditReportRequest(
        entity_id=first + uscc_check_character(first), entity_kind="enterprise", country="CN", report_kind="basic_info"
    )
    with pytest.raises(RejectedByPartner, match="no such"):
        await rig.adapters["bureau-a"].query(nobody)
    unknown = CreditReportRequest(entity_id="0000X", entity_kind="enterprise", country="GB", report_kind="basic_info")
    with pytest.raises(RejectedByPartner):
        await rig.adapters["bureau-b"].query(unknown)
    with pytest.raises(CreditRefused) as refused:
        await rig.desk.report("bank-a", "bureau-b", unknown, "bank-a")
    assert refused.value.rule == "bureau_refused" and (await rig.desk.usage("bank-a")).spent == 0


async def test_an_unreachable_bureau_is_transient(rig: Rig) -> None:
    adapter = BureauAAdapter(
        AdapterContext("bureau-a", "v1", {"url": "http://127.0.0.1:9", "timeout_s": 1}, lambda u: u)
    )
    with pytest.raises(TransientError):
        await adapter.query(enterprise())
    await adapter.stop()
