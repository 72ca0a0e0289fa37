"""End-to-end throughput of the hub against a raw baseline measured in the same run.

Baseline: nats-py publishes to a JetStream stream (acks in flight) while a pull loop consumes in
batches and inserts one row per message into SQLite (synchronous=FULL, a commit per batch) - the
minimum any journalled JetStream consumer does. Hub: a real `hub run` (embedded nats-server with
sync_interval always, SQLite journal, sandbox partner as the sink); an internal service publishes
envelopes to hub.in.trade.invoice; each is routed, delivered over HTTP to the sandbox and
journalled (accepted, routed, sent, delivered, completed). Throughput is the peak of a saturating
phase; latency (created_at -> completed, from the journal) is measured in a second phase paced at
half that rate, so it is the hub's own latency rather than time spent queued behind a burst.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import Any

import nats
from nats.js.api import StreamConfig

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from canonical import parse_envelope  # noqa: E402
from canonical.envelope import idempotency_scope  # noqa: E402
from routes.children import nats_server_binary, write_nats_config  # noqa: E402

WINDOW = 512  # publishes awaiting their ack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0], values[0], values[0]) if values else (0.0, 0.0, 0.0)
    q = quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


async def _publish(js: Any, subject: str, message: bytes | tuple[bytes, dict[str, str]]) -> Any:
    data, headers = message if isinstance(message, tuple) else (message, None)
    return await js.publish_async(subject, data, headers=headers)


async def publish_for(js: Any, subject: str, seconds: float, body: Any) -> int:
    pending: list[asyncio.Future[Any]] = []
    sent, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending.append(await _publish(js, subject, body(sent)))
        sent += 1
        if len(pending) >= WINDOW:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return sent


async def publish_paced(js: Any, subject: str, seconds: float, rate: float, body: Any) -> int:
    """Publish at `rate` messages/s (acks awaited in the background), to measure latency unqueued."""
    pending: list[asyncio.Future[Any]] = []
    start, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            pending.append(await _publish(js, subject, body(sent)))
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*pending)
    return sent


def journal_latencies(journal: sqlite3.Connection, since: datetime) -> tuple[list[float], datetime, datetime]:
    rows = journal.execute(
        "SELECT created_at, updated_at FROM messages WHERE status='completed' AND created_at >= ?",
        (since.isoformat().replace("T", " "),),
    ).fetchall()
    stamps = [(datetime.fromisoformat(c), datetime.fromisoformat(u)) for c, u in rows]
    if not stamps:
        return [], since, since
    return [(u - c).total_seconds() for c, u in stamps], min(c for c, _ in stamps), max(u for _, u in stamps)


async def drain(journal: sqlite3.Connection, total: int, within_s: float) -> None:
    """Until `total` messages are completed and every event of theirs is published."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        (completed,) = journal.execute("SELECT count(*) FROM messages WHERE status='completed'").fetchone()
        (unpublished,) = journal.execute("SELECT count(*) FROM outbox WHERE published = 0").fetchone()
        if completed >= total and unpublished == 0:
            return
        await asyncio.sleep(0.2)


async def baseline(seconds: float, work: Path) -> dict[str, float]:
    port = free_port()
    conf = write_nats_config(work, port, "always")
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await asyncio.sleep(0.5)
        nc = await nats.connect(f"nats://127.0.0.1:{port}")
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"]))
        sub = await js.pull_subscribe("raw.x", durable="raw")
        db = sqlite3.connect(work / "raw.sqlite3")
        db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB, at REAL)"
        )
        latencies: list[float] = []
        done = asyncio.Event()
        total = [0]

        async def consume() -> None:
            while not (done.is_set() and len(latencies) >= total[0]):
                try:
                    msgs = await sub.fetch(256, timeout=0.5)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                now = time.time()
                db.executemany("INSERT INTO m (body, at) VALUES (?, ?)", [(m.data, now) for m in msgs])
                db.commit()
                for m in msgs:
                    latencies.append(now - json.loads(m.data)["t"])
                await asyncio.gather(*(m.ack() for m in msgs))

        start = time.monotonic()
        consumer = asyncio.create_task(consume())
        payload = "x" * 600  # about the size of a canonical invoice envelope
        total[0] = await publish_for(
            js, "raw.x", seconds, lambda i: json.dumps({"i": i, "t": time.time(), "p": payload}).encode()
        )
        done.set()
        await consumer
        elapsed = time.monotonic() - start
        await nc.close()
        p50, p95, p99 = percentiles(latencies)
        return {
            "msgs": len(latencies),
            "msgs_per_s": len(latencies) / elapsed,
            "p50_ms": p50 * 1000,
            "p95_ms": p95 * 1000,
            "p99_ms": p99 * 1000,
        }
    finally:
        proc.terminate()
        proc.wait()


async def hub(seconds: float, work: Path) -> dict[str, float]:
    home = work / "hub-home"
    env = {**os.environ, "HUB_HOME": str(home), "HUB_HTTP_PORT": str(free_port()), "HUB_NATS_PORT": str(free_port())}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "hub"), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not (home / "run.json").exists():
            if proc.poll() is not None:
                raise RuntimeError("hub did not start")
            await asyncio.sleep(0.1)
        info = json.loads((home / "run.json").read_text())
        ledger = json.loads((home / "nats-credentials.json").read_text())["ledger"]  # an internal service
        nc = await nats.connect(
            info["nats_url"], user=ledger["user"], password=ledger["password"], inbox_prefix=ledger["inbox_prefix"]
        )
        js = nc.jetstream()
        sample = json.loads((ROOT / "docs" / "samples" / "invoice.json").read_text())

        def envelope(i: int) -> tuple[bytes, dict[str, str]]:
            sample["payload"]["invoice_no"] = f"B-{i}"
            env = parse_envelope({**sample, "source": "ledger"})
            return env.to_bytes(), {"Nats-Msg-Id": idempotency_scope(env.source, env.idempotency_key or str(env.id))}

        journal = sqlite3.connect(home / "journal.sqlite3", timeout=30)
        # Phase 1: saturate, for the peak rate.
        t1 = datetime.now(UTC).replace(tzinfo=None)
        sent = await publish_for(js, "hub.in.trade.invoice", seconds, envelope)
        await drain(journal, sent, max(60.0, seconds * 10))
        latencies, first, last = journal_latencies(journal, t1)
        peak = len(latencies) / max((last - first).total_seconds(), 1e-9)
        # Phase 2: half the peak rate, for latency without a queue in front of the hub.
        t2 = datetime.now(UTC).replace(tzinfo=None)
        paced = await publish_paced(js, "hub.in.trade.invoice", seconds, peak / 2, envelope)
        await drain(journal, sent + paced, max(60.0, seconds * 10))
        latencies2, _, _ = journal_latencies(journal, t2)
        rss = peak_rss_mb(proc.pid)
        await nc.close()
        p50, p95, p99 = percentiles(latencies2)
        return {
            "msgs": len(latencies),
            "sent": sent,
            "msgs_per_s": peak,
            "paced_rate": peak / 2,
            "p50_ms": p50 * 1000,
            "p95_ms": p95 * 1000,
            "p99_ms": p99 * 1000,
            "rss_mb": rss,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


async def run(seconds: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        base = await baseline(seconds, work)
        result = await hub(seconds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "throughput_msgs": round(result["msgs_per_s"], 1),
        "p50_ms": round(result["p50_ms"], 1),
        "p95_ms": round(result["p95_ms"], 1),
        "p99_ms": round(result["p99_ms"], 1),
        "rss_mb": round(result["rss_mb"], 1),
        "baseline_msgs": round(base["msgs_per_s"], 1),
        "ratio": round(result["msgs_per_s"] / base["msgs_per_s"], 3),
        "messages": int(result["msgs"]),
        "baseline_p99_ms": round(base["p99_ms"], 1),
        "latency_at_msgs": round(result["paced_rate"], 1),
    }


def main(seconds: float = 10.0, as_json: bool = False) -> None:
    figures = asyncio.run(run(seconds))
    if as_json:
        print(json.dumps(figures))
        return
    print(
        f"raw baseline (JetStream publish + pull + SQLite insert): {figures['baseline_msgs']:>8} msgs/s"
        f"  p99 {figures['baseline_p99_ms']} ms"
    )
    print(
        f"hub end to end (route, deliver over HTTP, journal):      {figures['throughput_msgs']:>8} msgs/s"
        f"  p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms  p99 {figures['p99_ms']} ms"
        f"  (latency at {figures['latency_at_msgs']} msgs/s, half the peak)"
    )
    print(f"hub peak RSS {figures['rss_mb']} MB; {figures['messages']} messages; ratio hub/baseline {figures['ratio']}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0, "--json" in sys.argv)
