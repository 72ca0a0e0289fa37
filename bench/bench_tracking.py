"""Carrier tracking normalization: tracking events normalized per second per carrier format, against a
raw baseline (bare `json.loads` of the same answer) measured in the same run.

Each answer is what the carrier sandbox sends for one tracking number with a long journey (customs hold
and release or a failed delivery, then delivery: 9 events; 7 for SF, whose domestic routes have neither
pre-pickup nor customs steps): DHL Unified JSON (international
express), an SF route query with its JSON-in-JSON gateway wrapper (domestic express), and DCSA events in
a forwarder's wrapper (ocean). "normalize" is the carrier parser (size and depth caps, strict wire
models, canonical TrackingEvents); "+ merge" adds merging into a shipment's timeline (dedup and order).

Run: .venv/bin/python bench/bench_tracking.py [seconds-per-case]. Not part of the test suite.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_codecs import rate
from canonical.carriers import express_domestic, express_intl, ocean
from canonical.logistics import merge_events
from sandbox.carriers import DomesticExpress, IntlExpress, OceanForwarder, Step, journey


def long_journey(domestic: bool) -> tuple[str, list[Step]]:
    """A tracking number whose journey has the most steps (a failed delivery, then delivered)."""
    number = max((f"T{i}" for i in range(400)), key=lambda n: len(journey(n, domestic)))
    return number, journey(number, domestic)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    state = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    carriers = [
        ("international express (DHL)", IntlExpress("intl", state / "intl"), express_intl.parse_tracking),
        ("domestic express (SF)", DomesticExpress("domestic", state / "domestic"), express_domestic.parse_tracking),
        ("ocean forwarder (DCSA)", OceanForwarder("ocean", state / "ocean"), ocean.parse_tracking),
    ]
    head = f"{'carrier format':30} {'bytes':>6} {'events':>6} {'events/s':>10} {'+merge ev/s':>12}"
    print(f"{head} {'json.loads ev/s':>16} {'ratio':>7}")
    for name, sandbox, parse in carriers:
        number, steps = long_journey(sandbox.domestic)
        body = sandbox.render_tracking(number, steps)
        events = len(parse(body))
        baseline = rate(lambda body=body: json.loads(body), seconds) * events  # type: ignore[misc]
        normalized = rate(lambda body=body, parse=parse: parse(body), seconds) * events  # type: ignore[misc]
        merged = rate(lambda body=body, parse=parse: merge_events([], parse(body)), seconds) * events  # type: ignore[misc]
        print(
            f"{name:30} {len(body):>6} {events:>6} {normalized:>10.0f} {merged:>12.0f} {baseline:>16.0f} "
            f"{baseline / normalized:>6.1f}x"
        )
    print("ratio: how many times faster the bare json.loads of the same answer is than normalizing it")


if __name__ == "__main__":
    main()
