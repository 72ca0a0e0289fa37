"""CEB codec: the GACC samples, hostile and malformed input, and element-precise errors."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

import canonical.ceb as ceb
from canonical.ceb.schemas import schema
from canonical.codecs import detect
from canonical.customs import (
    BaseTransfer,
    CustomsReceipt,
    ExportInventory,
    ExportInventoryDeclaration,
    ExportInventoryHead,
    ExportInventoryItem,
    ExportOrder,
    ExportOrderHead,
    ExportOrderItem,
    ExportOrderMessage,
    ImportOrderMessage,
    PaymentMessage,
    ReturnEntry,
)
from canonical.errors import RejectedInput
from canonical.sensitive import sensitive_paths

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "customs-ceb" / "samples"
VALID = sorted(SAMPLES.glob("*.xml"))
INVALID = sorted((SAMPLES / "invalid").glob("*.xml"))
NS = "http://www.chinaport.gov.cn/ceb"
EXPORT = {"CEB303", "CEB304", "CEB403", "CEB404", "CEB505", "CEB506", "CEB603", "CEB604"}
GUID = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
TRANSFER = BaseTransfer(cop_code="1105910159", cop_name="示例电商", dxp_id="DXPENT0000000001")


def rejected(body: bytes) -> RejectedInput:
    with pytest.raises(RejectedInput) as caught:
        ceb.parse(body)
    return caught.value


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def validates(xml: bytes) -> bool:
    root = etree.fromstring(xml)
    number = etree.QName(root).localname[:6]
    return bool(schema("export" if number in EXPORT else "import").validate(root))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_sample_parses_renders_and_round_trips(path: Path) -> None:
    parsed = ceb.parse(path.read_bytes())
    rendered = ceb.render(parsed)
    assert validates(rendered)
    assert ceb.parse(rendered) == parsed


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_sample_with_two_base_transfer_blocks_is_refused_naming_the_element(path: Path) -> None:
    error = rejected(path.read_bytes())
    root = path.stem
    assert [(v.loc, v.rule) for v in error.violations] == [(f"/{root}/BaseTransfer[2]", "xsd:unexpected")]


@pytest.mark.parametrize("name", ["CEB403Message.xml", "CEB505Message.xml"])
def test_export_sample_with_one_base_transfer_parses_and_round_trips(name: str) -> None:
    raw = (SAMPLES / "invalid" / name).read_bytes()
    fixed = re.sub(rb"(</ceb:BaseTransfer>)\s*<ceb:BaseTransfer>.*?</ceb:BaseTransfer>", rb"\1", raw, flags=re.S)
    parsed = ceb.parse(fixed)
    assert ceb.parse(ceb.render(parsed)) == parsed


def test_codec_is_registered_and_decodes_an_import_order() -> None:
    body = sample("CEB311Message.xml")
    codec = detect(body, "application/xml")
    assert codec is not None and codec.name == "ceb"
    decoded = codec.decode(body)
    assert decoded.type == "customs.order"
    assert decoded.idempotency_key == "1101180326:4CDE1CFD-EDED-46B1-946C-B8022E42FC94"
    assert decoded.destination == "customs"
    assert decoded.correlation_id == "order20160321116421002"
    assert isinstance(decoded.payload, ImportOrderMessage)
    assert len(decoded.payload.orders) == 6  # one payload keeps every Order entity of the message
    head = decoded.payload.orders[0].head
    assert head.actural_paid == Decimal("19050") and head.goods_value == Decimal("14000")


def test_codec_does_not_claim_iso20022() -> None:
    assert not ceb.codec.detect(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>', "")


def test_receipt_names_the_message_it_answers_and_its_business_key() -> None:
    decoded = ceb.codec.decode(sample("CEB312Message.xml"))
    receipt = decoded.payload
    assert isinstance(receipt, CustomsReceipt)
    assert (receipt.message, receipt.answers) == ("CEB312", "CEB311")
    assert receipt.returns[0].business_key == "order20160321116420545"
    assert decoded.correlation_id == "order20160321116420545"
    inventory = ceb.parse(sample("CEB622Message.xml"))
    assert isinstance(inventory, CustomsReceipt) and inventory.answers == "CEB621"


def test_buyer_payer_and_consignee_identity_is_sensitive() -> None:
    assert "orders.*.head.buyer_id_number" in sensitive_paths(ImportOrderMessage)
    assert "orders.*.head.consignee_address" in sensitive_paths(ImportOrderMessage)
    assert "payments.*.head.payer_name" in sensitive_paths(PaymentMessage)


def test_inventory_render_carries_an_unsigned_signature_template_the_xsd_requires() -> None:
    xml = ceb.render(ceb.parse(sample("CEB621Message.xml")))
    assert b"<ds:SignatureValue/>" in xml and validates(xml)
    assert b"Signature" not in ceb.render(ceb.parse(sample("CEB311Message.xml")))


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "doctype_forbidden"),
        (b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>', "doctype_forbidden"),
        (b"<ceb:CEB311Message xmlns:ceb='http://www.chinaport.gov.cn/ceb'><unclosed>", "malformed"),
        (b"<a>" * 100 + b"</a>" * 100, "too_deep"),
        (b"<a>" + b" " * (6 * 1024 * 1024) + b"</a>", "too_large"),
    ],
    ids=["xxe", "billion-laughs", "malformed", "deep", "oversized"],
)
def test_hostile_or_broken_xml_is_refused_with_the_protection_that_tripped(body: bytes, rule: str) -> None:
    assert rejected(body).violations[0].rule == rule


@pytest.mark.parametrize(
    ("body", "loc", "rule"),
    [
        (f'<ceb:CEB999Message xmlns:ceb="{NS}" guid="x" version="1.0"/>'.encode(), "/CEB999Message", "unknown_message"),
        (f'<ceb:CEB513Message xmlns:ceb="{NS}" guid="x" version="1.0"/>'.encode(), "/CEB513Message", "unknown_message"),
        (f'<ceb:Order xmlns:ceb="{NS}"/>'.encode(), "/Order", "wrong_root"),
        (b'<CEB311Message xmlns="urn:other"/>', "/CEB311Message", "wrong_namespace"),
    ],
)
def test_wrong_root_or_unknown_message_number_is_a_specific_error(body: bytes, loc: str, rule: str) -> None:
    violation = rejected(body).violations[0]
    assert (violation.loc, violation.rule) == (loc, rule)


def test_value_too_long_names_the_element_and_the_facet() -> None:
    body = sample("CEB311Message.xml").replace(b"order20160321116421002", b"X" * 61, 1)
    violation = rejected(body).violations[0]
    assert (violation.loc, violation.rule) == ("/CEB311Message/Order[1]/OrderHead/orderNo", "xsd:maxLength")
    assert "maxLength" in violation.detail and "60" in violation.detail


def test_missing_mandatory_element_is_required_at_its_path() -> None:
    body = sample("CEB311Message.xml").replace(b"<ceb:orderNo>order20160321116421002</ceb:orderNo>", b"", 1)
    violation = rejected(body).violations[0]
    assert (violation.loc, violation.rule) == ("/CEB311Message/Order[1]/OrderHead/orderNo", "required")


def test_amount_with_too_many_decimals_is_an_amount_format_error() -> None:
    body = sample("CEB311Message.xml").replace(b"<ceb:goodsValue>14000<", b"<ceb:goodsValue>1.1234567<", 1)
    violation = rejected(body).violations[0]
    assert (violation.loc, violation.rule) == ("/CEB311Message/Order[1]/OrderHead/goodsValue", "amount_format")
    body = sample("CEB311Message.xml").replace(b"<ceb:goodsValue>14000<", b"<ceb:goodsValue>1,5<", 1)
    assert rejected(body).violations[0].rule == "amount_format"


def test_impossible_timestamp_is_refused_at_its_element() -> None:
    body = sample("CEB311Message.xml").replace(b"<ceb:appTime>20160308112701<", b"<ceb:appTime>20161399112701<", 1)
    violation = rejected(body).violations[0]
    assert violation.loc == "/CEB311Message/Order[1]/OrderHead/appTime"


def test_missing_guid_attribute_is_required() -> None:
    body = sample("CEB311Message.xml").replace(b'guid="4CDE1CFD-EDED-46B1-946C-B8022E42FC94" ', b"", 1)
    violation = rejected(body).violations[0]
    assert (violation.loc, violation.rule) == ("/CEB311Message", "required")


def test_render_refuses_a_receipt_that_breaks_the_xsd() -> None:
    entry = ReturnEntry(
        guid=GUID, cop_no="C1", pre_no="P1", return_status="2", return_time="20240102030405000", return_info="ok"
    )
    with pytest.raises(RejectedInput) as caught:
        ceb.render(CustomsReceipt(message="CEB622", guid=GUID, returns=[entry]))
    assert (caught.value.violations[0].loc, caught.value.violations[0].rule) == (
        "/CEB622Message/InventoryReturn/preNo",
        "xsd:length",
    )


def test_render_refuses_a_receipt_field_the_message_does_not_have() -> None:
    entry = ReturnEntry(
        guid=GUID, order_no="O1", pay_no="P1", return_status="2", return_time="20240102030405000", return_info="ok"
    )
    with pytest.raises(RejectedInput) as caught:
        ceb.render(CustomsReceipt(message="CEB312", guid=GUID, returns=[entry]))
    assert caught.value.violations[0].rule == "unexpected_field"


def export_order() -> ExportOrderMessage:
    head = ExportOrderHead(
        guid=GUID, app_time="20240102030405", order_no="EX-1", ebp_code="1105910159", ebp_name="平台",
        ebc_code="1105910159", ebc_name="电商", goods_value=Decimal("99.5"), freight=Decimal("0"), currency="502",
    )  # fmt: skip
    item = ExportOrderItem(
        gnum=1, item_no="SKU1", item_name="茶叶", unit="035", currency="502", qty=Decimal("1"),
        price=Decimal("99.5"), total_price=Decimal("99.5"),
    )  # fmt: skip
    return ExportOrderMessage.model_validate(
        {"guid": GUID, "orders": [ExportOrder.model_validate({"head": head, "items": [item]})], "transfer": TRANSFER}
    )


def test_export_order_renders_valid_ceb303_and_round_trips() -> None:
    message = export_order()
    xml = ceb.render(message)
    assert validates(xml) and ceb.parse(xml) == message
    assert ceb.codec.decode(xml).type == "customs.export_order"


def test_export_inventory_renders_valid_ceb603_and_round_trips() -> None:
    head = ExportInventoryHead(
        guid=GUID, app_time="20240102030405", customs_code="5141", ebp_code="1105910159", ebp_name="平台",
        order_no="EX-1", logistics_code="1101180326", logistics_name="物流", logistics_no="LN1", cop_no="COP1",
        port_code="5141", ie_date="20240102", statistics_flag="A", agent_code="1105910159", agent_name="报关",
        ebc_code="1105910159", ebc_name="电商", owner_code="1105910159", owner_name="生产", trade_mode="9610",
        traf_mode="4", country="502", pod="USA", freight=Decimal("5"), f_currency="142", f_flag="3",
        insured_fee=Decimal("0"), i_currency="142", i_flag="3", wrap_type="2", pack_no=1,
        gross_weight=Decimal("1.2"), net_weight=Decimal("1"),
    )  # fmt: skip
    item = ExportInventoryItem(
        gnum=1, item_no="SKU1", gcode="0902109000", gname="茶叶", gmodel="100g", bar_code="无", country="502",
        currency="142", qty=Decimal("1"), qty1=Decimal("0.1"), unit="035", unit1="035", price=Decimal("99.5"),
        total_price=Decimal("99.5"),
    )  # fmt: skip
    inventory = ExportInventory.model_validate({"head": head, "items": [item]})
    message = ExportInventoryDeclaration.model_validate(
        {"guid": GUID, "inventories": [inventory], "transfer": TRANSFER}
    )
    xml = ceb.render(message)
    assert validates(xml) and ceb.parse(xml) == message
    assert ceb.codec.decode(xml).type == "customs.export_inventory"


def test_schemas_are_the_packaged_copies_with_their_notice() -> None:
    xsd = Path(ceb.__file__).resolve().parent / "xsd"
    assert {p.name for p in xsd.iterdir()} == {
        "NOTICE", "ceb-import-202205.xsd", "ceb-export-202205.xsd", "ceb-import-2018.xsd", "ceb-export-2018.xsd",
        "xmldsig-core-schema.xsd",
    }  # fmt: skip
    shared = SHARED_XSD if (SHARED_XSD := xsd.parents[3] / "shared" / "data" / "customs-ceb" / "xsd").exists() else None
    if shared is not None:  # unchanged copies of the official files
        for pack in ("2018", "202205"):
            for side in ("import", "export"):
                name = f"ceb-{side}-{pack}.xsd"
                assert (xsd / name).read_bytes() == (shared / pack / name).read_bytes(), name
    assert "2a13a9eb81a866dd46b7e287ed71cce2d836e620" in (xsd / "NOTICE").read_text()
    assert schema("import") is schema("import")  # compiled once
