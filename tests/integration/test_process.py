"""How the hub runs as a process: clear start-up errors, its run file, external NATS and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import yaml

from routes.children import nats_server_binary
from tests.conftest import HUB_BIN, ROOT, RunningHub, free_port, hub_config, new_database, start_hub, stop_hub


def run_hub(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUB_BIN, "run"], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)


def test_port_in_use_names_the_port_and_the_variable(hub: RunningHub, tmp_path: Path) -> None:
    port = hub.url.rsplit(":", 1)[1]
    result = run_hub({"HUB_HOME": str(tmp_path), "HUB_HTTP_PORT": port, "HUB_NATS_PORT": str(free_port())})
    assert result.returncode == 1
    assert f"port {port} is already in use: set HUB_HTTP_PORT" in result.stderr


def test_nats_port_in_use_names_its_variable(hub: RunningHub, tmp_path: Path) -> None:
    nats_port = hub.info["nats_url"].rsplit(":", 1)[1]
    result = run_hub({"HUB_HOME": str(tmp_path), "HUB_HTTP_PORT": str(free_port()), "HUB_NATS_PORT": nats_port})
    assert result.returncode == 1 and "set HUB_NATS_PORT" in result.stderr


def test_second_hub_on_the_same_home_is_refused(hub: RunningHub) -> None:
    result = run_hub(
        {
            "HUB_HOME": str(hub.home),
            "HUB_HTTP_PORT": str(free_port()),
            "HUB_NATS_PORT": str(free_port()),
            "HUB_CONFIG_DIR": hub.env["HUB_CONFIG_DIR"],
        }
    )
    assert result.returncode == 1 and "another hub" in result.stderr


def test_run_file_and_credentials_are_readable_by_the_owner_only(hub: RunningHub) -> None:
    for name in ("run.json", "credentials.json"):
        mode = stat.S_IMODE((hub.home / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    info = hub.info
    assert {"pid", "http_url", "nats_url", "admin_token", "sandboxes", "children"} <= set(info)
    routes = yaml.safe_load((ROOT / "config" / "routes.yaml").read_text())
    assert set(info["sandboxes"]) == {"factor-json", "bank-a-inbox", *routes["sandboxes"]}


def test_hub_starts_each_sandbox_with_its_kind(hub: RunningHub) -> None:
    with hub.sandbox("dcbridge") as bridge:
        head = bridge.get("/chain/head")
        participants = bridge.get("/participants")
    assert head.status_code == 200 and participants.status_code == 200
    assert "PBOC" in participants.text  # the bridge seeds its demo participants on every start
    with hub.sandbox("factor-json") as recorder:
        assert recorder.get("/_sandbox/health").json()["name"] == "factor-json"


def test_cli_without_a_running_hub_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [HUB_BIN, "status", "x"],
        env={**os.environ, "HUB_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "hub run" in result.stderr


def test_config_check_reports_a_bad_route_with_its_path(tmp_path: Path) -> None:
    config = hub_config(tmp_path / "config")
    routes = (config / "routes.yaml").read_text().replace("adapter: factor-json", "adapter: nowhere")
    (config / "routes.yaml").write_text(routes)
    result = subprocess.run(
        [HUB_BIN, "config", "check"],
        env={**os.environ, "HUB_CONFIG_DIR": str(config)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    index = next(i for i, r in enumerate(yaml.safe_load(routes)["routes"]) if r["adapter"] == "nowhere")
    assert result.returncode == 1 and f"routes.{index}.adapter" in result.stderr and "nowhere" in result.stderr
    good = subprocess.run(
        [HUB_BIN, "config", "check"],
        env={**os.environ, "HUB_CONFIG_DIR": str(ROOT / "config")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert good.returncode == 0 and "config valid" in good.stdout


def test_hub_on_an_external_nats_and_postgresql_completes_a_message(tmp_path: Path, pg_url: str) -> None:
    nats_port = free_port()
    nats = subprocess.Popen(
        [nats_server_binary(), "-js", "-sd", str(tmp_path / "js"), "-a", "127.0.0.1", "-p", str(nats_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["HUB_NATS_URL"] = f"nats://127.0.0.1:{nats_port}"
    os.environ["HUB_DATABASE_URL"] = new_database(pg_url)
    try:
        hub = _start_with_env(tmp_path)
        try:
            result = hub.cli("send", str(ROOT / "docs" / "samples" / "invoice.json"), "--wait", "30", "--json")
            assert result.returncode == 0, result.stdout + result.stderr
            assert json.loads(result.stdout)["status"] == "completed"
            assert not (hub.home / "journal.sqlite3").exists()  # the journal is in PostgreSQL
            assert "nats-server" not in hub.info["children"]
        finally:
            stop_hub(hub)
    finally:
        os.environ.pop("HUB_NATS_URL")
        os.environ.pop("HUB_DATABASE_URL")
        nats.terminate()
        nats.wait(10)


def _start_with_env(tmp_path: Path) -> RunningHub:
    return start_hub(tmp_path / "home", hub_config(tmp_path / "config"), keep_env=True)


def test_journal_verify_passes_on_the_running_hub_and_names_an_edited_record(hub: RunningHub, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    assert hub.cli("send", str(ROOT / "docs" / "samples" / "invoice.json"), "--wait", "30").returncode == 0
    result = hub.cli("journal", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("journal verified: ") and " records in " in result.stdout
    copy = tmp_path / "copy"
    copy.mkdir()
    with sqlite3.connect(hub.home / "journal.sqlite3") as source, sqlite3.connect(copy / "journal.sqlite3") as target:
        source.backup(target)  # a consistent copy, taken while the hub runs
    with sqlite3.connect(copy / "journal.sqlite3") as db:
        seq = db.execute("SELECT seq FROM transitions WHERE chain IS NOT NULL ORDER BY seq LIMIT 1").fetchone()[0]
        db.execute("UPDATE transitions SET actor = 'mallory' WHERE seq = ?", (seq,))
    broken = subprocess.run(
        [HUB_BIN, "journal", "verify"],
        env={**os.environ, "HUB_HOME": str(copy)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 1 and f"record {seq} " in broken.stderr and "edited" in broken.stderr
    shutil.rmtree(copy)
