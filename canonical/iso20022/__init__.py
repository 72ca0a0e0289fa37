"""ISO 20022 (SWIFT CBPR+) codec: pain.001, pacs.002/003/004/008/009/010/028 and camt.029/052/053/054/056 with
the head.001 AppHdr."""

from canonical.codecs import register_codec
from canonical.iso20022.codec import DEFINITIONS, Iso20022Codec, Iso20022Message, parse, render
from canonical.iso20022.header import CBPR_SERVICE, BusinessHeader

codec = register_codec(Iso20022Codec())

__all__ = [
    "CBPR_SERVICE",
    "DEFINITIONS",
    "BusinessHeader",
    "Iso20022Codec",
    "Iso20022Message",
    "codec",
    "parse",
    "render",
]
