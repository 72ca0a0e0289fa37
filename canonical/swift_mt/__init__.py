"""SWIFT FIN MT codec: blocks 1-5, typed messages (payments, common group, confirmations, statements), and
translation to and from ISO 20022 for MT103, MT202 / MT202COV, MT205 / MT205COV (and MT200 to pacs.009),
returns (RETN), MT101, MT107, MT204, MT199 / MT299 status, MT940 / MT950 and MT192 / MT196."""

from canonical.codecs import register_codec
from canonical.swift_mt.blocks import FinMessage, MtHeader, parse_fin, split_rje
from canonical.swift_mt.catalogue import MESSAGE_TYPES, parse_message, render_message, typed_message
from canonical.swift_mt.codec import SwiftMtCodec, mt_to_mx, mx_to_mt, to_canonical, to_mt
from canonical.swift_mt.messages import Mt103, Mt202, Mt202Underlying, parse, render

codec = register_codec(SwiftMtCodec())

__all__ = [
    "MESSAGE_TYPES",
    "FinMessage",
    "Mt103",
    "Mt202",
    "Mt202Underlying",
    "MtHeader",
    "SwiftMtCodec",
    "codec",
    "mt_to_mx",
    "mx_to_mt",
    "parse",
    "parse_fin",
    "parse_message",
    "render",
    "render_message",
    "split_rje",
    "to_canonical",
    "to_mt",
    "typed_message",
]
