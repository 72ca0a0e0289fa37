"""三单对碰: the import order (CEB311), payment (CEB411) and waybill (CEB511) must agree before an
inventory declaration (CEB621) is filed; `build_inventory` files one from a consistent set.

The rules are the ones the GACC XSD documents (see SOURCES.md field notes): linked by orderNo /
ebpCode / payTransactionId / payCode, `acturalPaid = goodsValue + freight + taxTotal - discount =
amountPaid`, the same buyer, consignee and currency throughout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from canonical.customs import (
    BaseTransfer,
    ImportOrder,
    Inventory,
    InventoryDeclaration,
    InventoryHead,
    InventoryItem,
    LogisticsHead,
    PaymentHead,
)
from canonical.errors import RejectedInput, Violation

ORDER, PAYMENT, WAYBILL, INVENTORY = "CEB311", "CEB411", "CEB511", "CEB621"
Value = str | Decimal | None


@dataclass(frozen=True)
class Mismatch:
    """Two fields that must agree and do not: each side named as `<message>/<element path>` with its value."""

    rule: str
    left: str
    left_value: Value
    right: str
    right_value: Value

    def __str__(self) -> str:
        return f"{self.rule}: {self.left}={self.left_value!s} vs {self.right}={self.right_value!s}"


def _compare(out: list[Mismatch], rule: str, left: str, lv: Value, right: str, rv: Value) -> None:
    if lv != rv:
        out.append(Mismatch(rule, left, lv, right, rv))


def check_three_documents(
    order: ImportOrder, payment: PaymentHead, waybill: LogisticsHead, inventory: InventoryHead | None = None
) -> list[Mismatch]:
    """Every disagreement between one order, its payment and its waybill (and, if given, the inventory head)."""
    out: list[Mismatch] = []
    o, p, w = order.head, payment, waybill
    oh, ph, wh = f"{ORDER}/OrderHead", f"{PAYMENT}/PaymentHead", f"{WAYBILL}/LogisticsHead"
    # order <-> payment
    _compare(out, "order_no", f"{oh}/orderNo", o.order_no, f"{ph}/orderNo", p.order_no)
    _compare(out, "ebp_code", f"{oh}/ebpCode", o.ebp_code, f"{ph}/ebpCode", p.ebp_code)
    if o.pay_transaction_id is not None:  # optional in the order; when given it must be the payment's
        _compare(
            out,
            "pay_transaction_id",
            f"{oh}/payTransactionId",
            o.pay_transaction_id,
            f"{ph}/payTransactionId",
            p.pay_transaction_id,
        )
    if o.pay_code is not None:
        _compare(out, "pay_code", f"{oh}/payCode", o.pay_code, f"{ph}/payCode", p.pay_code)
    expected = o.goods_value + o.freight + o.tax_total - o.discount
    _compare(
        out,
        "actural_paid_formula",
        f"{oh}/acturalPaid",
        o.actural_paid,
        f"{oh}/goodsValue+freight+taxTotal-discount",
        expected,
    )
    _compare(out, "amount_paid", f"{oh}/acturalPaid", o.actural_paid, f"{ph}/amountPaid", p.amount_paid)
    _compare(out, "buyer_id_type", f"{oh}/buyerIdType", o.buyer_id_type, f"{ph}/payerIdType", p.payer_id_type)
    _compare(out, "buyer_id_number", f"{oh}/buyerIdNumber", o.buyer_id_number, f"{ph}/payerIdNumber", p.payer_id_number)
    _compare(out, "buyer_name", f"{oh}/buyerName", o.buyer_name, f"{ph}/payerName", p.payer_name)
    _compare(out, "currency", f"{oh}/currency", o.currency, f"{ph}/currency", p.currency)
    # order <-> waybill
    _compare(out, "order_no", f"{oh}/orderNo", o.order_no, f"{wh}/orderNo", w.order_no)
    _compare(out, "consignee", f"{oh}/consignee", o.consignee, f"{wh}/consignee", w.consignee)
    _compare(
        out,
        "consignee_telephone",
        f"{oh}/consigneeTelephone",
        o.consignee_telephone,
        f"{wh}/consigneeTelephone",
        w.consignee_telephone,
    )
    _compare(
        out,
        "consignee_address",
        f"{oh}/consigneeAddress",
        o.consignee_address,
        f"{wh}/consigneeAddress",
        w.consignee_address,
    )
    _compare(out, "currency", f"{oh}/currency", o.currency, f"{wh}/currency", w.currency)
    # inside the order: goods lines add up
    total = sum((item.total_price for item in order.items), Decimal(0))
    _compare(out, "goods_value", f"{oh}/goodsValue", o.goods_value, f"{ORDER}/OrderList/totalPrice(sum)", total)
    for item in order.items:
        _compare(
            out,
            "item_total_price",
            f"{ORDER}/OrderList[gnum={item.gnum}]/totalPrice",
            item.total_price,
            f"{ORDER}/OrderList[gnum={item.gnum}]/price*qty",
            item.price * item.qty,
        )
    if inventory is not None:
        ih = f"{INVENTORY}/InventoryHead"
        _compare(out, "order_no", f"{oh}/orderNo", o.order_no, f"{ih}/orderNo", inventory.order_no)
        _compare(out, "ebp_code", f"{oh}/ebpCode", o.ebp_code, f"{ih}/ebpCode", inventory.ebp_code)
        _compare(out, "ebc_code", f"{oh}/ebcCode", o.ebc_code, f"{ih}/ebcCode", inventory.ebc_code)
        _compare(
            out,
            "logistics_code",
            f"{wh}/logisticsCode",
            w.logistics_code,
            f"{ih}/logisticsCode",
            inventory.logistics_code,
        )
        _compare(out, "logistics_no", f"{wh}/logisticsNo", w.logistics_no, f"{ih}/logisticsNo", inventory.logistics_no)
    return out


@dataclass(frozen=True)
class GoodsClassification:
    """What customs needs per goods line that none of the three documents carries (keyed by `gnum`)."""

    gcode: str  # 10-digit commodity code
    unit1: str  # legal unit of measure (JGS-20)
    qty1: Decimal  # quantity in the legal unit
    unit2: str | None = None
    qty2: Decimal | None = None
    item_record_no: str | None = None  # bonded (1210) account item


def build_inventory(
    order: ImportOrder,
    payment: PaymentHead,
    waybill: LogisticsHead,
    *,
    transfer: BaseTransfer,
    goods: dict[int, GoodsClassification],
    customs_code: str,
    port_code: str,
    agent_code: str,
    agent_name: str,
    assure_code: str,
    trade_mode: str,
    traf_mode: str,
    country: str,
    net_weight: Decimal,
    declared_at: datetime,
    guid: str | None = None,
    area_code: str | None = None,
    area_name: str | None = None,
    ems_no: str | None = None,
    cop_no: str | None = None,
    ie_date: date | None = None,
    traf_no: str | None = None,
    voyage_no: str | None = None,
) -> InventoryDeclaration:
    """A CEB621 declaration from a consistent order/payment/waybill; RejectedInput if they disagree.

    Every field comes from the three documents or from an argument: nothing is guessed. Freight and
    insurance are what the logistics company charged (the waybill's); weights are the waybill's gross
    weight and the caller's net weight.
    """
    mismatches = check_three_documents(order, payment, waybill)
    if mismatches:
        raise RejectedInput(
            "the three documents disagree",
            [Violation(m.left, m.rule, f"{m.left_value} vs {m.right}={m.right_value}") for m in mismatches],
        )
    freight, insured_fee = waybill.freight, waybill.insured_fee
    missing = [
        Violation(f"{WAYBILL}/LogisticsHead/{name}", "required", "the inventory declares it")
        for name, value in (("freight", freight), ("insuredFee", insured_fee))
        if value is None
    ]
    missing += [
        Violation(f"{ORDER}/OrderList[gnum={i.gnum}]", "goods_classification_required", "no gcode given")
        for i in order.items
        if i.gnum not in goods
    ]
    if missing or freight is None or insured_fee is None:
        raise RejectedInput("inventory cannot be built", missing)
    o = order.head
    guid = guid or str(uuid.uuid4()).upper()
    head = InventoryHead(
        guid=guid,
        app_type="1",
        app_time=declared_at.strftime("%Y%m%d%H%M%S"),
        app_status="2",
        order_no=o.order_no,
        ebp_code=o.ebp_code,
        ebp_name=o.ebp_name,
        ebc_code=o.ebc_code,
        ebc_name=o.ebc_name,
        logistics_no=waybill.logistics_no,
        logistics_code=waybill.logistics_code,
        logistics_name=waybill.logistics_name,
        cop_no=cop_no,
        assure_code=assure_code,
        ems_no=ems_no,
        decl_time=declared_at.strftime("%Y%m%d"),
        customs_code=customs_code,
        port_code=port_code,
        ie_date=ie_date.strftime("%Y%m%d") if ie_date else None,
        buyer_id_type=o.buyer_id_type,
        buyer_id_number=o.buyer_id_number,
        buyer_name=o.buyer_name,
        buyer_telephone=o.buyer_telephone,
        consignee_address=o.consignee_address,
        agent_code=agent_code,
        agent_name=agent_name,
        area_code=area_code,
        area_name=area_name,
        trade_mode=trade_mode,
        traf_mode=traf_mode,
        traf_no=traf_no,
        voyage_no=voyage_no,
        bill_no=waybill.bill_no,
        country=country,
        freight=freight,
        insured_fee=insured_fee,
        currency=o.currency,
        pack_no=waybill.pack_no,
        gross_weight=waybill.weight,
        net_weight=net_weight,
    )
    items = [
        InventoryItem(
            gnum=i.gnum,
            item_record_no=goods[i.gnum].item_record_no,
            item_no=i.item_no,
            item_name=i.item_name,
            gcode=goods[i.gnum].gcode,
            gname=i.item_name,
            gmodel=i.gmodel,
            bar_code=i.bar_code,
            country=i.country,
            currency=i.currency,
            qty=i.qty,
            unit=i.unit,
            qty1=goods[i.gnum].qty1,
            unit1=goods[i.gnum].unit1,
            qty2=goods[i.gnum].qty2,
            unit2=goods[i.gnum].unit2,
            price=i.price,
            total_price=i.total_price,
        )
        for i in order.items
    ]
    inventory = Inventory.model_validate({"head": head, "items": items})
    return InventoryDeclaration.model_validate({"guid": guid, "inventories": [inventory], "transfer": transfer})
