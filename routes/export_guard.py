"""The export guard (GB/T 43697 data grades and cross-border rules), applied to every routing decision.

- core data goes only to a destination inside its residency (the hub's home country when the
  message declares none);
- important data goes abroad only under an export-assessment record in config, valid that day,
  for that destination country and message type;
- any message that declares a residency goes nowhere outside it.
A destination whose country is not configured counts as abroad.
"""

from __future__ import annotations

import fnmatch
from datetime import date

from canonical.envelope import Classification, Envelope
from routes.config import DataExport


def export_refusal(env: Envelope, destination_country: str | None, policy: DataExport, today: date) -> str | None:
    """Why `env` may not go to a partner in `destination_country`, or None if it may."""
    where = destination_country or "an unknown country"
    residency = env.residency or ([policy.home_country] if env.classification is Classification.CORE else [])
    if residency and destination_country not in residency:
        return f"{env.classification.value} data may stay only in {', '.join(residency)}; the destination is in {where}"
    if env.classification is Classification.IMPORTANT and destination_country != policy.home_country:
        for record in policy.assessments:
            if (
                record.destination == destination_country
                and record.valid_from <= today <= record.valid_until
                and any(fnmatch.fnmatchcase(env.type, t) for t in record.types)
            ):
                return None
        return f"important data to {where} needs an export-assessment record for {env.type}; none is valid today"
    return None
