"""A small real HTTP/1.1 server on loopback for the sandbox partners.

Written on asyncio streams rather than an ASGI stack so a simulated outage can do what a dead
partner does: accept and drop the connection without an answer, or hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 16 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""  # as sent: `?wsdl` has no value, so `query` does not show it

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, value: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(value).encode(), {"content-type": "application/json"})


class Drop(Exception):
    """Raised by a handler: close the connection without answering (a partner that is down)."""


Handler = Callable[[Request], Awaitable[Response]]
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise ValueError("body too large")
    body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return Request(method.upper(), parts.path, parse_qs(parts.query), headers, body, parts.query)


async def serve(
    handler: Handler, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> asyncio.Server:
    """Start serving `handler`, over TLS with `tls` (a server context); the caller reads the bound
    port from the returned server. A failed TLS handshake closes that connection only."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                try:
                    response = await handler(request)
                except Drop:
                    break
                head = [
                    f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}",
                    f"content-length: {len(response.body)}",
                ]
                head += [f"{k}: {v}" for k, v in response.headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
                await writer.drain()
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    return await asyncio.start_server(connection, host, port, ssl=tls)
