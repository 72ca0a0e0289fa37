"""The Business Application Header (head.001.001.02) that travels with every CBPR+ message."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import Bic

HEAD_NS = "urn:iso:std:iso:20022:tech:xsd:head.001.001.02"
HEAD_DEFINITION = "head.001.001.02"
CBPR_SERVICE = "swift.cbprplus.02"


class BusinessHeader(BaseModel):
    """AppHdr: who sends to whom, which message definition, and the business message id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_bic: Bic
    to_bic: Bic
    business_message_id: str = Field(min_length=1, max_length=35)
    message_definition: str = Field(pattern=r"^[a-z]{4}\.\d{3}\.\d{3}\.\d{2}$")
    business_service: str | None = CBPR_SERVICE
    created_at: datetime
    possible_duplicate: bool = False


def read_header(r: Reader) -> BusinessHeader:
    return BusinessHeader.model_validate(
        dict(
            from_bic=r.need("Fr/FIId/FinInstnId/BICFI"),
            to_bic=r.need("To/FIId/FinInstnId/BICFI"),
            business_message_id=r.need("BizMsgIdr"),
            message_definition=r.need("MsgDefIdr"),
            business_service=r.text("BizSvc"),
            created_at=datetime.fromisoformat(r.need("CreDt")),
            possible_duplicate=r.text("PssblDplct") == "true",
        )
    )


def write_header(header: BusinessHeader) -> Writer:
    w = Writer.root(HEAD_NS, "AppHdr")
    w.add("Fr/FIId/FinInstnId/BICFI", header.from_bic)
    w.add("To/FIId/FinInstnId/BICFI", header.to_bic)
    w.add("BizMsgIdr", header.business_message_id)
    w.add("MsgDefIdr", header.message_definition)
    w.opt("BizSvc", header.business_service)
    w.add("CreDt", iso_datetime(header.created_at))
    if header.possible_duplicate:
        w.add("PssblDplct", "true")
    return w
