"""Signed requests: a detached JWS (RFC 7797, b64=false) over the exact body in `X-Hub-Signature`.

The protected header carries `alg`, `kid`, `iat` and a `nonce`. The kid must be one of the
authenticated institution's registered keys; `iat` must be within the window; the nonce is taken
with an atomic create in the NATS KV bucket `hub-nonces` (TTL twice the window), so a replay is
refused by every hub instance. `SignedRequests` is the client side, for `hub send` and tests.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from security import jose

HEADER = "X-Hub-Signature"
WINDOW_S = 300
NONCE_BUCKET = "hub-nonces"


@dataclass
class SignatureRefused(Exception):
    """Why a request's signature does not count; `rule` is stable for clients to act on."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


class NonceGuard:
    """Remembers nonces for twice the time window, across every hub instance."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> NonceGuard:
        try:
            kv = await js.key_value(NONCE_BUCKET)
        except (NotFoundError, BucketNotFoundError):
            kv = await js.create_key_value(bucket=NONCE_BUCKET, history=1, ttl=2 * WINDOW_S)
        return cls(kv)

    async def first_use(self, institution: str, nonce: str) -> bool:
        key = hashlib.sha256(f"{institution}\x1f{nonce}".encode()).hexdigest()  # KV keys allow few characters
        try:
            await self.kv.create(key, b"1")
        except KeyWrongLastSequenceError:
            return False
        return True


async def verify_request(
    token: str | None,
    body: bytes,
    institution: str,
    keys_of: dict[str, list[jose.HubKey]],
    nonces: NonceGuard,
    required: bool,
    now: float | None = None,
    algorithms: tuple[str, ...] = ("Ed25519", "ES256", "SM2"),
) -> dict[str, Any] | None:
    """The verified protected header, None for an unsigned call that may be unsigned, or
    SignatureRefused naming the rule: signature_required, malformed_signature, unknown_kid,
    foreign_kid, bad_signature, stale_signature, nonce_required, replayed."""
    if not token:
        if required:
            raise SignatureRefused("signature_required", f"{institution} must sign its requests ({HEADER})")
        return None
    own = {k.kid: k for k in keys_of.get(institution, [])}

    def resolve(kid: str) -> jose.HubKey | None:
        if kid in own:
            return own[kid]
        owner = next((i for i, ks in keys_of.items() if any(k.kid == kid for k in ks)), None)
        if owner is not None:
            raise SignatureRefused("foreign_kid", f"kid {kid!r} belongs to another institution, not {institution}")
        return None

    try:
        header = jose.verify_detached(token, body, resolve, algorithms)
    except jose.MalformedToken as exc:
        raise SignatureRefused("malformed_signature", str(exc)) from None
    except jose.UnknownKey as exc:
        raise SignatureRefused("unknown_kid", str(exc)) from None
    except jose.BadSignature:
        raise SignatureRefused("bad_signature", "the signature does not match the body and key") from None
    iat = header.get("iat")
    moment = time.time() if now is None else now
    if not isinstance(iat, int) or abs(moment - iat) > WINDOW_S:
        raise SignatureRefused("stale_signature", f"iat must be within {WINDOW_S}s of the hub's clock")
    nonce = header.get("nonce")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise SignatureRefused("nonce_required", "the protected header needs a nonce of 8 to 128 characters")
    if not await nonces.first_use(institution, nonce):
        raise SignatureRefused("replayed", "this nonce was used already: the request is a replay")
    return header


class SignedRequests(httpx.Auth):
    """httpx auth that signs every request body with `key` (a private HubKey or any jose.Signer)
    and sends the API key, or a bearer token when `api_key` is one."""

    requires_request_body = True

    def __init__(self, key: jose.HubKey | jose.Signer, api_key: str, alg: str | None = None) -> None:
        self.signer = key.signer(alg) if isinstance(key, jose.HubKey) else key
        self.api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.api_key.startswith("hk_"):
            request.headers.setdefault("X-Api-Key", self.api_key)
        else:
            request.headers.setdefault("Authorization", f"Bearer {self.api_key}")
        extra = {"iat": int(time.time()), "nonce": secrets.token_urlsafe(18)}
        request.headers[HEADER] = jose.sign_detached_with(request.content, self.signer, extra)
        yield request
