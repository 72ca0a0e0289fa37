"""Demo participants, added on every start when absent (a participant's flags and balances, once
seeded, are the bridge's own and are never reset by a restart)."""

from __future__ import annotations

from sandbox.dcbridge.ledger import RESERVE, Ledger, Movement
from sandbox.dcbridge.model import to_minor

# id, name, jurisdiction, issued currency
CENTRAL_BANKS = (
    ("PBOC", "People's Bank of China", "CN", "CNY"),
    ("HKMA", "Hong Kong Monetary Authority", "HK", "HKD"),
    ("BOT", "Bank of Thailand", "TH", "THB"),
    ("CBUAE", "Central Bank of the UAE", "AE", "AED"),
)

MAKER_WALLETS = {"CNY": "20000000.00", "HKD": "20000000.00", "THB": "100000000.00", "AED": "10000000.00"}

# id, name, jurisdiction, eligible, sanctioned, {currency: opening CBDC balance}
COMMERCIAL_BANKS = (
    ("BANK-CN-A", "Demo Bank China A", "CN", True, False, {"CNY": "10000000.00", "HKD": "1000000.00"}),
    ("BANK-CN-B", "Demo Bank China B", "CN", True, False, {"CNY": "5000000.00"}),
    ("BANK-HK-A", "Demo Bank Hong Kong A", "HK", True, False, {"HKD": "10000000.00", "CNY": "1000000.00"}),
    ("BANK-TH-A", "Demo Bank Thailand A", "TH", True, False, {"THB": "50000000.00", "CNY": "500000.00"}),
    (
        "BANK-AE-A",
        "Demo Bank Emirates A",
        "AE",
        True,
        False,
        {"AED": "5000000.00", "CNY": "500000.00", "HKD": "2000000.00"},
    ),
    ("BANK-HK-X", "Demo Bank Hong Kong (not onboarded)", "HK", False, False, {"HKD": "1000000.00"}),
    ("BANK-AE-S", "Demo Bank Emirates (sanctioned)", "AE", True, True, {"AED": "1000000.00"}),
    # Liquidity providers: the simulated market makers (market.py) quote from these wallets.
    ("LP-HK-A", "Demo Liquidity Provider Hong Kong", "HK", True, False, MAKER_WALLETS),
    ("LP-AE-A", "Demo Liquidity Provider Emirates", "AE", True, False, MAKER_WALLETS),
)

# Every bank gets the same caps in every currency it holds, set by that currency's issuer.
MAX_SINGLE, DAILY_OUTFLOW = to_minor("2000000.00"), to_minor("5000000.00")


def seed(ledger: Ledger) -> None:
    # One transaction for the whole seed: one fsync at start-up, and never half a demo participant.
    with ledger.transaction():
        _seed(ledger)


def _seed(ledger: Ledger) -> None:
    db = ledger.db
    for pid, name, jurisdiction, currency in CENTRAL_BANKS:
        db.execute(
            "INSERT OR IGNORE INTO participants VALUES (?,?,?,?,?,1,0)",
            (pid, name, "central_bank", jurisdiction, currency),
        )
    issuers = {currency: pid for pid, _, _, currency in CENTRAL_BANKS}
    for pid, name, jurisdiction, eligible, sanctioned, opening in COMMERCIAL_BANKS:
        if db.execute("SELECT 1 FROM participants WHERE id=?", (pid,)).fetchone():
            continue
        db.execute(
            "INSERT INTO participants VALUES (?,?,?,?,NULL,?,?)",
            (pid, name, "commercial_bank", jurisdiction, int(eligible), int(sanctioned)),
        )
        movements: list[Movement] = []
        for currency, amount in opening.items():
            minor = to_minor(amount)
            # Reserves at the central bank are twice the CBDC, so a bank can ask for more issuance.
            movements += [Movement(pid, RESERVE, currency, 2 * minor), Movement(pid, "wallet", currency, minor)]
            db.execute(
                "INSERT INTO limits VALUES (?,?,?,?,?)",
                (pid, currency, MAX_SINGLE, DAILY_OUTFLOW, issuers[currency]),
            )
        ledger.settle(f"OPEN-{pid}", "opening", [], {"participant": pid}, movements=movements)
