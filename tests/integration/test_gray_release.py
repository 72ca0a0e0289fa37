"""Gray release on two hub instances sharing one NATS and one PostgreSQL journal: live routes that
both apply together, compare-and-set writes, validation, dry runs, shadow copies, and a candidate
version rolled back by canary analysis with its messages finished on the stable version."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml

from routes.children import nats_server_binary
from tests.conftest import RunningHub, free_port, hub_config, new_database, start_hub, stop_hub
from tests.integration.test_flow import invoice

ROUTE = "trade-invoices"


@dataclass
class Pair:
    a: RunningHub
    b: RunningHub


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("gray")
    config = hub_config(base / "config")
    routes = yaml.safe_load((config / "routes.yaml").read_text())
    factor = routes["adapters"]["factor-json"]
    factor["versions"]["v2"] = {**factor["versions"]["v1"], "url": "sandbox:factor-json-v2"}
    factor["retry"] = {"max_attempts": 20, "base_delay_s": 0.2, "factor": 1.5, "max_delay_s": 1.0}
    factor["breaker"] = {"failure_threshold": 1000, "reset_after_s": 1}
    routes["canary"] = {"interval_s": 1, "window_s": 30, "min_samples": 5}
    (config / "routes.yaml").write_text(yaml.safe_dump(routes))
    nats_port = free_port()
    nats = subprocess.Popen(
        [nats_server_binary(), "-js", "-sd", str(base / "js"), "-a", "127.0.0.1", "-p", str(nats_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "HUB_NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "HUB_DATABASE_URL": new_database(pg_url),
        "HUB_KEK": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),  # one KEK for both
    }
    a = start_hub(base / "a", config, keep_env=True, extra_env=env)
    b = start_hub(base / "b", config, keep_env=True, extra_env=env)
    try:
        yield Pair(a, b)
    finally:
        stop_hub(a)
        stop_hub(b)
        nats.terminate()
        nats.wait(10)


def routes_of(hub: RunningHub) -> dict[str, Any]:
    with hub.admin() as admin:
        answer: dict[str, Any] = admin.get("/admin/routes").json()
    return answer


def put_routes(hub: RunningHub, revision: int, routes: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    with hub.admin() as admin:
        return admin.put("/admin/routes", json={"revision": revision, "routes": routes, **extra})


def route(current: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in current["routes"] if r["name"] == ROUTE)


def set_weights(hub: RunningHub, weights: dict[str, int], **fields: Any) -> int:
    current = routes_of(hub)
    route(current).update(weights=weights, **fields)
    answer = put_routes(hub, current["revision"], current["routes"])
    assert answer.status_code == 200, answer.text
    return int(answer.json()["revision"])


def wait_for(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_both_instances_apply_a_change_within_a_second(pair: Pair) -> None:
    revision = set_weights(pair.a, {"v1": 50, "v2": 50})
    started = time.monotonic()
    assert wait_for(lambda: routes_of(pair.b)["in_force"] == revision, timeout=5)
    assert time.monotonic() - started < 1.5
    assert route(routes_of(pair.b))["weights"] == {"v1": 50, "v2": 50}
    set_weights(pair.b, {"v1": 100})


def test_concurrent_writes_conflict(pair: Pair) -> None:
    current = routes_of(pair.a)
    first = put_routes(pair.a, current["revision"], current["routes"])
    second = put_routes(pair.b, current["revision"], current["routes"])
    assert first.status_code == 200
    assert second.status_code == 409 and second.json()["type"].endswith(":revision-conflict")


def test_an_invalid_config_is_refused_and_the_running_one_stays(pair: Pair) -> None:
    current = routes_of(pair.a)
    route(current)["weights"] = {"v1": 90, "v2": 30}
    answer = put_routes(pair.a, current["revision"], current["routes"])
    assert answer.status_code == 422 and any("weights" in e["loc"] for e in answer.json()["errors"]), answer.text
    route(current)["weights"] = {"v9": 100}
    assert put_routes(pair.a, current["revision"], current["routes"]).status_code == 422
    assert routes_of(pair.a)["in_force"] == current["in_force"]


def test_a_dry_run_reports_what_would_move_and_changes_nothing(pair: Pair) -> None:
    with pair.a.client() as client:
        for _ in range(5):
            assert client.post("/v1/messages", json=invoice()).status_code == 202
    current = routes_of(pair.a)
    route(current)["weights"] = {"v2": 100}
    answer = put_routes(pair.a, current["revision"], current["routes"], dry_run=True)
    assert answer.status_code == 200 and answer.json()["dry_run"] is True, answer.text
    report = answer.json()["impact"]
    assert report["total"] >= 5
    assert any(m["to"] == "factor-json@v2" and m["count"] >= 5 for m in report["moved"]), report
    assert routes_of(pair.a)["revision"] == current["revision"]


def test_shadow_copies_are_compared_and_the_partner_sees_nothing(pair: Pair) -> None:
    set_weights(pair.a, {"v1": 100}, shadow="v2")
    assert wait_for(lambda: route(routes_of(pair.b)).get("shadow") == "v2")
    with pair.a.client() as client:
        mid = client.post("/v1/messages", json=invoice()).json()["id"]
    assert pair.a.wait_status(mid, {"completed"})["status"] == "completed"

    def compared() -> list[dict[str, Any]]:
        with pair.a.admin() as admin:
            audit = admin.get("/admin/audit").json()
        return [a for a in audit if a["action"] == "shadow.compared" and a["target"] == mid]

    assert wait_for(lambda: bool(compared()))
    assert compared()[0]["detail"]["candidate"] == "v2" and "target" in compared()[0]["detail"]["diff"]
    for hub in (pair.a, pair.b):
        with hub.sandbox("factor-json-v2") as partner:
            assert all(r["message_id"] != mid for r in partner.get("/_sandbox/received?all=1").json())
    set_weights(pair.a, {"v1": 100}, shadow=None)


def test_a_failing_candidate_is_rolled_back_and_its_messages_finish_on_stable(pair: Pair) -> None:
    for hub in (pair.a, pair.b):
        with hub.sandbox("factor-json-v2") as partner:
            assert partner.post("/_sandbox/mode", json={"mode": "error", "status": 503}).status_code == 200
    set_weights(pair.a, {"v1": 50, "v2": 50}, sticky=False)
    ids = []
    with pair.a.client() as client:
        for _ in range(30):
            ids.append(client.post("/v1/messages", json=invoice()).json()["id"])
    assert wait_for(lambda: route(routes_of(pair.b))["weights"] == {"v1": 100}, timeout=30), routes_of(pair.b)
    assert "v2" in route(routes_of(pair.a)).get("withdrawn", [])
    states = [pair.a.wait_status(mid, {"completed", "dead_lettered", "rejected"}, timeout=60) for mid in ids]
    assert [s["status"] for s in states] == ["completed"] * 30
    assert any(s["version"] == "v1" and any(h["status"] == "retrying" for h in s["history"]) for s in states)
    with pair.a.admin() as admin:
        history = admin.get("/admin/routes/history").json()
    assert any(h["actor"] == "canary" for h in history), history
    for hub in (pair.a, pair.b):
        with hub.sandbox("factor-json-v2") as partner:
            partner.post("/_sandbox/mode", json={"mode": "ok"})
    promoted = pair.a.cli("routes", "promote", ROUTE, "v1")
    assert promoted.returncode == 0, promoted.stderr


def test_the_cli_shows_sets_and_lists_the_history(pair: Pair) -> None:
    shown = pair.a.cli("routes", "show", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["routes"]
    weights = "factor-json@v1=90,factor-json@v2=10"
    done = pair.a.cli("routes", "set", ROUTE, "--weights", weights, "--pin", "tenant:acme=v2")
    assert done.returncode == 0, done.stderr
    assert route(routes_of(pair.a))["pins"]["tenant"] == {"acme": "v2"}
    assert pair.a.cli("routes", "rollback", ROUTE).returncode == 0
    assert route(routes_of(pair.a))["weights"] == {"v1": 100}
    history = pair.a.cli("routes", "history", "--json")
    assert history.returncode == 0 and len(json.loads(history.stdout)) >= 3


def test_a_bad_stored_config_is_not_applied_and_raises_an_alert(pair: Pair) -> None:
    before = routes_of(pair.a)
    alerts: list[dict[str, Any]] = []

    async def scenario() -> None:
        nc = await nats.connect(pair.a.info["nats_url"])

        async def collect(msg: Any) -> None:
            alerts.append(json.loads(msg.data))

        sub = await nc.subscribe("hub.evt.alert.critical", cb=collect)
        kv = await nc.jetstream().key_value("hub-config")
        await kv.put("routes", json.dumps([{"name": "broken", "adapter": "no-such-adapter"}]).encode())
        for _ in range(50):
            if any(a["kind"] == "config_invalid" for a in alerts):
                break
            await asyncio.sleep(0.1)
        await sub.unsubscribe()
        await nc.close()

    asyncio.run(scenario())
    assert any(a["kind"] == "config_invalid" and "no-such-adapter" in a["error"] for a in alerts), alerts
    for hub in (pair.a, pair.b):
        after = routes_of(hub)
        assert after["in_force"] == before["in_force"] and after["revision"] > before["revision"]
        assert [r["name"] for r in after["routes"]] == [r["name"] for r in before["routes"]]
    # the next good write starts from the newest stored revision
    assert put_routes(pair.a, routes_of(pair.a)["revision"], before["routes"]).status_code == 200


def test_config_export_and_import_round_trip_with_compare_and_set(pair: Pair, tmp_path: Path) -> None:
    exported = pair.a.cli("config", "export", str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    routes_file = yaml.safe_load((tmp_path / "routes.yaml").read_text())
    assert {i["id"] for i in yaml.safe_load((tmp_path / "partners.yaml").read_text())["institutions"]} >= {"bank-a"}
    route(routes_file)["weights"] = {"v1": 80, "v2": 20}
    (tmp_path / "routes.yaml").write_text(yaml.safe_dump(routes_file))
    imported = pair.a.cli("config", "import", str(tmp_path))
    assert imported.returncode == 0, imported.stderr
    assert wait_for(lambda: route(routes_of(pair.b))["weights"] == {"v1": 80, "v2": 20})
    stale = pair.a.cli("config", "import", str(tmp_path))  # exported at a revision no longer current
    assert stale.returncode == 1 and "revision" in stale.stderr
    assert pair.a.cli("routes", "rollback", ROUTE).returncode == 0
