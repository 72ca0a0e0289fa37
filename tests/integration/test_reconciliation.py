"""Statement reconciliation against the journal (SQLite and a real PostgreSQL), and through the
running hub's admin API and CLI."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from canonical import Envelope, parse_envelope
from canonical.iso20022 import BusinessHeader, Iso20022Message, render
from canonical.money import Money
from canonical.payments import AccountNotification, AccountStatement, StatementEntry
from desk.reconcile import AUDIT_ACTION, PAYMENT_TYPES, reconcile
from routes.pipeline import scope_of
from store import Store
from tests.conftest import RunningHub


def credit_transfer(amount: str, e2e: str | None = None) -> Envelope:
    uetr = str(uuid.uuid4())
    return parse_envelope(
        {
            "type": "payment.credit_transfer",
            "source": "bank-a",
            "destination": "cips",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "correlation_id": uetr,  # the gateway correlates a payment by its UETR
            "payload": {
                "message_id": f"M-{uuid.uuid4().hex[:8]}",
                "uetr": uetr,
                "end_to_end_id": e2e or f"E2E-{uuid.uuid4().hex[:8]}",
                "settlement_amount": {"currency": "CNY", "amount": amount},
                "settlement_date": str(datetime.now(UTC).date()),
                "charge_bearer": "SHAR",
                "debtor": {"name": "Anna Muster", "account": {"iban": "DE89370400440532013000"}},
                "debtor_agent": {"bic": "COBADEFFXXX"},
                "creditor_agent": {"bic": "ICBKCNBJXXX"},
                "creditor": {"name": "Shanghai Trading Co", "account": {"other": "6222020200112233"}},
            },
        }
    )


async def journal(store: Store, amount: str, adapter: str, final: str | None = "completed", **kw: Any) -> Envelope:
    """A payment the hub sent through `adapter`, journalled as the pipeline does, up to `final`."""
    env = credit_transfer(amount, **kw)
    await store.ensure(env, scope_of(env))
    mid = str(env.id)
    await store.record(mid, "routed", adapter=adapter, version="v1")
    await store.begin_attempt(mid, adapter, "v1")
    then: list[tuple[str, dict[str, Any]]] = [("delivered", {}), (final, {})] if final else []
    await store.finish_attempt(mid, adapter, "v1", datetime.now(UTC), "ok", then=then)
    return env


def entry(env: Envelope | None, amount: str, *, by: str = "uetr", side: str = "DBIT") -> StatementEntry:
    refs: dict[str, Any] = {}
    if env is not None:
        refs = {"uetr": env.payload.uetr} if by == "uetr" else {"end_to_end_id": env.payload.end_to_end_id}
    return StatementEntry.model_validate(
        {
            "amount": {"currency": "CNY", "amount": amount},
            "credit_debit": side,
            "booking_date": datetime.now(UTC).date(),
            **refs,
        }
    )


def statement(*entries: StatementEntry, report_id: str = "CIPS-STMT-1") -> AccountStatement:
    now = datetime.now(UTC)
    today = now.date()
    return AccountStatement.model_validate(
        {
            "message_id": report_id,
            "report_id": report_id,
            "sequence_number": 1,
            # An hour either side of now: what the journal completed during the test is inside it.
            "period_from": now - timedelta(hours=1),
            "period_to": now + timedelta(hours=1),
            "account": {"other": "CIPS-0001-8888"},
            "account_currency": "CNY",
            "balances": [
                {"type": t, "currency": "CNY", "amount": "5000.00", "credit_debit": "CRDT", "as_of": today}
                for t in ("OPBD", "CLBD")
            ],
            "entries": list(entries),
        }
    )


async def test_reconcile_matches_the_journal_reports_every_category_and_records_the_report(store: Store) -> None:
    by_uetr = await journal(store, "1000.00", "cips")
    by_e2e = await journal(store, "250.00", "cips")
    not_booked = await journal(store, "75.00", "cips")
    under_way = await journal(store, "300.00", "cips", final=None)  # sent, no answer yet
    await journal(store, "60.00", "swift")  # another channel: not this statement's business
    stmt = statement(
        entry(by_uetr, "1000.00"),
        entry(by_e2e, "250.00", by="end_to_end_id"),
        entry(under_way, "310.00"),
        entry(None, "42.00", side="CRDT"),
    )

    report = await reconcile(store, stmt, "cips")

    data = report.as_json()
    assert [m["message_id"] for m in data["matched"]] == [str(by_uetr.id), str(by_e2e.id)]
    assert [m["matched_by"] for m in data["matched"]] == ["uetr", "end_to_end_id"]
    assert [(m["message_id"], m["differences"]) for m in data["mismatched"]] == [
        (str(under_way.id), {"amount": {"entry": "310.00", "payment": "300.00"}})
    ]
    assert [u["index"] for u in data["unmatched_entries"]] == [4]
    assert [(m["message_id"], m["uetr"]) for m in data["missing"]] == [(str(not_booked.id), not_booked.payload.uetr)]
    assert data["figures"]["matched"] == {"count": 2, "totals": {"CNY": "1250.00"}}
    assert not report.balanced

    (recorded,) = await store.audit_log(action=AUDIT_ACTION)
    assert (recorded["actor"], recorded["target"]) == ("hub", "CIPS-STMT-1")
    assert recorded["detail"] == json.loads(json.dumps(data))


async def test_a_notification_matches_by_uetr_and_never_lists_missing_payments(store: Store) -> None:
    booked = await journal(store, "500.00", "cips")
    await journal(store, "80.00", "cips")  # completed too, but a notification is about one entry only
    notification = AccountNotification(
        message_id="NTF-MSG-1",
        notification_id="NTF-1",
        account={"other": "CIPS-0001-8888"},  # type: ignore[arg-type]
        amount=Money(currency="CNY", amount=Decimal("500.00")),
        credit_debit="DBIT",  # type: ignore[arg-type]
        uetr=booked.payload.uetr,
    )
    report = await reconcile(store, notification, None, actor="alice")
    assert report.balanced and [m.payment.message_id for m in report.matched] == [str(booked.id)]
    recorded = await store.audit_log(5, action=AUDIT_ACTION)
    assert [(r["actor"], r["target"]) for r in recorded] == [("alice", "NTF-1")]


async def test_changed_between_reads_one_channel_window_and_the_audit_log_an_action_s_newest(store: Store) -> None:
    before = datetime.now(UTC)
    cips = await journal(store, "10.00", "cips")
    await journal(store, "20.00", "swift")
    after = datetime.now(UTC) + timedelta(seconds=1)
    found = await store.changed_between(PAYMENT_TYPES, before, after, adapter="cips", status="completed")
    assert [v.id for v in found] == [str(cips.id)]
    assert await store.changed_between(PAYMENT_TYPES, after, after + timedelta(hours=1)) == []
    for n in range(3):
        await store.audit("hub", AUDIT_ACTION, f"S-{n}", {"n": n})
    await store.audit("hub", "routes.changed", "7", {})
    assert [r["target"] for r in await store.audit_log(2, action=AUDIT_ACTION)] == ["S-2", "S-1"]


def camt053(stmt: AccountStatement) -> bytes:
    header = BusinessHeader(
        from_bic="ICBKCNBJXXX",
        to_bic="COBADEFFXXX",
        business_message_id=stmt.report_id,
        message_definition="camt.053.001.08",
        created_at=datetime.now(UTC),
    )
    return render(Iso20022Message(header, stmt))


def test_hub_reconcile_prints_the_findings_exits_1_and_the_admin_api_lists_the_report(
    hub: RunningHub, tmp_path: Any
) -> None:
    report_id = f"R-{uuid.uuid4().hex[:12]}"
    unknown = credit_transfer("42.00")
    path = tmp_path / "statement.xml"
    path.write_bytes(camt053(statement(entry(unknown, "42.00"), report_id=report_id)))

    done = hub.cli("reconcile", str(path), "--channel", "cips")
    assert done.returncode == 1, done.stderr
    assert "UNMATCHED  entry 1" in done.stdout and unknown.payload.uetr in done.stdout

    as_json = hub.cli("reconcile", str(path), "--json")
    assert as_json.returncode == 1, as_json.stderr
    assert json.loads(as_json.stdout)["unmatched_entries"][0]["references"] == {"uetr": unknown.payload.uetr}

    with hub.admin() as admin:
        listed = admin.get("/admin/reconciliation", params={"limit": 2}).json()
        bad = admin.post("/admin/reconciliation", content=b"<Document>not a statement</Document>")
        bad_channel = admin.post("/admin/reconciliation", params={"channel": "CIPS!"}, content=path.read_bytes())
    assert [(r["statement_id"], r["actor"]) for r in listed] == [(report_id, "local-admin")] * 2
    assert listed[1]["report"]["channel"] == "cips" and listed[0]["report"]["channel"] is None
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    assert [e["rule"] for e in bad.json()["errors"]] == ["statement_format"]
    assert bad_channel.status_code == 400
    assert [(e["loc"], e["rule"]) for e in bad_channel.json()["errors"]] == [("channel", "adapter_name")]
