"""Where a message on hub.in came from. NATS does not tell a subscriber who published, so the
gateway seals what it publishes: an HMAC (key derived from the KEK) over the dedup id and the exact
envelope bytes, in a header no internal service can compute. The router believes the `source` of
a sealed message (the gateway authenticated that institution); an unsealed one comes from an
internal service, and its `source` must be a service allowed to publish that type."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEAL_HEADER = "Hub-Ingress-Seal"


class IngressSeal:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_kek(cls, kek: bytes) -> IngressSeal:
        return cls(HKDF(hashes.SHA256(), 32, salt=None, info=b"tradehub ingress seal v1").derive(kek))

    def seal(self, msg_id: str, body: bytes) -> str:
        return hmac.new(self._key, msg_id.encode() + b"\x1f" + hashlib.sha256(body).digest(), "sha256").hexdigest()

    def valid(self, msg_id: str, body: bytes, seal: str | None) -> bool:
        return seal is not None and hmac.compare_digest(self.seal(msg_id, body), seal)
