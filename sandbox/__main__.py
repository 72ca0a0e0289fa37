"""Run one sandbox partner: `python -m sandbox NAME --kind recorder --state DIR [--port 0]`.

Prints one JSON line {"name", "port"} once it listens, so the hub knows the endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
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
    args = parser.parse_args()
    module, _, cls = KINDS[args.kind].partition(":")
    partner = getattr(importlib.import_module(module), cls)(args.name, args.state)
    server = await serve(partner.handle, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"name": args.name, "port": port}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
