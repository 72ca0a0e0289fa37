"""Short-lived bearer tokens the hub issues: JWTs (RFC 7519) signed with its `tokens` key.

Institutions get one from POST /v1/token (client credentials, RFC 6749 §4.4) with audience
`hub-api`; operators get one from POST /admin/login with audience `hub-admin` and their role. The
hub verifies them against every unexpired public key of its token purpose, so rotating the token
key never invalidates a token issued a moment before. Tokens from an OIDC provider would verify the
same way against that provider's keys; `via` in the claims says where a principal came from.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from security import jose

ISSUER = "urn:tradehub:hub"
API_AUDIENCE = "hub-api"
ADMIN_AUDIENCE = "hub-admin"
LEEWAY_S = 30  # clock skew tolerated between hub instances


@dataclass
class TokenRefused(Exception):
    """Why a bearer token does not count; `rule` is stable for clients to act on."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and not credential.startswith("hk_")


class TokenIssuer:
    """Issues and verifies the hub's JWTs.

    `signer()` gives the current signing key; `verifying_keys()` every public key still valid for
    tokens (the key store's overlap after rotation).
    """

    def __init__(
        self,
        signer: Callable[[], jose.Signer],
        verifying_keys: Callable[[], list[jose.HubKey]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer, self._keys, self._clock = signer, verifying_keys, clock

    def issue(self, subject: str, audience: str, ttl_s: int, claims: Mapping[str, Any] | None = None) -> str:
        now = int(self._clock())
        body = {
            **(claims or {}),
            "iss": ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": secrets.token_urlsafe(12),
        }
        return jose.sign_compact(json.dumps(body, separators=(",", ":")).encode(), self._signer(), {"typ": "JWT"})

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a valid token for `audience`, or TokenRefused naming the rule:
        malformed_token, unknown_kid, bad_token_signature, token_expired, token_not_yet_valid,
        wrong_audience."""
        keys = {k.kid: k for k in self._keys()}
        try:
            _header, payload = jose.verify_compact(token, keys.get, ("Ed25519", "ES256", "SM2"))
            claims = json.loads(payload)
        except jose.UnknownKey:
            raise TokenRefused("unknown_kid", "the token was not signed by a current key of this hub") from None
        except jose.BadSignature:
            raise TokenRefused("bad_token_signature", "the token's signature does not verify") from None
        except (jose.MalformedToken, ValueError):
            raise TokenRefused("malformed_token", "not a JWT issued by this hub") from None
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or not isinstance(claims.get("sub"), str):
            raise TokenRefused("malformed_token", "not a JWT issued by this hub")
        now = self._clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or not isinstance(nbf, int):
            raise TokenRefused("malformed_token", "exp and nbf must be integers")
        if now > exp + LEEWAY_S:
            raise TokenRefused("token_expired", f"the token expired {int(now - exp)} s ago: get a new one")
        if now < nbf - LEEWAY_S:
            raise TokenRefused("token_not_yet_valid", "the token is not valid yet (clock skew?)")
        if claims.get("aud") != audience:
            raise TokenRefused("wrong_audience", f"this token is for {claims.get('aud')!r}, not {audience!r}")
        return claims
