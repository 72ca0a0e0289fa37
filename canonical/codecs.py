"""Codecs: external documents (ISO 20022, SWIFT MT, CEB XML ...) in and out of canonical models.

A codec registers itself here; the gateway and `hub validate` ask `detect()` which codec a raw body
belongs to. Business logic only ever sees the `Decoded` result, never raw XML or FIN text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel


@dataclass(frozen=True)
class Decoded:
    """A raw document turned canonical, with what the Envelope needs from it."""

    type: str
    payload: BaseModel
    idempotency_key: str  # derived from the document (AppHdr Fr + BizMsgIdr, MT BIC + 20, CEB copCode + guid)
    destination: str = ""
    correlation_id: str = ""
    warnings: list[str] = field(default_factory=list)


class DocumentCodec(Protocol):
    name: str

    def detect(self, body: bytes, content_type: str) -> bool:
        """True if `body` is this codec's format (cheap sniffing, no full parse)."""

    def decode(self, body: bytes) -> Decoded:
        """Parse and validate; raise canonical.errors.RejectedInput naming the element and rule."""


_codecs: list[DocumentCodec] = []


def register_codec(codec: DocumentCodec) -> DocumentCodec:
    if all(c.name != codec.name for c in _codecs):
        _codecs.append(codec)
    return codec


def detect(body: bytes, content_type: str) -> DocumentCodec | None:
    return next((c for c in _codecs if c.detect(body, content_type)), None)


def codec_names() -> list[str]:
    return [c.name for c in _codecs]
