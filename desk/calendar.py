"""Business calendars, operating hours and cut-offs of a payment channel, and what they mean for one
payment right now: send it, hold it until its settlement date, wait for the channel to open, or
refuse it because its day's cut-off has passed.

Pure functions of a `ChannelPolicy` and the time asked of the hub's one clock, so tests move time
instead of sleeping. Times are the channel's local wall-clock times in its `timezone`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
ANY_CURRENCY = "*"
SEARCH_DAYS = 400  # how far to look for the next business day: a year of holidays cannot hide one


class ChannelPolicy(BaseModel):
    """When a payment channel takes payments, and until when a payment still settles the same day.

    `holidays` lists closed days per currency (the settlement calendar of that currency) and under
    `"*"` the channel's own closed days; `cutoffs` is the last local time a payment of a currency
    is taken for same-day settlement. `zones` gives the time zone a currency's settlement day and
    cut-off are counted in (CNY: Asia/Shanghai), when it is not the channel's own `timezone`.
    `status_timeout_s`: a payment with no final status this long after the network took it is
    ageing: an alert, and the hub asks the network.
    """

    model_config = ConfigDict(extra="forbid")
    timezone: str = "UTC"
    opens: str = Field(default="00:00", pattern=HHMM)
    closes: str = Field(default="24:00", pattern=HHMM)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1)  # ISO: 1 = Monday
    currencies: list[str] = Field(default_factory=list, description="what the channel carries; empty: any")
    cutoffs: dict[str, str] = Field(default_factory=dict)
    holidays: dict[str, list[date]] = Field(default_factory=dict)
    zones: dict[str, str] = Field(default_factory=dict, description="currency -> IANA time zone of its day")
    status_timeout_s: float = Field(default=600.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone_name(value)

    @field_validator("zones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        return {currency: _zone_name(name) for currency, name in value.items()}

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("weekdays are ISO numbers 1 (Monday) to 7 (Sunday)")
        return value

    @field_validator("cutoffs")
    @classmethod
    def _cutoff_times(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for currency, at in value.items():
            if not re.match(HHMM, at):
                raise ValueError(f"cut-off {at!r} of {currency} must be HH:MM")
        return value

    @model_validator(mode="after")
    def _window(self) -> ChannelPolicy:
        if _clock(self.closes) <= _clock(self.opens):
            raise ValueError(f"closes {self.closes} must be after opens {self.opens}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def carries(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    def zone_of(self, currency: str) -> ZoneInfo:
        """Where a currency's settlement day and cut-off are counted."""
        return ZoneInfo(self.zones.get(currency, self.timezone))

    def business_date(self, now: datetime, currency: str | None = None) -> date:
        return now.astimezone(self.zone_of(currency) if currency else self.zone).date()

    def is_business_day(self, day: date, currency: str) -> bool:
        closed = set(self.holidays.get(ANY_CURRENCY, ())) | set(self.holidays.get(currency, ()))
        return day.isoweekday() in self.weekdays and day not in closed

    def opening(self, day: date) -> datetime:
        return _at(day, self.opens, self.zone)

    def closing(self, day: date) -> datetime:
        return _at(day, self.closes, self.zone)

    def is_open(self, now: datetime, currency: str) -> bool:
        today = self.business_date(now)
        return self.is_business_day(today, currency) and self.opening(today) <= now < self.closing(today)

    def next_open(self, now: datetime, currency: str) -> datetime:
        """The next moment the channel takes payments of `currency` (now, if it is open)."""
        if self.is_open(now, currency):
            return now
        day = self.business_date(now)
        for _ in range(SEARCH_DAYS):
            if self.is_business_day(day, currency) and self.opening(day) > now:
                return self.opening(day)
            day += timedelta(days=1)
        raise ValueError(f"no business day for {currency} within {SEARCH_DAYS} days: check the calendar")

    def cutoff(self, day: date, currency: str) -> datetime | None:
        at = self.cutoffs.get(currency) or self.cutoffs.get(ANY_CURRENCY)
        return _at(day, at, self.zone_of(currency)) if at else None


@dataclass(frozen=True)
class Verdict:
    """What to do with a payment now. `until`: when to look again (hold, closed)."""

    action: Literal["send", "hold", "closed", "refuse"]
    reason: str = ""
    until: datetime | None = None

    def as_json(self) -> dict[str, str]:
        out = {"action": self.action, "reason": self.reason}
        if self.until is not None:
            out["until"] = self.until.isoformat()
        return out


def judge(policy: ChannelPolicy, currency: str, settlement_date: date | None, now: datetime) -> Verdict:
    """The channel's answer for a payment of `currency` settling on `settlement_date` (None: a message
    that only needs the channel open, such as a status request or a cancellation)."""
    if not policy.carries(currency):
        return Verdict("refuse", f"the channel carries {', '.join(policy.currencies)}, not {currency}")
    today, zone = policy.business_date(now, currency), policy.zone_of(currency)
    if settlement_date is not None:
        if settlement_date > today:
            if not policy.is_business_day(settlement_date, currency):
                why = f"settlement date {settlement_date} is not a business day for {currency} on this channel"
                return Verdict("refuse", why)
            # Future-dated: released when the channel is open on its settlement date.
            release = policy.next_open(max(now, _at(settlement_date, "00:00", zone)), currency)
            return Verdict("hold", f"future-dated: settles on {settlement_date}", release)
        if settlement_date == today:
            cutoff = policy.cutoff(today, currency)
            if cutoff is not None and now >= cutoff:
                why = f"the {currency} cut-off {cutoff.strftime('%H:%M')} ({zone.key}) of {today} has passed"
                return Verdict("refuse", why)
    if not policy.is_open(now, currency):
        opens = policy.next_open(now, currency)
        if settlement_date == today and opens.astimezone(zone).date() != today:
            return Verdict("refuse", f"the channel does not open again on {today}, the settlement date")
        return Verdict("closed", f"closed until {opens.isoformat()}", opens)
    return Verdict("send")


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
    return value


def _clock(hhmm: str) -> tuple[int, int]:
    hours, minutes = hhmm.split(":")
    return int(hours), int(minutes)


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = _clock(hhmm)
    if hours == 24:  # the end of the day is the start of the next
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone)
    return datetime.combine(day, time(hours, minutes), zone)


def utc_now() -> datetime:
    return datetime.now(UTC)
