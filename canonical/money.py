"""Currencies (ISO 4217) and amounts with the decimals each currency allows."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# ISO 4217 active codes with their minor units (exponent); codes absent here are refused.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD "
        "CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD "
        "HKD HNL HTG HUF IDR ILS INR IRR KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT "
        "MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB "
        "SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH "
        "USD UYU UZS VES WST XCD YER ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    "CLF": 4,
    "UYW": 4,
}


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not an active ISO 4217 currency code")
    return code


CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]


def check_decimals(amount: Decimal, currency: str) -> None:
    """Raise ValueError if `amount` has more decimals than `currency` allows."""
    allowed = MINOR_UNITS.get(currency, 2)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > allowed:
        raise ValueError(f"{currency} allows at most {allowed} decimals, got {amount}")


class Money(BaseModel):
    """A positive amount in a currency, with no more decimals than the currency has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: CurrencyCode
    amount: Decimal = Field(gt=0, max_digits=18)

    @model_validator(mode="after")
    def _decimals(self) -> Money:
        check_decimals(self.amount, self.currency)
        return self


def amounts_in(value: object, path: str = "payload") -> Iterator[tuple[str, Money]]:
    """Every Money in a model (nested models and lists included), with its dotted path."""
    if isinstance(value, Money):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from amounts_in(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from amounts_in(item, f"{path}.{i}")
