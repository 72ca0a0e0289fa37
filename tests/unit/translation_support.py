"""What the payment message tests share: FIN text as the network carries it, MX rendered at a fixed time and
checked against the official XSDs, MX -> MT -> MX round trips, the (location, rule) pairs a refusal names, and the
FIN messages more than one module reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from pydantic import BaseModel

from canonical.errors import RejectedInput
from canonical.iso20022 import BusinessHeader, Iso20022Message
from canonical.iso20022 import parse as parse_mx
from canonical.iso20022 import render as render_mx
from canonical.swift_mt import mt_to_mx, mx_to_mt, parse_message
from canonical.swift_mt.layout import MtMessage

XSD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "iso20022" / "xsd"
UETR = "8579f4a4-a547-463e-ae63-e7c6620d59b4"
SENDER, RECEIVER = "BANKDEFFXXX", "BANKGB2LXXX"
NOW = datetime(2026, 4, 13, 18, 0, tzinfo=UTC)
Fields = list[tuple[str, str]]


def clock() -> datetime:
    return NOW


# --- FIN -----------------------------------------------------------------------------------------------------


def fin(
    message_type: str, fields: Fields, uetr: str | None = None, *, cover: bool = False, receiver: str = RECEIVER
) -> str:
    """An input FIN message (CRLF, as on the network) from SENDER to `receiver` with these block-4 fields; block 3
    carries 119:COV for a cover and the UETR in 121 when there is one."""
    body = "".join(f"\r\n:{tag}:{value.replace(chr(10), chr(13) + chr(10))}" for tag, value in fields)
    user = ("{119:COV}" if cover else "") + (f"{{121:{uetr}}}" if uetr else "")
    block3 = f"{{3:{user}}}" if user else ""
    address = f"{receiver[:8]}X{receiver[8:]}"  # the logical terminal: BIC8, terminal code X, branch
    return f"{{1:F01BANKDEFFAXXX0000000000}}{{2:I{message_type}{address}N}}{block3}{{4:{body}\r\n-}}"


def replaced(fields: Fields, tag: str, value: str, new_tag: str | None = None) -> Fields:
    """`fields` with every `tag` field set to `value`, under `new_tag` when the field changes its option."""
    return [(new_tag or tag, value) if t == tag else (t, v) for t, v in fields]


def without(fields: Fields, *tags: str) -> Fields:
    """`fields` without any of `tags`."""
    return [(t, v) for t, v in fields if t not in tags]


# --- MX ------------------------------------------------------------------------------------------------------


def business_header(
    definition: str,
    *,
    sender: str = SENDER,
    receiver: str = RECEIVER,
    message_id: str = "B1",
    created_at: datetime = NOW,
) -> BusinessHeader:
    return BusinessHeader(
        from_bic=sender,
        to_bic=receiver,
        business_message_id=message_id,
        message_definition=definition,
        created_at=created_at,
    )


def mx(payload: BaseModel, definition: str, *, receiver: str = RECEIVER) -> bytes:
    """`payload` as an enveloped MX from SENDER, rendered (and so XSD-checked by the renderer) at NOW."""
    return render_mx(Iso20022Message(business_header(definition, receiver=receiver), payload), clock)


def official_xsd_errors(xml: bytes, definition: str) -> list[str]:
    """Validate the AppHdr and Document of `xml` against the official XSDs in the shared data folder."""
    root = etree.fromstring(xml)
    errors = []
    for part, name in ((root[0], "head.001.001.02"), (root[1], definition)):
        schema = etree.XMLSchema(etree.parse(str(XSD / f"{name}.xsd")))
        if not schema.validate(part):
            errors += [e.message for e in schema.error_log]
    return errors


# --- translations and round trips ----------------------------------------------------------------------------


def translated(text: str) -> tuple[BaseModel, list[str], bytes]:
    """MT -> MX: the payload read back from the MX, the warnings, and the MX."""
    xml, warnings = mt_to_mx(text, clock)
    return parse_mx(xml).payload, warnings, xml


def mt_mx_mt(text: str, definition: str) -> tuple[list[str], str, list[str]]:
    """MT -> MX -> MT, the MX checked against the official XSD of `definition`: the warnings of the way there, the
    MT back and the warnings of the way back."""
    xml, there = mt_to_mx(text, clock)
    assert official_xsd_errors(xml, definition) == []
    back, warnings = mx_to_mt(xml)
    return there, back, warnings


def mx_mt_mx(xml: bytes, mt_type: str | None = None) -> tuple[BaseModel, str]:
    """MX -> MT -> MX: the payload read back, and the MT in between."""
    text, _ = mx_to_mt(xml, mt_type)
    again, _ = mt_to_mx(text, clock)
    return parse_mx(again).payload, text


def mt_round_trip(text: str) -> MtMessage:
    """MT -> MX -> MT -> MX, checking that the second MX carries the payload of the first: the MT in between."""
    payload, _, xml = translated(text)
    again, back = mx_mt_mx(xml)
    assert again == payload
    return parse_message(back)


def as_sent(back: BaseModel, payload: BaseModel) -> BaseModel:
    """`back` with the creation time of `payload`, instead of the one the renderers stamp."""
    return back.model_copy(update={"created_at": payload.created_at})  # type: ignore[attr-defined]


def through_mx(payload: BaseModel, definition: str, *, receiver: str = RECEIVER) -> BaseModel:
    """payload -> XSD-valid MX -> payload."""
    return as_sent(parse_mx(mx(payload, definition, receiver=receiver)).payload, payload)


def through_mt(payload: BaseModel, definition: str, mt_type: str | None = None) -> BaseModel:
    """payload -> MX -> MT -> MX -> payload."""
    return as_sent(mx_mt_mx(mx(payload, definition), mt_type)[0], payload)


# --- refusals ------------------------------------------------------------------------------------------------


def violations(action: Callable[[], object]) -> list[tuple[str, str]]:
    """The (location, rule) of each violation in the RejectedInput that `action` raises."""
    with pytest.raises(RejectedInput) as exc:
        action()
    return [(v.loc, v.rule) for v in exc.value.violations]


def rules_of(exc: pytest.ExceptionInfo[RejectedInput]) -> dict[str, str]:
    """Rule -> location of a caught RejectedInput."""
    return {v.rule: v.loc for v in exc.value.violations}


def refusal_of_mt(text: str) -> list[tuple[str, str]]:
    return violations(lambda: mt_to_mx(text, clock))


def refusal_of_mx(xml: bytes, mt_type: str | None = None) -> list[tuple[str, str]]:
    return violations(lambda: mx_to_mt(xml, mt_type))


# --- messages read by more than one module -------------------------------------------------------------------

DEBIT_900: Fields = [
    ("20", "C11126A1378"),
    ("21", "5482ABC"),
    ("25P", "0123456789\nBANKDEFFXXX"),
    ("13D", "2302271045+0100"),
    ("32A", "230227USD233530,"),
    ("52A", "BANKBEBBXXX"),
    ("72", "/BNF/ABC REF 1234"),
]
CREDIT_910: Fields = [
    ("20", "C11126C9224"),
    ("21", "494936/DEV"),
    ("25", "6231358"),
    ("13D", "2302271545-0500"),
    ("32A", "230227USD1000000,"),
    ("50K", "/123456789\nACME CORPORATION\n1 MAIN STREET\nNEW YORK"),
    ("52A", "BANKUS33XXX"),
    ("56A", "CHASUS33XXX"),
]
REQUEST_920: Fields = [  # an MT942 with both floor limits, then an MT940
    ("20", "REQ920001"),
    ("12", "942"),
    ("25", "DE89370400440532013000"),
    ("34F", "EURD1000,"),
    ("34F", "EURC5000,"),
    ("12", "940"),
    ("25", "0123456789"),
]
NOTICE_210: Fields = [
    ("20", "318393"),
    ("25", "123456789"),
    ("30", "230228"),
    ("21", "TRANSREF1"),
    ("32B", "USD230000,"),
    ("52A", "CHASUS33XXX"),
    ("21", "TRANSREF2"),
    ("32B", "USD10000,5"),
    ("50C", "ACMEUS33"),
    ("56A", "BANKUS33XXX"),
    ("21", "TRANSREF3"),
    ("32B", "USD5,"),
    ("50", "JOHN DOE\n1 MAIN STREET\nNEW YORK"),
]
CHEQUES_110: Fields = [
    ("20", "CHQ230227"),
    ("21", "CHQ000123"),
    ("30", "230220"),
    ("32B", "USD1500,"),
    ("59", "JOHN DOE\nNEW YORK"),
    ("21", "CHQ000124"),
    ("30", "230221"),
    ("32A", "230301USD2500,25"),
    ("50K", "ACME CORP\nNEW YORK"),
    ("52A", "CHASUS33XXX"),
    ("59", "/12345\nJANE ROE"),
]
