"""Operator roles: what each role may and may not do, and the principal of a call."""

from __future__ import annotations

import pytest

from security.passwords import MIN_LENGTH, WeakPassword, hash_password, verify_password
from security.rbac import (
    PERMISSIONS,
    STATE_CHANGING,
    Forbidden,
    Permission,
    Principal,
    Role,
    allows,
    may_decide,
    role_from_claim,
    roles_with,
)

P = Permission

ALLOWED = {
    Role.VIEWER: {P.ADAPTERS_READ, P.MESSAGES_READ, P.DLQ_READ, P.ROUTES_READ, P.APPROVALS_READ},
    Role.OPERATOR: {
        P.ADAPTERS_READ,
        P.MESSAGES_READ,
        P.DLQ_READ,
        P.ROUTES_READ,
        P.APPROVALS_READ,
        P.ADAPTERS_PAUSE,
        P.DLQ_REPLAY,
        P.ROUTES_CHANGE,
        P.APPROVALS_DECIDE,
    },
    Role.ADMIN: set(Permission),
    Role.AUDITOR: {
        P.ADAPTERS_READ,
        P.MESSAGES_READ,
        P.DLQ_READ,
        P.ROUTES_READ,
        P.APPROVALS_READ,
        P.AUDIT_READ,
        P.JOURNAL_VERIFY,
        P.SENSITIVE_REVEAL,
    },
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_holds_exactly_its_permissions(role: Role) -> None:
    for permission in Permission:
        assert allows(role, permission) is (permission in ALLOWED[role]), (role, permission)


def test_permission_names_are_stable() -> None:
    names = {p.value for p in Permission}
    assert {"adapters.read", "adapters.pause", "dlq.read", "dlq.replay", "routes.change", "keys.rotate"} <= names
    assert {"users.manage", "institutions.manage", "audit.read", "sensitive.reveal", "approvals.decide"} <= names


def test_viewer_cannot_change_anything_or_reveal() -> None:
    for permission in STATE_CHANGING | {P.SENSITIVE_REVEAL, P.AUDIT_READ}:
        assert not allows(Role.VIEWER, permission)


def test_auditor_changes_nothing() -> None:
    assert not PERMISSIONS[Role.AUDITOR] & STATE_CHANGING


def test_operator_may_not_manage_users_keys_institutions_or_config() -> None:
    for permission in (P.USERS_MANAGE, P.KEYS_ROTATE, P.INSTITUTIONS_MANAGE, P.CONFIG_CHANGE, P.SENSITIVE_REVEAL):
        assert not allows(Role.OPERATOR, permission)


def test_unknown_role_or_permission_is_refused_not_raised() -> None:
    assert allows("root", "dlq.replay") is False
    assert allows("admin", "launch.missiles") is False
    assert allows("admin", "dlq.replay") is True  # plain strings work too


def test_roles_with_lists_the_holders() -> None:
    assert roles_with(P.SENSITIVE_REVEAL) == [Role.ADMIN, Role.AUDITOR]
    assert roles_with(P.USERS_MANAGE) == [Role.ADMIN]


def test_deciding_an_approval_needs_the_action_itself() -> None:
    assert may_decide(Role.OPERATOR, P.ROUTES_CHANGE)
    assert not may_decide(Role.OPERATOR, P.KEYS_ROTATE)  # an operator cannot approve an admin's key rotation
    assert may_decide(Role.ADMIN, P.KEYS_ROTATE)
    assert not may_decide(Role.AUDITOR, P.ROUTES_CHANGE)
    assert not may_decide(Role.VIEWER, P.ROUTES_CHANGE)


def test_principal_require_names_who_what_and_who_may() -> None:
    viewer = Principal("vera", Role.VIEWER, "password")
    viewer.require(P.DLQ_READ)
    with pytest.raises(Forbidden) as info:
        viewer.require(P.DLQ_REPLAY)
    assert "vera" in str(info.value) and "dlq.replay" in str(info.value) and "operator" in str(info.value)


def test_principal_takes_role_names_and_checks_its_source() -> None:
    assert Principal("ci", "auditor", "oidc").role is Role.AUDITOR  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown role 'root'"):
        Principal("x", "root", "password")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown principal source"):
        Principal("x", Role.VIEWER, "ldap")  # type: ignore[arg-type]


def test_an_identity_provider_claim_maps_to_the_strongest_mapped_role() -> None:
    mapping = {"hub-ops": Role.OPERATOR, "hub-audit": Role.AUDITOR, "hub-admins": Role.ADMIN}
    assert role_from_claim(["staff", "hub-audit", "hub-ops"], mapping) is Role.OPERATOR
    assert role_from_claim(["hub-admins", "hub-ops"], mapping) is Role.ADMIN
    assert role_from_claim(["staff"], mapping) is None


def test_short_password_is_refused_with_the_rule() -> None:
    with pytest.raises(WeakPassword, match=f"at least {MIN_LENGTH} characters"):
        hash_password("short")


def test_password_hash_verifies_only_its_password() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery") == (True, False)
    assert verify_password(hashed, "correct horse battery!").ok is False
    assert verify_password("not a hash", "correct horse battery").ok is False


def test_a_hash_with_old_parameters_asks_for_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert verify_password(weak, "correct horse battery") == (True, True)
