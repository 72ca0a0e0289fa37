"""Validate a raw document of any format the hub reads (SWIFT MT, ISO 20022, CEB customs XML) without
translating it, and read FIN text as the translators need it.

`validate` reports every broken rule the format's parser finds; nothing is sent, nothing is translated,
so a valid MT need not be translatable (e.g. an MT103 without UETR is valid FIN, but has no pacs.008).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from canonical import ceb, iso20022
from canonical.errors import RejectedInput, Violation
from canonical.swift_mt import SwiftMtCodec, parse_message, split_rje
from canonical.swift_mt.blocks import MAX_MESSAGE_CHARS, fin_text

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Validation:
    """What `validate` found: the format it recognised and every broken rule (none: the document is valid)."""

    format: str  # swift_mt | iso20022 | ceb | unknown
    violations: list[Violation] = field(default_factory=list)
    # A CEB message the current (202205) pack refuses but the 2018 pack accepts: valid for an older
    # partner, and `violations` empty; `refused_by_current` says what 202205 objects to.
    older_pack: str | None = None
    refused_by_current: list[Violation] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.violations


BATCH_LIMIT = MAX_MESSAGE_CHARS * 10  # an RJE file carries several messages


def one_fin_message(body: bytes) -> str:
    """The one FIN message of `body` (an RJE batch's ACKs dropped); RejectedInput if there are several or none."""
    messages = split_rje(fin_text(body, BATCH_LIMIT))
    if len(messages) != 1:
        detail = f"{len(messages)} messages: translate one at a time"
        raise RejectedInput("one message expected", [Violation("message", "single_message", detail)])
    return messages[0]


def _mt_violations(body: bytes) -> list[Violation]:
    try:
        messages = split_rje(fin_text(body, BATCH_LIMIT))
    except RejectedInput as exc:
        return exc.violations
    if not messages:
        return [Violation("message", "block_missing", "no FIN message found")]
    out: list[Violation] = []
    for n, text in enumerate(messages, 1):
        try:
            parse_message(text)
        except RejectedInput as exc:
            prefix = f"message {n} " if len(messages) > 1 else ""
            out += [Violation(prefix + v.loc, v.rule, v.detail) for v in exc.violations]
    return out


def _xml_violations(body: bytes, parse: Callable[[bytes], object]) -> list[Violation]:
    try:
        parse(body)
    except RejectedInput as exc:
        return exc.violations or [Violation("/", "rejected", exc.title)]
    return []


def validate(body: bytes) -> Validation:
    """Detect the format of `body` and check it; XML no codec claims is checked as ISO 20022 (so a wrong
    namespace is named as such)."""
    if SwiftMtCodec().detect(body, ""):
        return Validation("swift_mt", _mt_violations(body))
    if ceb.codec.detect(body, ""):
        found = _xml_violations(body, ceb.parse)
        if found and ceb.fits_pack(body, "2018"):
            return Validation("ceb", [], older_pack="2018", refused_by_current=found)
        return Validation("ceb", found)
    if iso20022.codec.detect(body, "") or body.removeprefix(_BOM).lstrip()[:1] == b"<":
        return Validation("iso20022", _xml_violations(body, iso20022.parse))
    detail = "neither SWIFT FIN ({1: block), ISO 20022 XML nor CEB XML"
    return Validation("unknown", [Violation("input", "unknown_format", detail)])
