"""The people who run the hub: operator accounts with one role each and an argon2id password.

What a caller may rely on:
- Names match `NAME_PATTERN` (lowercase, 2 to 64 characters: letters, digits, `.`, `_`, `-`,
  starting with a letter) and are not `hub` or `local-admin` (the hub's own actors); roles are
  `security.rbac.Role` values. Violations raise `InvalidOperator` (a ValueError) saying what to
  use; a taken name raises `DuplicateOperator`.
- `verify_login` returns a `Principal` (via `password`) or raises `LoginFailed` with one message
  for an unknown name and a wrong password, and takes the same time for both. A disabled
  operator with the right password gets `OperatorDisabled` (a LoginFailed).
- The last enabled admin cannot be disabled or given another role (`LastAdmin`), so the hub never
  locks its operators out.
- Changes (add, role, disable, enable, password) are audited with the acting operator's name
  through `Store.audit`; passwords and hashes never reach the audit log or any log.
- Works on every database the Store supports; each call is its own transaction.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from security.passwords import burn_verification, generate_password, hash_password, verify_password
from security.rbac import Principal, Role, parse_role
from store.journal import Store
from store.schema import OperatorRow

NAME_PATTERN = re.compile(r"[a-z][a-z0-9._-]{1,63}")
FIRST_ADMIN = "admin"
RESERVED = frozenset({"hub", "local-admin"})  # actor names the hub itself writes in the audit log
Clock = Callable[[], datetime]


class OperatorError(Exception):
    """Base class of the errors of this module."""


class InvalidOperator(OperatorError, ValueError):
    """A name or role that cannot be used; the message says what can."""


class DuplicateOperator(OperatorError):
    def __init__(self, name: str) -> None:
        super().__init__(f"operator {name!r} already exists; choose another name or change its role")
        self.name = name


class UnknownOperator(OperatorError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no operator {name!r}; `hub users add` creates one")
        self.name = name


class LoginFailed(OperatorError):
    """Wrong name or password; deliberately does not say which."""

    def __init__(self, message: str = "unknown operator or wrong password") -> None:
        super().__init__(message)


class OperatorDisabled(LoginFailed):
    def __init__(self, name: str) -> None:
        super().__init__(f"operator {name!r} is disabled; an admin can enable it again")
        self.name = name


class LastAdmin(OperatorError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is the last enabled admin; make another operator admin first")
        self.name = name


@dataclass(frozen=True)
class Operator:
    """An operator account as the admin API shows it (never with its password hash)."""

    name: str
    role: Role
    created_at: datetime
    disabled: bool
    last_login: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "disabled": self.disabled,
            "last_login": self.last_login.isoformat() if self.last_login else None,
        }


def check_name(name: str) -> str:
    """`name` if it is a valid operator name, else InvalidOperator saying what is allowed."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidOperator(
            f"operator name {name!r} is not allowed: use 2 to 64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    if name in RESERVED:
        raise InvalidOperator(f"operator name {name!r} is reserved for the hub itself; choose another")
    return name


def _role(value: str) -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise InvalidOperator(str(exc)) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _operator(row: OperatorRow) -> Operator:
    return Operator(
        row.name,
        Role(row.role),
        _aware(row.created_at),
        row.disabled,
        _aware(row.last_login) if row.last_login else None,
    )


class Operators:
    """Operator accounts in the Store's database."""

    def __init__(self, store: Store, clock: Clock = _now) -> None:
        self._store, self._clock = store, clock
        self._session = async_sessionmaker(store.engine, expire_on_commit=False)

    async def add(self, name: str, role: Role | str, password: str, *, by: str = "hub") -> Operator:
        """Create an operator; InvalidOperator, WeakPassword or DuplicateOperator if it cannot be."""
        check_name(name)
        role_ = _role(role)
        password_hash = await asyncio.to_thread(hash_password, password)  # argon2 takes ~0.3 s of CPU
        row = OperatorRow(
            name=name, role=role_.value, password_hash=password_hash, created_at=self._clock(), disabled=False
        )
        try:
            async with self._session() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise DuplicateOperator(name) from None
        await self._store.audit(by, "users.add", name, {"role": role_.value})
        return _operator(row)

    async def verify_login(self, name: str, password: str) -> Principal:
        """The Principal of an enabled operator whose password matches; LoginFailed otherwise."""
        async with self._session() as s:
            row = await s.get(OperatorRow, name) if NAME_PATTERN.fullmatch(name) else None
        if row is None:
            await asyncio.to_thread(burn_verification, password)
            raise LoginFailed()
        verified = await asyncio.to_thread(verify_password, row.password_hash, password)
        if not verified.ok:
            raise LoginFailed()
        if row.disabled:
            raise OperatorDisabled(name)
        values: dict[str, Any] = {"last_login": self._clock()}
        if verified.needs_rehash:  # parameters were raised since: store a hash made with today's
            values["password_hash"] = await asyncio.to_thread(hash_password, password)
        async with self._session() as s, s.begin():
            await s.execute(update(OperatorRow).where(OperatorRow.name == name).values(**values))
        return Principal(row.name, Role(row.role), "password")

    async def get(self, name: str) -> Operator | None:
        async with self._session() as s:
            row = await s.get(OperatorRow, name)
            return _operator(row) if row else None

    async def list(self) -> list[Operator]:
        """Every operator, by name."""
        async with self._session() as s:
            rows = (await s.execute(select(OperatorRow).order_by(OperatorRow.name))).scalars()
            return [_operator(r) for r in rows]

    async def count(self) -> int:
        async with self._session() as s:
            return int((await s.execute(select(func.count()).select_from(OperatorRow))).scalar_one())

    async def set_role(self, name: str, role: Role | str, *, by: str = "hub") -> Operator:
        role_ = _role(role)
        if role_ is not Role.ADMIN:
            await self._keep_an_admin(name)
        found = await self._change(name, role=role_.value)
        await self._store.audit(by, "users.set_role", name, {"role": role_.value})
        return found

    async def disable(self, name: str, *, by: str = "hub") -> Operator:
        """Refuse every further login of `name` (tokens it holds expire on their own)."""
        await self._keep_an_admin(name)
        found = await self._change(name, disabled=True)
        await self._store.audit(by, "users.disable", name, {})
        return found

    async def enable(self, name: str, *, by: str = "hub") -> Operator:
        found = await self._change(name, disabled=False)
        await self._store.audit(by, "users.enable", name, {})
        return found

    async def set_password(self, name: str, password: str, *, by: str = "hub") -> Operator:
        password_hash = await asyncio.to_thread(hash_password, password)
        found = await self._change(name, password_hash=password_hash)
        await self._store.audit(by, "users.set_password", name, {})
        return found

    async def ensure_first_admin(self) -> tuple[str, str] | None:
        """When no operator exists, create `admin` with a random password and return (name,
        password) for the hub to show once; None when operators exist. Of hub instances starting
        together exactly one gets the pair (the name is the primary key)."""
        if await self.count() > 0:
            return None
        password = generate_password()
        try:
            await self.add(FIRST_ADMIN, Role.ADMIN, password, by="hub")
        except DuplicateOperator:
            return None
        return FIRST_ADMIN, password

    async def _change(self, name: str, **values: Any) -> Operator:
        async with self._session() as s, s.begin():
            result = await s.execute(update(OperatorRow).where(OperatorRow.name == name).values(**values))
            if not getattr(result, "rowcount", 0):
                raise UnknownOperator(name)
            row = await s.get(OperatorRow, name, populate_existing=True)
            assert row is not None
            return _operator(row)

    async def _keep_an_admin(self, name: str) -> None:
        async with self._session() as s:
            admins = (
                await s.execute(
                    select(OperatorRow.name).where(
                        OperatorRow.role == Role.ADMIN.value, OperatorRow.disabled.is_(False)
                    )
                )
            ).scalars()
            if set(admins) == {name}:
                raise LastAdmin(name)
