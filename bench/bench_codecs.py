"""Throughput of the payment codecs (pacs.008, MT103) against a raw baseline measured in the same run.

Run: .venv/bin/python bench/bench_codecs.py [seconds-per-case]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canonical.iso20022 import parse as parse_mx
from canonical.iso20022 import render as render_mx
from canonical.iso20022.schemas import schema
from canonical.swift_mt import mt_to_mx, mx_to_mt, parse_fin
from canonical.swift_mt import parse as parse_mt
from canonical.swift_mt import render as render_mt

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PACS008 = (DATA / "iso20022" / "samples" / "pacs008_credit_transfer_sample.xml").read_bytes()
MT103 = (DATA / "swift-mt" / "samples" / "MT103-out-ack_msg1_uetr_sha.fin").read_text()


def rate(action: Callable[[], object], seconds: float) -> float:
    action()  # warm caches (compiled XSDs) outside the measurement
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            action()
        count += 20
    return count / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    mx_message = parse_mx(PACS008)
    mt_message = parse_mt(MT103)
    document = etree.fromstring(PACS008)[1]
    pacs008_xsd = schema("pacs.008.001.08")
    baseline_xml = rate(lambda: etree.fromstring(PACS008), seconds)
    baseline_mt = rate(lambda: MT103.split("\n:"), seconds)
    cases: list[tuple[str, Callable[[], object], float]] = [
        ("pacs.008 parse+validate (codec)", lambda: parse_mx(PACS008), baseline_xml),
        ("pacs.008 XSD validate only", lambda: pacs008_xsd.validate(document), baseline_xml),
        ("pacs.008 render (+validate)", lambda: render_mx(mx_message), baseline_xml),
        ("pacs.008 -> MT103 translate", lambda: mx_to_mt(PACS008), baseline_xml),
        ("MT103 parse blocks", lambda: parse_fin(MT103), baseline_mt),
        ("MT103 parse typed (+checks)", lambda: parse_mt(MT103), baseline_mt),
        ("MT103 render", lambda: render_mt(mt_message), baseline_mt),
        ("MT103 -> pacs.008 translate", lambda: mt_to_mx(MT103), baseline_mt),
    ]
    print(f"{'case':34} {'msg/s':>10} {'baseline msg/s':>15} {'ratio':>8}")
    print(f"{'raw lxml.etree.fromstring(pacs.008)':34} {baseline_xml:>10.0f}")
    print(f"{'raw str.split of MT103':34} {baseline_mt:>10.0f}")
    for name, action, baseline in cases:
        value = rate(action, seconds)
        print(f"{name:34} {value:>10.0f} {baseline:>15.0f} {baseline / value:>7.1f}x")


if __name__ == "__main__":
    main()
