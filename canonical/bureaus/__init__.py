"""Credit bureau report schemas normalized to `canonical.credit.CreditReport`.

Each module is one bureau's schema with one entry point, `parse_report(raw: bytes) -> CreditReport`,
which refuses malformed, hostile or wrongly typed input with a `RejectedInput` naming the JSON path.
"""

from collections.abc import Callable

from canonical.bureaus import bureau_a, bureau_b
from canonical.credit import CreditReport

ReportParser = Callable[[bytes], CreditReport]

PARSERS: dict[str, ReportParser] = {"bureau-a": bureau_a.parse_report, "bureau-b": bureau_b.parse_report}

__all__ = ["PARSERS", "ReportParser", "bureau_a", "bureau_b"]
