"""Reading outside JSON safely: size and depth caps, no duplicate keys, errors that name the JSON path.

The gateway and the carrier and bureau normalizers parse with `load_json`, validate against a strict wire model with
`validate_wire`, and so every refusal is a `RejectedInput` whose violations say `$.path[0].field: rule`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from canonical.errors import RejectedInput, Violation

MAX_BYTES = 1_048_576  # a tracking or credit answer is a few KB; a megabyte is already hostile
MAX_DEPTH = 32  # the deepest real payload is ~8 levels; this caps recursion before json.loads runs

_OPEN = frozenset(b"[{")
_KEEP = b'[]{}"\\'
_DROP = bytes(b for b in range(256) if b not in _KEEP)

_M = TypeVar("_M", bound=BaseModel)


class WireModel(BaseModel):
    """A partner's JSON object: strict types, unknown fields ignored (partners add fields without notice)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def json_path(loc: Sequence[int | str]) -> str:
    """('shipments', 0, 'status') -> '$.shipments[0].status'."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting of a JSON text, ignoring brackets inside strings; linear, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw.translate(None, _DROP):  # only brackets, quotes and backslashes survive
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte != 0x5C:
            depth -= 1
    return deepest


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key are read differently by different parsers: refuse rather than pick one.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _NonFinite(name)


class _DuplicateKey(ValueError):
    pass


class _NonFinite(ValueError):
    pass


def load_json(raw: bytes, title: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse partner JSON, or raise RejectedInput (size, depth, encoding, syntax, duplicate keys, NaN)."""
    if not isinstance(raw, bytes | bytearray):
        raise RejectedInput(title, [Violation("$", "type", f"expected bytes, got {type(raw).__name__}")])
    if len(raw) > max_bytes:
        raise RejectedInput(title, [Violation("$", "max_bytes", f"{len(raw)} bytes, at most {max_bytes}")])
    depth = nesting_depth(bytes(raw))
    if depth > max_depth:
        raise RejectedInput(title, [Violation("$", "max_depth", f"nesting {depth}, at most {max_depth}")])
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RejectedInput(title, [Violation("$", "utf8", f"invalid UTF-8 at byte {exc.start}")]) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_float=Decimal, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise RejectedInput(title, [Violation("$", "duplicate_key", f"key {exc} appears twice")]) from None
    except _NonFinite as exc:
        raise RejectedInput(title, [Violation("$", "non_finite_number", str(exc))]) from None
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise RejectedInput(title, [Violation("$", "json_syntax", detail)]) from None
    except ValueError as exc:  # an integer longer than Python's 4300-digit conversion limit
        raise RejectedInput(title, [Violation("$", "json_number", str(exc))]) from None


def violations(error: PydanticValidationError, prefix: Sequence[int | str] = ()) -> list[Violation]:
    """Pydantic errors as Violations located by JSON path (aliases, i.e. the partner's names)."""
    return [
        Violation(json_path([*prefix, *err["loc"]]), err["type"], err["msg"]) for err in error.errors(include_url=False)
    ]


def validate_wire(model: type[_M], data: Any, title: str, prefix: Sequence[int | str] = ()) -> _M:
    """Validate `data` against a wire model, or raise RejectedInput naming each JSON path and rule."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise RejectedInput(title, violations(exc, prefix)) from None


def _aware_iso(value: Any) -> Any:
    # Strict models take no strings for datetimes; this is the one place partner timestamps are read.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "expected an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise PydanticCustomError("timestamp_format", "'{value}' is not ISO 8601", {"value": value}) from None
    if parsed.tzinfo is None:
        raise PydanticCustomError("timestamp_offset", "'{value}' has no UTC offset", {"value": value})
    return parsed


AwareTimestamp = Annotated[datetime, BeforeValidator(_aware_iso)]


def _iso_day(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise PydanticCustomError("date_format", "expected a YYYY-MM-DD string")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_format", "'{value}' is not a calendar date", {"value": value}) from None


IsoDate = Annotated[date, BeforeValidator(_iso_day)]


CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")  # UTC+8, no daylight saving since 1991


def china_time(value: Any) -> Any:
    """'yyyy-MM-dd HH:mm:ss' local time of Chinese partners, as an aware datetime (BeforeValidator)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "expected 'yyyy-MM-dd HH:mm:ss'")
    try:
        local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise PydanticCustomError(
            "timestamp_format", "'{value}' is not 'yyyy-MM-dd HH:mm:ss'", {"value": value}
        ) from None
    return local.replace(tzinfo=CHINA_STANDARD_TIME)
