"""The soap adapter (zeep + WS-Security) against the two SOAP sandbox partners served on loopback: every
operation round trip over real HTTP in SOAP 1.1 and 1.2, signed both ways, MTOM documents, faults mapped to
the retry contract, a partner that hangs cut off by the timeout, a refused answer signature."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from pydantic import BaseModel

from adapters import AdapterContext, InDoubtError, PermanentError, Receipt, TransientError, build
from adapters.soap import PartnerFaultRefusal, SoapAdapter
from canonical.envelope import Envelope
from canonical.soap_partners import LcAmend, LcIssue, LcStatusQuery, LimitApplication, PolicyQuery
from sandbox.http import serve
from sandbox.soap_partners import ExportCreditInsurer, LetterOfCreditBank, SoapPartner
from security import jose, wssecurity
from security.outbound import HUB_JWKS_FILE, publish_jwks

HUB_P256 = jose.generate_key("P-256", "hub-doc-p256")
PASSWORD = "lc-desk-secret"
LC_OPERATIONS = {
    "trade.lc_issue": "IssueCredit",
    "trade.lc_amend": "AmendCredit",
    "trade.lc_status_query": "QueryCreditStatus",
}
ECI_OPERATIONS = {"insurance.policy_query": "QueryPolicy", "insurance.limit_application": "ApplyLimit"}


def document_key(suite: str) -> jose.Signer:
    return HUB_P256.signer("ES256")


@dataclass
class Partner:
    server: SoapPartner
    url: str
    adapters: list[SoapAdapter] = field(default_factory=list)

    def adapter(self, kind: str, port: str, **settings: Any) -> SoapAdapter:
        lc = isinstance(self.server, LetterOfCreditBank)
        config: dict[str, Any] = {
            "url": "sandbox:partner",
            "timeout_s": 2.0,
            "wsdl": f"adapters/soap/wsdl/{'letter_of_credit' if lc else 'export_credit'}.wsdl",
            "service": "LetterOfCredit" if lc else "ExportCredit",
            "port": port,
            "path": "/lc" if lc else "/eci",
            "operations": LC_OPERATIONS if lc else ECI_OPERATIONS,
            "username": "hub",
            "password_env": "TEST_SOAP_PASSWORD",
        } | settings
        ctx = AdapterContext(kind, "v1", config, lambda url: self.url, document_signer=document_key)
        adapter = build("soap", ctx)
        assert isinstance(adapter, SoapAdapter)
        self.adapters.append(adapter)
        return adapter

    async def knob(self, action: str, body: Any) -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            (await client.post(f"{self.url}/_sandbox/{action}", json=body)).raise_for_status()

    async def received(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(trust_env=False) as client:
            rows: list[dict[str, Any]] = (await client.get(f"{self.url}/_sandbox/received?all=1")).json()
            return rows


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TEST_SOAP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SANDBOX_SOAP_PASSWORD", PASSWORD)
    yield


async def _partner(cls: type[SoapPartner], tmp_path: Path) -> AsyncIterator[Partner]:
    publish_jwks(tmp_path / HUB_JWKS_FILE, [HUB_P256])
    server = cls(cls.__name__, tmp_path)
    listening = await serve(server.handle)
    partner = Partner(server, f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}")
    yield partner
    for adapter in partner.adapters:
        await adapter.stop()
    listening.close()


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[Partner]:
    async for partner in _partner(LetterOfCreditBank, tmp_path):
        yield partner


@pytest.fixture
async def insurer(tmp_path: Path) -> AsyncIterator[Partner]:
    async for partner in _partner(ExportCreditInsurer, tmp_path):
        yield partner


def envelope(kind: str, payload: BaseModel) -> Envelope:
    return Envelope(type=kind, source="bank-a", destination="lc-bank", payload=payload)


def issue(ref: str = "LC-2026-0001", **extra: Any) -> Envelope:
    payload = LcIssue(
        lc_reference=ref,
        applicant="Shanghai Export Co",
        beneficiary="Hamburg Import GmbH",
        currency="USD",
        amount=Decimal("250000.00"),
        expiry_date=date(2027, 3, 31),
        **extra,
    )
    return envelope("trade.lc_issue", payload)


async def call(adapter: SoapAdapter, env: Envelope) -> Receipt:
    return await adapter.send(adapter.render(env))


@pytest.mark.parametrize("port", ["LetterOfCreditSoap11", "LetterOfCreditSoap12"])
async def test_letter_of_credit_issue_amend_and_status_round_trip(bank: Partner, port: str) -> None:
    adapter = bank.adapter("lc-bank", port)
    issued = await call(adapter, issue())
    assert issued.final and issued.detail["result"]["status"] == "issued"
    assert issued.reference.startswith("LCB")
    amend = LcAmend(lc_reference="LC-2026-0001", amendment_no=1, new_amount=Decimal("300000.00"), reason="price")
    amended = await call(adapter, envelope("trade.lc_amend", amend))
    assert amended.detail["result"] == {"lcReference": "LC-2026-0001", "amendmentNo": 1, "status": "amended"}
    status = await call(adapter, envelope("trade.lc_status_query", LcStatusQuery(lc_reference="LC-2026-0001")))
    assert status.detail["result"]["amount"] == "300000.00"
    assert status.detail["result"]["amendments"] == 1 and status.reference == issued.reference
    calls = await bank.received()
    assert [c["signature"] for c in calls] == ["valid"] * 3


@pytest.mark.parametrize("port", ["ExportCreditSoap11", "ExportCreditSoap12"])
async def test_insurer_policy_query_and_limit_application_round_trip(insurer: Partner, port: str) -> None:
    adapter = insurer.adapter("eci", port)
    policy = await call(adapter, envelope("insurance.policy_query", PolicyQuery(policy_no="POL-2026-0001")))
    assert policy.detail["result"]["usedLimit"] == "250000.00"
    application = LimitApplication(
        policy_no="POL-2026-0001", buyer_name="Hamburg Import GmbH", buyer_country="DE", currency="USD", amount=100000
    )
    granted = await call(adapter, envelope("insurance.limit_application", application))
    assert granted.detail["result"]["decision"] == "approved" and granted.reference.startswith("APP")
    again = await call(adapter, envelope("insurance.policy_query", PolicyQuery(policy_no="POL-2026-0001")))
    assert again.detail["result"]["usedLimit"] == "350000.00"


async def test_the_same_idempotency_key_gets_the_remembered_answer_without_a_second_effect(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11")
    outbound = adapter.render(issue("LC-IDEM-1"))
    first, second = await adapter.send(outbound), await adapter.send(outbound)
    assert first.reference == second.reference
    assert [c["effect"] for c in await bank.received()] == [1, 0]


async def test_bill_of_lading_travels_as_an_mtom_attachment(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap12", mtom=True)
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 400
    outbound = adapter.render(issue("LC-MTOM-1", bill_of_lading=pdf))
    body, headers = adapter.wire(outbound)
    assert headers["content-type"].startswith("multipart/related") and pdf in body
    assert (await adapter.send(outbound)).detail["result"]["status"] == "issued"
    row = bank.server.db.execute("SELECT document_bytes FROM credits WHERE ref='LC-MTOM-1'").fetchone()
    assert row == (len(pdf),)


async def test_a_business_refusal_is_permanent_or_rejected_as_configured(bank: Partner) -> None:
    query = envelope("trade.lc_status_query", LcStatusQuery(lc_reference="LC-UNKNOWN"))
    with pytest.raises(PermanentError, match="UnknownCredit") as plain:
        await call(bank.adapter("lc-bank", "LetterOfCreditSoap11"), query)
    assert not plain.value.retryable
    rejecting = bank.adapter("lc-bank", "LetterOfCreditSoap12", fault_map={"UnknownCredit": "rejected"})
    with pytest.raises(PartnerFaultRefusal) as refused:
        await call(rejecting, query)
    assert refused.value.code == "UnknownCredit"


@pytest.mark.parametrize("port", ["LetterOfCreditSoap11", "LetterOfCreditSoap12"])
async def test_server_faults_are_transient_and_a_configured_client_code_too(bank: Partner, port: str) -> None:
    adapter = bank.adapter("lc-bank", port, fault_map={"CreditLocked": "transient"})
    for code in ("Server", "Busy", "Locked"):
        await bank.knob("fault", {"code": code, "count": 1})
        with pytest.raises(TransientError):
            await call(adapter, issue(f"LC-{code}"))
        assert (await call(adapter, issue(f"LC-{code}"))).detail["result"]["status"] == "issued"  # the retry
    await bank.knob("fault", {"code": "Client", "count": 1})
    with pytest.raises(PermanentError):
        await call(adapter, issue("LC-Client"))


async def test_a_hanging_partner_is_cut_off_by_the_timeout_and_the_retry_succeeds(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11", timeout_s=0.3)
    outbound = adapter.render(issue("LC-HANG-1"))
    await bank.knob("mode", {"mode": "slow", "delay_s": 5})
    started = asyncio.get_running_loop().time()
    with pytest.raises(InDoubtError):  # retryable: the pipeline NAKs with the adapter's backoff
        await adapter.send(outbound)
    assert asyncio.get_running_loop().time() - started < 2
    await bank.knob("mode", {"mode": "ok"})
    assert (await adapter.send(outbound)).detail["result"]["status"] == "issued"


async def test_a_partner_that_is_down_is_a_transient_error(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11")
    await bank.knob("mode", {"mode": "down"})
    with pytest.raises(TransientError):
        await call(adapter, issue("LC-DOWN-1"))


async def test_a_wrong_password_is_refused_by_the_partner(bank: Partner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SOAP_PASSWORD", "not-the-password")
    with pytest.raises(PermanentError, match="FailedAuthentication"):
        await call(bank.adapter("lc-bank", "LetterOfCreditSoap12"), issue("LC-PW-1"))


async def test_an_unsigned_call_is_refused_when_the_partner_requires_signatures(bank: Partner) -> None:
    with pytest.raises(PermanentError, match="InvalidSecurity"):
        await call(bank.adapter("lc-bank", "LetterOfCreditSoap11", sign=False), issue("LC-UNSIGNED"))


async def test_an_answer_signed_by_an_unknown_key_is_refused(bank: Partner, tmp_path: Path) -> None:
    other = tmp_path / "other-jwks.json"
    publish_jwks(other, [jose.generate_key("P-256", bank.server.signing_key.kid)])  # same kid, another key
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11", jwks_file=str(other))
    with pytest.raises(PermanentError, match="FailedCheck"):
        await call(adapter, issue("LC-FORGED"))


async def test_the_wsdl_is_served_at_query_wsdl(bank: Partner) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{bank.url}/lc?wsdl")
    assert answer.status_code == 200 and b"LetterOfCreditSoap12" in answer.content


async def _post(partner: Partner, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.post(f"{partner.url}/lc", content=body, headers={"content-type": "text/xml"})


async def test_the_partner_refuses_a_replayed_nonce(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11")
    body, _headers = adapter.wire(adapter.render(issue("LC-REPLAY")))
    assert (await _post(bank, body)).status_code == 200
    again = await _post(bank, body)
    assert again.status_code == 500 and b"replay" in again.content and b"wsse:FailedAuthentication" in again.content


async def test_the_partner_refuses_an_expired_timestamp(bank: Partner) -> None:
    adapter = bank.adapter("lc-bank", "LetterOfCreditSoap11")
    envelope = etree.fromstring(adapter.render(issue("LC-STALE")).body)
    stale = datetime.now(UTC) - timedelta(hours=2)
    wssecurity.secure(envelope, username="hub", password=PASSWORD, signer=document_key("jose"), now=stale)
    refused = await _post(bank, etree.tostring(envelope))
    assert refused.status_code == 500 and b"wsu:MessageExpired" in refused.content


async def test_the_partner_refuses_xxe(bank: Partner) -> None:
    attack = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&x;</soap:Body></soap:Envelope>'
    )
    refused = await _post(bank, attack)
    assert refused.status_code == 500 and b"doctype_forbidden" in refused.content and b"root:" not in refused.content
