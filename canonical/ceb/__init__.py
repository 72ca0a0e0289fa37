"""China customs cross-border e-commerce (CEB) XML codec, registered as `ceb` on import."""

from canonical.ceb.codec import CebCodec, fits_pack, parse, render, supported_messages
from canonical.ceb.match import GoodsClassification, Mismatch, build_inventory, check_three_documents
from canonical.codecs import register_codec

codec = register_codec(CebCodec())

__all__ = [
    "CebCodec",
    "GoodsClassification",
    "Mismatch",
    "build_inventory",
    "check_three_documents",
    "codec",
    "fits_pack",
    "parse",
    "render",
    "supported_messages",
]
