"""Trade documents exchanged between platforms and financiers (generic, format-neutral)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from canonical.money import Money
from canonical.registry import message_type
from canonical.sensitive import Sensitive


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=140)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    registration_id: Annotated[str | None, Sensitive("company")] = Field(default=None, max_length=64)
    contact_email: Annotated[str | None, Sensitive()] = Field(default=None, max_length=254)


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=256)
    quantity: int = Field(gt=0)
    hs_code: str | None = Field(default=None, pattern=r"^\d{6,10}$")


@message_type("trade.invoice")
class Invoice(BaseModel):
    """A commercial invoice notified to a financier (receivables finance, factoring)."""

    model_config = ConfigDict(extra="forbid")

    invoice_no: str = Field(min_length=1, max_length=35)
    issue_date: date
    due_date: date
    seller: Party
    buyer: Party
    total: Money
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=1000)
