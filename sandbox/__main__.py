"""Run one sandbox partner: `python -m sandbox NAME --kind recorder --state DIR [--port 0]`.

Prints one JSON line {"name", "port"} once it listens, so the hub knows the endpoint.
With `--tls-cert F --tls-key F` it serves HTTPS and the line adds "scheme": "https"; with
`--tls-client-ca F` as well it requires a client certificate issued by that CA (mutual TLS).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
import ssl
import sys
from pathlib import Path

from sandbox import KINDS
from sandbox.http import serve


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    parser.add_argument("name")
    parser.add_argument("--kind", default="recorder", choices=sorted(KINDS))
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (needs --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="PEM key of --tls-cert")
    parser.add_argument("--tls-client-ca", type=Path, help="require client certificates issued by this CA")
    args = parser.parse_args()
    tls = _tls_context(parser, args)
    module, _, cls = KINDS[args.kind].partition(":")
    partner = getattr(importlib.import_module(module), cls)(args.name, args.state)
    server = await serve(partner.handle, "127.0.0.1", args.port, tls)
    port = server.sockets[0].getsockname()[1]
    startup = {"name": args.name, "port": port} | ({"scheme": "https"} if tls else {})
    sys.stdout.write(json.dumps(startup) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def _tls_context(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None and args.tls_key is None:
        if args.tls_client_ca is not None:
            parser.error("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if args.tls_cert is None or args.tls_key is None:
        parser.error("--tls-cert and --tls-key go together")
    from security.tls import TlsError, server_context  # plain sandboxes start without the PKI code

    try:
        return server_context(
            args.tls_cert, args.tls_key, args.tls_client_ca, "required" if args.tls_client_ca else "none"
        )
    except TlsError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    asyncio.run(main())
