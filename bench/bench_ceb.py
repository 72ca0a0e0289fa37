"""CEB codec throughput: parse+validate and render of CEB311, and the three-document check.

Plain script: `python bench/bench_ceb.py`. The raw baseline (bare `lxml.etree.fromstring` of the same
bytes) is measured in the same run, so the ratio says what hardening, XSD validation and the models cost.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from test_three_documents import order, payment, waybill  # noqa: E402

import canonical.ceb as ceb  # noqa: E402
from canonical.customs import ImportOrderMessage  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "customs-ceb" / "samples" / "CEB311Message.xml"


def rate(action: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second of `action`, after a warm-up (XSD compiled, caches filled)."""
    for _ in range(5):
        action()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            action()
        count += 20
    return count / elapsed


def main() -> None:
    body = SAMPLE.read_bytes()
    message = ceb.parse(body)
    assert isinstance(message, ImportOrderMessage)
    o, p, w = order(), payment(), waybill()
    raw = rate(lambda: etree.fromstring(body))
    parsed = rate(lambda: ceb.parse(body))
    rendered = rate(lambda: ceb.render(message))
    checked = rate(lambda: ceb.check_three_documents(o, p, w))
    print(f"CEB311 sample: {len(body)} bytes, {len(message.orders)} orders")
    print(f"raw lxml.etree.fromstring      {raw:10.0f} msg/s")
    print(f"ceb parse+validate (CEB311)    {parsed:10.0f} msg/s   ratio to raw {raw / parsed:6.1f}x slower")
    print(f"ceb render+validate (CEB311)   {rendered:10.0f} msg/s   ratio to raw {raw / rendered:6.1f}x slower")
    print(f"three-document check           {checked:10.0f} sets/s")


if __name__ == "__main__":
    main()
