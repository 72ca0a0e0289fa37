"""The one declaration of personal or sensitive payload fields.

Annotate a field `Annotated[str, Sensitive()]`; masking, field encryption at rest and the export
guard all read `sensitive_paths(model)`, so the declaration is never repeated elsewhere.

What a caller may rely on:
- `sensitive_paths(model)` lists dotted paths into the payload's JSON, `*` standing for every item
  of a list; `map_sensitive` and `mask` walk exactly those paths and never touch anything else.
- A masked value is always the string `MASK` ("***"); None stays None (absence is not sensitive).
- `withhold_in_detail(loc, detail)` is what `Violation` applies to every error detail, so an error
  never repeats the value of a declared field, nor anything shaped like an IBAN or a card number.
- `EnvelopeSealer` is the narrow seam through which the journal seals and opens stored envelopes;
  the implementation lives with the hub's cryptography (`security.fieldcrypt`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, get_args, get_origin

from pydantic import BaseModel

MASK = "***"


@dataclass(frozen=True)
class Sensitive:
    """Marks a field as personal / sensitive (GB/T 35273, GB/T 43697)."""

    kind: str = "personal"


class EnvelopeSealer(Protocol):
    """Seals the declared sensitive fields of a serialized envelope (JSON bytes) and opens them back.

    `open_envelope(seal_envelope(b))` is equivalent JSON to `b`; envelopes written before sealing
    was turned on (no sealed values) open unchanged."""

    def seal_envelope(self, data: bytes) -> bytes: ...

    def open_envelope(self, data: bytes) -> bytes: ...


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)] if get_origin(annotation) else []


def sensitive_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every field declared Sensitive in `model` and its nested models ('*' for list items)."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if any(isinstance(m, Sensitive) for m in info.metadata):
            paths.append(path)
            continue
        origin = get_origin(info.annotation)
        nested_prefix = f"{path}.*." if origin in (list, tuple, set) else f"{path}."
        for sub in _models_in(info.annotation):
            paths.extend(sensitive_paths(sub, nested_prefix))
    return paths


_paths_by_type: dict[str, tuple[str, ...]] = {}


def sensitive_paths_of_type(message_type: str) -> tuple[str, ...]:
    """`sensitive_paths` of the payload model registered for `message_type`; () for an unknown type."""
    # Walking a model's annotations costs more than what callers then do per message; the declaration
    # never changes at run time, so each type is walked once.
    if message_type not in _paths_by_type:
        from canonical.registry import payload_model  # the registry is filled by the model modules

        model = payload_model(message_type)
        if model is None:
            return ()
        _paths_by_type[message_type] = tuple(sensitive_paths(model))
    return _paths_by_type[message_type]


def map_sensitive(data: Any, paths: list[str] | tuple[str, ...], fn: Callable[[Any, str], Any]) -> Any:
    """A copy of `data` (plain JSON-like) with each non-None value at `paths` replaced by `fn(value, where)`.

    `where` is the concrete dotted path of that value, list indices included (`orders.0.head.buyer_name`),
    so a caller can bind a value to the exact place it came from."""
    out = copy.deepcopy(data)
    for path in paths:
        _map_path(out, path.split("."), "", fn)
    return out


def mask(data: Any, paths: list[str]) -> Any:
    """A copy of `data` (plain JSON-like) with the values at `paths` replaced by '***'."""
    return map_sensitive(data, paths, lambda _value, _where: MASK)


def _map_path(node: Any, parts: list[str], where: str, fn: Callable[[Any, str], Any]) -> None:
    if not parts or node is None:
        return
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(node, list):
        for i, item in enumerate(node):
            if rest:
                _map_path(item, rest, f"{where}{i}.", fn)
            elif item is not None:
                node[i] = fn(item, f"{where}{i}")
    elif isinstance(node, dict) and head in node:
        if rest:
            _map_path(node[head], rest, f"{where}{head}.", fn)
        elif node[head] is not None:
            node[head] = fn(node[head], f"{where}{head}")


# -- error details ---------------------------------------------------------------------------------

# An IBAN, compact or printed in groups of four, is personal whatever field it sits in; matched by its
# shape without the check digits, because a mistyped account number is just as personal as a valid one.
IBAN_SHAPE = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
# 13-19 digits, optionally grouped by spaces or dashes; `_is_card` then keeps only card-issuer prefixes
# with a valid Luhn digit, so timestamps, amounts and long references stay readable.
CARD_CANDIDATE = re.compile(r"(?<![\w.,-])[0-9](?:[ -]?[0-9]){12,18}(?![\w-]|[.,][0-9])")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_INDEX = re.compile(r"(?<=\.)[0-9]+(?=\.|$)|^[0-9]+(?=\.|$)")


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 check digit: the Luhn sum of all digits is a multiple of 10."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _is_card(run: str) -> bool:
    digits = run.replace(" ", "").replace("-", "")
    # Issuer ranges of the schemes in use (Amex/JCB/Diners 3, Visa 4, Mastercard 5 and 2221-2720, UnionPay/Discover 6).
    issuer = digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720
    return issuer and luhn_valid(digits)


def mask_shapes(text: str) -> str:
    """`text` with every IBAN-shaped run and every payment-card number replaced by '***'."""
    text = IBAN_SHAPE.sub(MASK, text)
    return CARD_CANDIDATE.sub(lambda m: MASK if _is_card(m.group()) else m.group(), text)


@cache
def _declared(types: tuple[str, ...]) -> frozenset[str]:
    return frozenset(p for t in types for p in sensitive_paths_of_type(t))


def names_sensitive_field(loc: str) -> bool:
    """True if the dotted `loc` (optionally under `payload.`, list items by index) is a field some
    registered payload model declares Sensitive, or lies inside one."""
    from canonical.registry import message_types

    path = _INDEX.sub("*", loc.removeprefix("payload."))
    declared = _declared(tuple(message_types()))
    return any(path == p or path.startswith(p + ".") for p in declared)


def withhold_in_detail(loc: str, detail: str) -> str:
    """An error detail safe to show and log: quoted values at a sensitive `loc` become '***', and
    IBAN- or card-shaped runs anywhere become '***'. The rule and the location stay as they were."""
    if not detail:
        return detail
    if names_sensitive_field(loc):
        detail = _QUOTED.sub(f"'{MASK}'", detail)
    return mask_shapes(detail)
