"""The export guard's rules (GB/T 43697 grades, residency, export assessments)."""

from __future__ import annotations

from datetime import date

from routes.config import DataExport, ExportAssessment
from routes.export_guard import export_refusal
from tests.unit.test_rules import invoice

TODAY = date(2026, 11, 23)
ASSESSED = DataExport(
    home_country="CN",
    assessments=[
        ExportAssessment(
            reference="EA-1",
            destination="DE",
            types=["trade.*"],
            valid_from=date(2026, 1, 1),
            valid_until=date(2026, 12, 31),
        )
    ],
)


def test_general_data_goes_anywhere_unless_it_declares_a_residency() -> None:
    assert export_refusal(invoice(), "DE", DataExport(), TODAY) is None
    assert "may stay only in CN" in str(export_refusal(invoice(residency=["CN"]), "DE", DataExport(), TODAY))


def test_core_data_stays_home_or_in_its_residency() -> None:
    core = invoice(classification="core")
    assert "core data may stay only in CN" in str(export_refusal(core, "DE", ASSESSED, TODAY))
    assert export_refusal(core, "CN", ASSESSED, TODAY) is None
    assert export_refusal(invoice(classification="core", residency=["CN", "DE"]), "DE", ASSESSED, TODAY) is None
    assert "unknown country" in str(export_refusal(core, None, ASSESSED, TODAY))


def test_important_data_leaves_only_under_a_valid_assessment() -> None:
    important = invoice(classification="important")
    assert export_refusal(important, "CN", DataExport(), TODAY) is None
    assert "needs an export-assessment record" in str(export_refusal(important, "DE", DataExport(), TODAY))
    assert export_refusal(important, "DE", ASSESSED, TODAY) is None
    assert export_refusal(important, "SG", ASSESSED, TODAY) is not None  # assessed for DE only
    assert export_refusal(important, "DE", ASSESSED, date(2027, 1, 1)) is not None  # expired
