"""Carrier tracking formats normalized to `canonical.logistics.TrackingEvent`.

Each module is one wire format with one entry point, `parse_tracking(raw: bytes) -> list[TrackingEvent]`,
which refuses malformed, hostile or wrongly typed input with a `RejectedInput` naming the JSON path.
"""

from collections.abc import Callable

from canonical.carriers import express_domestic, express_intl, ocean
from canonical.logistics import TrackingEvent

TrackingParser = Callable[[bytes], list[TrackingEvent]]

PARSERS: dict[str, TrackingParser] = {
    "express_intl": express_intl.parse_tracking,
    "express_domestic": express_domestic.parse_tracking,
    "ocean": ocean.parse_tracking,
}

__all__ = ["PARSERS", "TrackingParser", "express_domestic", "express_intl", "ocean"]
