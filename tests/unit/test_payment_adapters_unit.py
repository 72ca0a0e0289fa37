"""The payment-network adapters without a network: what they render for CIPS and SWIFT (MX and MT),
how their settings are checked, and how they read the network's asynchronous answers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from pydantic import BaseModel

import adapters
from adapters import POSSIBLE_DUPLICATE, AdapterContext, PermanentError, build
from adapters.partner import PartnerSettingsError
from adapters.payments import PaymentNetworkAdapter
from canonical.envelope import Envelope
from canonical.errors import RejectedInput
from canonical.iso20022 import BusinessHeader, Iso20022Message, parse, render
from canonical.iso20022.codec import definition_for
from canonical.iso20022.schemas import xsd_violations
from canonical.money import Money
from canonical.payments import (
    Account,
    AccountNotification,
    AccountStatement,
    Agent,
    Balance,
    CancellationRequest,
    CancellationResolution,
    CreditDebit,
    CreditTransfer,
    OriginalReference,
    Party,
    PaymentReturn,
    ResolutionStatus,
    StatusReport,
    TransactionStatus,
)
from canonical.swift_mt.codec import to_mt

DEBTOR_BANK = "BKCHCNBJXXX"
CREDITOR_BANK = "ICBKCNBJXXX"
NETWORK_BIC = "CIPSCNSHXXX"
CREATED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TODAY = date(2026, 11, 23)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def credit_transfer(
    debtor_bank: str = DEBTOR_BANK, creditor_bank: str = CREDITOR_BANK, currency: str = "CNY", **changes: Any
) -> CreditTransfer:
    """A pacs.008 with a fresh UETR and references derived from it."""
    uetr = str(uuid.uuid4())
    fields: dict[str, Any] = dict(
        message_id=f"P008-{uetr[:8]}",
        uetr=uetr,
        instruction_id=f"INSTR-{uetr[:8]}",
        end_to_end_id=f"E2E-{uetr[:8]}",
        settlement_amount=Money(currency=currency, amount=Decimal("125000.50")),
        settlement_date=TODAY,
        instructing_agent=debtor_bank,
        instructed_agent=creditor_bank,
        charge_bearer="SHAR",
        debtor=Party(name="Shenzhen Export Co", account=Account(other="6222000011112222")),
        debtor_agent=Agent(bic=debtor_bank),
        creditor_agent=Agent(bic=creditor_bank),
        creditor=Party(name="Shanghai Import Co", account=Account(other="9558800200123456")),
    )
    return CreditTransfer(**(fields | changes))


def original_of(ct: CreditTransfer) -> OriginalReference:
    return OriginalReference(
        message_id=ct.message_id,
        message_type="pacs.008.001.08",
        instruction_id=ct.instruction_id,
        end_to_end_id=ct.end_to_end_id,
        uetr=ct.uetr,
    )


def cancellation(ct: CreditTransfer) -> CancellationRequest:
    return CancellationRequest(
        assignment_id=f"CXL-{ct.uetr[:8]}",
        assigner=ct.instructing_agent,
        assignee=ct.instructed_agent,
        case_id=f"CASE-{ct.uetr[:8]}",
        case_creator=ct.instructing_agent,
        original=original_of(ct),
        original_settlement_amount=ct.settlement_amount,
        reason_code="DUPL",
    )


def envelope(payload: BaseModel, destination: str = "cips", **headers: str) -> Envelope:
    kind = getattr(type(payload), "__message_type__", "")
    return Envelope(
        type=kind, source="bank-a", destination=destination, created_at=CREATED, headers=headers, payload=payload
    )


def channel(kind: str, **settings: Any) -> PaymentNetworkAdapter:
    base: dict[str, Any] = {"url": "http://127.0.0.1:9", "timeout_s": 2}
    if kind == "cips":
        base["network_bic"] = NETWORK_BIC
    adapter = build(kind, AdapterContext(kind, "v1", base | settings, str))
    assert isinstance(adapter, PaymentNetworkAdapter)
    return adapter


def network_answer(payload: BaseModel, sender: str = NETWORK_BIC, receiver: str = DEBTOR_BANK) -> bytes:
    """An answer as the network sends it: rendered with the hub's own ISO 20022 codec."""
    business_id = getattr(payload, "message_id", None) or getattr(payload, "assignment_id", "")
    header = BusinessHeader(
        from_bic=sender,
        to_bic=receiver,
        business_message_id=business_id,
        message_definition=definition_for(payload).id,
        created_at=CREATED,
    )
    return render(Iso20022Message(header, payload))


def status_report(ct: CreditTransfer, status: str = "ACSC", reason: str | None = None) -> StatusReport:
    return StatusReport(
        message_id=f"P002-{ct.uetr[:8]}",
        created_at=CREATED,
        original=original_of(ct),
        status=TransactionStatus(status),
        reason_code=reason,
    )


def answers(ct: CreditTransfer) -> dict[str, BaseModel]:
    """One answer of every kind a network pushes, about `ct`."""
    cny = ct.settlement_amount
    return {
        "payment.status_report": status_report(ct, "RJCT", "AC04"),
        "payment.cancellation_resolution": CancellationResolution(
            assignment_id=f"RES-{ct.uetr[:8]}",
            assigner=CREDITOR_BANK,
            assignee=DEBTOR_BANK,
            created_at=CREATED,
            case_id=f"CASE-{ct.uetr[:8]}",
            case_creator=DEBTOR_BANK,
            status=ResolutionStatus.CNCL,
            original=original_of(ct),
        ),
        "payment.return": PaymentReturn(
            message_id=f"P004-{ct.uetr[:8]}",
            created_at=CREATED,
            original=original_of(ct),
            returned_amount=cny,
            settlement_date=TODAY,
            reason_code="AC04",
        ),
        "payment.account_statement": AccountStatement(
            message_id=f"C053-{ct.uetr[:8]}",
            created_at=CREATED,
            report_id="STMT-20261123",
            account=Account(other="CIPS-ACC-0001"),
            account_currency="CNY",
            balances=[
                Balance(type="OPBD", currency="CNY", amount=Decimal("0"), credit_debit=CreditDebit.CRDT, as_of=TODAY),
                Balance(type="CLBD", currency="CNY", amount=cny.amount, credit_debit=CreditDebit.DBIT, as_of=TODAY),
            ],
        ),
        "payment.account_notification": AccountNotification(
            message_id=f"C054-{ct.uetr[:8]}",
            created_at=CREATED,
            notification_id=f"NTF-{ct.uetr[:8]}",
            account=Account(other="CIPS-ACC-0001"),
            amount=cny,
            credit_debit=CreditDebit.DBIT,
            uetr=ct.uetr,
        ),
    }


def document_of(xml: bytes) -> etree._Element:
    return next(el for el in etree.fromstring(xml) if etree.QName(el).localname == "Document")


def header_of(xml: bytes) -> BusinessHeader:
    return parse(xml).header


# --- render ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["cips", "swift"])
def test_render_is_xsd_valid_and_byte_identical_across_renders(kind: str) -> None:
    env = envelope(credit_transfer(), kind)
    first, again = channel(kind).render(env), channel(kind).render(env)
    assert xsd_violations("pacs.008.001.08", document_of(first.body)) == []
    assert first == again
    assert b"PssblDplct" not in first.body


@pytest.mark.parametrize("kind", ["cips", "swift"])
def test_resend_differs_only_by_the_possible_duplicate_flag(kind: str) -> None:
    env = envelope(credit_transfer(), kind)
    first = channel(kind).render(env).body
    resend = channel(kind).render(env.model_copy(update={"headers": {POSSIBLE_DUPLICATE: "true"}})).body
    assert header_of(resend).possible_duplicate
    assert resend.replace(b"    <PssblDplct>true</PssblDplct>\n", b"") == first


def test_cips_addresses_every_message_to_the_network() -> None:
    ct = credit_transfer()
    outbound = channel("cips").render(envelope(ct, traceparent=TRACEPARENT))
    header = header_of(outbound.body)
    assert (header.from_bic, header.to_bic) == (DEBTOR_BANK, NETWORK_BIC)
    assert header.business_message_id == ct.message_id
    assert header.created_at == CREATED
    assert outbound.target == "http://127.0.0.1:9/messages"
    assert outbound.headers == {
        "content-type": "application/xml",
        "idempotency-key": outbound.message_id,
        "traceparent": TRACEPARENT,
    }


def test_swift_addresses_the_instructed_agent_and_falls_back_to_the_sending_bic() -> None:
    ct = credit_transfer(instructing_agent=None)
    outbound = channel("swift", sender_bic="HUBXCNSHXXX").render(envelope(ct, "swift"))
    header = header_of(outbound.body)
    assert (header.from_bic, header.to_bic) == ("HUBXCNSHXXX", CREDITOR_BANK)


def test_sender_is_required_somewhere() -> None:
    with pytest.raises(PermanentError, match="sender_bic"):
        channel("swift").render(envelope(credit_transfer(instructing_agent=None), "swift"))


def test_cips_refuses_a_non_cny_payment_permanently() -> None:
    with pytest.raises(PermanentError, match="only CNY, not USD"):
        channel("cips").render(envelope(credit_transfer(currency="USD")))


def test_cancellation_request_is_addressed_from_assigner_to_assignee_on_swift() -> None:
    ct = credit_transfer(currency="EUR")
    outbound = channel("swift").render(envelope(cancellation(ct), "swift"))
    message = parse(outbound.body)
    assert message.type == "payment.cancellation_request"
    assert (message.header.from_bic, message.header.to_bic) == (DEBTOR_BANK, CREDITOR_BANK)
    assert message.header.business_message_id == f"CXL-{ct.uetr[:8]}"


def test_a_network_answer_type_is_not_sent() -> None:
    ct = credit_transfer()
    with pytest.raises(PermanentError, match=r"does not carry payment\.status_report"):
        channel("cips").render(envelope(status_report(ct)))


def test_swift_mt_renders_fin_to_the_fin_endpoint_with_pde_only_on_a_resend() -> None:
    swift = channel("swift", format="mt")
    env = envelope(credit_transfer(currency="USD"), "swift")
    first = swift.render(env)
    resend = swift.render(env.model_copy(update={"headers": {POSSIBLE_DUPLICATE: "true"}}))
    assert first.target == "http://127.0.0.1:9/fin"
    assert first.body.startswith(b"{1:F01BKCHCNBJAXXX")
    assert b"{2:I103ICBKCNBJXXXXN}" in first.body
    assert b"{5:{PDE:}}" not in first.body
    assert resend.body == first.body + b"{5:{PDE:}}"


def test_swift_mt_refuses_what_has_no_mt_form() -> None:
    ct = credit_transfer(charge_bearer="SLEV")
    with pytest.raises(PermanentError, match="charge_bearer_not_in_mt"):
        channel("swift", format="mt").render(envelope(ct, "swift"))


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "settings", "key"),
    [
        ("cips", {"url": "sandbox:cips"}, "network_bic"),
        ("cips", {"url": "sandbox:cips", "network_bic": "CIPS"}, "network_bic"),
        ("swift", {"url": "sandbox:swift", "format": "xml"}, "format"),
        ("swift", {"url": "sandbox:swift", "timeout_s": 0}, "timeout_s"),
        ("swift", {"url": "sandbox:swift", "sender_bic": "hub"}, "sender_bic"),
        ("swift", {}, "url"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(kind: str, settings: dict[str, Any], key: str) -> None:
    with pytest.raises(PartnerSettingsError, match=rf"adapters\.{kind}\.versions\.v1\.{key}"):
        build(kind, AdapterContext(kind, "v1", settings, str))


def test_a_misspelt_setting_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    settings = {"url": "sandbox:swift", "fromat": "mt", "protection": {"suite": "jose"}}
    build("swift", AdapterContext("swift", "v1", settings, str))
    assert [r.getMessage() for r in caplog.records] == [
        "adapters.swift.versions.v1.fromat is not a setting of swift; ignored"
    ]


def test_both_channels_are_registered_as_payment_adapters() -> None:
    assert {"cips", "swift"} <= set(adapters.kinds())
    assert all(adapters.kinds()[k].category == "payment" for k in ("cips", "swift"))


# --- asynchronous answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        "payment.status_report",
        "payment.cancellation_resolution",
        "payment.return",
        "payment.account_statement",
        "payment.account_notification",
    ],
)
def test_every_network_answer_becomes_an_envelope_to_the_hub(kind: str) -> None:
    ct = credit_transfer()
    payload = answers(ct)[kind]
    env = channel("cips").parse_reply(network_answer(payload), {"content-type": "application/xml"})
    assert (env.type, env.source, env.destination) == (kind, "cips", "hub")
    assert env.payload == payload
    business_id = getattr(payload, "message_id", None) or getattr(payload, "assignment_id", "")
    assert env.idempotency_key == f"{NETWORK_BIC}:{business_id}"
    if kind != "payment.account_statement":  # a statement is about many payments
        assert env.correlation_id == ct.uetr


def test_a_payment_is_not_an_answer() -> None:
    xml = network_answer(credit_transfer())
    with pytest.raises(RejectedInput) as exc:
        channel("swift").parse_reply(xml, {})
    assert [(v.loc, v.rule) for v in exc.value.violations] == [("/AppHdr/MsgDefIdr", "not_a_network_answer")]


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (b"", "malformed"),
        (b'{"ack": "ACK"}', "malformed"),
        (b"<Document><unclosed>", "malformed"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', "doctype_forbidden"),
        (b"<a>" * 100 + b"</a>" * 100, "too_deep"),
        (b"<Document xmlns='urn:example'/>", "apphdr_required"),
    ],
)
def test_hostile_or_malformed_answers_are_rejected_naming_the_rule(raw: bytes, rule: str) -> None:
    with pytest.raises(RejectedInput) as exc:
        channel("cips").parse_reply(raw, {})
    assert rule in {v.rule for v in exc.value.violations}


def test_an_answer_in_a_foreign_namespace_is_rejected() -> None:
    xml = network_answer(status_report(credit_transfer())).replace(b"pacs.002.001.10", b"pacs.002.001.99")
    with pytest.raises(RejectedInput) as exc:
        channel("cips").parse_reply(xml, {})
    assert [(v.loc, v.rule) for v in exc.value.violations] == [("/Document", "wrong_namespace")]


def test_an_answer_with_an_unknown_status_is_rejected_naming_the_field() -> None:
    xml = network_answer(status_report(credit_transfer())).replace(b"<TxSts>ACSC</TxSts>", b"<TxSts>DONE</TxSts>")
    with pytest.raises(RejectedInput) as exc:
        channel("cips").parse_reply(xml, {})
    assert [(v.loc, v.rule) for v in exc.value.violations] == [("payload.status", "enum")]


# --- SWIFT MT answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [("ACSC", None), ("RJCT", "AC04")])
def test_an_mt199_status_becomes_a_status_report_correlated_by_uetr(status: str, reason: str | None) -> None:
    ct = credit_transfer()
    text, _warnings = to_mt(status_report(ct, status, reason), "TRCKCHZZXXX", DEBTOR_BANK)
    env = channel("swift", format="mt").parse_reply(text.encode("ascii"), {"content-type": "text/plain"})
    assert (env.type, env.source, env.correlation_id) == ("payment.status_report", "swift", ct.uetr)
    assert env.idempotency_key == f"TRCKCHZZXXX:P002-{ct.uetr[:8]}"
    assert isinstance(env.payload, StatusReport)
    assert (env.payload.status.value, env.payload.reason_code) == (status, reason)


def test_an_mt196_becomes_a_cancellation_resolution() -> None:
    ct = credit_transfer()
    resolution = answers(ct)["payment.cancellation_resolution"]
    dated = resolution.model_copy(update={"original_settlement_date": TODAY})
    text, _warnings = to_mt(dated, CREDITOR_BANK, DEBTOR_BANK)
    env = channel("swift", format="mt").parse_reply(text.encode("ascii"), {})
    assert (env.type, env.correlation_id) == ("payment.cancellation_resolution", ct.uetr)


def test_an_mt_payment_is_not_an_answer_and_cips_reads_no_fin() -> None:
    text, _warnings = to_mt(credit_transfer(), DEBTOR_BANK, CREDITOR_BANK)
    with pytest.raises(RejectedInput) as exc:
        channel("swift").parse_reply(text.encode("ascii"), {})
    assert [v.rule for v in exc.value.violations] == ["not_a_network_answer"]
    with pytest.raises(RejectedInput) as exc:
        channel("cips").parse_reply(text.encode("ascii"), {})
    assert [v.rule for v in exc.value.violations] == ["malformed"]


@pytest.mark.parametrize(
    "raw", [b"{1:F01", b"{1:F01TRCKCHZZAXXX0000000000}{2:I199BKCHCNBJXXXXN}{4:\r\n-}", "{1:é".encode()]
)
def test_broken_fin_is_rejected(raw: bytes) -> None:
    with pytest.raises(RejectedInput):
        channel("swift").parse_reply(raw, {})
