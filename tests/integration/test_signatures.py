"""Signed requests: each way a signature can fail gets its own refusal, and nothing is published."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest

from security import jose
from security.signatures import HEADER
from tests.conftest import RunningHub
from tests.integration.test_bad_input import untouched as untouched
from tests.integration.test_flow import invoice


def bank_a_key(hub: RunningHub, institution: str = "bank-a") -> jose.Signer:
    key = hub.signing_key(institution)
    assert key is not None
    return key


def token(key: jose.HubKey | jose.Signer, body: bytes, **header: Any) -> str:
    extra = {"iat": int(time.time()), "nonce": secrets.token_urlsafe(18), **header}
    signer = key.signer() if isinstance(key, jose.HubKey) else key
    return jose.sign_detached_with(body, signer, {k: v for k, v in extra.items() if v is not None})


def post(hub: RunningHub, body: bytes, signature: str | None) -> httpx.Response:
    with hub.client("bank-a", signed=False) as client:
        headers = {"content-type": "application/json", **({HEADER: signature} if signature else {})}
        return client.post("/v1/messages", content=body, headers=headers)


def refused(answer: httpx.Response, status: int, rule: str) -> None:
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["errors"] == [{"loc": HEADER, "rule": rule, "detail": problem["detail"]}]


BODY = json.dumps(invoice()).encode()


def test_signed_request_is_accepted(hub: RunningHub) -> None:
    assert post(hub, BODY, token(bank_a_key(hub), BODY)).status_code == 202


@pytest.mark.usefixtures("untouched")
class TestRefusedSignatures:
    def test_missing_signature_from_an_institution_that_must_sign(self, hub: RunningHub) -> None:
        refused(post(hub, BODY, None), 401, "signature_required")

    def test_body_altered_after_signing(self, hub: RunningHub) -> None:
        refused(post(hub, BODY.replace(b"48250.00", b"98250.00"), token(bank_a_key(hub), BODY)), 401, "bad_signature")

    def test_unknown_kid(self, hub: RunningHub) -> None:
        stranger = jose.generate_key("Ed25519", "nobody-1")
        refused(post(hub, BODY, token(stranger, BODY)), 401, "unknown_kid")

    def test_another_institutions_kid(self, hub: RunningHub) -> None:
        other = bank_a_key(hub, "platform-x")
        refused(post(hub, BODY, token(other, BODY)), 401, "foreign_kid")

    def test_stale_timestamp(self, hub: RunningHub) -> None:
        refused(post(hub, BODY, token(bank_a_key(hub), BODY, iat=int(time.time()) - 3600)), 401, "stale_signature")

    def test_missing_nonce(self, hub: RunningHub) -> None:
        no_nonce = jose.sign_detached_with(BODY, bank_a_key(hub), {"iat": int(time.time())})
        refused(post(hub, BODY, no_nonce), 401, "nonce_required")

    def test_malformed_signature(self, hub: RunningHub) -> None:
        refused(post(hub, BODY, "not.a.jws"), 401, "malformed_signature")

    def test_refusals_are_audited(self, hub: RunningHub) -> None:
        post(hub, BODY, None)
        with hub.admin() as admin:
            audit = admin.get("/admin/audit").json()
        assert any(
            a["action"] == "gateway.refused" and a["actor"] == "bank-a" and a["detail"]["status"] == 401 for a in audit
        )


def test_replayed_request_is_refused_by_its_nonce(hub: RunningHub) -> None:
    body = json.dumps(invoice()).encode()
    signature = token(bank_a_key(hub), body)
    assert post(hub, body, signature).status_code == 202
    refused(post(hub, body, signature), 409, "replayed")


def test_institution_that_may_send_unsigned_still_gets_its_signature_checked(hub: RunningHub) -> None:
    with hub.client("platform-x", signed=False) as client:
        assert client.post("/v1/messages", json=invoice()).status_code == 202
        forged = client.post(
            "/v1/messages",
            content=BODY,
            headers={"content-type": "application/json", HEADER: token(bank_a_key(hub), BODY)},
        )
    refused(forged, 401, "foreign_kid")
