"""Simulated market makers: liquidity-provider banks that quote on every open cross-currency demand.

Rates are deterministic (a fixed mid rate per currency against CNY, less each maker's spread), so a
demo or a test knows which quote is best. A maker quotes once per demand and quotes again only after
its last quote there expired. Explicit quotes (POST /demands/{id}/quotes) keep working beside them.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_DOWN, Decimal

from sandbox.dcbridge.flows import Settlements
from sandbox.dcbridge.model import BridgeError

# Units of each currency per 1 CNY (illustrative mid rates, fixed so that results are reproducible).
MID_PER_CNY = {"CNY": Decimal(1), "HKD": Decimal("1.0850"), "THB": Decimal("4.9500"), "AED": Decimal("0.5080")}
# id -> spread taken off the mid rate: LP-HK-A always quotes better than LP-AE-A.
MAKERS = {"LP-HK-A": Decimal("0.0015"), "LP-AE-A": Decimal("0.0030")}
QUOTE_VALIDITY_S = 30.0


def maker_rate(maker: str, source: str, target: str) -> str:
    """Units of `target` per unit of `source` that `maker` offers, as the bridge's rate string."""
    mid = MID_PER_CNY[target] / MID_PER_CNY[source]
    return str((mid * (1 - MAKERS[maker])).quantize(Decimal("0.000001"), rounding=ROUND_DOWN))


def quote_id(demand_id: str, maker: str, n: int) -> str:
    # Deterministic and short: a demand id may already be 64 characters, the identifier limit.
    return "MQ-" + hashlib.sha256(f"{demand_id}\x1f{maker}\x1f{n}".encode()).hexdigest()[:24]


def quote_open_demands(s: Settlements, validity_s: float = QUOTE_VALIDITY_S) -> list[str]:
    """Let every maker quote on open cross-currency demands it has no live quote on; the quote ids."""
    now = s.ledger.now()
    rows = s.db.execute(
        "SELECT demand_id, body FROM demands WHERE status IN ('published', 'quoted') AND expires_at > ?", (now,)
    ).fetchall()
    given: list[str] = []
    for demand_id, _body in rows:
        view = s.view(demand_id)
        source, target = view["source_currency"], view["target_currency"]
        if source == target or view["status"] not in ("published", "quoted"):
            continue
        for maker in MAKERS:
            mine = [q for q in view["quotes"] if q["bank"] == maker]
            if any(not q["expired"] for q in mine) or maker in (view["from"], view["beneficiary"]):
                continue
            given_id = quote_id(demand_id, maker, len(mine))
            body: dict[str, object] = {
                "quote_id": given_id,
                "bank": maker,
                "rate": maker_rate(maker, source, target),
                "valid_for_s": validity_s,
            }
            try:
                s.quote(demand_id, body)
            except BridgeError:
                continue  # e.g. the maker was barred meanwhile: it simply does not quote
            given.append(given_id)
    return given
