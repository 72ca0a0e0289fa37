"""The original-payment references (OrgnlGrpInf, OrgnlInstrId, OrgnlEndToEndId, OrgnlUETR) that
status reports, returns, status requests, cancellations and resolutions share, in one XSD order."""

from __future__ import annotations

from typing import Any

from canonical.iso20022.tree import Reader, Writer
from canonical.payments import OriginalReference


def read_original(tx: Reader) -> dict[str, Any]:
    """The OriginalReference fields of a transaction element (validated by the caller's model)."""
    return dict(
        message_id=tx.need("OrgnlGrpInf/OrgnlMsgId"),
        message_type=tx.need("OrgnlGrpInf/OrgnlMsgNmId"),
        instruction_id=tx.text("OrgnlInstrId"),
        end_to_end_id=tx.text("OrgnlEndToEndId"),
        uetr=tx.text("OrgnlUETR"),
    )


def write_original(tx: Writer, original: OriginalReference) -> None:
    """Append OrgnlGrpInf .. OrgnlUETR: every type using it orders them so, with only optional
    elements (OrgnlTxId, OrgnlClrSysRef) between that the hub does not carry."""
    grp = tx.add("OrgnlGrpInf")
    grp.add("OrgnlMsgId", original.message_id)
    grp.add("OrgnlMsgNmId", original.message_type)
    tx.opt("OrgnlInstrId", original.instruction_id)
    tx.opt("OrgnlEndToEndId", original.end_to_end_id)
    tx.opt("OrgnlUETR", original.uetr)
