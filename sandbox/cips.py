"""The CIPS sandbox: a CNY payment network for its participants, within its operating hours.

On top of what every payment network does (sandbox.payments), a payment must be in CNY (else NAK
AM03), between two agents in the participant directory (else RC01), inside the operating window and,
for same-day settlement, before the cut-off (else TM01), and not dated before the business date
(else DT01). By default CIPS is open around the clock in UTC with no cut-off, so tests pass at any
hour; `POST /_sandbox/hours` sets a real window. Knobs on top of the shared ones:
  GET  /_sandbox/participants              the directory: BIC, CIPS participant id, name, country, kind
  POST /_sandbox/participants {"bic", "participant_id"?, "name"?, "kind"?}   add or change one
  POST /_sandbox/hours {"timezone": "Asia/Shanghai", "opens": "08:30", "closes": "20:30",
                        "cutoff": "17:00", "days": [1, 2, 3, 4, 5]}   ({} = open around the clock, UTC)
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from canonical.payments import BIC_RE, InterbankTransfer
from sandbox.http import Request, Response
from sandbox.payments import Inbound, KnobRefused, Nak, Payment, PaymentNetwork

PARTICIPANTS = """
CREATE TABLE IF NOT EXISTS participants (bic TEXT PRIMARY KEY, participant_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, country TEXT NOT NULL, kind TEXT NOT NULL);
"""
# Seeded on every start: demo banks in China, and the foreign banks of the hub's samples and tests.
DIRECTORY = (
    ("EXAMCNSZXXX", "C1058400001", "Example Bank Shenzhen", "direct"),
    ("DEMOCNBJXXX", "C1010000002", "Demo Bank Beijing", "direct"),
    ("SAMPCNSHXXX", "C1029000003", "Sample Bank Shanghai", "direct"),
    ("TESTCNGZXXX", "C1058100004", "Test Bank Guangzhou", "direct"),
    ("FNTXDE2XXXX", "C2760000005", "Fintex Bank Frankfurt", "indirect"),
    ("GLPBES2XXXX", "C7240000006", "Global Pay Bank Madrid", "indirect"),
    ("BANKDEFFXXX", "C2760000007", "Demo Bank Frankfurt", "indirect"),
    ("BANKGB2LXXX", "C8260000008", "Demo Bank London", "indirect"),
    ("BANKUS33XXX", "C8400000009", "Demo Bank New York", "indirect"),
    ("BANKHKHHXXX", "C3440000010", "Demo Bank Hong Kong", "direct"),
)


def bic11(bic: str) -> str:
    """A BIC in its 11-character form (a BIC8 is its head office, branch XXX)."""
    return bic if len(bic) == 11 else bic + "XXX"


@dataclass(frozen=True)
class OperatingHours:
    """When CIPS takes payments: a daily window (it may run over midnight) on some weekdays, and the
    time after which it no longer takes payments for settlement the same day."""

    timezone: tzinfo = UTC
    opens: time | None = None  # None with closes None: around the clock
    closes: time | None = None
    cutoff: time | None = None
    days: frozenset[int] = frozenset(range(1, 8))  # ISO weekdays

    @classmethod
    def of(cls, knob: dict[str, Any]) -> OperatingHours:
        if not knob:
            return cls()
        opens, closes = _clock_time(knob.get("opens")), _clock_time(knob.get("closes"))
        if (opens is None) != (closes is None):
            raise ValueError("opens and closes go together")
        days = frozenset(int(d) for d in knob.get("days", range(1, 8)))
        if not days or not days <= set(range(1, 8)):
            raise ValueError("days are ISO weekdays, 1 (Monday) to 7")
        zone = ZoneInfo(str(knob.get("timezone", "Asia/Shanghai")))
        return cls(zone, opens, closes, _clock_time(knob.get("cutoff")), days)

    def is_open(self, local: datetime) -> bool:
        if local.isoweekday() not in self.days:
            return False
        if self.opens is None or self.closes is None:
            return True
        now = local.time()
        if self.opens <= self.closes:
            return self.opens <= now < self.closes
        return now >= self.opens or now < self.closes

    def describe(self) -> str:
        window = f"{self.opens:%H:%M}-{self.closes:%H:%M}" if self.opens and self.closes else "around the clock"
        return f"{window} {self.timezone}, ISO weekdays {sorted(self.days)}"


def _bic_of(transfer: InterbankTransfer, role: str) -> str | None:
    """The BIC of the transfer's debtor or creditor agent (an Agent of a pacs.008, a BIC of a pacs.009)."""
    agent = getattr(transfer, role, None)
    return agent if isinstance(agent, str) or agent is None else agent.bic


def _clock_time(value: Any) -> time | None:
    return None if value is None else time.fromisoformat(str(value))


class Cips(PaymentNetwork):
    network_bic = "CIPSCNSHXXX"
    reference_prefix = "CIPS"

    def __init__(self, name: str, state_dir: Path) -> None:
        super().__init__(name, state_dir)
        self.db.executescript(PARTICIPANTS)
        self._seed()

    def _seed(self) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO participants VALUES (?,?,?,?,?)",
            [(bic, pid, name, bic[4:6], kind) for bic, pid, name, kind in DIRECTORY],
        )

    def hours(self) -> OperatingHours:
        return OperatingHours.of(self._knob("hours"))

    def timezone(self) -> tzinfo:
        return self.hours().timezone

    def statement_currency(self, settled: list[Payment]) -> str:
        return "CNY"

    def participant(self, bic: str) -> str | None:
        """The CIPS participant id of `bic`, None when it is not in the directory."""
        row = self.db.execute("SELECT participant_id FROM participants WHERE bic=?", (bic11(bic),)).fetchone()
        return None if row is None else str(row[0])

    def admit(self, transfer: InterbankTransfer, message: Inbound) -> None:
        currency = transfer.settlement_amount.currency
        if currency != "CNY":
            raise Nak("AM03", f"CIPS settles CNY only, not {currency}")
        agents = (
            ("instructing", transfer.instructing_agent or _bic_of(transfer, "debtor_agent") or message.sender),
            ("instructed", transfer.instructed_agent or _bic_of(transfer, "creditor_agent") or message.receiver),
        )
        for role, bic in agents:
            if self.participant(bic) is None:
                raise Nak("RC01", f"the {role} agent {bic} is not a CIPS participant")
        hours = self.hours()
        local = self.now().astimezone(hours.timezone)
        if not hours.is_open(local):
            raise Nak("TM01", f"CIPS is closed at {local:%a %Y-%m-%d %H:%M}; it is open {hours.describe()}")
        today = local.date()
        if transfer.settlement_date < today:
            raise Nak("DT01", f"settlement date {transfer.settlement_date} is before the business date {today}")
        if transfer.settlement_date == today and hours.cutoff is not None and local.time() >= hours.cutoff:
            raise Nak("TM01", f"received at {local:%H:%M}, after the same-day cut-off {hours.cutoff:%H:%M}")

    def network_control(self, action: str, req: Request) -> Response | None:
        if action == "participants" and req.method == "GET":
            columns = ("bic", "participant_id", "name", "country", "kind")
            rows = self.db.execute(f"SELECT {', '.join(columns)} FROM participants ORDER BY bic").fetchall()
            return Response.of_json([dict(zip(columns, r, strict=True)) for r in rows])
        if action == "participants" and req.method == "POST":
            return self._add_participant(req.json())
        if action == "hours" and req.method == "POST":
            knob = req.json() or {}
            hours = OperatingHours.of(knob)  # refuses a malformed window before it is kept
            self._set_knob("hours", knob)
            return Response.of_json({"ok": True, "hours": hours.describe()})
        if action == "reset" and req.method == "POST":
            self.db.execute("DELETE FROM participants")
            self._seed()
        return super().network_control(action, req)

    def _add_participant(self, spec: dict[str, Any]) -> Response:
        bic = str(spec["bic"])
        if not BIC_RE.match(bic):
            raise ValueError(f"{bic!r} is not a BIC")
        participant_id = str(spec.get("participant_id") or f"C{secrets.randbelow(10**10):010d}")
        if len(participant_id) != 11 or not participant_id.isalnum():
            raise ValueError("a CIPS participant id has 11 letters or digits")
        row = (bic11(bic), participant_id, str(spec.get("name", bic)), bic[4:6], str(spec.get("kind", "indirect")))
        try:
            self.db.execute(
                "INSERT INTO participants VALUES (?,?,?,?,?) ON CONFLICT (bic) DO UPDATE SET "
                "participant_id=excluded.participant_id, name=excluded.name, kind=excluded.kind",
                row,
            )
        except sqlite3.IntegrityError:
            raise KnobRefused(f"participant id {participant_id} belongs to another BIC") from None
        return Response.of_json(dict(zip(("bic", "participant_id", "name", "country", "kind"), row, strict=True)))
