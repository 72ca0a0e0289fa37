"""The group header (GrpHdr) the pacs, pain and camt messages open with (all but camt.029 and camt.056, which
open with their assignment): MsgId and CreDtTm, the BusinessHeaderFields of the canonical models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import BusinessHeaderFields


def read_group_header(msg: Reader) -> dict[str, Any]:
    """MsgId and CreDtTm of the message element `msg` (validated by the caller's model)."""
    return dict(message_id=msg.need("GrpHdr/MsgId"), created_at=msg.datetime("GrpHdr/CreDtTm"))


def write_group_header(msg: Writer, fields: BusinessHeaderFields, now: datetime) -> Writer:
    """GrpHdr with MsgId and CreDtTm (`now` when the message has no creation time); the caller adds what
    follows in XSD order."""
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", fields.message_id)
    hdr.add("CreDtTm", iso_datetime(fields.created_at or now))
    return hdr
