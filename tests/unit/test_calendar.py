"""Payment channel calendars: hours, holidays per currency, cut-offs and future-dated holds, with a moved clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from desk.calendar import ChannelPolicy, judge

SHANGHAI = ZoneInfo("Asia/Shanghai")
CIPS = ChannelPolicy(
    timezone="Asia/Shanghai",
    opens="08:30",
    closes="20:30",
    weekdays=[1, 2, 3, 4, 5],
    currencies=["CNY"],
    cutoffs={"CNY": "17:00"},
    holidays={"CNY": [date(2026, 10, 1), date(2026, 10, 2)], "*": [date(2026, 12, 25)]},
)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def test_a_same_day_payment_inside_the_window_is_sent() -> None:
    assert judge(CIPS, "CNY", date(2026, 11, 23), at(23, 9)).action == "send"  # a Monday


def test_before_opening_the_payment_waits_for_the_opening_the_same_day() -> None:
    verdict = judge(CIPS, "CNY", date(2026, 11, 23), at(23, 7))
    assert verdict.action == "closed" and verdict.until == at(23, 8, 30)


def test_past_the_cut_off_a_same_day_payment_is_refused_naming_the_cut_off() -> None:
    verdict = judge(CIPS, "CNY", date(2026, 11, 23), at(23, 17, 0))
    assert verdict.action == "refuse" and "cut-off 17:00 (Asia/Shanghai) of 2026-11-23 has passed" in verdict.reason


def test_after_closing_a_same_day_payment_cannot_settle_that_day() -> None:
    verdict = judge(
        ChannelPolicy(opens="08:30", closes="20:30"),
        "EUR",
        date(2026, 11, 23),
        datetime(2026, 11, 23, 21, 0, tzinfo=UTC),
    )
    assert verdict.action == "refuse" and "does not open again on 2026-11-23" in verdict.reason


def test_a_future_dated_payment_is_held_until_the_opening_of_its_settlement_date() -> None:
    verdict = judge(CIPS, "CNY", date(2026, 11, 25), at(23, 9))
    assert verdict.action == "hold" and verdict.until == at(25, 8, 30) and "future-dated" in verdict.reason


def test_a_held_payment_is_released_once_the_clock_reaches_its_date() -> None:
    assert judge(CIPS, "CNY", date(2026, 11, 25), at(25, 8, 29)).action == "closed"
    assert judge(CIPS, "CNY", date(2026, 11, 25), at(25, 8, 30)).action == "send"


def test_a_settlement_date_on_a_currency_holiday_or_weekend_is_refused() -> None:
    holiday = judge(CIPS, "CNY", date(2026, 10, 1), at(30, 9, month=9))
    weekend = judge(CIPS, "CNY", date(2026, 11, 28), at(23, 9))
    assert holiday.action == "refuse" and "2026-10-01 is not a business day for CNY" in holiday.reason
    assert weekend.action == "refuse" and "2026-11-28" in weekend.reason


def test_closed_over_the_weekend_and_channel_holidays_until_the_next_business_day() -> None:
    saturday = judge(CIPS, "CNY", None, at(28, 10))
    assert saturday.action == "closed" and saturday.until == at(30, 8, 30)
    christmas = judge(CIPS, "CNY", None, at(25, 10, month=12))
    assert christmas.until == at(28, 8, 30, month=12)


def test_a_currency_the_channel_does_not_carry_is_refused() -> None:
    verdict = judge(CIPS, "USD", date(2026, 11, 23), at(23, 9))
    assert verdict.action == "refuse" and "carries CNY, not USD" in verdict.reason


def test_past_dated_payments_go_out_and_the_network_judges_them() -> None:
    assert judge(CIPS, "CNY", date(2026, 11, 20), at(23, 9)).action == "send"


def test_the_default_policy_is_always_open_without_cut_offs() -> None:
    assert (
        judge(ChannelPolicy(), "EUR", date(2026, 11, 23), datetime(2026, 11, 23, 23, 59, tzinfo=UTC)).action == "send"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("opens", "8:30", "String should match pattern"),
        ("weekdays", [0, 8], "weekdays are ISO numbers"),
        ("cutoffs", {"CNY": "25:00"}, "cut-off '25:00' of CNY must be HH:MM"),
        ("closes", "08:00", "closes 08:00 must be after opens"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(field: str, value: object, message: str) -> None:
    data: dict[str, object] = {"opens": "08:30", field: value}
    with pytest.raises(ValidationError, match=message) as info:
        ChannelPolicy.model_validate(data)
    assert info.value.errors()[0]["loc"] in ((field,), ())


def test_a_currency_s_settlement_day_and_cut_off_are_counted_in_its_own_zone() -> None:
    swift = ChannelPolicy(timezone="UTC", zones={"CNY": "Asia/Shanghai"}, cutoffs={"CNY": "17:00", "EUR": "17:00"})
    late_evening_utc = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # already 24 November in Shanghai
    assert judge(swift, "CNY", date(2026, 11, 24), late_evening_utc).action == "send"
    eur = judge(swift, "EUR", date(2026, 11, 24), late_evening_utc)
    assert eur.action == "hold" and eur.until == datetime(2026, 11, 24, tzinfo=UTC)
    past_cny_cutoff = judge(swift, "CNY", date(2026, 11, 23), datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    assert past_cny_cutoff.action == "refuse" and "17:00 (Asia/Shanghai)" in past_cny_cutoff.reason
    assert judge(swift, "EUR", date(2026, 11, 23), datetime(2026, 11, 23, 9, 5, tzinfo=UTC)).action == "send"
