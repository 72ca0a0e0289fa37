"""Signed and encrypted partner calls, end to end: an http-json adapter whose context carries a
Protector sends to a recorder sandbox running as its own process on loopback, which publishes its
keys, verifies the hub's signature and decrypts, as a partner would."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from adapters.base import AdapterContext, PermanentError, build
from canonical import Envelope, parse_envelope
from security import jose
from security.outbound import HUB_JWKS_FILE, PARTNER_JWKS_FILE, PartnerProtection, Protector, publish_jwks

ROOT = Path(__file__).resolve().parents[2]
SIGNING_KIND: dict[str, jose.KeyKind] = {"jose": "Ed25519", "sm": "SM2"}


@dataclass
class Partner:
    proc: subprocess.Popen[bytes]
    url: str
    state: Path
    log: IO[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, trust_env=False)

    @property
    def jwks(self) -> dict[str, Any]:
        return json.loads((self.state / PARTNER_JWKS_FILE).read_text())  # type: ignore[no-any-return]

    def received(self, every_call: bool = False) -> list[dict[str, Any]]:
        with self.client() as client:
            return client.get("/_sandbox/received" + ("?all=1" if every_call else "")).json()  # type: ignore[no-any-return]


def start_partner(state: Path) -> Partner:
    log = open(state.parent / f"{state.name}.log", "ab")  # the child's stderr; closed by stop_partner
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "sandbox", "factor-json", "--kind", "recorder", "--state", str(state)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the startup line: the partner listens and its jwks.json is written
    if not line:
        proc.wait(10)
        log.close()
        raise RuntimeError(f"sandbox did not start: {(state.parent / f'{state.name}.log').read_text()[-2000:]}")
    return Partner(proc, f"http://127.0.0.1:{json.loads(line)['port']}", state, log)


def stop_partner(partner: Partner) -> None:
    if partner.proc.poll() is None:
        partner.proc.terminate()
        partner.proc.wait(10)
    assert partner.proc.stdout is not None
    partner.proc.stdout.close()
    partner.log.close()


@pytest.fixture
def hub_keys() -> dict[str, jose.HubKey]:
    return {suite: jose.generate_key(kind, f"hub-requests-{suite}-1") for suite, kind in SIGNING_KIND.items()}


@pytest.fixture
def partner(tmp_path: Path, hub_keys: dict[str, jose.HubKey]) -> Iterator[Partner]:
    state = tmp_path / "factor-json"
    publish_jwks(state / HUB_JWKS_FILE, hub_keys.values())  # as the hub does before starting a sandbox
    running = start_partner(state)
    yield running
    stop_partner(running)


def envelope() -> Envelope:
    return parse_envelope(
        {
            "type": "trade.invoice",
            "source": "bank-a",
            "destination": "factor-json",
            "idempotency_key": f"k-{uuid.uuid4()}",
            "payload": {
                "invoice_no": f"P-{uuid.uuid4().hex[:8]}",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "seller": {"name": "S", "country": "CN", "contact_email": "a@b.example"},
                "buyer": {"name": "B", "country": "DE"},
                "total": {"currency": "EUR", "amount": "10.00"},
            },
        }
    )


@dataclass
class Sender:
    """An http-json adapter for the partner, its calls protected as the settings say."""

    partner: Partner
    signer: jose.HubKey | None
    protection: PartnerProtection

    async def send(self, env: Envelope) -> None:
        protector = Protector.for_partner(self.protection, self.signer, self.partner.jwks)
        ctx = AdapterContext("factor-json", "v1", {"url": self.partner.url}, str, protect=protector.protect)
        adapter = build("http-json", ctx)
        try:
            await adapter.send(adapter.render(env))
        finally:
            await adapter.stop()


@pytest.mark.parametrize("suite", ["jose", "sm"])
async def test_partner_understands_a_signed_encrypted_call_and_records_it(
    suite: Any, partner: Partner, hub_keys: dict[str, jose.HubKey]
) -> None:
    env = envelope()
    protection = PartnerProtection(suite=suite, encrypt=True, recipient="sandbox")
    await Sender(partner, hub_keys[suite], protection).send(env)
    [effect] = [r for r in partner.received() if r["message_id"] == str(env.id)]
    assert effect["signature"] == "valid" and effect["signature_kid"] == f"hub-requests-{suite}-1"
    assert effect["encrypted"] is True
    assert effect["body"]["id"] == str(env.id)  # the clear body, as the partner understood it
    assert effect["body"]["payload"] == env.payload_json()
    assert effect["idempotency_key"] == str(env.id)  # the adapter's own headers are untouched


async def test_a_protected_repeat_is_answered_from_memory_without_a_second_effect(
    partner: Partner, hub_keys: dict[str, jose.HubKey]
) -> None:
    env = envelope()
    sender = Sender(partner, hub_keys["sm"], PartnerProtection(suite="sm", encrypt=True, recipient="sandbox"))
    await sender.send(env)
    await sender.send(env)  # a redelivery: signed anew (fresh nonce), same Idempotency-Key
    assert [r["message_id"] for r in partner.received()] == [str(env.id)]
    calls = partner.received(every_call=True)
    assert [(c["effect"], c["signature"], c["encrypted"]) for c in calls] == [(1, "valid", True), (0, "valid", True)]


async def test_a_signed_clear_call_is_recorded_as_not_encrypted(
    partner: Partner, hub_keys: dict[str, jose.HubKey]
) -> None:
    env = envelope()
    await Sender(partner, hub_keys["jose"], PartnerProtection()).send(env)
    [effect] = [r for r in partner.received() if r["message_id"] == str(env.id)]
    assert (effect["signature"], effect["encrypted"]) == ("valid", False)


@pytest.mark.parametrize("suite", ["jose", "sm"])
async def test_a_signature_by_an_unknown_key_is_refused_for_good_when_signatures_are_required(
    suite: Any, partner: Partner
) -> None:
    with partner.client() as client:
        assert client.post("/_sandbox/require_signature", json={"required": True}).status_code == 200
    stranger = jose.generate_key(SIGNING_KIND[suite], f"not-the-hub-{suite}")
    env = envelope()
    protection = PartnerProtection(suite=suite, encrypt=True, recipient="sandbox")
    with pytest.raises(PermanentError) as refused:
        await Sender(partner, stranger, protection).send(env)
    assert refused.value.status == 401
    assert partner.received() == []  # no effect
    [call] = partner.received(every_call=True)
    assert (call["status"], call["signature"], call["signature_kid"]) == (401, "invalid", f"not-the-hub-{suite}")


async def test_an_unsigned_call_is_refused_when_signatures_are_required(partner: Partner) -> None:
    with partner.client() as client:
        client.post("/_sandbox/require_signature", json={"required": True})
    with pytest.raises(PermanentError, match="401"):
        await Sender(partner, None, PartnerProtection(sign=False)).send(envelope())
    assert [c["signature"] for c in partner.received(every_call=True)] == ["missing"]


async def test_a_body_encrypted_to_another_key_gets_400_and_no_effect(
    partner: Partner, hub_keys: dict[str, jose.HubKey]
) -> None:
    elsewhere = jose.generate_key("X25519", "someone-else").public_jwk()
    protection = PartnerProtection(encrypt=True, recipient=elsewhere)
    with pytest.raises(PermanentError) as refused:
        await Sender(partner, hub_keys["jose"], protection).send(envelope())
    assert refused.value.status == 400
    assert partner.received() == []


async def test_a_rotated_hub_key_is_honoured_once_hub_jwks_is_rewritten(
    partner: Partner, hub_keys: dict[str, jose.HubKey]
) -> None:
    with partner.client() as client:
        client.post("/_sandbox/require_signature", json={"required": True})
    rotated = jose.generate_key("Ed25519", "hub-requests-jose-2")
    publish_jwks(partner.state / HUB_JWKS_FILE, [*hub_keys.values(), rotated])  # as the hub does on rotation
    env = envelope()
    await Sender(partner, rotated, PartnerProtection(encrypt=True, recipient="sandbox")).send(env)
    [effect] = [r for r in partner.received() if r["message_id"] == str(env.id)]
    assert (effect["signature"], effect["signature_kid"]) == ("valid", "hub-requests-jose-2")


def test_the_partner_keeps_its_keys_and_its_signature_knob_across_restarts(partner: Partner) -> None:
    with partner.client() as client:
        client.post("/_sandbox/require_signature", json={"required": True})
        published = client.get("/_sandbox/jwks").json()
    assert published == partner.jwks
    assert sorted(k["crv"] for k in published["keys"]) == ["SM2", "X25519"]
    assert all("d" not in k for k in published["keys"])
    stop_partner(partner)
    again = start_partner(partner.state)
    try:
        assert again.jwks == published
        with again.client() as client:
            refused = client.post("/", json={"id": "m-1"}, headers={"idempotency-key": "m-1"})
        assert refused.status_code == 401
    finally:
        stop_partner(again)
