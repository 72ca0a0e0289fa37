"""`hub customs match ORDER PAYMENT WAYBILL`: 三单对碰 offline on CEB311 / CEB411 / CEB511 files.

Consistent messages print `consistent` and exit 0; each mismatch prints `rule: left = value, right = value`
and exits 1; a file that is not the expected message, or does not parse, is named with its element and rule.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import canonical.ceb as ceb
from canonical.customs import BaseTransfer, ImportOrderMessage, PaymentMessage, WaybillMessage
from tests.unit.test_three_documents import ORDER_GUID, PAY_GUID, WAY_GUID, order, payment, waybill, with_head
from tests.unit.test_translate_cli import errors_of, hub

TRANSFER = BaseTransfer(cop_code="3301964J31", cop_name="示例电商企业", dxp_id="DXPENT0000000001")
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "customs-ceb" / "samples"


def write_set(tmp_path: Path, o: dict[str, Any] | None = None, p: dict[str, Any] | None = None,
              w: dict[str, Any] | None = None) -> list[str]:  # fmt: skip
    """The order, payment and waybill of test_three_documents (changed as given) rendered to CEB files."""
    messages = [
        ImportOrderMessage.model_validate({"guid": ORDER_GUID, "orders": [with_head(order(), **(o or {}))],
                                           "transfer": TRANSFER}),
        PaymentMessage.model_validate({"guid": PAY_GUID, "payments": [{"head": payment().model_copy(update=p or {})}],
                                       "transfer": TRANSFER}),
        WaybillMessage.model_validate({"guid": WAY_GUID, "waybills": [{"head": waybill().model_copy(update=w or {})}],
                                       "transfer": TRANSFER}),
    ]  # fmt: skip
    paths = []
    for name, message in zip(("order.xml", "payment.xml", "waybill.xml"), messages, strict=True):
        path = tmp_path / name
        path.write_bytes(ceb.render(message))
        paths.append(str(path))
    return paths


def test_consistent_documents_print_consistent_and_exit_0(tmp_path: Path) -> None:
    result = hub("customs", "match", *write_set(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "consistent\n"), result.output


CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ("amount paid", {}, {"amount_paid": Decimal("200.80")}, {},
     "amount_paid: CEB311/OrderHead/acturalPaid = 210.80, CEB411/PaymentHead/amountPaid = 200.80"),
    ("buyer identity", {}, {"payer_id_number": "110101199001019999"}, {},
     "buyer_id_number: CEB311/OrderHead/buyerIdNumber = 110101199001011234, "
     "CEB411/PaymentHead/payerIdNumber = 110101199001019999"),
    ("consignee", {}, {}, {"consignee": "王五"},
     "consignee: CEB311/OrderHead/consignee = 张三, CEB511/LogisticsHead/consignee = 王五"),
    ("enterprise code", {}, {"ebp_code": "3301963K70"}, {},
     "ebp_code: CEB311/OrderHead/ebpCode = 3301963K69, CEB411/PaymentHead/ebpCode = 3301963K70"),
    ("order number link", {}, {}, {"order_no": "ORD-2024-0002"},
     "order_no: CEB311/OrderHead/orderNo = ORD-2024-0001, CEB511/LogisticsHead/orderNo = ORD-2024-0002"),
    ("payment transaction link", {"pay_transaction_id": "PAY-2024-0009"}, {}, {},
     "pay_transaction_id: CEB311/OrderHead/payTransactionId = PAY-2024-0009, "
     "CEB411/PaymentHead/payTransactionId = PAY-2024-0001"),
    ("order number link, payment", {}, {"order_no": "ORD-2024-0002"}, {},
     "order_no: CEB311/OrderHead/orderNo = ORD-2024-0001, CEB411/PaymentHead/orderNo = ORD-2024-0002"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "o", "p", "w", "line"), CASES, ids=[c[0] for c in CASES])
def test_each_mismatch_prints_its_rule_line_and_exits_1(
    tmp_path: Path, name: str, o: dict[str, Any], p: dict[str, Any], w: dict[str, Any], line: str
) -> None:
    result = hub("customs", "match", *write_set(tmp_path, o, p, w))
    assert (result.exit_code, result.stdout.splitlines()) == (1, [line]), result.output


def test_a_payment_given_as_the_order_names_the_file_element_and_rule(tmp_path: Path) -> None:
    _, payment_file, waybill_file = write_set(tmp_path)
    lines = errors_of(hub("customs", "match", payment_file, payment_file, waybill_file))
    assert lines == [f"{payment_file}: /CEB411Message: wrong_message: expected CEB311Message (the order)"]


def test_a_file_that_does_not_parse_is_named_with_the_protection_that_tripped(tmp_path: Path) -> None:
    order_file, payment_file, _ = write_set(tmp_path)
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    [line] = errors_of(hub("customs", "match", order_file, payment_file, str(broken)))
    assert line.startswith(f"{broken}: /: doctype_forbidden: ")


@pytest.mark.parametrize(
    ("old", "new", "element", "rule"),
    [
        # The import XSD fixes every `currency` to 142 (CNY): another currency never reaches the comparison.
        (b">142<", b">502<", "currency", "xsd:fixed"),
        (b"<ceb:weight>", b"<ceb:weight>x", "weight", "amount_format"),
    ],
    ids=["currency", "weight"],
)
def test_an_xsd_violation_is_one_line_naming_the_element(
    tmp_path: Path, old: bytes, new: bytes, element: str, rule: str
) -> None:
    order_file, payment_file, waybill_file = write_set(tmp_path)
    Path(waybill_file).write_bytes(Path(waybill_file).read_bytes().replace(old, new))
    [line] = errors_of(hub("customs", "match", order_file, payment_file, waybill_file))
    assert line.startswith(f"{waybill_file}: /CEB511Message/Logistics/LogisticsHead/{element}: {rule}: ")


def test_dash_reads_one_document_from_stdin(tmp_path: Path) -> None:
    order_file, payment_file, waybill_file = write_set(tmp_path)
    result = hub("customs", "match", order_file, "-", waybill_file, stdin=Path(payment_file).read_bytes())
    assert (result.exit_code, result.stdout) == (0, "consistent\n"), result.output


def test_only_one_document_can_come_from_stdin(tmp_path: Path) -> None:
    _, _, waybill_file = write_set(tmp_path)
    assert errors_of(hub("customs", "match", "-", "-", waybill_file)) == [
        "only one of ORDER, PAYMENT, WAYBILL can be - (stdin)"
    ]


def test_json_reports_consistency_and_every_mismatch_with_values_as_strings(tmp_path: Path) -> None:
    ok = hub("customs", "match", "--json", *write_set(tmp_path))
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {"consistent": True, "mismatches": []})
    bad = hub("customs", "match", "--json", *write_set(tmp_path, p={"amount_paid": Decimal("200.80")}))
    assert (bad.exit_code, json.loads(bad.stdout)) == (1, {"consistent": False, "mismatches": [{
        "rule": "amount_paid", "left": "CEB311/OrderHead/acturalPaid", "left_value": "210.80",
        "right": "CEB411/PaymentHead/amountPaid", "right_value": "200.80",
    }]})  # fmt: skip


def test_the_published_samples_are_not_one_set_and_say_which_order_has_no_payment() -> None:
    paths = [str(SAMPLES / f"CEB{n}Message.xml") for n in (311, 411, 511)]
    result = hub("customs", "match", *paths)
    assert result.exit_code == 1
    assert (
        "order_no: CEB311/OrderHead/orderNo = order20160321116421002, CEB411/PaymentHead/orderNo = (none)"
        in result.stdout.splitlines()
    )


# -- hub validate: the 202205 pack the hub speaks, and the 2018 pack older partners may still send ------


def inventory_xml(tmp_path: Path, item_no: str = "SKU-1") -> str:
    from tests.unit.test_three_documents import inventory

    xml = ceb.render(inventory()).replace(
        b"<ceb:itemNo>SKU-1</ceb:itemNo>", f"<ceb:itemNo>{item_no}</ceb:itemNo>".encode()
    )
    path = tmp_path / "inventory.xml"
    path.write_bytes(xml)
    return str(path)


def test_an_inventory_valid_only_under_the_2018_pack_is_named_as_such(tmp_path: Path) -> None:
    long_sku = "SKU-2018-" + "7" * 16  # 25 characters: 2018 allows 30, 202205 only 20
    result = hub("validate", inventory_xml(tmp_path, long_sku))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("valid under the CEB 2018 schema pack only (202205 refuses: ")
    assert "/CEB621Message/Inventory/InventoryList[1]/itemNo: xsd:maxLength" in result.stdout


def test_an_inventory_valid_under_202205_is_plainly_valid(tmp_path: Path) -> None:
    assert hub("validate", inventory_xml(tmp_path)).stdout == "valid\n"


def test_an_inventory_both_packs_refuse_gets_the_202205_errors(tmp_path: Path) -> None:
    result = hub("validate", inventory_xml(tmp_path, "X" * 31))  # over 30: neither pack takes it
    assert result.exit_code == 1
    assert [line.split(": ")[1] for line in errors_of(result)] == ["xsd:maxLength"]
