"""The customs desk's sets on a real journal (SQLite and PostgreSQL): documents filed once, revisions that
guard judgements, hub instances racing on one order, receipts, time-outs, and the same inventory rebuilt."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from canonical.customs import BaseTransfer, CustomsReceipt, ImportOrderMessage, PaymentMessage, WaybillMessage
from canonical.envelope import Envelope
from desk.customs import CustomsDesk, GoodsCatalogue, NotYetKnown, apply_receipt, entities
from routes.settings import CustomsTuning
from store import Store
from store.customs import CustomsSets, Entity
from tests.unit.test_three_documents import order, payment, waybill, with_head

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
CATALOGUE = GoodsCatalogue.model_validate(
    {
        "goods": {
            "SKU-1": {"gcode": "3304990099", "unit1": "035", "qty1_per_unit": "0.1", "net_weight_kg": "0.1"},
            "SKU-2": {"gcode": "1901101000", "unit1": "035", "qty1_per_unit": "0.9", "net_weight_kg": "0.9"},
        }
    }
)
TRANSFER = BaseTransfer(cop_code="3301964J31", cop_name="示例电商企业", dxp_id="DXPENT0000000001")


def guid() -> str:
    return str(uuid.uuid4()).upper()


def entity(kind: str, order_no: str = "ORD-1", key: str | None = None) -> Entity:
    return Entity(str(uuid.uuid4()).upper(), kind, order_no, key or f"{kind}-{uuid.uuid4().hex[:6]}")


async def test_a_document_is_filed_once_and_each_new_one_bumps_the_revision(store: Store) -> None:
    sets = CustomsSets(store)
    first = entity("order")
    found, new = await sets.take(first, "m-1", "platform-x", LATER)
    assert (
        new
        and found is not None
        and (found.status, found.revision, found.missing) == ("collecting", 1, ["payment", "waybill"])
    )
    again, new = await sets.take(first, "m-1", "platform-x", LATER)
    assert not new and again is not None and again.revision == 1 and len(again.documents) == 1
    found, _ = await sets.take(entity("payment"), "m-2", "bank-a", LATER)
    corrected, _ = await sets.take(entity("payment"), "m-3", "bank-a", LATER)
    assert corrected is not None and corrected.revision == 3
    assert sorted(d.status for d in corrected.documents if d.kind == "payment") == ["submitted", "superseded"]
    assert corrected.current("payment") is not None and corrected.current("payment").message_id == "m-3"  # type: ignore[union-attr]
    assert corrected.senders == ["bank-a", "platform-x"]


async def test_a_judgement_of_an_older_revision_cannot_settle_the_set(store: Store) -> None:
    sets = CustomsSets(store)
    for kind in ("order", "payment", "waybill"):
        snapshot, _ = await sets.take(entity(kind, "ORD-2"), f"m-{kind}", "platform-x", LATER)
    assert snapshot is not None and snapshot.revision == 3
    await sets.take(entity("waybill", "ORD-2"), "m-waybill-2", "platform-x", LATER)  # arrives while judging
    assert await sets.settle("ORD-2", 3, "matched", inventory_id=str(uuid.uuid4())) is None
    held = await sets.settle("ORD-2", 4, "held", mismatches=[{"rule": "amount_paid"}], reason="1 mismatch(es)")
    assert held is not None and held.status == "held" and held.mismatches == [{"rule": "amount_paid"}]
    events = [(subject, json.loads(data)) for _seq, subject, _id, data in await store.pending_events()]
    said = {"order_no": "ORD-2", "status": "held", "revision": 4, "senders": ["platform-x"]}
    said |= {"reason": "1 mismatch(es)", "mismatches": ["amount_paid"]}
    assert ("hub.evt.customs.set.held", said) in events


async def test_two_hub_instances_racing_on_one_order_make_one_set_and_one_filing(journal_url: str) -> None:
    # Several hub instances share a PostgreSQL journal; on SQLite one hub's tasks race through its one writer.
    first = await Store.open(journal_url)
    second = await Store.open(journal_url) if journal_url.startswith("postgresql") else first
    try:
        a, b = CustomsSets(first), CustomsSets(second)
        docs = [entity(kind, "ORD-RACE") for kind in ("order", "payment", "waybill") for _ in range(3)]
        await asyncio.gather(*(
            (a if n % 2 else b).take(doc, f"m-{n}", "platform-x", LATER) for n, doc in enumerate(docs)
        ))  # fmt: skip
        found = await a.get("ORD-RACE")
        assert found is not None and found.revision == 9 and len(found.documents) == 9
        assert sorted(k for k in ("order", "payment", "waybill") if found.current(k)) == ["order", "payment", "waybill"]
        assert sum(d.status == "superseded" for d in found.documents) == 6
        results = await asyncio.gather(
            a.settle("ORD-RACE", 9, "matched", inventory_id="00000000-0000-4000-8000-000000000001"),
            b.settle("ORD-RACE", 9, "matched", inventory_id="00000000-0000-4000-8000-000000000002"),
        )
        assert sum(r is not None for r in results) == 1
        subjects = [s for _seq, s, _id, _d in await first.pending_events()]
        assert subjects.count("hub.evt.customs.set.matched") == 1
    finally:
        await first.close()
        if second is not first:
            await second.close()


def receipt(message: str, guid: str, status: str, **fields: str) -> CustomsReceipt:
    entry = {"guid": guid, "return_status": status, "return_time": "20261123100000000", "return_info": "ok", **fields}
    return CustomsReceipt.model_validate({"message": message, "guid": str(uuid.uuid4()).upper(), "returns": [entry]})


async def test_receipts_move_documents_forward_only_and_a_repeat_changes_nothing(store: Store) -> None:
    sets = CustomsSets(store)
    inv = entity("inventory", "ORD-3", "COP3")
    await sets.take(inv, "m-inv", "hub", LATER)
    for status in ("2", "120", "399", "120"):  # the last one late: the document stays released
        await apply_receipt(store, receipt("CEB622", inv.guid, status, cop_no="COP3"), "customs")
    [doc] = await sets.documents_of("m-inv")
    assert doc.status == "released" and [r["status"] for r in doc.receipts] == ["2", "120", "399", "120"]
    released = receipt("CEB622", inv.guid, "399", cop_no="COP3")
    await apply_receipt(store, released, "customs")
    await apply_receipt(store, released, "customs")  # the single window sends it again: nothing new
    [doc] = await sets.documents_of("m-inv")
    assert len(doc.receipts) == 5
    with pytest.raises(NotYetKnown, match="CEB312 answers order"):
        await apply_receipt(store, receipt("CEB312", str(uuid.uuid4()).upper(), "2", order_no="ORD-NONE"), "customs")


def trio_messages(order_no: str, **payment_changes: Any) -> list[Envelope]:
    o = with_head(order(), guid=str(uuid.uuid4()).upper(), order_no=order_no)
    p = payment().model_copy(update={"guid": str(uuid.uuid4()).upper(), "order_no": order_no, **payment_changes})
    w = waybill().model_copy(update={"guid": str(uuid.uuid4()).upper(), "order_no": order_no})
    payloads = [
        ImportOrderMessage.model_validate({"guid": guid(), "orders": [o], "transfer": TRANSFER}),
        PaymentMessage.model_validate({"guid": guid(), "payments": [{"head": p}], "transfer": TRANSFER}),
        WaybillMessage.model_validate({"guid": guid(), "waybills": [{"head": w}], "transfer": TRANSFER}),
    ]
    kinds = ("customs.order", "customs.payment", "customs.waybill")
    return [
        Envelope(type=k, source="platform-x", destination="customs", payload=m)
        for k, m in zip(kinds, payloads, strict=True)
    ]


def desk(store: Store, published: list[Envelope], clock: datetime = NOW) -> CustomsDesk:
    async def publish(env: Envelope) -> None:  # what the hub's ingress would journal and put on hub.in
        await store.claim(env, env.idempotency_key)
        published.append(env)

    return CustomsDesk(
        cast(Any, None), store, CustomsTuning(match_timeout_s=3600), CATALOGUE, publish, lambda _i: False,
        cast(Any, None), clock=lambda: clock,
    )  # fmt: skip


async def journalled(store: Store, envelopes: list[Envelope]) -> list[str]:
    for env in envelopes:
        await store.ensure(env, str(env.id))
    return [str(env.id) for env in envelopes]


async def test_a_consistent_set_files_one_inventory_that_rebuilds_to_the_same_message(store: Store) -> None:
    published: list[Envelope] = []
    d = desk(store, published)
    for message_id in await journalled(store, trio_messages("ORD-4")):
        await d.take(message_id)
    [inventory] = published
    found = await d.sets.get("ORD-4")
    assert found is not None and found.status == "matched" and found.inventory_id == str(inventory.id)
    head = inventory.payload.inventories[0].head
    assert (head.order_no, head.agent_code, head.trade_mode, head.net_weight) == (
        "ORD-4",
        "3301961234",
        "9610",
        Decimal("1.1"),
    )
    order_doc, payment_doc, waybill_doc = await d._documents(found)
    rebuilt = d.inventory(found, order_doc, payment_doc, waybill_doc)
    assert rebuilt.id == inventory.id and rebuilt.payload_digest() == inventory.payload_digest()
    assert rebuilt.idempotency_key == inventory.idempotency_key == "customs-inventory:ORD-4:3"


async def test_an_item_missing_from_the_goods_catalogue_holds_the_set(store: Store) -> None:
    published: list[Envelope] = []
    d = desk(store, published)
    d.catalogue = GoodsCatalogue.model_validate({"goods": {"SKU-1": CATALOGUE.goods["SKU-1"].model_dump()}})
    for message_id in await journalled(store, trio_messages("ORD-5")):
        await d.take(message_id)
    found = await d.sets.get("ORD-5")
    assert found is not None and found.status == "held" and not published
    assert [m["rule"] for m in found.mismatches] == ["goods_classification_required"]
    assert found.mismatches[0]["left"] == "CEB311/OrderList[gnum=2]"


async def test_an_open_set_past_its_deadline_times_out_on_the_leaders_round(store: Store) -> None:
    published: list[Envelope] = []
    [order_id, payment_id, _] = await journalled(store, trio_messages("ORD-6"))
    await desk(store, published).take(order_id)
    await desk(store, published).take(payment_id)
    assert (await desk(store, published).run_once())["timed_out"] == []  # not yet
    done = await desk(store, published, clock=NOW + timedelta(hours=2)).run_once()
    assert done == {"timed_out": ["ORD-6"], "refiled": []}
    found = await CustomsSets(store).get("ORD-6")
    assert found is not None and found.status == "timed_out" and found.reason == "timed out waiting for waybill"
    subjects = [s for _seq, s, _id, _d in await store.pending_events()]
    assert "hub.evt.customs.set.timed_out" in subjects


def test_entities_of_each_declaration_carry_their_own_keys() -> None:
    o, p, w = (env.payload for env in trio_messages("ORD-7"))
    assert [(e.kind, e.order_no) for e in entities(o)] == [("order", "ORD-7")]
    assert [(e.kind, e.key) for e in entities(p)] == [("payment", "PAY-2024-0001")]
    assert [(e.kind, e.key) for e in entities(w)] == [("waybill", "YT2024030100001")]
