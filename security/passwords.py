"""Operator passwords: argon2id hashes (argon2-cffi, RFC 9106 low-memory profile).

What a caller may rely on:
- `hash_password` refuses a password shorter than `MIN_LENGTH` characters or longer than
  `MAX_LENGTH` with `WeakPassword` (a ValueError) saying what is required; the hash is a PHC string
  (`$argon2id$v=19$m=...`) with its own salt and parameters, safe to store as is.
- `verify_password` compares in constant time (inside argon2) and never raises for a wrong
  password or an unreadable hash: it answers `Verified(ok, needs_rehash)`. `needs_rehash` is True
  when the hash was made with other parameters than today's; store a fresh hash then.
- Each call costs about 64 MiB and a few hundred ms of one core by design: run it off the event
  loop (`asyncio.to_thread`). Nothing here logs or keeps a password.
"""

from __future__ import annotations

import functools
import secrets
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # long enough for any passphrase, short enough that a request cannot stall the hub

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4 (RFC 9106 "second recommended option")


class WeakPassword(ValueError):
    """The password does not meet the length rules; the message says which."""


class Verified(NamedTuple):
    ok: bool
    needs_rehash: bool


def check_strength(password: str) -> None:
    """Return quietly if `password` may be set, else raise WeakPassword naming the rule."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password too short: use at least {MIN_LENGTH} characters ({len(password)} given)")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"password too long: use at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id PHC hash of `password`; WeakPassword if it breaks the length rules."""
    check_strength(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> Verified:
    """Whether `password` matches `password_hash`, and whether the hash should be renewed."""
    if len(password) > MAX_LENGTH:
        return Verified(False, False)
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return Verified(False, False)
    return Verified(True, _hasher.check_needs_rehash(password_hash))


def burn_verification(password: str) -> None:
    """Spend the time of one verification and learn nothing: for logins of unknown operators."""
    verify_password(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing costs a few hundred ms.
    return _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password of 32 URL-safe characters (192 bits), e.g. for the first admin."""
    return secrets.token_urlsafe(24)
