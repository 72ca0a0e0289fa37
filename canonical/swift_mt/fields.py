"""Block 4 fields: SWIFT character sets, line limits, and typed values (amounts, dates, parties)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from canonical.errors import Violation
from canonical.money import MINOR_UNITS
from canonical.payments import BIC_RE

X_CHARS = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]*$")  # SWIFT "x" character set (CrLf separates lines)
Z_CHARS = re.compile(r"^[A-Za-z0-9/\-?:().,'+ =!\"%&*<>;{@#_]*$")  # SWIFT "z" set
_AMOUNT = re.compile(r"^\d[\d,]*$")
_UETR = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$")

# tag -> (max lines, max characters per line); party identifier lines ('/1!a/34x') may be 37 long.
LIMITS: dict[str, tuple[int, int]] = {
    "20": (1, 16),
    "21": (1, 16),
    "13C": (1, 18),
    "23B": (1, 4),
    "23E": (1, 35),
    "26T": (1, 3),
    "32A": (1, 24),
    "33B": (1, 18),
    "36": (1, 12),
    "50A": (2, 35),
    "50F": (5, 35),
    "50K": (5, 35),
    "51A": (2, 35),
    "52A": (2, 35),
    "52D": (5, 35),
    "53A": (2, 35),
    "53B": (2, 35),
    "53D": (5, 35),
    "54A": (2, 35),
    "54B": (2, 35),
    "54D": (5, 35),
    "55A": (2, 35),
    "55B": (2, 35),
    "55D": (5, 35),
    "56A": (2, 35),
    "56C": (1, 35),
    "56D": (5, 35),
    "57A": (2, 35),
    "57B": (2, 35),
    "57C": (1, 35),
    "57D": (5, 35),
    "58A": (2, 35),
    "58D": (5, 35),
    "59": (5, 35),
    "59A": (2, 35),
    "59F": (5, 35),
    "70": (4, 35),
    "71A": (1, 3),
    "71F": (1, 18),
    "71G": (1, 18),
    "72": (6, 35),
    "77B": (3, 35),
    "77T": (1, 9000),
    "79": (35, 50),
    # common group, statements and the other payment messages
    "11R": (3, 10),
    "11S": (3, 10),
    "12": (1, 3),
    "13D": (1, 15),
    "19": (1, 17),
    "21C": (1, 35),
    "21D": (1, 35),
    "21E": (1, 35),
    "21F": (1, 16),
    "21R": (1, 16),
    "25": (1, 35),
    "25A": (1, 35),
    "25P": (2, 35),
    "28": (1, 8),
    "28C": (1, 11),
    "28D": (1, 11),
    "30": (1, 6),
    "32B": (1, 18),
    "32C": (1, 24),
    "32D": (1, 24),
    "34F": (1, 19),
    "50C": (1, 11),
    "50G": (2, 35),
    "50H": (5, 35),
    "50L": (1, 35),
    "52B": (2, 35),
    "60F": (1, 25),
    "60M": (1, 25),
    "61": (2, 66),
    "62F": (1, 25),
    "62M": (1, 25),
    "64": (1, 25),
    "65": (1, 25),
    "71B": (6, 35),
    "75": (6, 35),
    "76": (6, 35),
    "77A": (20, 35),
    "86": (6, 65),
    "90C": (1, 23),
    "90D": (1, 23),
}
# Plain text fields with a fixed shape beyond their length: tag -> (pattern, rule).
TEXT_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "12": (re.compile(r"^\d{3}$"), "message_type_format"),
    "25A": (re.compile(r"^/.{1,34}$"), "account_format"),
    "26T": (re.compile(r"^[A-Z0-9]{3}$"), "transaction_type_format"),
    "28": (re.compile(r"^\d{1,5}(/\d{1,2})?$"), "statement_number_format"),
    "28C": (re.compile(r"^\d{1,5}(/\d{1,5})?$"), "statement_number_format"),
    "28D": (re.compile(r"^\d{1,5}/\d{1,5}$"), "message_index_format"),
}
CHARGES_CODES = frozenset({"OUR", "SHA", "BEN"})


def field_violations(tag: str, value: str) -> list[Violation]:
    """Character set and line/length limits of one field, with `loc` = `4:<tag>`."""
    loc = f"4:{tag}"
    out: list[Violation] = []
    lines = value.split("\n")
    charset = Z_CHARS if tag == "77T" else X_CHARS
    bad = sorted({ch for line in lines for ch in line if not charset.match(ch)})
    if bad:
        out.append(Violation(loc, "x_character_set", f"characters {''.join(bad)!r} are not in the SWIFT set"))
    limit = LIMITS.get(tag)
    if limit is not None:
        max_lines, width = limit
        if len(lines) > max_lines:
            out.append(Violation(loc, "too_many_lines", f"at most {max_lines} lines, got {len(lines)}"))
        for n, line in enumerate(lines, 1):
            allowed = width + 2 if n == 1 and line.startswith("/") and tag[:2] >= "50" else width
            if len(line) > allowed:
                out.append(Violation(loc, "line_too_long", f"line {n} has {len(line)} characters, max {allowed}"))
    if tag in ("20", "21") and (value.startswith("/") or value.endswith("/") or "//" in value):
        out.append(Violation(loc, "reference_slash", "no leading/trailing '/' and no '//'"))
    if any(line.startswith((":", "-")) for line in lines[1:]):
        out.append(Violation(loc, "line_start", "a continuation line must not start with ':' or '-'"))
    return out


class FieldError(ValueError):
    """A field value that breaks its format; carries the rule so callers can build a Violation."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def check_text_format(tag: str, value: str) -> None:
    """FieldError if a plain text field listed in TEXT_FORMATS does not have its shape."""
    shape = TEXT_FORMATS.get(tag)
    if shape is not None and not shape[0].match(value):
        raise FieldError(shape[1], f"{value!r} does not have the format of field {tag}")


def parse_decimal(text: str, max_length: int = 15) -> Decimal:
    """SWIFT `15d` / `17d` without a currency: digits with exactly one decimal comma, within the length."""
    if "." in text or text.count(",") != 1 or not _AMOUNT.match(text):
        raise FieldError("amount_decimal_comma", f"{text!r} needs digits and exactly one decimal comma")
    if len(text) > max_length:
        raise FieldError("amount_length", f"{text!r} is longer than {max_length} characters")
    whole, fraction = text.split(",")
    return Decimal(f"{whole}.{fraction or '0'}")


def check_decimals(amount_text: str, currency: str) -> None:
    """FieldError if an amount has more decimals than its currency allows (trailing zeros do not count)."""
    fraction = amount_text.partition(",")[2].rstrip("0")
    if currency in MINOR_UNITS and len(fraction) > MINOR_UNITS[currency]:
        raise FieldError("currency_decimals", f"{currency} allows {MINOR_UNITS[currency]} decimals, got {amount_text}")


def parse_amount(text: str, currency: str) -> Decimal:
    """SWIFT `15d`: digits with one mandatory decimal comma, no more decimals than the currency has."""
    parse_decimal(text)
    if currency not in MINOR_UNITS:
        raise FieldError("currency_code", f"{currency!r} is not an active ISO 4217 code")
    whole, fraction = text.split(",")
    fraction = fraction.rstrip("0")
    if len(fraction) > MINOR_UNITS[currency]:
        raise FieldError("currency_decimals", f"{currency} allows {MINOR_UNITS[currency]} decimals, got {text}")
    return Decimal(f"{whole}.{fraction or '0'}")


def format_amount(amount: Decimal) -> str:
    """Decimal to SWIFT `15d` (e.g. 1814.28 -> '1814,28', 3700 -> '3700,')."""
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole},{fraction}"


def parse_date6(text: str) -> date:
    """SWIFT `6!n` YYMMDD (years 2000-2099); FieldError `date_format` otherwise."""
    if not re.match(r"^\d{6}$", text):
        raise FieldError("date_format", f"{text!r} is not YYMMDD")
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise FieldError("date_format", f"{text!r} is not a valid YYMMDD date") from None


class CurrencyAmount(BaseModel):
    """33B / 71F / 71G: `3!a15d`; `text` keeps the original amount so rendering is exact."""

    model_config = ConfigDict(frozen=True)

    currency: str
    amount: Decimal
    text: str

    @classmethod
    def parse(cls, value: str) -> CurrencyAmount:
        currency, text = value[:3], value[3:]
        if not re.match(r"^[A-Z]{3}$", currency):
            raise FieldError("currency_code", f"{currency!r} is not a currency code")
        return cls(currency=currency, amount=parse_amount(text, currency), text=text)

    @classmethod
    def of(cls, currency: str, amount: Decimal) -> CurrencyAmount:
        return cls(currency=currency, amount=amount, text=format_amount(amount))

    def render(self) -> str:
        return f"{self.currency}{self.text}"


class ValueDateAmount(CurrencyAmount):
    """32A: `6!n3!a15d` value date, currency, settlement amount."""

    value_date: date

    @classmethod
    def parse(cls, value: str) -> ValueDateAmount:
        if not re.match(r"^\d{6}", value):
            raise FieldError("date_format", f"{value[:6]!r} is not YYMMDD")
        base = CurrencyAmount.parse(value[6:])
        return cls(value_date=parse_date6(value[:6]), currency=base.currency, amount=base.amount, text=base.text)

    @classmethod
    def dated(cls, value_date: date, currency: str, amount: Decimal) -> ValueDateAmount:
        return cls(value_date=value_date, currency=currency, amount=amount, text=format_amount(amount))

    def render(self) -> str:
        return self.value_date.strftime("%y%m%d") + super().render()


class PartyField(BaseModel):
    """A party, institution or account field (25a, 50a ... 59a): option letter, identifier, BIC or lines."""

    model_config = ConfigDict(frozen=True)

    option: str = ""  # "", A, B, C, D, F, G, H, K, L, P
    identifier: str | None = None  # '/account' or '/C/...', (50F/59F) the first line, (25P) the account
    bic: str | None = None  # options A, G, P and 50C
    lines: list[str] = []  # name and address (options D, F, K, none) or location (B)

    @classmethod
    def parse(cls, tag: str, value: str) -> PartyField:
        option = tag[2:]
        lines = value.split("\n")
        identifier = None
        if option in ("F", "P") or (lines[0].startswith("/") and (len(lines) > 1 or option in ("B", "C"))):
            identifier = lines.pop(0)
        # A, G (50G), P (25P) and 50C carry a BIC where the other options carry names or an account.
        if option in ("A", "G", "P") or tag == "50C":
            if len(lines) != 1 or not BIC_RE.match(lines[0]):
                raise FieldError("bic_pattern", f"{' '.join(lines)!r} is not one ISO 9362 BIC")
            return cls(option=option, identifier=identifier, bic=lines[0])
        return cls(option=option, identifier=identifier, lines=lines)

    def render(self) -> str:
        lines = ([self.identifier] if self.identifier is not None else []) + ([self.bic] if self.bic else self.lines)
        return "\n".join(lines)


def check_uetr(value: str) -> None:
    if not _UETR.match(value):
        raise FieldError("uetr_format", f"{value!r} is not a lower-case UUIDv4")
