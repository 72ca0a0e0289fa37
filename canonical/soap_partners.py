"""Documentary credits (letters of credit) and export-credit insurance: what the hub asks of legacy SOAP
partners (a bank's letter-of-credit service, an export-credit insurer).

Field names are the hub's (snake_case); each field's alias is the element name of the partners' WSDLs
(adapters/soap/wsdl), so a SOAP codec maps a model to an operation's parameters and back by alias.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from canonical.money import CurrencyCode
from canonical.registry import message_type

Reference = Field(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9/\-?:().,'+ ]+$")


class SoapPayload(BaseModel):
    """Strict, camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        ser_json_bytes="base64",  # documents (a bill of lading PDF) are base64 in JSON, as in the WSDL
        val_json_bytes="base64",
    )


@message_type("trade.lc_issue")
class LcIssue(SoapPayload):
    """Issue a documentary credit; `bill_of_lading` optionally carries the document (sent as MTOM)."""

    lc_reference: str = Reference
    applicant: str = Field(min_length=1, max_length=140)
    beneficiary: str = Field(min_length=1, max_length=140)
    currency: CurrencyCode
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    expiry_date: date
    bill_of_lading: bytes | None = Field(default=None, max_length=2 * 1024 * 1024)


@message_type("trade.lc_amend")
class LcAmend(SoapPayload):
    lc_reference: str = Reference
    amendment_no: int = Field(ge=1, le=99)
    new_amount: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=2)
    new_expiry_date: date | None = None
    reason: str | None = Field(default=None, max_length=256)


@message_type("trade.lc_status_query")
class LcStatusQuery(SoapPayload):
    lc_reference: str = Reference


@message_type("insurance.policy_query")
class PolicyQuery(SoapPayload):
    policy_no: str = Reference


@message_type("insurance.limit_application")
class LimitApplication(SoapPayload):
    """Ask the insurer for a credit limit on one buyer under a policy."""

    policy_no: str = Reference
    buyer_name: str = Field(min_length=1, max_length=140)
    buyer_country: str = Field(pattern=r"^[A-Z]{2}$")
    currency: CurrencyCode
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
