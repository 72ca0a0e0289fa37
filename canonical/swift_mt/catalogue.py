"""Every typed MT the hub knows, by message type, and the parse / render entry points over all of them."""

from __future__ import annotations

from canonical.errors import RejectedInput, Violation
from canonical.swift_mt.blocks import FinMessage, parse_fin
from canonical.swift_mt.common import (
    Mt190,
    Mt191,
    Mt192,
    Mt196,
    Mt199,
    Mt290,
    Mt291,
    Mt292,
    Mt296,
    Mt299,
    Mt900,
    Mt910,
)
from canonical.swift_mt.layout import MtMessage, parse_layout
from canonical.swift_mt.messages import header_violations, raise_violations, render, typed
from canonical.swift_mt.statements import Mt920, Mt940, Mt941, Mt942, Mt950
from canonical.swift_mt.transfers import Mt101, Mt107, Mt110, Mt111, Mt112, Mt200, Mt204, Mt205, Mt210

MESSAGE_TYPES: dict[str, type[MtMessage]] = {
    "101": Mt101,
    "107": Mt107,
    "110": Mt110,
    "111": Mt111,
    "112": Mt112,
    "190": Mt190,
    "191": Mt191,
    "192": Mt192,
    "196": Mt196,
    "199": Mt199,
    "200": Mt200,
    "204": Mt204,
    "205": Mt205,
    "210": Mt210,
    "290": Mt290,
    "291": Mt291,
    "292": Mt292,
    "296": Mt296,
    "299": Mt299,
    "900": Mt900,
    "910": Mt910,
    "920": Mt920,
    "940": Mt940,
    "941": Mt941,
    "942": Mt942,
    "950": Mt950,
}


def typed_message(fin: FinMessage) -> MtMessage:
    """The typed view of any supported MT (see MESSAGE_TYPES, plus MT103 / MT202).

    Raises RejectedInput listing every broken rule, each at `4:<tag>` (or `3:121`, `2`), so that callers
    can report all problems of a message at once.
    """
    if fin.message_type in ("103", "202"):
        return typed(fin)
    model = MESSAGE_TYPES.get(fin.message_type)
    if model is None:
        raise RejectedInput("unsupported MT", [Violation("2", "unsupported_message_type", f"MT{fin.message_type}")])
    values, found = parse_layout(fin.fields, model.LAYOUT)
    raise_violations(header_violations(fin.header) + found)
    message = model.model_validate({"header": fin.header, **values})
    raise_violations(message.rule_violations())
    return message


def parse_message(text: str) -> MtMessage:
    """Parse one FIN message of any supported type; `render_message(parse_message(t))` gives `t` back."""
    return typed_message(parse_fin(text))


def render_message(message: MtMessage, newline: str = "\r\n") -> str:
    """FIN text of any typed MT; RejectedInput if a field or a cross-field rule is broken."""
    return render(message, newline)
