"""Nothing accepted is lost or applied twice when the hub is killed with messages in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningHub, free_port, hub_config, start_hub, stop_hub
from tests.integration.test_flow import invoice

N = 200


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def submit_all(hub: RunningHub, n: int) -> list[str]:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=hub.url,
        headers={"x-api-key": hub.api_key()},
        limits=limits,
        auth=hub.signer(),
        timeout=60,
        trust_env=False,
    ) as client:
        answers = await asyncio.gather(*(client.post("/v1/messages", json=invoice()) for _ in range(n)))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers if a.status_code != 202][:3]
    return [a.json()["id"] for a in answers]


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_hub_stopped_with_200_in_flight_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    config = hub_config(tmp_path / "config", partner_timeout_s=2.0)
    http_port, nats_port = free_port(), free_port()
    hub = start_hub(tmp_path / "home", config, http_port, nats_port)
    try:
        with hub.sandbox("factor-json") as sb:
            sb.post("/_sandbox/mode", json={"mode": "slow", "delay_s": 0.3})
        ids = asyncio.run(submit_all(hub, N))
        children = hub.info["children"]
        time.sleep(1.0)  # some delivered, many in flight or waiting
        hub.proc.send_signal(stop_signal)
        hub.proc.wait(30)  # SIGTERM lets in-flight partner calls finish, then leaves the rest unacked
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in children.values()), "children outlived the hub"

        hub = start_hub(tmp_path / "home", config, http_port, nats_port)  # same HUB_HOME, same ports
        with hub.sandbox("factor-json") as sb:
            sb.post("/_sandbox/mode", json={"mode": "ok"})
        deadline = time.monotonic() + 90
        pending = set(ids)
        with hub.admin() as admin:
            while pending and time.monotonic() < deadline:
                pending = {i for i in pending if admin.get(f"/v1/messages/{i}").json()["status"] != "completed"}
                time.sleep(0.5)
        assert not pending, f"{len(pending)} of {N} not completed"
        with hub.sandbox("factor-json") as sb:
            effects = [r["message_id"] for r in sb.get("/_sandbox/received").json()]
        assert sorted(effects) == sorted(ids), "each accepted message must have exactly one effect"
    finally:
        stop_hub(hub)
