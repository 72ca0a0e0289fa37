"""The customs desk: 三单对碰 of each order's three documents, the inventory it files, and the receipts.

Orders (CEB311 from the platform), payments (CEB411 from the payment institution) and waybills (CEB511
from the logistics company) arrive separately, over HTTP or from internal services over NATS, and go
to the single window like any declaration. The desk follows their `accepted` events on HUB_EVT (one
durable consumer shared by every hub instance) and files each declared entity under its order
number (store/customs.py). When an order's three documents are all there it checks them
(canonical/ceb/match.py): consistent, it builds the CEB621 inventory declaration as the configured
declarant and publishes it to hub.in like any message (idempotent per order and revision); not, the
set is held with each mismatch and its senders are notified. An open set past its deadline times out
(`[customs] match_timeout_s`), with a notification. The single window's receipts (POST
/v1/callbacks/customs) move each document, its message, and through the inventory the set:
declared -> accepted -> released, or rejected. The timeout scan and the re-filing of an inventory a
crash left unpublished run on the leader instance only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel, ConfigDict, Field

from canonical.ceb.match import GoodsClassification, build_inventory, check_three_documents
from canonical.ceb.offline import mismatch_json
from canonical.customs import (
    BaseTransfer,
    CebMessage,
    CustomsReceipt,
    ImportOrder,
    ImportOrderMessage,
    LogisticsHead,
    PaymentHead,
    PaymentMessage,
    ReturnEntry,
    WaybillMessage,
)
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from canonical.notifications import StatusNotification
from canonical.sensitive import MASK
from desk.calendar import utc_now
from routes import bus
from routes.lease import LeaderLease, cancel, every
from routes.settings import CustomsTuning
from store import Store
from store.customs import SET_KINDS, CustomsSet, CustomsSets, Document, Entity

log = logging.getLogger("hub.customs")
CONSUMER = "customs-desk"
SUBJECT = "hub.evt.customs.>"
# Message type -> the kind of entity it declares (its receipts name the same kind).
KINDS = {
    "customs.order": "order",
    "customs.payment": "payment",
    "customs.waybill": "waybill",
    "customs.inventory": "inventory",
    "customs.export_order": "export_order",
    "customs.export_receipts": "export_receipts",
    "customs.export_waybill": "export_waybill",
    "customs.export_inventory": "export_inventory",
}
RECEIPT_KINDS = {
    "CEB312": ("order", "order_no"),
    "CEB412": ("payment", "pay_transaction_id"),
    "CEB512": ("waybill", "logistics_no"),
    "CEB622": ("inventory", "cop_no"),
    "CEB304": ("export_order", "order_no"),
    "CEB404": ("export_receipts", "pay_no"),
    "CEB506": ("export_waybill", "logistics_no"),
    "CEB604": ("export_inventory", "cop_no"),
}
NOTIFIED = frozenset({"held", "timed_out", "released", "rejected"})  # set statuses its senders are told of
# Rules whose values are personal data (buyer, payer, consignee): shown masked, never stored in clear.
PERSONAL_RULES = frozenset(
    {"buyer_id_type", "buyer_id_number", "buyer_name", "consignee", "consignee_telephone", "consignee_address"}
)
INVENTORY_NS = uuid.UUID("6f1c1b0e-5d0a-4c43-9a57-2b1f4f0c6c21")  # the filed inventory's guid, per order and revision
REFILE_AFTER = timedelta(seconds=60)
SHANGHAI = ZoneInfo("Asia/Shanghai")  # CEB times are China time
Publish = Callable[[Envelope], Awaitable[object]]


class NotYetKnown(Exception):
    """A receipt about a declaration the desk has not filed yet (its event is still on the way): the
    partner should send it again shortly. Nothing of it is lost: the callback is answered 503."""


class GoodsLine(BaseModel):
    """What customs needs about one item the order does not say (by the e-commerce enterprise's itemNo)."""

    model_config = ConfigDict(extra="forbid")
    gcode: str = Field(pattern=r"^\d{10}$", description="HS commodity code")
    unit1: str = Field(pattern=r"^\d{3}$", description="legal unit of measure")
    qty1_per_unit: Decimal = Field(gt=0, description="legal quantity per unit sold")
    net_weight_kg: Decimal = Field(ge=0, description="net weight per unit sold")
    unit2: str | None = Field(default=None, pattern=r"^\d{3}$")
    qty2_per_unit: Decimal | None = Field(default=None, gt=0)
    item_record_no: str | None = Field(default=None, max_length=30, description="bonded account item (1210)")


class GoodsCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goods: dict[str, GoodsLine] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> GoodsCatalogue:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {}) if path.exists() else cls()


def entities(payload: object) -> list[Entity]:
    """The declared entities of a customs message, each with its order number and its own key."""
    if isinstance(payload, ImportOrderMessage):
        return [Entity(o.head.guid, "order", o.head.order_no, o.head.order_no) for o in payload.orders]
    if isinstance(payload, PaymentMessage):
        return [Entity(p.head.guid, "payment", p.head.order_no, p.head.pay_transaction_id) for p in payload.payments]
    if isinstance(payload, WaybillMessage):
        return [Entity(w.head.guid, "waybill", w.head.order_no, w.head.logistics_no) for w in payload.waybills]
    if not isinstance(payload, CebMessage):
        return []
    kind = KINDS.get(str(getattr(type(payload), "__message_type__", "")), "")
    out = []
    for name in type(payload).model_fields:
        value = getattr(payload, name)
        if not (isinstance(value, list) and value and isinstance(value[0], BaseModel)):
            continue
        for item in value:
            head: Any = getattr(item, "head", item)
            if not hasattr(head, "guid"):
                continue
            order_no = getattr(head, "order_no", None) or getattr(head, "logistics_no", None) or head.guid
            key = getattr(head, "cop_no", None) or getattr(head, "pay_no", None) or getattr(head, "logistics_no", None)
            out.append(Entity(head.guid, kind, str(order_no), str(key or order_no)))
    return out


def receipt_status(kind: str, code: str) -> str:
    """A returnStatus as the document's status: 1-3 declared, 120 accepted (an inventory: passed its logic
    check), 399 released, 100, 4 or negative rejected."""
    if code.startswith("-") or code in ("100", "4"):
        return "rejected"
    if code == "399":
        return "released"
    if code == "120":
        return "accepted"
    return "declared"


def masked(mismatches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**m, "left_value": MASK, "right_value": MASK} if m.get("rule") in PERSONAL_RULES else m for m in mismatches
    ]


class CustomsDesk:
    def __init__(
        self,
        js: JetStreamContext,
        store: Store,
        tuning: CustomsTuning,
        catalogue: GoodsCatalogue,
        publish: Publish,
        has_webhook: Callable[[str], bool],
        lease: LeaderLease,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`publish(envelope)` puts a message the hub originates on hub.in (claimed in the journal first);
        `has_webhook(institution)` says whether a sender can be notified."""
        self.js, self.store, self.tuning, self.catalogue = js, store, tuning, catalogue
        self.sets = CustomsSets(store)
        self.publish, self.has_webhook, self.lease, self.clock = publish, has_webhook, lease, clock
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await bus.ensure_consumer(self.js, "HUB_EVT", CONSUMER, SUBJECT, ack_wait_s=60)
        self._tasks = [
            asyncio.create_task(
                bus.pull_loop(self.js, "HUB_EVT", CONSUMER, SUBJECT, self.process, self._stop, self._capacity),
                name=CONSUMER,
            ),
            every("customs-desk-timeouts", self.tuning.check_interval_s, self.lease.held, self.run_once),
        ]

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            await cancel(task)
        await self.lease.release()

    @staticmethod
    async def _capacity(in_flight: int) -> int:
        return max(0, 16 - in_flight)

    # -- events -------------------------------------------------------------------------------

    async def process(self, msg: Msg) -> None:
        """One event: a declaration taken in (file its entities), or a set that changed (tell its senders)."""
        try:
            event = json.loads(msg.data)
        except ValueError:
            await msg.ack()
            return
        parts = msg.subject.split(".")
        if parts[2:4] == ["customs", "set"] and len(parts) == 5:
            if parts[4] in NOTIFIED:
                await self._notify(str(event.get("order_no", "")), parts[4])
        elif event.get("type") in KINDS and event.get("status") == "accepted":
            await self.take(str(event["id"]))
        await msg.ack()

    async def take(self, message_id: str) -> list[str]:
        """File the entities of one declaration message; judge each set it completes. Returns the order numbers."""
        view = await self.store.message(message_id)
        if view is None:
            log.warning("customs: message %s is not in the journal", message_id)
            return []
        payload = Envelope.from_bytes(view.envelope).payload
        deadline = self.clock() + timedelta(seconds=self.tuning.match_timeout_s)
        orders = []
        for entity in entities(payload):
            snapshot, new = await self.sets.take(entity, message_id, view.source, deadline)
            if snapshot is not None:
                orders.append(entity.order_no)
                if new:
                    await self.judge(snapshot)
        return orders

    # -- judging a set ------------------------------------------------------------------------

    async def judge(self, snapshot: CustomsSet) -> CustomsSet | None:
        """Hold the set with its mismatches, or file its inventory: what one revision of it deserves."""
        if snapshot.status not in ("collecting", "held") or snapshot.missing:
            return None
        refused = refusals(snapshot)
        if refused:
            return await self.sets.settle(snapshot.order_no, snapshot.revision, "held", reason=refused)
        try:
            order, payment, waybill = await self._documents(snapshot)
        except LookupError as exc:
            return await self.sets.settle(snapshot.order_no, snapshot.revision, "held", reason=str(exc))
        mismatches = check_three_documents(order, payment, waybill)
        if mismatches:
            found = masked([mismatch_json(m) for m in mismatches])
            return await self.sets.settle(
                snapshot.order_no, snapshot.revision, "held", mismatches=found, reason=f"{len(found)} mismatch(es)"
            )
        try:
            inventory = self.inventory(snapshot, order, payment, waybill)
        except RejectedInput as exc:
            found = [
                {"rule": v.rule, "left": v.loc, "left_value": None, "right": "", "right_value": v.detail}
                for v in exc.violations
            ]
            return await self.sets.settle(
                snapshot.order_no, snapshot.revision, "held", mismatches=found, reason="inventory cannot be built"
            )
        settled = await self.sets.settle(
            snapshot.order_no, snapshot.revision, "matched", mismatches=[], reason="", inventory_id=str(inventory.id)
        )
        if settled is not None:
            await self.publish(inventory)
        return settled

    async def _documents(self, snapshot: CustomsSet) -> tuple[ImportOrder, PaymentHead, LogisticsHead]:
        found: dict[str, Any] = {}
        for kind in SET_KINDS:
            doc = snapshot.current(kind)
            assert doc is not None
            view = await self.store.message(doc.message_id)
            if view is None:
                raise LookupError(f"the {kind} message {doc.message_id} is not in the journal")
            payload = Envelope.from_bytes(view.envelope).payload
            items: list[Any] = []
            if isinstance(payload, ImportOrderMessage):
                items = payload.orders
            elif isinstance(payload, PaymentMessage):
                items = [p.head for p in payload.payments]
            elif isinstance(payload, WaybillMessage):
                items = [w.head for w in payload.waybills]
            found[kind] = next((i for i in items if getattr(i, "head", i).guid == doc.guid), None)
            if found[kind] is None:
                raise LookupError(f"the {kind} {doc.guid} is not in message {doc.message_id}")
        return found["order"], found["payment"], found["waybill"]

    def inventory(
        self, snapshot: CustomsSet, order: ImportOrder, payment: PaymentHead, waybill: LogisticsHead
    ) -> Envelope:
        """The CEB621 for this revision of the set: the same bytes however often it is rebuilt, so a
        re-filing after a crash is the same message (the journal's idempotency holds it once)."""
        d = self.tuning.declarant
        goods: dict[int, GoodsClassification] = {}
        for item in order.items:
            line = self.catalogue.goods.get(item.item_no or "")
            if line is not None:
                goods[item.gnum] = GoodsClassification(
                    gcode=line.gcode,
                    unit1=line.unit1,
                    qty1=line.qty1_per_unit * item.qty,
                    unit2=line.unit2,
                    qty2=line.qty2_per_unit * item.qty if line.qty2_per_unit is not None else None,
                    item_record_no=line.item_record_no,
                )
        net_weight = sum(
            (self.catalogue.goods[i.item_no or ""].net_weight_kg * i.qty for i in order.items if i.gnum in goods),
            Decimal(0),
        )
        current = [doc for k in SET_KINDS if (doc := snapshot.current(k)) is not None]
        declared_at = max(doc.created_at for doc in current).astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)
        guid = str(uuid.uuid5(INVENTORY_NS, f"{snapshot.order_no}:{snapshot.revision}")).upper()
        declaration = build_inventory(
            order,
            payment,
            waybill,
            transfer=BaseTransfer(cop_code=d.agent_code, cop_name=d.agent_name, dxp_id=d.dxp_id),
            goods=goods,
            customs_code=d.customs_code,
            port_code=d.port_code,
            agent_code=d.agent_code,
            agent_name=d.agent_name,
            assure_code=d.assure_code or order.head.ebc_code,
            trade_mode=d.trade_mode,
            traf_mode=d.traf_mode,
            country=d.country,
            net_weight=net_weight.quantize(Decimal("0.0001")) if net_weight else Decimal(0),
            declared_at=declared_at,
            guid=guid,
            area_code=d.area_code,
            ems_no=d.ems_no,
            cop_no=guid.replace("-", "")[:20],
        )
        return Envelope(
            id=uuid.UUID(snapshot.inventory_id) if snapshot.inventory_id else uuid.uuid5(INVENTORY_NS, guid),
            type="customs.inventory",
            source="hub",
            destination="customs",
            correlation_id=snapshot.order_no,
            idempotency_key=f"customs-inventory:{snapshot.order_no}:{snapshot.revision}",
            payload=declaration,
        )

    # -- leader: time-outs and stalled filings -------------------------------------------------

    async def run_once(self) -> dict[str, list[str]]:
        """Time out open sets past their deadline; file again an inventory a crash left unpublished."""
        now = self.clock()
        timed_out = []
        for s in await self.sets.due(now):
            why = f"timed out waiting for {', '.join(s.missing)}" if s.missing else f"timed out while held: {s.reason}"
            if await self.sets.advance(
                s.order_no, "timed_out", reason=why, only_from=frozenset({"collecting", "held"})
            ):
                timed_out.append(s.order_no)
        refiled = []
        for s in await self.sets.stalled(now - REFILE_AFTER):
            if s.inventory_id and await self.store.message(s.inventory_id) is None:
                order, payment, waybill = await self._documents(s)
                await self.publish(self.inventory(s, order, payment, waybill))
                refiled.append(s.order_no)
        return {"timed_out": timed_out, "refiled": refiled}

    # -- notifications ------------------------------------------------------------------------

    async def _notify(self, order_no: str, status: str) -> list[str]:
        """Tell each sender of the set's documents (with a webhook) what became of the set."""
        snapshot = await self.sets.get(order_no)
        if snapshot is None or snapshot.status != status:
            return []  # it moved on since: the newer event tells
        told = []
        for kind in SET_KINDS:
            doc = snapshot.current(kind)
            if doc is None or not self.has_webhook(doc.source):
                continue
            detail = {
                "order_no": order_no,
                "set_status": status,
                "reason": snapshot.reason or "",
                "missing": snapshot.missing,
                "mismatches": snapshot.mismatches,
                "document": {"kind": kind, "guid": doc.guid, "key": doc.key},
            }
            notice = StatusNotification(
                message_id=doc.message_id,
                message_type="customs.set",
                status=status,
                at=snapshot.updated_at,
                correlation_id=order_no,
                detail=detail,
            )
            await self.publish(
                Envelope(
                    type="hub.status_notification",
                    source="hub",
                    destination=doc.source,
                    correlation_id=order_no,
                    causation_id=doc.message_id,
                    idempotency_key=f"customs-set:{order_no}:{status}:{snapshot.revision}:{kind}",
                    payload=notice,
                )
            )
            told.append(doc.source)
        return told


# -- receipts ---------------------------------------------------------------------------------


async def apply_receipt(store: Store, receipt: CustomsReceipt, channel: str) -> dict[str, list[str]]:
    """Apply each `*Return` of a receipt to its document, the document's message and (an inventory's) set.
    Returns the messages moved (id -> statuses recorded). Applying the same receipt twice changes nothing."""
    sets = CustomsSets(store)
    kind, key_field = RECEIPT_KINDS[receipt.message]
    moved: dict[str, list[str]] = {}
    for entry in receipt.returns:
        status = receipt_status(kind, entry.return_status)
        said = {
            "status": entry.return_status,
            "time": entry.return_time,
            "info": entry.return_info,
            "receipt": receipt.guid,
        }
        doc = await sets.receipt(entry.guid, kind, str(getattr(entry, key_field, None) or ""), said, status)
        if doc is None:
            raise NotYetKnown(f"{receipt.message} answers {kind} {entry.guid}, which the hub has not filed (yet)")
        recorded = await _move_message(store, sets, doc, entry, status, channel)
        if recorded:
            moved.setdefault(doc.message_id, []).extend(recorded)
        if kind == "inventory":
            await _move_set(sets, doc.order_no, status, entry)
        elif status == "rejected" and (snapshot := await sets.get(doc.order_no)) is not None:
            why = refusals(snapshot)
            await sets.advance(doc.order_no, "held", reason=why, only_from=frozenset({"collecting", "held"}))
    return moved


async def _move_message(
    store: Store, sets: CustomsSets, doc: Document, entry: ReturnEntry, status: str, channel: str
) -> list[str]:
    """The declaration message follows its entities: delivered once customs has it, completed when every
    entity is through (accepted; an inventory released), rejected when one is refused."""
    detail = {"by": channel, "return_status": entry.return_status, "info": entry.return_info[:500], "entity": doc.key}
    steps: list[tuple[str, dict[str, Any]]] = [("delivered", detail)]
    if status == "rejected":
        steps.append(("rejected", {**detail, "reason": "partner_rejected", "error": entry.return_info[:500]}))
    else:
        siblings = await sets.documents_of(doc.message_id)
        done = {"inventory": "released", "export_inventory": "released"}.get(doc.kind, "accepted")
        if siblings and all(s.status in (done, "released") for s in siblings):
            steps.append(("completed", detail))
    view = await store.message(doc.message_id)
    recorded = []
    for step, step_detail in steps:
        if view is not None and step == "delivered" and view.status in ("delivered", "completed", "rejected"):
            continue
        if await store.record(doc.message_id, step, actor=channel, detail=step_detail):
            recorded.append(step)
    return recorded


async def _move_set(sets: CustomsSets, order_no: str, status: str, entry: ReturnEntry) -> None:
    """An inventory's receipt moves its set: declared -> accepted -> released, or rejected."""
    moves = {
        "declared": ("declared", frozenset({"matched"})),
        "accepted": ("accepted", frozenset({"matched", "declared"})),
        "released": ("released", frozenset({"matched", "declared", "accepted"})),
        "rejected": ("rejected", frozenset({"matched", "declared", "accepted"})),
    }
    target, sources = moves[status]
    reason = entry.return_info if status == "rejected" else None
    await sets.advance(order_no, target, reason=reason, only_from=sources)


def refusals(snapshot: CustomsSet) -> str:
    """Why customs refused the set's current documents, if it refused any ("" if not)."""
    current = [d for k in SET_KINDS if (d := snapshot.current(k)) is not None and d.status == "rejected"]
    return "; ".join(
        f"{d.kind} {d.key} refused by customs: {d.receipts[-1]['info'] if d.receipts else ''}" for d in current
    )
