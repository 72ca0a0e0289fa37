"""Inbound SOAP through the running hub: the service list and WSDLs, calls accepted into the normal ingress
in SOAP 1.1 and 1.2, and every WS-Security or XML attack refused as a SOAP fault."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import zeep
from lxml import etree

from canonical.mtom import write_mtom
from security import wssecurity
from security.wssecurity import SOAP11, SOAP12
from tests.conftest import RunningHub

LC_WSDL = "adapters/soap/wsdl/letter_of_credit.wsdl"
HUB_NS = "urn:tradehub:soap:hub"


ISSUE = {
    "applicant": "Shanghai Export Co",
    "beneficiary": "Hamburg Import GmbH",
    "currency": "USD",
    "amount": Decimal("1000.00"),
    "expiryDate": date(2027, 1, 31),
}


def request(port: str, operation: str = "IssueCredit", **params: Any) -> etree._Element:
    client = zeep.Client(LC_WSDL)
    if operation == "IssueCredit" and not params:
        params = {"lcReference": f"LC-IN-{datetime.now(UTC).strftime('%H%M%S%f')}", **ISSUE}
    envelope: etree._Element = client.create_message(client.bind("LetterOfCredit", port), operation, **params)
    return envelope


def secured(hub: RunningHub, envelope: etree._Element, institution: str = "bank-a", **kw: Any) -> bytes:
    kw.setdefault("signer", hub.signing_key(institution))
    wssecurity.secure(envelope, username=institution, password=hub.api_key(institution), password_text=True, **kw)
    return etree.tostring(envelope)


def post(hub: RunningHub, body: bytes, version: str = SOAP11, content_type: str = "") -> httpx.Response:
    media = content_type or ("application/soap+xml; charset=utf-8" if version == SOAP12 else "text/xml; charset=utf-8")
    with httpx.Client(base_url=hub.url, trust_env=False, timeout=30) as client:
        return client.post("/soap/letter-of-credit", content=body, headers={"content-type": media})


def fault_code(response: httpx.Response) -> str:
    root = etree.fromstring(response.content)
    return root.findtext(f".//{{{HUB_NS}}}code") or ""


def test_get_soap_lists_the_inbound_services_with_their_wsdl(hub: RunningHub) -> None:
    with httpx.Client(base_url=hub.url, trust_env=False) as client:
        listed = client.get("/soap").json()
        names = {s["name"]: s for s in listed}
        assert {"letter-of-credit", "export-credit"} <= set(names)
        wsdl = client.get(names["letter-of-credit"]["wsdl"])
    assert wsdl.status_code == 200 and b"LetterOfCreditSoap12" in wsdl.content
    assert f'location="{hub.url}/soap/letter-of-credit"'.encode() in wsdl.content


@pytest.mark.parametrize(("port", "version"), [("LetterOfCreditSoap11", SOAP11), ("LetterOfCreditSoap12", SOAP12)])
def test_a_signed_call_is_accepted_and_answered_with_the_message_id(hub: RunningHub, port: str, version: str) -> None:
    response = post(hub, secured(hub, request(port)), version)
    assert response.status_code == 200, response.text
    answer = etree.fromstring(response.content)
    assert etree.QName(answer).namespace == version
    message_id = answer.findtext(f".//{{{HUB_NS}}}messageId")
    assert message_id and answer.findtext(f".//{{{HUB_NS}}}status") in ("accepted", "routed", "sent", "dead_lettered")
    with hub.client() as client:
        assert client.get(f"/v1/messages/{message_id}").status_code == 200


def test_an_mtom_document_is_accepted_within_the_limit(hub: RunningHub) -> None:
    envelope = request("LetterOfCreditSoap12")
    holder = envelope.find(".//{urn:tradehub:sandbox:letter-of-credit}expiryDate")
    assert holder is not None
    bol = etree.Element("{urn:tradehub:sandbox:letter-of-credit}billOfLading")
    bol.text = "JVBERi0xLjcK" * 100
    holder.addnext(bol)
    secured(hub, envelope)
    body, content_type = write_mtom(envelope, [bol], "application/soap+xml")
    assert post(hub, body, SOAP12, content_type).status_code == 200


def test_a_wrong_password_is_refused(hub: RunningHub) -> None:
    envelope = request("LetterOfCreditSoap11")
    wssecurity.secure(envelope, username="bank-a", password="hk_wrong", password_text=True)
    response = post(hub, etree.tostring(envelope))
    assert response.status_code == 500 and fault_code(response) == "wsse:FailedAuthentication"


def test_a_bad_signature_is_refused(hub: RunningHub) -> None:
    body = secured(hub, request("LetterOfCreditSoap11")).replace(b">1000.00<", b">9000.00<")
    response = post(hub, body)
    assert fault_code(response) == "wsse:FailedCheck"


def test_an_expired_timestamp_is_refused(hub: RunningHub) -> None:
    stale = datetime.now(UTC) - timedelta(hours=1)
    response = post(hub, secured(hub, request("LetterOfCreditSoap12"), now=stale), SOAP12)
    assert response.status_code == 401 and fault_code(response) == "wsu:MessageExpired"


def test_a_replayed_nonce_is_refused(hub: RunningHub) -> None:
    body = secured(hub, request("LetterOfCreditSoap11"))
    assert post(hub, body).status_code == 200
    again = post(hub, body)
    assert fault_code(again) == "wsse:FailedAuthentication" and "replay" in again.text


def test_a_type_the_institution_may_not_send_is_refused(hub: RunningHub) -> None:
    client = zeep.Client("adapters/soap/wsdl/export_credit.wsdl")
    envelope = client.create_message(client.bind("ExportCredit", "ExportCreditSoap11"), "QueryPolicy", policyNo="P-1")
    wssecurity.secure(envelope, username="bank-a", password=hub.api_key(), password_text=True, signer=hub.signing_key())
    with httpx.Client(base_url=hub.url, trust_env=False, timeout=30) as http:
        response = http.post(
            "/soap/export-credit", content=etree.tostring(envelope), headers={"content-type": "text/xml"}
        )
    assert fault_code(response) == "TypeNotAllowed"


@pytest.mark.parametrize(
    "attack",
    [
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&x;</soap:Body></soap:Envelope>',
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&b;</soap:Body></soap:Envelope>',
    ],
    ids=["xxe", "entity-expansion"],
)
def test_xxe_and_entity_expansion_are_refused(hub: RunningHub, attack: bytes) -> None:
    response = post(hub, attack)
    assert response.status_code == 500 and fault_code(response) == "UnsafeXml.doctype_forbidden"
    assert b"root:" not in response.content


def test_a_soap_call_goes_through_the_hub_to_the_soap_bank_and_completes(hub: RunningHub) -> None:
    """Inbound SOAP 1.1 -> route letters-of-credit -> the soap adapter -> the lc-bank sandbox (SOAP, signed)."""
    reference = f"LC-E2E-{datetime.now(UTC).strftime('%H%M%S%f')}"
    envelope = request("LetterOfCreditSoap11", **{**ISSUE, "lcReference": reference})
    answer = etree.fromstring(post(hub, secured(hub, envelope)).content)
    message_id = answer.findtext(f".//{{{HUB_NS}}}messageId")
    assert message_id
    state = hub.wait_status(message_id, {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "completed", state
    with hub.sandbox("lc-bank") as bank:
        calls = [c for c in bank.get("/_sandbox/received").json() if reference in str(c["body"])]
    assert len(calls) == 1 and calls[0]["signature"] == "valid"


def test_a_partner_business_fault_ends_the_message_rejected(hub: RunningHub) -> None:
    with hub.client() as client:
        submitted = client.post(
            "/v1/messages",
            json={"type": "trade.lc_status_query", "destination": "lc-bank", "payload": {"lcReference": "LC-NOPE"}},
        )
    assert submitted.status_code == 202, submitted.text
    state = hub.wait_status(submitted.json()["id"], {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "rejected", state


@pytest.mark.parametrize("port", ["LetterOfCreditSoap11", "LetterOfCreditSoap12"])
def test_a_request_reply_query_is_answered_with_the_partners_result(hub: RunningHub, port: str) -> None:
    reference = f"LC-RR-{datetime.now(UTC).strftime('%H%M%S%f')}"
    version = SOAP12 if port.endswith("12") else SOAP11
    issued = etree.fromstring(
        post(hub, secured(hub, request(port, **{**ISSUE, "lcReference": reference})), version).content
    )
    assert hub.wait_status(issued.findtext(f".//{{{HUB_NS}}}messageId") or "", {"completed"})["status"] == "completed"
    answer = post(hub, secured(hub, request(port, "QueryCreditStatus", lcReference=reference)), version)
    assert answer.status_code == 200, answer.text
    client = zeep.Client(LC_WSDL)
    operation = client.bind("LetterOfCredit", port)._binding.get("QueryCreditStatus")
    result = operation.process_reply(etree.fromstring(answer.content))
    assert result.lcReference == reference and result.status == "issued" and result.amount == Decimal("1000.00")
    unknown = post(hub, secured(hub, request(port, "QueryCreditStatus", lcReference="LC-NOT-THERE")), version)
    assert fault_code(unknown) == "Partner.rejected" and "UnknownCredit" in unknown.text


@pytest.mark.parametrize("code", ["Busy", "Locked"])
def test_a_transient_fault_is_retried_by_the_hub_until_the_partner_accepts(hub: RunningHub, code: str) -> None:
    """Busy is a Server fault; Locked a Client fault that routes.yaml maps to transient (fault_map)."""
    with hub.sandbox("lc-bank") as bank:
        bank.post("/_sandbox/fault", json={"code": code, "count": 1}).raise_for_status()
    payload = {"lcReference": f"LC-RETRY-{code}-{datetime.now(UTC).strftime('%H%M%S%f')}", **ISSUE}
    payload |= {"amount": "1000.00", "expiryDate": "2027-01-31"}
    with hub.client() as client:
        submitted = client.post(
            "/v1/messages", json={"type": "trade.lc_issue", "destination": "lc-bank", "payload": payload}
        )
    assert submitted.status_code == 202, submitted.text
    state = hub.wait_status(submitted.json()["id"], {"completed", "rejected", "dead_lettered"})
    assert state["status"] == "completed", state
    assert state["attempts"] == 2
