"""三单对碰 through the running hub: order, payment and waybill from different senders, the inventory the
hub files, the single window's receipts, held sets with their mismatches, time-outs and restarts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canonical.ceb import render
from canonical.customs import BaseTransfer, ImportOrderMessage, PaymentMessage, WaybillMessage
from desk.customs import INVENTORY_NS
from tests.conftest import RunningHub, hub_config, start_hub, stop_hub
from tests.unit.test_three_documents import order, payment, waybill, with_head

PLATFORM = BaseTransfer(cop_code="3301964J31", cop_name="示例电商企业", dxp_id="DXPENT0000000001")


def guid() -> str:
    return str(uuid.uuid4()).upper()


class Trio:
    """An order's three documents, consistent unless changed, under fresh numbers."""

    def __init__(self) -> None:
        self.order_no = f"ORD-{uuid.uuid4().hex[:12].upper()}"
        self.pay_id = f"PAY-{uuid.uuid4().hex[:12].upper()}"
        self.logistics_no = f"YT{uuid.uuid4().hex[:12].upper()}"

    def order(self, **changes: Any) -> bytes:
        o = with_head(order(), guid=guid(), order_no=self.order_no, pay_transaction_id=self.pay_id, **changes)
        return render(ImportOrderMessage.model_validate({"guid": guid(), "orders": [o], "transfer": PLATFORM}))

    def payment(self, **changes: Any) -> bytes:
        head = payment().model_copy(
            update={"guid": guid(), "order_no": self.order_no, "pay_transaction_id": self.pay_id, **changes}
        )
        return render(
            PaymentMessage.model_validate({"guid": guid(), "payments": [{"head": head}], "transfer": PLATFORM})
        )

    def waybill(self, **changes: Any) -> bytes:
        head = waybill().model_copy(
            update={"guid": guid(), "order_no": self.order_no, "logistics_no": self.logistics_no, **changes}
        )
        return render(
            WaybillMessage.model_validate({"guid": guid(), "waybills": [{"head": head}], "transfer": PLATFORM})
        )


def submit(hub: RunningHub, body: bytes, institution: str) -> str:
    with hub.client(institution) as client:
        response = client.post("/v1/messages", content=body, headers={"content-type": "application/xml"})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def customs_set(hub: RunningHub, order_no: str) -> dict[str, Any] | None:
    with hub.admin() as admin:
        response = admin.get(f"/v1/customs/orders/{order_no}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def wait_set(
    hub: RunningHub, order_no: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        found = customs_set(hub, order_no)
        if found is not None and ok(found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"set {order_no} never got there: {json.dumps(found, ensure_ascii=False)[:2000]}")


def status_is(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda found: found["status"] in statuses


def notices(hub: RunningHub, order_no: str) -> list[dict[str, Any]]:
    """Set notifications the sandbox inbox of bank-a received about `order_no`."""
    with hub.sandbox("bank-a-inbox") as inbox:
        calls = inbox.get("/_sandbox/received").json()
    out = []
    for call in calls:
        body = call.get("body") if isinstance(call.get("body"), dict) else call.get("json")
        payload = (body or {}).get("payload", body or {})
        if payload.get("message_type") == "customs.set" and payload.get("correlation_id") == order_no:
            out.append(payload)
    return out


def test_three_documents_from_three_senders_become_a_released_inventory(hub: RunningHub) -> None:
    trio = Trio()
    order_id = submit(hub, trio.order(), "platform-x")
    submit(hub, trio.payment(), "bank-a")
    first = wait_set(hub, trio.order_no, lambda s: len(s["documents"]) == 2)
    assert first["status"] == "collecting" and first["missing"] == ["waybill"]
    submit(hub, trio.waybill(), "platform-x")
    found = wait_set(hub, trio.order_no, status_is("released", "rejected", "held"))
    assert found["status"] == "released", found
    kinds = {d["kind"]: d for d in found["documents"]}
    assert set(kinds) == {"order", "payment", "waybill", "inventory"}
    for kind in ("order", "payment", "waybill"):
        assert kinds[kind]["status"] == "accepted" and [r["status"] for r in kinds[kind]["receipts"]] == ["2", "120"]
    assert [r["status"] for r in kinds["inventory"]["receipts"]] == ["2", "120", "399"]
    assert kinds["order"]["message_id"] == order_id
    inventory = hub.wait_status(found["inventory_id"], {"completed"})
    assert inventory["status"] == "completed" and inventory["source"] == "hub"
    # The single window got a signed CEB621 built from the three documents.
    with hub.sandbox("customs") as window:
        declared = window.get("/_sandbox/declarations").json()
    [filed] = [d for d in declared if d["message"] == "CEB621Message" and d["order_no"] == trio.order_no]
    assert filed["xml_signature"] == "valid", filed
    result = hub.cli("customs", "status", trio.order_no)
    assert result.returncode == 0 and f"order {trio.order_no}: released" in result.stdout, result.stdout + result.stderr
    assert json.loads(hub.cli("customs", "status", trio.order_no, "--json").stdout)["status"] == "released"


def test_a_mismatch_holds_the_set_notifies_and_a_corrected_document_releases_it(hub: RunningHub) -> None:
    trio = Trio()
    submit(hub, trio.order(), "platform-x")
    submit(hub, trio.waybill(), "platform-x")
    submit(hub, trio.payment(amount_paid=Decimal("200.80")), "bank-a")
    held = wait_set(hub, trio.order_no, status_is("held"))
    [mismatch] = held["mismatches"]
    assert mismatch["rule"] == "amount_paid" and mismatch["right_value"] == "200.80", mismatch
    assert mismatch["left"] == "CEB311/OrderHead/acturalPaid" and mismatch["right"] == "CEB411/PaymentHead/amountPaid"
    # bank-a sent the payment and has a webhook: it is told, with the mismatch.
    deadline = time.monotonic() + 20
    while not (told := notices(hub, trio.order_no)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert told and told[0]["status"] == "held" and told[0]["detail"]["mismatches"][0]["rule"] == "amount_paid"
    submit(hub, trio.payment(), "bank-a")  # the corrected voucher, a new declaration
    found = wait_set(hub, trio.order_no, status_is("released", "rejected"))
    assert found["status"] == "released" and found["mismatches"] == [] and found["revision"] == 4
    statuses = sorted(d["status"] for d in found["documents"] if d["kind"] == "payment")
    assert statuses == ["accepted", "superseded"]


def test_personal_values_of_a_mismatch_are_masked(hub: RunningHub) -> None:
    trio = Trio()
    submit(hub, trio.order(), "platform-x")
    submit(hub, trio.payment(payer_name="李四"), "bank-a")
    submit(hub, trio.waybill(), "platform-x")
    held = wait_set(hub, trio.order_no, status_is("held"))
    [mismatch] = held["mismatches"]
    assert mismatch["rule"] == "buyer_name" and mismatch["left_value"] == mismatch["right_value"] == "***"
    assert "李四" not in json.dumps(held, ensure_ascii=False)


def test_a_repeated_document_changes_nothing(hub: RunningHub) -> None:
    trio = Trio()
    body = trio.order()
    first, again = submit(hub, body, "platform-x"), submit(hub, body, "platform-x")
    assert first == again
    submit(hub, trio.payment(), "bank-a")
    found = wait_set(hub, trio.order_no, lambda s: len(s["documents"]) == 2)
    time.sleep(0.5)  # a second filing, if any, would have arrived by now
    found = customs_set(hub, trio.order_no)
    assert found is not None and found["revision"] == 2 and len(found["documents"]) == 2


def script(hub: RunningHub, target: dict[str, str], reason: str) -> None:
    with hub.sandbox("customs") as window:
        scripted = window.post("/_sandbox/script", json={**target, "outcome": "reject", "reason": reason})
        assert scripted.status_code == 200, scripted.text


def test_customs_refusing_the_inventory_ends_the_set_rejected_with_the_reason(hub: RunningHub) -> None:
    trio = Trio()
    # The inventory the hub will file for revision 3 of the set (its copNo derives from its guid).
    cop_no = str(uuid.uuid5(INVENTORY_NS, f"{trio.order_no}:3")).upper().replace("-", "")[:20]
    script(hub, {"copNo": cop_no}, "申报要素不全")
    for body, who in ((trio.order(), "platform-x"), (trio.payment(), "bank-a"), (trio.waybill(), "platform-x")):
        submit(hub, body, who)
    found = wait_set(hub, trio.order_no, status_is("released", "rejected", "held"))
    assert found["status"] == "rejected" and "申报要素不全" in found["reason"], found
    inventory = next(d for d in found["documents"] if d["kind"] == "inventory")
    assert [r["status"] for r in inventory["receipts"]] == ["2", "120", "100"] and inventory["status"] == "rejected"
    assert hub.wait_status(found["inventory_id"], {"rejected"})["status"] == "rejected"


def test_a_document_customs_refused_holds_its_set(hub: RunningHub) -> None:
    trio = Trio()
    script(hub, {"orderNo": trio.order_no}, "订购人身份信息不符")
    order_id = submit(hub, trio.order(), "platform-x")
    assert hub.wait_status(order_id, {"rejected"})["status"] == "rejected"
    submit(hub, trio.payment(), "bank-a")
    submit(hub, trio.waybill(), "platform-x")
    found = wait_set(hub, trio.order_no, status_is("held", "matched", "released"))
    assert found["status"] == "held" and "order" in found["reason"] and "订购人身份信息不符" in found["reason"], found
    assert found["inventory_id"] is None


def test_an_unknown_order_is_404_and_institutions_see_only_their_sets(hub: RunningHub) -> None:
    with hub.admin() as admin:
        assert admin.get("/v1/customs/orders/NO-SUCH-ORDER").status_code == 404
    trio = Trio()
    submit(hub, trio.order(), "platform-x")
    wait_set(hub, trio.order_no, lambda s: len(s["documents"]) == 1)
    with hub.client("platform-x") as client:
        assert client.get(f"/v1/customs/orders/{trio.order_no}").status_code == 200
    with hub.client("bank-a") as client:
        assert client.get(f"/v1/customs/orders/{trio.order_no}").status_code == 404
    result = hub.cli("customs", "status", "NO-SUCH-ORDER")
    assert result.returncode == 1 and "NO-SUCH-ORDER" in result.stderr


# -- a hub of its own, restarted ------------------------------------------------------------


@pytest.fixture(scope="module")
def own_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("customs-hub")
    running = start_hub(base / "home", hub_config(base / "config"))
    yield running
    stop_hub(running)


def test_sets_survive_a_restart_of_the_hub(own_hub: RunningHub) -> None:
    trio = Trio()
    submit(own_hub, trio.order(), "platform-x")
    submit(own_hub, trio.payment(), "bank-a")
    wait_set(own_hub, trio.order_no, lambda s: len(s["documents"]) == 2)
    stop_hub(own_hub)
    restarted = start_hub(own_hub.home, Path(own_hub.env["HUB_CONFIG_DIR"]))
    own_hub.proc, own_hub.env = restarted.proc, restarted.env  # the fixture stops this one
    submit(restarted, trio.waybill(), "platform-x")
    found = wait_set(restarted, trio.order_no, status_is("released", "held", "rejected", "timed_out"))
    assert found["status"] == "released", found
