"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes the hub signs for canonical payloads.

What a caller may rely on:
- `canonicalize(value)` returns UTF-8 bytes with no whitespace, object members sorted by their
  UTF-16 code units, strings escaped exactly like ECMAScript's JSON.stringify, and numbers written
  like ECMAScript's Number.prototype.toString (RFC 8785 section 3.2.2.3).
- Accepted input: None, bool, int, float, str, list/tuple, dict with str keys (the json module's
  data model). Anything else, NaN/Infinity, lone surrogates and ints that an IEEE 754 double
  cannot hold exactly (|i| > 2**53) raise `JcsError`: the canonical form would silently change
  the value, and the receiving side (I-JSON) would read another number than the one signed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MAX_SAFE_INT = 2**53


class JcsError(ValueError):
    """The value is outside the JSON data model that RFC 8785 can canonicalize."""


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def canonicalize(value: object) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON-compatible Python value."""
    out: list[str] = []
    _write(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogate in a string or key
        raise JcsError("string is not valid Unicode (lone surrogate)") from exc


def _write(value: object, out: list[str], depth: int) -> None:
    if depth > 1000:  # a cycle or absurd nesting; fail typed rather than with RecursionError
        raise JcsError("nesting deeper than 1000")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise JcsError(f"integer {value} is not exactly representable as an IEEE 754 double")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(number(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise JcsError(f"object key {key!r} is not a string")
            items.append((key, item))
        # UTF-16BE bytes compare exactly like the UTF-16 code units RFC 8785 sorts by.
        items.sort(key=lambda kv: kv[0].encode("utf-16-be", "surrogatepass"))
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _write(item, out, depth + 1)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    else:
        raise JcsError(f"{type(value).__name__} is not a JSON type")


def _string(text: str) -> str:
    parts = ['"']
    for ch in text:
        if ch in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[ch])
        elif ch < " ":
            parts.append(f"\\u{ord(ch):04x}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def number(value: float) -> str:
    """ECMAScript Number::toString of a finite double (RFC 8785 section 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise JcsError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"  # also for -0.0
    sign = "-" if value < 0 else ""
    # Python's repr yields the shortest digit string that round-trips, as ECMAScript requires.
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point  # value = 0.digits * 10**n, per ECMA-262 7.1.12.1 naming
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exp = n - 1
    exp_str = ("+" if exp >= 0 else "-") + str(abs(exp))
    if k == 1:
        return sign + digits + "e" + exp_str
    return sign + digits[0] + "." + digits[1:] + "e" + exp_str
