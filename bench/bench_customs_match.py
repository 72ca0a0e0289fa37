"""三单对碰 throughput on the shared CEB samples: matched sets per second, against a raw baseline (bare
`lxml.etree.fromstring` of the same three documents) measured in the same run.

A matched set is check_three_documents + build_inventory + render (XSD-validated) of the CEB621; parsing
the three messages (hardened parser, XSD, models) is measured separately, and so is `hub customs match`'s
whole offline path (parse + check). The published CEB311/411/511 samples are not one consistent set (see
shared/data/SOURCES.md), so the first order is taken as it is, except that its second goods line's price
is set to totalPrice/qty, and the link fields of the first payment and the waybill are set to the order's.

Run: .venv/bin/python bench/bench_customs_match.py [seconds-per-case]. Not part of the test suite.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import canonical.ceb as ceb
from bench.bench_codecs import rate
from canonical.ceb import GoodsClassification, build_inventory, check_three_documents
from canonical.ceb.offline import Source, match_messages
from canonical.customs import (
    BaseTransfer,
    ImportOrder,
    ImportOrderMessage,
    LogisticsHead,
    PaymentHead,
    PaymentMessage,
    WaybillMessage,
)

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "customs-ceb" / "samples"
BODIES = [(SAMPLES / f"CEB{n}Message.xml").read_bytes() for n in (311, 411, 511)]


def consistent_set() -> tuple[ImportOrder, PaymentHead, LogisticsHead]:
    """The samples' first order, payment and waybill, the links of payment and waybill set to the order's."""
    o, p, w = (ceb.parse(body) for body in BODIES)
    assert isinstance(o, ImportOrderMessage) and isinstance(p, PaymentMessage) and isinstance(w, WaybillMessage)
    order = o.orders[0]
    items = [i.model_copy(update={"price": i.total_price / i.qty}) for i in order.items]
    order = order.model_copy(update={"items": items})
    h = order.head
    payment = p.payments[0].head.model_copy(
        update={"order_no": h.order_no, "ebp_code": h.ebp_code, "pay_code": h.pay_code,
                "pay_transaction_id": h.pay_transaction_id, "payer_id_number": h.buyer_id_number,
                "payer_name": h.buyer_name, "amount_paid": h.actural_paid}
    )  # fmt: skip
    waybill = w.waybills[0].head.model_copy(
        update={"order_no": h.order_no, "consignee": h.consignee, "consignee_telephone": h.consignee_telephone,
                "consignee_address": h.consignee_address}
    )  # fmt: skip
    assert check_three_documents(order, payment, waybill) == []
    return order, payment, waybill


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    order, payment, waybill = consistent_set()
    goods = {i.gnum: GoodsClassification(gcode="3304990099", unit1="035", qty1=Decimal("1")) for i in order.items}
    arguments = dict(
        transfer=BaseTransfer(cop_code="1105910159", cop_name="示例报关行", dxp_id="DXPENT0000012345"),
        goods=goods, customs_code="2991", port_code="2991", agent_code="1105910159", agent_name="示例报关行",
        assure_code="1105910159", trade_mode="9610", traf_mode="5", country="116", net_weight=Decimal("3900"),
        declared_at=datetime(2024, 3, 1, 13, 0, 0), guid="41111111-2222-4333-8444-555555555555",
    )  # fmt: skip

    def matched_set() -> bytes:
        check_three_documents(order, payment, waybill)
        return ceb.render(build_inventory(order, payment, waybill, **arguments))  # type: ignore[arg-type]

    sources = [Source(f"CEB{n}", body) for n, body in zip((311, 411, 511), BODIES, strict=True)]
    baseline = rate(lambda: [etree.fromstring(body) for body in BODIES], seconds)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("parse+validate CEB311+411+511", lambda: [ceb.parse(body) for body in BODIES]),
        ("check only (check_three_documents)", lambda: check_three_documents(order, payment, waybill)),
        ("matched set (check+build+render 621)", matched_set),
        ("hub customs match path (parse+check)", lambda: match_messages(*sources)),
    ]
    print(f"samples: {', '.join(f'{len(b)} bytes' for b in BODIES)} (CEB311, CEB411, CEB511)")
    print(f"{'case':38} {'sets/s':>10} {'baseline sets/s':>16} {'ratio':>8}")
    print(f"{'raw lxml.etree.fromstring x3':38} {baseline:>10.0f}")
    for name, action in cases:
        value = rate(action, seconds)
        print(f"{name:38} {value:>10.0f} {baseline:>16.0f} {baseline / value:>7.2f}x")


if __name__ == "__main__":
    main()
