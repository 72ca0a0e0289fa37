"""HTTPS for the gateway: uvicorn's HTTP/1.1 protocol with the ASGI TLS extension, and its options.

uvicorn puts nothing about TLS in the ASGI scope. `TlsH11Protocol` (uvicorn's h11 implementation,
the one `http="auto"` picks here since httptools is not installed, now pinned) adds
`scope["extensions"]["tls"]` as https://asgi.readthedocs.io/en/latest/specs/tls.html defines it to
every request of a TLS connection, and nothing to a plain one. `peer_institution` reads the
institution a verified client certificate is bound to; `uvicorn_options` gives the uvicorn.Config
keywords for a `ServerTls` (or for plain HTTP).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.requests import HTTPConnection
from uvicorn.protocols.http.h11_impl import H11Protocol

from security.tls import ServerTls, TlsError, institution_of

if TYPE_CHECKING:
    import uvicorn
    from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope

TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_cipher_codes: dict[str, int] = {}  # OpenSSL cipher name -> IANA code; names are global in OpenSSL


def _cipher_suite(ssl_object: ssl.SSLObject) -> int | None:
    cipher = ssl_object.cipher()
    if cipher is None:
        return None
    if cipher[0] not in _cipher_codes:
        # the context lists its ciphers with OpenSSL's id: 0x0300XXXX, XXXX being the IANA code
        _cipher_codes.update({c["name"]: c["id"] & 0xFFFF for c in ssl_object.context.get_ciphers()})
    return _cipher_codes.get(cipher[0])


def tls_extension(ssl_object: ssl.SSLObject, server_cert: str | None) -> dict[str, Any]:
    """The ASGI `tls` extension of one connection. The client chain holds the client's certificate
    only (Python exposes no chain before 3.13); a client certificate is reported only when the
    server asked for it and so verified it, and a failed verification ends the handshake, so
    `client_cert_error` is always None."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object.context.verify_mode != ssl.CERT_NONE else None
    return {
        "server_cert": server_cert,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": _cipher_suite(ssl_object),
    }


def _with_tls(app: ASGI3Application, tls: dict[str, Any]) -> ASGI3Application:
    async def app_with_tls(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        extensions = cast(MutableMapping[str, Any], scope).setdefault("extensions", {})
        extensions["tls"] = {**tls, "client_cert_chain": list(tls["client_cert_chain"])}  # a copy per request
        await app(scope, receive, send)

    return app_with_tls


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 HTTP/1.1 protocol, adding the ASGI TLS extension on TLS connections.

    asyncio calls `connection_made` after the TLS handshake, so the peer certificate is known
    there, once per connection. WebSocket upgrades are not covered (the gateway serves none)."""

    server_cert_pem: ClassVar[str | None] = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            self.app = _with_tls(self.app, tls_extension(ssl_object, self.server_cert_pem))


def peer_institution(conn: HTTPConnection | Mapping[str, Any]) -> str | None:
    """The institution the verified client certificate of this request is bound to (SAN URI
    `urn:hub:institution:<id>`), or None: plain HTTP, no client certificate, a certificate bound
    to no institution (the hub's own, an operator's). Takes a Starlette request or an ASGI scope."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls or tls.get("client_cert_error"):
        return None
    chain = list(tls.get("client_cert_chain") or [])
    return institution_of(ssl.PEM_cert_to_DER_cert(chain[0])) if chain else None


def _leaf_pem(tls: ServerTls) -> str:
    try:
        leaf = x509.load_pem_x509_certificates(tls.cert.read_bytes())[0]
    except (OSError, ValueError) as exc:
        raise TlsError(f"cannot read the server certificate {tls.cert}: {exc}") from None
    return leaf.public_bytes(serialization.Encoding.PEM).decode()


def uvicorn_options(tls: ServerTls | None) -> dict[str, Any]:
    """Keywords for `uvicorn.Config`: the protocol (pinned, with the TLS extension) and, with `tls`,
    HTTPS served by `tls.context()` (TLS 1.2+, client certificates as configured). The context is
    built here, so bad material raises TlsError now rather than when uvicorn starts."""
    if tls is None:
        return {"http": TlsH11Protocol}
    context, pem = tls.context(), _leaf_pem(tls)

    class ServedProtocol(TlsH11Protocol):
        server_cert_pem = pem

    def context_factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context  # ours, not uvicorn's default: it sets the TLS floor and the ciphers

    return {
        "http": ServedProtocol,
        "ssl_certfile": str(tls.cert),
        "ssl_keyfile": str(tls.key),
        "ssl_ca_certs": str(tls.client_ca) if tls.client_ca and tls.client_certs != "none" else None,
        "ssl_cert_reqs": CERT_REQS[tls.client_certs],
        "ssl_context_factory": context_factory,
    }
