"""The CBDC bridge's books: hash chain, proofs, tamper detection, limits, and atomic PvP settlement."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sandbox.dcbridge import BridgeError, Ledger, Leg, Settlements, proves_inclusion
from sandbox.dcbridge.chain import GENESIS, link
from sandbox.dcbridge.model import canonical_bytes, parse_body, to_minor
from sandbox.dcbridge.seed import seed

ROOT = Path(__file__).resolve().parents[2]
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = START

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Ledger:
    books = Ledger(tmp_path / "bridge.sqlite3", clock)
    seed(books)
    return books


def pvp(amount: str = "1000.00", counter: str = "1085.00") -> list[Leg]:
    """BANK-CN-A pays CNY to BANK-AE-A, which pays HKD to BANK-HK-A."""
    return [
        Leg("BANK-CN-A", "BANK-AE-A", "CNY", to_minor(amount)),
        Leg("BANK-AE-A", "BANK-HK-A", "HKD", to_minor(counter)),
    ]


def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    outflows = ledger.db.execute("SELECT * FROM outflows ORDER BY 1, 2, 3").fetchall()
    return ledger.balances(), ledger.head(), outflows


def tamper(ledger: Ledger, sql: str, *args: Any) -> None:
    """Edit the SQLite file behind the bridge's back, as an insider with file access could."""
    raw = sqlite3.connect(ledger.db.execute("PRAGMA database_list").fetchone()[2], isolation_level=None)
    raw.execute(sql, args)
    raw.close()


def test_seeded_books_verify_and_seeding_again_changes_nothing(ledger: Ledger) -> None:
    report = ledger.verify()
    assert report["ok"], report["problems"]
    head = ledger.head()
    seed(ledger)
    assert ledger.head() == head


def test_each_entry_hashes_its_canonical_bytes_onto_the_previous_hash(ledger: Ledger) -> None:
    entries = ledger.entries()
    assert entries[0].prev_hash == GENESIS and [e.position for e in entries] == list(range(1, len(entries) + 1))
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash
        assert entry.hash == link(before.hash, entry.canonical.encode())
    assert entries[0].canonical.encode() == canonical_bytes(json.loads(entries[0].canonical))


def test_proof_of_a_settled_transaction_leads_to_the_chain_head(ledger: Ledger) -> None:
    proof = ledger.settle("TX-1", "pvp", pvp(), {"demand_id": "D1"})
    ledger.settle("TX-2", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", 100)], {})
    proof = ledger.proof("TX-1")
    head = ledger.head()
    assert (proof["head_position"], proof["chain_head"]) == (head["head_position"], head["chain_head"])
    entry = ledger.entries(proof["position"], 1)[0]
    later = [e.canonical for e in ledger.entries(proof["position"] + 1)]
    assert proves_inclusion(proof, entry.canonical, later)
    assert not proves_inclusion(proof, entry.canonical.replace("1000.00", "9000.00"), later)
    assert not proves_inclusion(proof, entry.canonical, later[:-1])


def test_pvp_settles_both_legs_and_records_them(ledger: Ledger) -> None:
    ledger.settle("TX-1", "pvp", pvp(), {})
    books = ledger.balances()
    assert books["BANK-CN-A"]["wallet"]["CNY"] == "9999000.00"
    assert books["BANK-AE-A"]["wallet"] == {"AED": "5000000.00", "CNY": "501000.00", "HKD": "1998915.00"}
    assert books["BANK-HK-A"]["wallet"]["HKD"] == "10001085.00"
    assert ledger.transaction_body("TX-1")["type"] == "pvp"
    assert ledger.verify()["ok"]


def test_a_failure_between_the_legs_leaves_no_partial_state(ledger: Ledger) -> None:
    before = snapshot(ledger)

    def crash() -> None:
        raise RuntimeError("power cut between the legs")

    with pytest.raises(RuntimeError):
        ledger.settle("TX-1", "pvp", pvp(), {}, between_legs=crash)
    assert snapshot(ledger) == before
    assert ledger.verify()["ok"]
    ledger.settle("TX-1", "pvp", pvp(), {})  # and the same transaction can settle afterwards
    assert ledger.head()["head_position"] == before[1]["head_position"] + 1


def test_a_refused_second_leg_unwinds_the_first(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(BridgeError) as refused:
        ledger.settle("TX-1", "pvp", pvp(counter="2000000.01"), {}, then=lambda _: None)
    assert refused.value.code == "insufficient_funds"
    assert snapshot(ledger) == before


def test_a_process_killed_between_the_legs_leaves_consistent_books(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "bridge.sqlite3"
    seed(Ledger(path, clock))
    child = textwrap.dedent(
        f"""
        import os, signal, time
        from pathlib import Path
        from sandbox.dcbridge import Ledger, Leg
        books = Ledger(Path({str(path)!r}), time.time)
        legs = [Leg("BANK-CN-A", "BANK-AE-A", "CNY", 100000), Leg("BANK-AE-A", "BANK-HK-A", "HKD", 108500)]
        books.settle("TX-1", "pvp", legs, {{}}, between_legs=lambda: os.kill(os.getpid(), signal.SIGKILL))
        """
    )
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, timeout=30)
    assert done.returncode == -9, done.stderr
    reopened = Ledger(path, clock)
    assert reopened.verify()["ok"]
    assert reopened.balances()["BANK-CN-A"]["wallet"]["CNY"] == "10000000.00"
    assert reopened.balances()["BANK-AE-A"]["wallet"]["HKD"] == "2000000.00"
    with pytest.raises(BridgeError):
        reopened.proof("TX-1")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("UPDATE chain SET canonical = replace(canonical, '1000.00', '9000.00') WHERE tx_id = 'TX-1'", "was edited"),
        ("DELETE FROM chain WHERE tx_id = 'TX-1'", "missing"),
        ("DELETE FROM chain WHERE tx_id = 'TX-2'", "recorded head"),
        ("UPDATE accounts SET balance = balance + 1 WHERE participant = 'BANK-CN-B'", "does not match"),
    ],
    ids=["edited-entry", "deleted-entry", "deleted-last-entry", "edited-balance"],
)
def test_verify_detects_tampering_with_the_file(ledger: Ledger, edit: str, problem: str) -> None:
    ledger.settle("TX-1", "pvp", pvp(), {})
    ledger.settle("TX-2", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", 100)], {})
    assert ledger.verify()["ok"]
    tamper(ledger, edit)
    report = ledger.verify()
    assert not report["ok"]
    assert any(problem in p for p in report["problems"]), report["problems"]


def test_single_payment_and_daily_outflow_limits_are_enforced(ledger: Ledger, clock: Clock) -> None:
    ledger.set_limit("PBOC", "BANK-CN-A", "CNY", to_minor("500.00"), to_minor("800.00"))
    with pytest.raises(BridgeError, match="single-payment limit") as over:
        ledger.settle("TX-1", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", to_minor("500.01"))], {})
    assert over.value.code == "limit_exceeded"
    ledger.settle("TX-2", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", to_minor("500.00"))], {})
    with pytest.raises(BridgeError, match="daily"):
        ledger.settle("TX-3", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", to_minor("300.01"))], {})
    clock.t += 86400  # a new day resets the outflow
    ledger.settle("TX-3", "transfer", [Leg("BANK-CN-A", "BANK-CN-B", "CNY", to_minor("300.01"))], {})


def test_only_the_issuing_central_bank_sets_limits_on_its_currency(ledger: Ledger) -> None:
    with pytest.raises(BridgeError) as refused:
        ledger.set_limit("HKMA", "BANK-CN-A", "CNY", 1, 1)
    assert refused.value.code == "not_issuer"


@pytest.mark.parametrize(
    ("payer", "code"),
    [
        ("BANK-AE-S", "participant_sanctioned"),
        ("BANK-HK-X", "participant_not_eligible"),
        ("NOBODY", "unknown_participant"),
    ],
)
def test_barred_participants_cannot_pay(ledger: Ledger, payer: str, code: str) -> None:
    with pytest.raises(BridgeError) as refused:
        ledger.settle("TX-1", "transfer", [Leg(payer, "BANK-CN-A", "CNY", 100)], {})
    assert refused.value.code == code


def test_issuance_and_redemption_move_cbdc_against_reserves(ledger: Ledger) -> None:
    ledger.issue("I1", "PBOC", "BANK-CN-B", "CNY", to_minor("100.00"), redeem=False)
    ledger.issue("I2", "PBOC", "BANK-CN-B", "CNY", to_minor("40.00"), redeem=True)
    books = ledger.balances()["BANK-CN-B"]
    assert books == {"reserve": {"CNY": "9999940.00"}, "wallet": {"CNY": "5000060.00"}}
    with pytest.raises(BridgeError) as refused:
        ledger.issue("I3", "HKMA", "BANK-CN-B", "CNY", 100, redeem=False)
    assert refused.value.code == "not_issuer"
    assert ledger.verify()["ok"]


def test_an_interrupted_acceptance_is_settled_on_restart(ledger: Ledger, clock: Clock, tmp_path: Path) -> None:
    def fail(tx_id: str) -> None:
        raise RuntimeError(f"died settling {tx_id}")

    desk = Settlements(ledger, between_legs=fail)
    desk.publish(
        {"demand_id": "D1", "from": "BANK-CN-A", "amount": "1000.00", "source_currency": "CNY",
         "target_currency": "HKD", "beneficiary": "BANK-HK-A", "purpose": "goods"}
    )  # fmt: skip
    desk.quote("D1", {"quote_id": "Q1", "bank": "BANK-AE-A", "rate": "1.085", "valid_for_s": 30})
    with pytest.raises(RuntimeError):
        desk.accept("D1", {"quote_id": "Q1"})
    assert desk.view("D1")["status"] == "accepted"
    assert ledger.balances()["BANK-CN-A"]["wallet"]["CNY"] == "10000000.00"
    restarted = Settlements(Ledger(tmp_path / "bridge.sqlite3", clock))
    assert restarted.resume_accepted() == ["D1"]
    view = restarted.view("D1")
    assert view["status"] == "settled" and view["proof"]["tx_id"] == "DEM-D1"
    assert restarted.ledger.verify()["ok"]


@pytest.mark.parametrize("text", ["0", "0.00", "-1.00", "1.001", "1e3", " 1.00", "01.00", "1,000.00", "10000000000000"])
def test_amounts_outside_the_rules_are_refused(text: str) -> None:
    with pytest.raises(BridgeError) as refused:
        to_minor(text)
    assert refused.value.code == "invalid_amount"


def test_amounts_are_exact_minor_units() -> None:
    assert to_minor("0.01") == 1 and to_minor("1234.5") == 123450 and to_minor("1000000000000") == 10**14


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b'{"a": 1, "a": 2}', "invalid_json"),
        (b"[" * 100_000, "payload_too_large"),
        (b"[" * 50_000 + b"]" * 50_000, "payload_too_large"),
        (b"[" * 30_000 + b"]" * 30_000, "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
    ],
    ids=["syntax", "not-object", "nan", "duplicate-key", "oversized", "oversized-nesting", "deep-nesting", "not-utf8"],
)
def test_hostile_bodies_are_refused(raw: bytes, code: str) -> None:
    with pytest.raises(BridgeError) as refused:
        parse_body(raw)
    assert refused.value.code == code
