"""Putting bureau scores on the hub's 0-1000 scale (higher is better); shared by every bureau schema."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from canonical.credit import CreditScore, band_for

# The long-term letter ladder (S&P / Fitch notches, as most international bureaus publish them).
LETTER_GRADES: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-",
    "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-", "B+", "B", "B-",
    "CCC+", "CCC", "CCC-", "CC", "C", "D",
)  # fmt: skip


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def linear_score(raw: float, low: float, high: float, *, rating: str | None = None) -> CreditScore:
    """A score on [low, high] mapped linearly onto 0-1000; the caller checks low < high and the range."""
    fraction = (Decimal(str(raw)) - Decimal(str(low))) / (Decimal(str(high)) - Decimal(str(low)))
    value = _round(fraction * 1000)
    return CreditScore(
        value=value,
        band=band_for(value),
        raw_score=_plain(raw),
        raw_scale=f"{_plain(low)}-{_plain(high)}",
        bureau_rating=rating,
    )


def grade_score(grade: str, *, probability_of_default: float | None = None) -> CreditScore:
    """A letter grade mapped by its notch: AAA is 1000, D is 0, equal steps between."""
    notch = LETTER_GRADES.index(grade)
    value = _round(Decimal(1000) * (len(LETTER_GRADES) - 1 - notch) / (len(LETTER_GRADES) - 1))
    return CreditScore(
        value=value,
        band=band_for(value),
        raw_score=grade,
        raw_scale="AAA..D",
        bureau_rating=grade,
        probability_of_default=probability_of_default,
    )


def _plain(number: float) -> str:
    return format(Decimal(str(number)).normalize(), "f")
