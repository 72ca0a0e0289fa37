"""三单对碰: a consistent order / payment / waybill pass and yield a valid CEB621; every mismatch is named."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

import canonical.ceb as ceb
from canonical.ceb import GoodsClassification, Mismatch, build_inventory, check_three_documents
from canonical.ceb.schemas import schema
from canonical.customs import (
    BaseTransfer,
    ImportOrder,
    ImportOrderHead,
    ImportOrderItem,
    ImportOrderMessage,
    InventoryDeclaration,
    LogisticsHead,
    PaymentHead,
    PaymentMessage,
    WaybillMessage,
)
from canonical.errors import RejectedInput

ORDER_GUID = "11111111-2222-4333-8444-555555555555"
PAY_GUID = "21111111-2222-4333-8444-555555555555"
WAY_GUID = "31111111-2222-4333-8444-555555555555"
INVT_GUID = "41111111-2222-4333-8444-555555555555"
GOODS = {
    1: GoodsClassification(gcode="3304990099", unit1="035", qty1=Decimal("0.2")),
    2: GoodsClassification(gcode="1901101000", unit1="035", qty1=Decimal("0.9")),
}


def order() -> ImportOrder:
    head = ImportOrderHead(
        guid=ORDER_GUID, app_time="20240301101500", order_no="ORD-2024-0001", ebp_code="3301963K69",
        ebp_name="示例跨境平台", ebc_code="3301964J31", ebc_name="示例电商企业", goods_value=Decimal("188.50"),
        freight=Decimal("10"), discount=Decimal("5"), tax_total=Decimal("17.30"), actural_paid=Decimal("210.80"),
        buyer_reg_no="buyer-88", buyer_name="张三", buyer_telephone="13800000000",
        buyer_id_number="110101199001011234", pay_code="312226T001", pay_name="示例支付",
        pay_transaction_id="PAY-2024-0001", consignee="张三", consignee_telephone="13800000000",
        consignee_address="浙江省杭州市西湖区文三路1号",
    )  # fmt: skip
    items = [
        ImportOrderItem(gnum=1, item_no="SKU-1", item_name="面霜", gmodel="50ml", unit="142", qty=Decimal("2"),
                        price=Decimal("50"), total_price=Decimal("100"), country="116"),
        ImportOrderItem(gnum=2, item_no="SKU-2", item_name="奶粉", gmodel="900g", unit="122", qty=Decimal("1"),
                        price=Decimal("88.5"), total_price=Decimal("88.5"), country="609"),
    ]  # fmt: skip
    return ImportOrder.model_validate({"head": head, "items": items})


def payment() -> PaymentHead:
    return PaymentHead(
        guid=PAY_GUID, app_time="20240301101600", pay_code="312226T001", pay_name="示例支付",
        pay_transaction_id="PAY-2024-0001", order_no="ORD-2024-0001", ebp_code="3301963K69",
        ebp_name="示例跨境平台", payer_id_number="110101199001011234", payer_name="张三",
        amount_paid=Decimal("210.8"), pay_time="20240301101530",
    )  # fmt: skip


def waybill() -> LogisticsHead:
    return LogisticsHead(
        guid=WAY_GUID, app_time="20240301120000", logistics_code="3301980101", logistics_name="示例物流",
        logistics_no="YT2024030100001", bill_no="MAWB-784-1234", order_no="ORD-2024-0001", freight=Decimal("10"),
        insured_fee=Decimal("0"), weight=Decimal("1.35"), goods_info="面霜2、奶粉1", consignee="张三",
        consignee_address="浙江省杭州市西湖区文三路1号", consignee_telephone="13800000000",
    )  # fmt: skip


def inventory(**overrides: Any) -> InventoryDeclaration:
    return build_inventory(order(), payment(), waybill(), **{**inventory_args(), **overrides})


def with_head(o: ImportOrder, **changes: Any) -> ImportOrder:
    return o.model_copy(update={"head": o.head.model_copy(update=changes)})


def test_consistent_documents_have_no_mismatch() -> None:
    assert check_three_documents(order(), payment(), waybill()) == []


def test_documents_that_crossed_the_wire_still_match() -> None:
    transfer = BaseTransfer(cop_code="3301964J31", cop_name="示例电商企业", dxp_id="DXPENT0000000001")
    messages = [
        ImportOrderMessage.model_validate({"guid": ORDER_GUID, "orders": [order()], "transfer": transfer}),
        PaymentMessage.model_validate({"guid": PAY_GUID, "payments": [{"head": payment()}], "transfer": transfer}),
        WaybillMessage.model_validate({"guid": WAY_GUID, "waybills": [{"head": waybill()}], "transfer": transfer}),
    ]
    o, p, w = (ceb.parse(ceb.render(m)) for m in messages)
    assert isinstance(o, ImportOrderMessage) and isinstance(p, PaymentMessage) and isinstance(w, WaybillMessage)
    assert check_three_documents(o.orders[0], p.payments[0].head, w.waybills[0].head) == []


def test_inventory_from_a_consistent_set_validates_and_takes_its_fields_from_the_documents() -> None:
    declaration = inventory()
    xml = ceb.render(declaration)
    assert schema("import").validate(etree.fromstring(xml))
    assert ceb.parse(xml) == declaration
    head = declaration.inventories[0].head
    assert (head.order_no, head.ebp_code, head.ebc_code) == ("ORD-2024-0001", "3301963K69", "3301964J31")
    assert (head.logistics_code, head.logistics_no, head.bill_no) == ("3301980101", "YT2024030100001", "MAWB-784-1234")
    assert (head.buyer_id_number, head.buyer_name, head.consignee_address) == (
        "110101199001011234", "张三", "浙江省杭州市西湖区文三路1号",
    )  # fmt: skip
    assert (head.freight, head.insured_fee, head.gross_weight, head.currency) == (
        Decimal("10"), Decimal("0"), Decimal("1.35"), "142",
    )  # fmt: skip
    assert (head.customs_code, head.decl_time, head.app_time) == ("2991", "20240301", "20240301130000")
    assert [(i.gcode, i.gname, i.total_price) for i in declaration.inventories[0].items] == [
        ("3304990099", "面霜", Decimal("100")), ("1901101000", "奶粉", Decimal("88.5")),
    ]  # fmt: skip
    assert check_three_documents(order(), payment(), waybill(), inventory=head) == []


def test_inventory_with_another_logistics_code_is_a_mismatch() -> None:
    head = inventory().inventories[0].head.model_copy(update={"logistics_code": "9999999999"})
    [m] = check_three_documents(order(), payment(), waybill(), inventory=head)
    assert (m.rule, m.left_value, m.right, m.right_value) == (
        "logistics_code", "3301980101", "CEB621/InventoryHead/logisticsCode", "9999999999",
    )  # fmt: skip


CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], Mismatch]] = [
    ("order_no", {}, {"order_no": "ORD-X"}, {},
     Mismatch("order_no", "CEB311/OrderHead/orderNo", "ORD-2024-0001", "CEB411/PaymentHead/orderNo", "ORD-X")),
    ("waybill order_no", {}, {}, {"order_no": "ORD-Y"},
     Mismatch("order_no", "CEB311/OrderHead/orderNo", "ORD-2024-0001", "CEB511/LogisticsHead/orderNo", "ORD-Y")),
    ("ebp_code", {}, {"ebp_code": "OTHER"}, {},
     Mismatch("ebp_code", "CEB311/OrderHead/ebpCode", "3301963K69", "CEB411/PaymentHead/ebpCode", "OTHER")),
    ("pay_transaction_id", {}, {"pay_transaction_id": "PAY-9"}, {},
     Mismatch("pay_transaction_id", "CEB311/OrderHead/payTransactionId", "PAY-2024-0001",
              "CEB411/PaymentHead/payTransactionId", "PAY-9")),
    ("pay_code", {}, {"pay_code": "999999T999"}, {},
     Mismatch("pay_code", "CEB311/OrderHead/payCode", "312226T001", "CEB411/PaymentHead/payCode", "999999T999")),
    ("amount_paid", {}, {"amount_paid": Decimal("200.80")}, {},
     Mismatch("amount_paid", "CEB311/OrderHead/acturalPaid", Decimal("210.80"), "CEB411/PaymentHead/amountPaid",
              Decimal("200.80"))),
    ("buyer_id_number", {}, {"payer_id_number": "110101199001019999"}, {},
     Mismatch("buyer_id_number", "CEB311/OrderHead/buyerIdNumber", "110101199001011234",
              "CEB411/PaymentHead/payerIdNumber", "110101199001019999")),
    ("buyer_name", {}, {"payer_name": "李四"}, {},
     Mismatch("buyer_name", "CEB311/OrderHead/buyerName", "张三", "CEB411/PaymentHead/payerName", "李四")),
    ("payment currency", {}, {"currency": "502"}, {},
     Mismatch("currency", "CEB311/OrderHead/currency", "142", "CEB411/PaymentHead/currency", "502")),
    ("waybill currency", {}, {}, {"currency": "502"},
     Mismatch("currency", "CEB311/OrderHead/currency", "142", "CEB511/LogisticsHead/currency", "502")),
    ("consignee", {}, {}, {"consignee": "王五"},
     Mismatch("consignee", "CEB311/OrderHead/consignee", "张三", "CEB511/LogisticsHead/consignee", "王五")),
    ("consignee_telephone", {}, {}, {"consignee_telephone": "13900000000"},
     Mismatch("consignee_telephone", "CEB311/OrderHead/consigneeTelephone", "13800000000",
              "CEB511/LogisticsHead/consigneeTelephone", "13900000000")),
    ("consignee_address", {}, {}, {"consignee_address": "上海市"},
     Mismatch("consignee_address", "CEB311/OrderHead/consigneeAddress", "浙江省杭州市西湖区文三路1号",
              "CEB511/LogisticsHead/consigneeAddress", "上海市")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "o", "p", "w", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_mismatch_is_reported_with_both_fields_and_values(
    name: str, o: dict[str, Any], p: dict[str, Any], w: dict[str, Any], expected: Mismatch
) -> None:
    found = check_three_documents(
        with_head(order(), **o), payment().model_copy(update=p), waybill().model_copy(update=w)
    )
    assert found == [expected]


def test_actural_paid_that_breaks_the_formula_is_reported_against_goods_freight_tax_discount() -> None:
    broken = with_head(order(), discount=Decimal("0"))  # 188.5 + 10 + 17.3 - 0 = 215.8, declared 210.8
    found = check_three_documents(broken, payment(), waybill())
    assert found == [
        Mismatch("actural_paid_formula", "CEB311/OrderHead/acturalPaid", Decimal("210.80"),
                 "CEB311/OrderHead/goodsValue+freight+taxTotal-discount", Decimal("215.80")),
    ]  # fmt: skip


def test_goods_lines_that_do_not_add_up_are_reported() -> None:
    o = order()
    item = o.items[1].model_copy(update={"total_price": Decimal("80")})
    found = {m.rule: m for m in check_three_documents(o.model_copy(update={"items": [o.items[0], item]}), payment(),
                                                      waybill())}  # fmt: skip
    assert found["goods_value"].right_value == Decimal("180")
    assert (found["item_total_price"].left_value, found["item_total_price"].right_value) == (
        Decimal("80"), Decimal("88.5"),
    )  # fmt: skip


def test_an_order_without_pay_transaction_id_still_matches_its_payment() -> None:
    assert check_three_documents(with_head(order(), pay_transaction_id=None), payment(), waybill()) == []


def test_inventory_is_refused_when_the_documents_disagree() -> None:
    with pytest.raises(RejectedInput) as caught:
        build_inventory(
            order(), payment().model_copy(update={"amount_paid": Decimal("1")}), waybill(), **inventory_args()
        )
    assert [(v.loc, v.rule) for v in caught.value.violations] == [("CEB311/OrderHead/acturalPaid", "amount_paid")]


def test_inventory_needs_a_goods_classification_for_every_line() -> None:
    with pytest.raises(RejectedInput) as caught:
        inventory(goods={1: GOODS[1]})
    assert [(v.loc, v.rule) for v in caught.value.violations] == [
        ("CEB311/OrderList[gnum=2]", "goods_classification_required")
    ]


def test_inventory_never_invents_a_freight_the_waybill_does_not_carry() -> None:
    with pytest.raises(RejectedInput) as caught:
        build_inventory(order(), payment(), waybill().model_copy(update={"insured_fee": None}), **inventory_args())
    assert [(v.loc, v.rule) for v in caught.value.violations] == [("CEB511/LogisticsHead/insuredFee", "required")]


def inventory_args() -> dict[str, Any]:
    return dict(
        transfer=BaseTransfer(cop_code="3301961234", cop_name="示例报关行", dxp_id="DXPENT0000012345"),
        goods=GOODS, customs_code="2991", port_code="2991", agent_code="3301961234", agent_name="示例报关行",
        assure_code="3301964J31", trade_mode="9610", traf_mode="5", country="116", net_weight=Decimal("1.1"),
        declared_at=datetime(2024, 3, 1, 13, 0, 0), guid=INVT_GUID,
    )  # fmt: skip
