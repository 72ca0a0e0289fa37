"""What the bridge accepts on the wire: typed errors, money as exact minor units, strict request fields.

Amounts are decimal strings ("1250.50"), never JSON numbers, so no float ever touches money; they are
held as integer minor units (cents, fen) from the edge inward.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

# The CBDCs on the bridge (e-CNY is "CNY"); each has 2 minor units.
CURRENCIES = ("CNY", "HKD", "THB", "AED")
MAX_AMOUNT_MINOR = 1_000_000_000_000 * 100  # one trillion per payment keeps sums far inside SQLite's int64
MAX_RATE = Decimal(1_000_000)
MAX_BODY = 64 * 1024  # a demand is a few hundred bytes; anything near this is hostile

_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?")
_RATE = re.compile(r"(0|[1-9][0-9]{0,6})(\.[0-9]{1,10})?")
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]{0,140}")


class BridgeError(Exception):
    """A refusal with a stable code (what a caller branches on) and a human detail."""

    def __init__(self, code: str, detail: str, status: int = 422) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.status = code, detail, status

    def as_json(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed and compared for idempotency."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def to_minor(text: str) -> int:
    """Parse a positive decimal string with at most 2 decimals into minor units."""
    if not _AMOUNT.fullmatch(text):
        raise BridgeError(
            "invalid_amount", f"amount {text[:40]!r} must be a decimal string with at most 2 decimals", 400
        )
    minor = int(Decimal(text) * 100)
    if minor <= 0:
        raise BridgeError("invalid_amount", "amount must be positive", 400)
    if minor > MAX_AMOUNT_MINOR:
        raise BridgeError("invalid_amount", "amount exceeds the bridge's maximum of 1000000000000", 400)
    return minor


def from_minor(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def parse_rate(text: str) -> Decimal:
    """Units of target currency per unit of source currency: a positive decimal string."""
    if not _RATE.fullmatch(text):
        raise BridgeError("invalid_rate", "rate must be a decimal string with at most 10 decimals", 400)
    rate = Decimal(text)
    if rate <= 0 or rate > MAX_RATE:
        raise BridgeError("invalid_rate", "rate must be positive and at most 1000000", 400)
    return rate


def convert(minor: int, rate: Decimal) -> int:
    """The counter-leg in minor units, rounded half-even (banker's rounding) to the cent."""
    try:
        return int((Decimal(minor) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation as exc:  # only on absurd magnitudes, which the bounds above exclude
        raise BridgeError("invalid_rate", "rate produces an amount out of range", 400) from exc


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object, refusing what a careless parser would let through (NaN, duplicate keys, deep nesting)."""
    if len(raw) > MAX_BODY:
        raise BridgeError("payload_too_large", f"body is over {MAX_BODY} bytes", 413)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise BridgeError("invalid_json", "duplicate key in JSON object", 400)
        return dict(pairs)

    def no_constant(name: str) -> Any:
        raise BridgeError("invalid_json", f"{name} is not valid JSON", 400)

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BridgeError("invalid_json", f"body is not valid UTF-8 JSON: {str(exc)[:80]}", 400) from exc
    if not isinstance(value, dict):
        raise BridgeError("invalid_json", "body must be a JSON object", 400)
    return value


class Fields:
    """Typed reads of a request object; unknown fields are refused, not ignored."""

    def __init__(self, body: dict[str, Any], required: set[str], optional: frozenset[str] = frozenset()) -> None:
        unknown = set(body) - required - optional
        if unknown:
            raise BridgeError("invalid_field", f"unknown field(s): {', '.join(sorted(unknown))[:200]}", 400)
        missing = required - set(body)
        if missing:
            raise BridgeError("invalid_field", f"missing field(s): {', '.join(sorted(missing))}", 400)
        self.body = body

    def _string(self, name: str) -> str:
        value = self.body[name]
        if not isinstance(value, str):
            raise BridgeError("invalid_field", f"{name} must be a string, got {type(value).__name__}", 400)
        return value

    def identifier(self, name: str) -> str:
        value = self._string(name)
        if not IDENTIFIER.fullmatch(value):
            raise BridgeError("invalid_field", f"{name} must be 1-64 letters, digits or ._:-", 400)
        return value

    def optional_identifier(self, name: str) -> str | None:
        return self.identifier(name) if self.body.get(name) is not None else None

    def text(self, name: str) -> str:
        value = self._string(name)
        if not _PRINTABLE.fullmatch(value):
            raise BridgeError("invalid_field", f"{name} must be at most 140 printable characters", 400)
        return value

    def amount(self, name: str) -> int:
        value = self.body[name]
        if not isinstance(value, str):
            raise BridgeError("invalid_amount", f'{name} must be a decimal string like "100.00"', 400)
        return to_minor(value)

    def currency(self, name: str) -> str:
        value = self._string(name)
        if value not in CURRENCIES:
            raise BridgeError("unsupported_currency", f"{value[:8]!r} is not on the bridge ({', '.join(CURRENCIES)})")
        return value

    def rate(self, name: str) -> Decimal:
        return parse_rate(self._string(name))

    def number(self, name: str, low: float, high: float) -> float:
        value = self.body[name]
        # bool is an int in Python; true is not a number of seconds
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise BridgeError("invalid_field", f"{name} must be a number from {low} to {high}", 400)
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.body[name]
        if not isinstance(value, bool):
            raise BridgeError("invalid_field", f"{name} must be true or false", 400)
        return value
