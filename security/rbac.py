"""Who may do what on the admin side: operator roles, permissions and the principal of a call.

What a caller may rely on:
- `Role` and `Permission` are StrEnums; their values are the names used in config, tokens, the
  audit log and approvals (`keys.rotate`, `routes.change` ...). Values are never renamed.
- `PERMISSIONS` is the whole policy, as data: role -> the permissions it holds. `allows(role,
  permission)` reads only that table; an unknown role or permission name is refused, not raised.
- `viewer` reads (messages masked); `operator` adds the day-to-day actions and proposes route
  changes; `admin` holds every permission; `auditor` reads the audit log, verifies the journal and
  may reveal sensitive fields, and holds nothing that changes state.
- `Principal` is who made a call: a name, a role and `via`, where it was authenticated
  (`password`, `local-token` for the CLI's token in run.json, `oidc` for an identity provider).
  Nothing here depends on how the principal was established, so an OIDC login only has to map
  its claims to a role (`role_from_claim`) and build a Principal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    ADAPTERS_READ = "adapters.read"
    MESSAGES_READ = "messages.read"  # sensitive fields masked
    DLQ_READ = "dlq.read"
    ROUTES_READ = "routes.read"
    APPROVALS_READ = "approvals.read"
    ADAPTERS_PAUSE = "adapters.pause"  # pause and resume
    DLQ_REPLAY = "dlq.replay"
    ROUTES_CHANGE = "routes.change"
    APPROVALS_DECIDE = "approvals.decide"
    KEYS_ROTATE = "keys.rotate"
    USERS_MANAGE = "users.manage"
    INSTITUTIONS_MANAGE = "institutions.manage"
    CONFIG_CHANGE = "config.change"
    AUDIT_READ = "audit.read"
    JOURNAL_VERIFY = "journal.verify"
    SENSITIVE_REVEAL = "sensitive.reveal"  # read sensitive fields in clear


P = Permission
_READS = frozenset({P.ADAPTERS_READ, P.MESSAGES_READ, P.DLQ_READ, P.ROUTES_READ, P.APPROVALS_READ})

PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _READS,
    Role.OPERATOR: _READS | {P.ADAPTERS_PAUSE, P.DLQ_REPLAY, P.ROUTES_CHANGE, P.APPROVALS_DECIDE},
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: _READS | {P.AUDIT_READ, P.JOURNAL_VERIFY, P.SENSITIVE_REVEAL},
}

# What changes state: the auditor must hold none of these (checked by the tests, not at runtime).
STATE_CHANGING = frozenset(
    {
        P.ADAPTERS_PAUSE,
        P.DLQ_REPLAY,
        P.ROUTES_CHANGE,
        P.APPROVALS_DECIDE,
        P.KEYS_ROTATE,
        P.USERS_MANAGE,
        P.INSTITUTIONS_MANAGE,
        P.CONFIG_CHANGE,
    }
)

Via = Literal["password", "local-token", "oidc"]
VIAS: tuple[Via, ...] = ("password", "local-token", "oidc")


class Forbidden(PermissionError):
    """The principal's role does not hold the permission the call needs."""

    def __init__(self, principal: Principal, permission: Permission) -> None:
        holders = ", ".join(r.value for r in roles_with(permission))
        super().__init__(
            f"{principal.name} (role {principal.role.value}) may not {permission.value}; "
            f"roles that may: {holders or 'none'}"
        )
        self.principal, self.permission = principal, permission


def parse_role(value: str) -> Role:
    """The Role named `value`, or ValueError listing the roles there are."""
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}; use one of {', '.join(r.value for r in Role)}") from None


def allows(role: Role | str, permission: Permission | str) -> bool:
    """True if `role` holds `permission`; False for unknown role or permission names."""
    try:
        return Permission(permission) in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def roles_with(permission: Permission | str) -> list[Role]:
    """The roles holding `permission`, in declaration order."""
    return [r for r in Role if allows(r, permission)]


def may_decide(role: Role | str, action: Permission | str) -> bool:
    """Four eyes: deciding on a proposed `action` needs approvals.decide and the action itself."""
    return allows(role, Permission.APPROVALS_DECIDE) and allows(role, action)


def role_from_claim(values: Iterable[str], mapping: Mapping[str, Role]) -> Role | None:
    """The strongest role an identity provider's group/role claim maps to (admin > operator >
    auditor > viewer), or None when no value is mapped: such a user gets no access at all."""
    granted = {mapping[v] for v in values if v in mapping}
    for role in (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.VIEWER):
        if role in granted:
            return role
    return None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the operator's name, role and where it was authenticated."""

    name: str
    role: Role
    via: Via

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            object.__setattr__(self, "role", parse_role(self.role))
        if self.via not in VIAS:
            raise ValueError(f"unknown principal source {self.via!r}; use one of {', '.join(VIAS)}")

    def can(self, permission: Permission | str) -> bool:
        return allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        """Return quietly if the role holds `permission`, else raise Forbidden naming both."""
        if not self.can(permission):
            raise Forbidden(self, permission)
