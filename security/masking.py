"""Masking: what views and logs may show of sensitive data and secrets.

What a caller may rely on:
- `mask_envelope(envelope)` masks exactly the payload fields its type declares Sensitive, with the
  same form as `canonical.sensitive.mask` ('***'); every other field is returned unchanged.
- `mask_text(text)` replaces secrets and personal data that have a recognisable shape: API keys
  (`hk_...`), bearer/basic credentials, JWS/JWE/JWT compact strings, `password=`-style pairs (also
  in JSON), PEM private keys, IBANs and payment-card numbers. Sealed field tokens stay readable.
- `MaskingFilter` rewrites every record it sees before any handler formats it: the message with its
  arguments (envelopes and payload models masked by their declaration), the `extra` attributes,
  and the traceback. It never drops a record. `install_masking` puts one on every handler.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel

from canonical.sensitive import MASK, mask, mask_shapes, sensitive_paths_of_type

_PEM_PRIVATE: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S
)
_AUTH_SCHEME: Final = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+")
# Compact JOSE: a base64url JSON header (always starting 'eyJ', i.e. '{"') and 2 (JWS/JWT) or 4 (JWE) more
# parts; a detached JWS has an empty middle part.
_JOSE_COMPACT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2}(?:\.[A-Za-z0-9_-]*){0,2}")
_API_KEY: Final = re.compile(r"\bhk_[A-Za-z0-9_-]{6,}")
_SECRET_NAMES: Final = (
    r"password|passwd|pwd|passphrase|secret|client_secret|api[_-]?key|access_token|refresh_token|id_token"
    r"|token|admin_token|kek|private_key|credentials?"
)
_SECRET_PAIR: Final = re.compile(
    rf"(?i)(?P<q>[\"']?)\b(?P<name>{_SECRET_NAMES})\b(?P=q)(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]]+)"
)
_SECRET_KEY: Final = re.compile(rf"(?i)^(?:{_SECRET_NAMES}|authorization|x-api-key|cookie|set-cookie)$")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _masked_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('q')}{match.group('name')}{match.group('q')}{match.group('sep')}{quote}{MASK}{quote}"


def mask_text(text: str) -> str:
    """`text` with every secret and personal value of a recognisable shape replaced by '***'."""
    text = _PEM_PRIVATE.sub(MASK, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _JOSE_COMPACT.sub(MASK, text)
    text = _API_KEY.sub(f"hk_{MASK}", text)
    text = _SECRET_PAIR.sub(_masked_value, text)
    return mask_shapes(text)


def mask_envelope(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `envelope` (JSON-like) whose payload shows '***' for every field its type declares Sensitive."""
    out = dict(envelope)
    paths = sensitive_paths_of_type(str(envelope.get("type", "")))
    if paths and out.get("payload") is not None:
        out["payload"] = mask(out["payload"], list(paths))
    return out


def mask_value(value: Any) -> Any:
    """A loggable copy of `value`: envelopes and payload models masked by their declaration, secrets
    under secret-looking keys masked, strings passed through `mask_text`; other scalars unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, BaseModel):
        message_type = getattr(type(value), "__message_type__", None)
        data = value.model_dump(mode="json")
        if isinstance(message_type, str):  # a payload model on its own
            data = {"type": message_type, "payload": data}
            return mask_value(data)["payload"]
        return mask_value(data)
    if isinstance(value, Mapping):
        data = mask_envelope(value) if "type" in value and "payload" in value else dict(value)
        return {k: MASK if isinstance(k, str) and _SECRET_KEY.match(k) else mask_value(v) for k, v in data.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_value(v) for v in value)
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"))
    return value


class MaskingFilter(logging.Filter):
    """Masks secrets and sensitive values in every record; install it on each handler (`install_masking`).

    The record is rewritten in place (message formatted with masked arguments, `args` emptied), so
    every handler after this one sees the masked record too."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._message(record)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
            # Formatters use exc_text when set; one that formats exc_info itself would show it unmasked.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        msg = record.msg if isinstance(record.msg, str) else mask_value(record.msg)
        args = record.args
        masked: Any = mask_value(args) if isinstance(args, Mapping) else tuple(mask_value(a) for a in args or ())
        try:
            text = str(msg) % masked if masked else str(msg)
        except (TypeError, ValueError, KeyError):
            # A format string that does not fit its arguments: show both, still masked, rather than lose the record.
            text = f"{msg} {masked!r}"
        return mask_text(text)


def install_masking(loggers: Iterable[str | logging.Logger] = ()) -> MaskingFilter:
    """Put one `MaskingFilter` on every handler of the root logger, of every logger created so far,
    and of `loggers`; idempotent. Call again after a library configures its own handlers."""
    named = [logging.getLogger(n) if isinstance(n, str) else n for n in loggers]
    known = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    the_filter = MaskingFilter()
    for logger in (logging.root, *known, *named):
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(the_filter)
    return the_filter
