"""Properties of the CBDC bridge's books over random operation sequences: value is conserved (total
issued = total held + redeemed), a refused or crashed operation changes nothing, replaying the chain
reproduces every balance; and parallel writers never double-spend."""

from __future__ import annotations

import json
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sandbox.dcbridge import BridgeError, Ledger, Leg
from sandbox.dcbridge.seed import seed

START = 1_800_000_000.0
BANKS = ("BANK-CN-A", "BANK-CN-B", "BANK-HK-A", "BANK-TH-A", "BANK-AE-A", "LP-HK-A", "LP-AE-A", "BANK-AE-S", "NOBODY")
CURRENCIES = ("CNY", "HKD", "THB", "AED")
ISSUERS = {"CNY": "PBOC", "HKD": "HKMA", "THB": "BOT", "AED": "CBUAE"}
bank = st.sampled_from(BANKS)
currency = st.sampled_from(CURRENCIES)
# Mostly small amounts, some over the limits and balances: refusals are part of every sequence.
minor = st.one_of(st.integers(1, 1_000_000), st.integers(1, 300_000_000_000))
crash = st.booleans()

transfer = st.tuples(st.just("transfer"), bank, bank, currency, minor, crash)
pvp = st.tuples(st.just("pvp"), bank, bank, bank, currency, currency, minor, st.integers(1, 60_000), crash)
issuance = st.tuples(st.just("issue"), bank, currency, minor, st.booleans())
operations = st.lists(st.one_of(transfer, pvp, issuance), min_size=1, max_size=12)


class Crash(RuntimeError):
    """The process dying between the legs of a settlement."""


def book(ledger: Ledger) -> dict[tuple[str, str, str], int]:
    rows = ledger.db.execute("SELECT participant, kind, currency, balance FROM accounts")
    return {(p, k, c): int(b) for p, k, c, b in rows}


def per_currency(books: dict[tuple[str, str, str], int], account: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for (_p, kind, cur), balance in books.items():
        if kind == account:
            out[cur] += balance
    return out


def replayed(ledger: Ledger) -> dict[tuple[str, str, str], int]:
    """Every balance from the chain alone, the way an auditor with only GET /chain would compute it."""
    out: Counter[tuple[str, str, str]] = Counter()
    for entry in ledger.entries(1, 1_000_000):
        for m in json.loads(entry.canonical)["movements"]:
            whole, _, cents = m["amount"].lstrip("-").partition(".")
            value = int(whole) * 100 + int(cents)
            out[(m["participant"], m["account"], m["currency"])] += -value if m["amount"].startswith("-") else value
    return dict(out)


def apply(ledger: Ledger, n: int, op: tuple[Any, ...]) -> tuple[str, int] | None:
    """Run one operation; (currency, +issued / -redeemed) for an issuance that went through."""

    def die() -> None:
        raise Crash("killed between the legs")

    kind = op[0]
    if kind == "transfer":
        _, payer, payee, cur, amount, crashes = op
        ledger.settle(f"T{n}", "transfer", [Leg(payer, payee, cur, amount)], {}, between_legs=die if crashes else None)
    elif kind == "pvp":
        _, payer, maker, payee, source, target, amount, rate_bp, crashes = op
        legs = [Leg(payer, maker, source, amount), Leg(maker, payee, target, max(1, amount * rate_bp // 10_000))]
        ledger.settle(f"P{n}", "pvp", legs, {}, between_legs=die if crashes else None)
    else:
        _, participant, cur, amount, redeem = op
        ledger.issue(f"I{n}", ISSUERS[cur], participant, cur, amount, redeem)
        return cur, -amount if redeem else amount
    return None


@given(operations)
def test_random_sequences_conserve_value_and_replay_to_the_same_balances(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "bridge.sqlite3", lambda: START)
        seed(ledger)
        opening = book(ledger)
        issued_total = per_currency(opening, "wallet")  # opening CBDC counts as issued
        redeemed: Counter[str] = Counter()
        for n, op in enumerate(ops):
            before = book(ledger)
            try:
                issued = apply(ledger, n, op)
            except (BridgeError, Crash):
                assert book(ledger) == before, f"a refused or crashed {op[0]} changed balances"
                continue
            if issued is not None:
                cur, delta = issued
                if delta > 0:
                    issued_total[cur] += delta
                else:
                    redeemed[cur] -= delta
            books = book(ledger)
            assert min(books.values()) >= 0
            held = per_currency(books, "wallet")
            for cur in CURRENCIES:
                assert issued_total[cur] == held[cur] + redeemed[cur], cur
                total = held[cur] + per_currency(books, "reserve")[cur]
                assert total == per_currency(opening, "wallet")[cur] + per_currency(opening, "reserve")[cur]
        assert replayed(ledger) == {k: v for k, v in book(ledger).items()}
        assert ledger.verify()["ok"]
        ledger.close()


def test_parallel_writers_never_double_spend(tmp_path: Path) -> None:
    path = tmp_path / "bridge.sqlite3"
    first = Ledger(path, lambda: START)
    seed(first)
    before = book(first)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def writer(w: int) -> None:
        books = Ledger(path, lambda: START)  # its own SQLite connection, as a second bridge process would have
        for i in range(6):
            try:
                books.settle(f"W{w}-{i}", "transfer", [Leg("BANK-CN-B", "BANK-CN-A", "CNY", 40_000_000)], {})
                result = "settled"
            except BridgeError as refused:
                result = refused.code
            with lock:
                outcomes[result] += 1
        books.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # 5,000,000.00 CNY in the wallet, 400,000.00 a payment: twelve fit, whoever wins the races.
    assert outcomes["settled"] == 12 and sum(outcomes.values()) == 24, outcomes
    assert set(outcomes) <= {"settled", "insufficient_funds", "limit_exceeded"}
    after = book(first)
    assert after[("BANK-CN-B", "wallet", "CNY")] == before[("BANK-CN-B", "wallet", "CNY")] - 12 * 40_000_000
    assert per_currency(after, "wallet") == per_currency(before, "wallet")
    assert first.verify()["ok"] and replayed(first) == after
