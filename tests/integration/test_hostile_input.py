"""Hostile requests against the running gateway: each gets its own 4xx problem+json, nothing is
published to HUB_IN or journalled, and exactly one `gateway.refused` audit row records it."""

from __future__ import annotations

import json
import re
import secrets
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from security import jose
from security.signatures import HEADER
from tests.conftest import SHARED_DATA, RunningHub
from tests.integration.test_bad_input import from_address, hub_in_last_seq, journal_count
from tests.integration.test_flow import invoice

PATH = "/v1/messages"
PACS008 = (SHARED_DATA / "iso20022" / "samples" / "pacs008_credit_transfer_sample.xml").read_bytes()
CEB311 = (SHARED_DATA / "customs-ceb" / "samples" / "CEB311Message.xml").read_bytes()
DEEP = 10_000


@dataclass(frozen=True)
class Trace:
    """What a refused call must leave unchanged, and where the audit log stood before it."""

    hub_in: int
    journal: int
    audit_seq: int


def audit_log(hub: RunningHub) -> list[dict[str, Any]]:
    with hub.admin() as admin:
        answer = admin.get("/admin/audit")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def snapshot(hub: RunningHub) -> Trace:
    return Trace(hub_in_last_seq(hub), journal_count(hub), max((a["seq"] for a in audit_log(hub)), default=0))


@pytest.fixture
def before(hub: RunningHub) -> Trace:
    return snapshot(hub)


def assert_refused(
    hub: RunningHub,
    before: Trace,
    answer: httpx.Response,
    status: int,
    slug: str,
    rule: str | None,
    actor: str = "bank-a",
) -> dict[str, Any]:
    """The answer is the expected problem, nothing moved, and one audit row says why."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    problem: dict[str, Any] = answer.json()
    assert problem["type"] == f"urn:tradehub:problem:{slug}", problem
    assert problem["status"] == status and problem["title"]
    rules = [e["rule"] for e in problem.get("errors", [])]
    if rule is not None:
        assert rule in rules, problem
    assert hub_in_last_seq(hub) == before.hub_in, "something was published to HUB_IN"
    assert journal_count(hub) == before.journal, "something was journalled"
    new = [a for a in audit_log(hub) if a["seq"] > before.audit_seq and a["action"].startswith("gateway.")]
    assert [a["action"] for a in new] == ["gateway.refused"], new
    entry = new[0]
    assert entry["actor"] == actor and entry["target"] == PATH, entry
    assert entry["detail"]["type"] == slug and entry["detail"]["status"] == status, entry
    assert entry["detail"]["rules"] == rules, entry
    return problem


def own_key(hub: RunningHub, institution: str = "bank-a") -> jose.Signer:
    key = hub.signing_key(institution)
    assert key is not None
    return key


def signature(key: jose.HubKey | jose.Signer, body: bytes, kid: str | None = None) -> str:
    extra = {"iat": int(time.time()), "nonce": secrets.token_urlsafe(18)}
    if isinstance(key, jose.HubKey):
        return jose.sign_detached(body, key, kid or key.kid, "Ed25519", extra)
    return jose.sign_detached_with(body, key, extra)


def post(hub: RunningHub, body: bytes, token: str | None, content_type: str = "application/json") -> httpx.Response:
    """bank-a's credential with exactly the given signature header (or none)."""
    with hub.client("bank-a", signed=False) as client:
        headers = {"content-type": content_type, **({HEADER: token} if token else {})}
        return client.post(PATH, content=body, headers=headers)


def post_signed(hub: RunningHub, body: bytes, content_type: str = "application/json") -> httpx.Response:
    """bank-a signing correctly, as its own systems would."""
    with hub.client("bank-a") as client:
        return client.post(PATH, content=body, headers={"content-type": content_type})


@dataclass(frozen=True)
class XmlSample:
    """A valid raw document, its root element's name and one text value that an entity can stand in for."""

    document: bytes
    root: bytes
    value: bytes

    def with_entity(self, declarations: bytes, entity: bytes) -> bytes:
        """The document with a DOCTYPE after its XML declaration, and `value` replaced by `&entity;`."""
        end = self.document.index(b"?>") + 2
        doctype = b"\n<!DOCTYPE " + self.root + b" [" + declarations + b"]>"
        body = self.document[end:].replace(self.value, b"&" + entity + b";", 1)
        assert body != self.document[end:]
        return self.document[:end] + doctype + body

    def nested(self, depth: int) -> bytes:
        """The document with `depth` nested elements inside the first child of its root."""
        match = re.search(rb"<[A-Za-z][^>]*>\s*<[A-Za-z][^>]*>", self.document)
        assert match is not None
        return self.document[: match.end()] + b"<x>" * depth + b"</x>" * depth + self.document[match.end() :]


XML_SAMPLES = [
    XmlSample(PACS008, b"Envelope", b"P008-20260413-5017"),  # AppHdr BizMsgIdr
    XmlSample(CEB311, b"ceb:CEB311Message", b"order20160321116421002"),  # OrderHead orderNo
]
XML_IDS = ["iso20022", "ceb"]
XXE = b'<!ENTITY xxe SYSTEM "file:///etc/passwd">'
LAUGHS = b'<!ENTITY lol0 "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
)


# -- signatures --------------------------------------------------------------------------------


def test_signature_by_another_key_under_the_registered_kid(hub: RunningHub, before: Trace) -> None:
    body = json.dumps(invoice()).encode()
    impostor = jose.generate_key("Ed25519", own_key(hub).kid)
    answer = post(hub, body, signature(impostor, body))
    assert_refused(hub, before, answer, 401, "bad-signature", "bad_signature")


def test_unknown_kid(hub: RunningHub, before: Trace) -> None:
    body = json.dumps(invoice()).encode()
    answer = post(hub, body, signature(jose.generate_key("Ed25519", "nobody-1"), body))
    assert_refused(hub, before, answer, 401, "unknown-kid", "unknown_kid")


@pytest.mark.parametrize("other", ["platform-x", "limited-bank"])
def test_another_institutions_kid(hub: RunningHub, before: Trace, other: str) -> None:
    body = json.dumps(invoice()).encode()
    answer = post(hub, body, signature(own_key(hub, other), body))
    assert_refused(hub, before, answer, 401, "foreign-kid", "foreign_kid")


def test_replayed_request(hub: RunningHub) -> None:
    body = json.dumps(invoice()).encode()
    token = signature(own_key(hub), body)
    assert post(hub, body, token).status_code == 202
    before = snapshot(hub)  # the first call was accepted; the replay must add nothing
    assert_refused(hub, before, post(hub, body, token), 409, "replayed", "replayed")


def test_body_altered_after_signing(hub: RunningHub, before: Trace) -> None:
    body = json.dumps(invoice()).encode()
    altered = body.replace(b"48250.00", b"98250.00")
    assert altered != body
    answer = post(hub, altered, signature(own_key(hub), body))
    assert_refused(hub, before, answer, 401, "bad-signature", "bad_signature")


# -- who may send what, from where -------------------------------------------------------------


def test_source_of_another_institution(hub: RunningHub, before: Trace) -> None:
    answer = post_signed(hub, json.dumps({**invoice(), "source": "platform-x"}).encode())
    problem = assert_refused(hub, before, answer, 403, "wrong-source", "authenticated_institution")
    assert problem["errors"][0]["loc"] == "source"


def test_address_outside_the_allowlist(hub: RunningHub, before: Trace) -> None:
    with from_address(hub, "127.0.0.2") as client:
        answer = client.post(PATH, json=invoice())
    assert_refused(hub, before, answer, 403, "ip-not-allowed", "ip_allowlist", actor="limited-bank")
    assert answer.json()["address"] == "127.0.0.2"
    entry = next(a for a in audit_log(hub) if a["seq"] > before.audit_seq and a["action"] == "gateway.refused")
    assert entry["detail"]["address"] == "127.0.0.2"


def test_call_without_credential_is_audited_as_anonymous(hub: RunningHub, before: Trace) -> None:
    with httpx.Client(base_url=hub.url, timeout=30, trust_env=False) as client:
        answer = client.post(PATH, json=invoice())
    assert_refused(hub, before, answer, 401, "unauthenticated", None, actor="anonymous")


# -- hostile XML -------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", XML_SAMPLES, ids=XML_IDS)
def test_xml_with_an_external_entity(hub: RunningHub, before: Trace, sample: XmlSample) -> None:
    answer = post_signed(hub, sample.with_entity(XXE, b"xxe"), "application/xml")
    assert_refused(hub, before, answer, 422, "unsafe-xml", "doctype_forbidden")
    assert "/etc/passwd" not in answer.text and "root:" not in answer.text


@pytest.mark.parametrize("sample", XML_SAMPLES, ids=XML_IDS)
def test_xml_billion_laughs(hub: RunningHub, before: Trace, sample: XmlSample) -> None:
    answer = post_signed(hub, sample.with_entity(LAUGHS, b"lol9"), "application/xml")
    assert_refused(hub, before, answer, 422, "unsafe-xml", "doctype_forbidden")


@pytest.mark.parametrize("sample", XML_SAMPLES, ids=XML_IDS)
def test_xml_nested_ten_thousand_deep(hub: RunningHub, before: Trace, sample: XmlSample) -> None:
    answer = post_signed(hub, sample.nested(DEEP), "application/xml")
    assert_refused(hub, before, answer, 422, "unsafe-xml", "too_deep")


# -- size and depth ----------------------------------------------------------------------------


def oversized_invoice(hub: RunningHub) -> bytes:
    """An invoice just over the gateway's max_body_bytes (hub.toml of the running hub)."""
    config = tomllib.loads((Path(hub.env["HUB_CONFIG_DIR"]) / "hub.toml").read_text())
    body = invoice()
    body["payload"]["notes"] = "x" * (config["gateway"]["max_body_bytes"] + 1024)
    return json.dumps(body).encode()


def test_oversized_body_with_content_length(hub: RunningHub, before: Trace) -> None:
    answer = post_signed(hub, oversized_invoice(hub))
    assert_refused(hub, before, answer, 413, "body-too-large", "max_size")


def test_oversized_body_streamed_in_chunks(hub: RunningHub, before: Trace) -> None:
    body = oversized_invoice(hub)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with hub.client("bank-a", signed=False) as client:
        answer = client.post(PATH, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert_refused(hub, before, answer, 413, "body-too-large", "max_size")


def test_json_nested_ten_thousand_deep(hub: RunningHub, before: Trace) -> None:
    deep = b'{"type": "trade.invoice", "payload": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    answer = post_signed(hub, deep)
    assert_refused(hub, before, answer, 400, "malformed-json", "max_depth")
