"""The CIPS sandbox's operating window: around the clock by default, daily windows (also over midnight),
weekdays, and the knob's validation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sandbox.cips import OperatingHours, bic11

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_without_a_window_cips_is_open_around_the_clock_in_utc() -> None:
    hours = OperatingHours.of({})
    assert str(hours.timezone) == "UTC" and hours.cutoff is None
    assert hours.is_open(at("2026-11-22T03:00"))  # a Sunday night


@pytest.mark.parametrize(
    ("moment", "open_"),
    [("2026-11-23T08:29", False), ("2026-11-23T08:30", True), ("2026-11-23T20:29", True), ("2026-11-23T20:30", False)],
)
def test_a_daily_window_opens_at_its_start_and_closes_at_its_end(moment: str, open_: bool) -> None:
    hours = OperatingHours.of({"opens": "08:30", "closes": "20:30"})
    assert str(hours.timezone) == "Asia/Shanghai"
    assert hours.is_open(at(moment)) is open_


def test_a_window_may_run_over_midnight_and_skip_weekends() -> None:
    hours = OperatingHours.of({"opens": "20:30", "closes": "17:00", "days": [1, 2, 3, 4, 5]})
    assert hours.is_open(at("2026-11-23T23:00")) and hours.is_open(at("2026-11-24T09:00"))
    assert not hours.is_open(at("2026-11-24T18:00"))
    assert not hours.is_open(at("2026-11-28T10:00"))  # Saturday


@pytest.mark.parametrize(
    "knob",
    [{"opens": "08:30"}, {"opens": "8h", "closes": "20:30"}, {"days": [0]}, {"timezone": "Mars/Olympus"}],
)
def test_a_malformed_window_is_refused(knob: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        OperatingHours.of(knob)


def test_a_bic8_is_its_head_office() -> None:
    assert bic11("FNTXDE2X") == "FNTXDE2XXXX" and bic11("GLPBES2XXXX") == "GLPBES2XXXX"
