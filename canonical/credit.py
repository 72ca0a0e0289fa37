"""Credit payloads: report requests to credit bureaus and the normalized credit report they return
(format-neutral; each bureau's wire schema lives in `canonical.bureaus`).

Scores are normalized to 0-1000 (higher is better) with the bureau's raw score and scale kept beside.
A query about a person needs the person's consent (PIPL art. 13-14; Credit Reporting Regulation art. 18),
so a person request without `consent_id` is refused. Identity of the subject is Sensitive.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from canonical.registry import message_type
from canonical.sensitive import Sensitive

PERSONAL = Sensitive()
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100)]

# GB 32100-2015: 31 characters (no I, O, Z, S, V) and the weights 3^(i) mod 31 of positions 1-17.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _broken(rule: str, detail: str) -> PydanticCustomError:
    return PydanticCustomError(rule, "{detail}", {"detail": detail})


def uscc_check_character(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015 §4.2 / annex B)."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    if len(value) != 18 or any(ch not in USCC_ALPHABET for ch in value):
        raise _broken("uscc_format", "a unified social credit code is 18 of 0-9 A-H J-N P-R T U W-Y")
    expected = uscc_check_character(value[:17])
    if value[17] != expected:
        raise _broken("uscc_check_character", f"check character is {value[17]}, GB 32100 gives {expected}")
    return value


UnifiedSocialCreditCode = Annotated[str, AfterValidator(check_uscc)]


class EntityKind(StrEnum):
    ENTERPRISE = "enterprise"
    PERSON = "person"


class ReportKind(StrEnum):
    BASIC_INFO = "basic_info"
    CREDIT_REPORT = "credit_report"
    COURT_SANCTION_ALERTS = "court_sanction_alerts"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@message_type("credit.report_request")
class CreditReportRequest(_Model):
    """Ask a bureau for a report. A Chinese enterprise is identified by its unified social credit code."""

    entity_id: Annotated[str, StringConstraints(min_length=1, max_length=64), PERSONAL]
    entity_kind: EntityKind
    entity_name: Annotated[Name | None, PERSONAL] = None
    country: Country
    report_kind: ReportKind
    consent_id: Reference | None = None  # the subject's recorded consent; required for a person
    purpose: Text | None = None

    @model_validator(mode="after")
    def _lawful(self) -> CreditReportRequest:
        if self.entity_kind is EntityKind.PERSON and self.consent_id is None:
            raise _broken("consent_required", "a credit query about a person needs the person's consent_id")
        if self.entity_kind is EntityKind.ENTERPRISE and self.country == "CN":
            check_uscc(self.entity_id)
        return self


class CreditEntity(_Model):
    """Who the report is about. The name is a person's name when kind is person, hence Sensitive."""

    kind: EntityKind = EntityKind.ENTERPRISE
    name: Annotated[Name, PERSONAL]
    registration_id: Annotated[str, StringConstraints(min_length=1, max_length=64), PERSONAL]
    country: Country

    @model_validator(mode="after")
    def _chinese_enterprise_uscc(self) -> CreditEntity:
        if self.kind is EntityKind.ENTERPRISE and self.country == "CN":
            check_uscc(self.registration_id)
        return self


RatingBand = Literal["excellent", "good", "fair", "weak", "poor"]
BAND_FLOORS: tuple[tuple[int, RatingBand], ...] = ((800, "excellent"), (650, "good"), (500, "fair"), (350, "weak"))


def band_for(score: int) -> RatingBand:
    """The hub's rating band of a normalized score (the same cut-offs for every bureau)."""
    return next((band for floor, band in BAND_FLOORS if score >= floor), "poor")


class CreditScore(_Model):
    """A normalized score (0-1000, higher is better) and what the bureau actually said."""

    value: int = Field(ge=0, le=1000)
    band: RatingBand
    raw_score: Annotated[str, StringConstraints(min_length=1, max_length=32)]  # "720", "BB"
    raw_scale: Annotated[str, StringConstraints(min_length=1, max_length=64)]  # "0-900", "AAA..D"
    bureau_rating: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    probability_of_default: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _band_matches(self) -> CreditScore:
        if self.band != band_for(self.value):
            raise _broken("band_mismatch", f"score {self.value} is band {band_for(self.value)}, not {self.band}")
        return self


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RiskItem(_Model):
    """An adverse fact the bureau found (administrative penalty, abnormal operation, tax arrears ...)."""

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    severity: Severity
    description: Text
    date: dt.date | None = None
    source: Name | None = None


class AlertKind(StrEnum):
    COURT_CASE = "court_case"
    ENFORCEMENT = "enforcement"
    SANCTION_LIST = "sanction_list"


class Alert(_Model):
    """A court case, an enforcement (执行) or a listing on a sanctions list."""

    kind: AlertKind
    reference: Reference
    date: dt.date | None = None
    status: Literal["open", "closed", "unknown"] = "unknown"
    source: Name | None = None  # court, or the list (e.g. "OFAC SDN")
    description: Text | None = None


@message_type("credit.report")
class CreditReport(_Model):
    """A bureau's report about one entity, normalized; valid until `valid_until`."""

    bureau: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    report_id: Reference | None = None
    entity: CreditEntity
    score: CreditScore | None = None  # basic_info and alert-only reports carry none
    risk_items: list[RiskItem] = Field(default_factory=list, max_length=1000)
    alerts: list[Alert] = Field(default_factory=list, max_length=1000)
    retrieved_at: AwareDatetime
    valid_until: AwareDatetime

    @model_validator(mode="after")
    def _validity(self) -> CreditReport:
        if self.valid_until <= self.retrieved_at:
            raise _broken("valid_until_before_retrieved", "valid_until must be after retrieved_at")
        return self

    @property
    def has_sanction(self) -> bool:
        return any(a.kind is AlertKind.SANCTION_LIST and a.status != "closed" for a in self.alerts)
