"""Cash management messages (format-neutral): notices to receive, reporting requests, charges and cheques.

What the ISO 20022 codecs for camt.057, camt.060, camt.105 / camt.106 and camt.107 / camt.108 / camt.109 parse
into, and what MT210, MT920, MT190 / MT290, MT191 / MT291 and MT110 / MT111 / MT112 translate to. The models
follow the ISO 20022 shape; the building blocks (Money, Account, Party, Agent ...) are those of payments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from canonical.money import CurrencyCode, Money, check_decimals
from canonical.payments import (
    Account,
    Agent,
    Bic,
    BusinessHeaderFields,
    CreditDebit,
    ExternalCode,
    Party,
    Reference,
    Text140,
    Uetr,
)
from canonical.registry import message_type

MessageName = Annotated[str, Field(pattern=r"^[a-z]{4}\.\d{3}\.\d{3}\.\d{2}$|^MT\d{3}$")]


def _broken(rule: str, detail: str) -> PydanticCustomError:
    # The error type is the rule name, so callers see e.g. `debtor_required` rather than `value_error`.
    return PydanticCustomError(rule, "{detail}", {"detail": detail})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- camt.057 notification to receive (MT210) ---------------------------------------------------------------


class ExpectedCredit(_Model):
    """One item of a notice to receive: the funds announced, who sends them and through whom."""

    item_id: Reference
    end_to_end_id: Reference | None = None
    uetr: Uetr | None = None
    amount: Money
    expected_value_date: date | None = None
    debtor: Party | None = None
    debtor_agent: Agent | None = None
    intermediary_agent: Agent | None = None


@message_type("payment.notice_to_receive")
class NoticeToReceive(BusinessHeaderFields):
    """A notification to receive (camt.057; MT210): the account to be credited and the expected credits."""

    notification_id: Reference
    account: Account | None = None
    expected_value_date: date | None = None
    items: list[ExpectedCredit] = Field(min_length=1)


# --- camt.060 account reporting request (MT920) ------------------------------------------------------------


class FloorLimitSide(StrEnum):
    """Which entries a floor limit applies to (FloorLimitType1Code)."""

    CRED = "CRED"
    DEBT = "DEBT"
    BOTH = "BOTH"


class FloorLimit(_Model):
    """Only entries above this amount are reported; zero is a real limit (report every entry)."""

    currency: CurrencyCode
    amount: Decimal = Field(ge=0, max_digits=18)
    side: FloorLimitSide = FloorLimitSide.BOTH

    @model_validator(mode="after")
    def _decimals(self) -> FloorLimit:
        try:
            check_decimals(self.amount, self.currency)
        except ValueError as exc:
            raise _broken("currency_decimals", str(exc)) from None
        return self


class RequestedTransactions(_Model):
    """ReqdTxTp: the status and side of the entries wanted, with their floor limits."""

    status: str = Field(pattern=r"^[A-Z0-9]{1,4}$")
    credit_debit: CreditDebit
    floor_limits: list[FloorLimit] = Field(default_factory=list)


class ReportingRequest(_Model):
    """One RptgReq: which report (by ISO message name) for which account; the owner is an agent or a party."""

    request_id: Reference | None = None
    requested_message: MessageName
    account: Account | None = None
    account_owner_agent: Agent | None = None
    account_owner_party: Party | None = None
    account_servicer: Bic | None = None
    transactions: RequestedTransactions | None = None
    balance_types: list[ExternalCode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_owner(self) -> ReportingRequest:
        if (self.account_owner_agent is None) == (self.account_owner_party is None):
            raise _broken("account_owner_required", "AcctOwnr is an agent or a party (exactly one)")
        return self


@message_type("payment.account_reporting_request")
class AccountReportingRequest(BusinessHeaderFields):
    """A request for statements or reports (camt.060; MT920)."""

    requests: list[ReportingRequest] = Field(min_length=1)


# --- camt.105 / camt.106 charges payment notification and request (MT190 / MT290, MT191 / MT291) -------------


class UnderlyingTransaction(_Model):
    """UndrlygTx: the references of the payment the charges are about."""

    message_id: Reference | None = None
    message_name: MessageName | None = None
    instruction_id: Reference | None = None
    end_to_end_id: Reference | None = None
    uetr: Uetr | None = None


class ChargesFields(BusinessHeaderFields):
    """What a single charges record (Chrgs/Sngl) carries in camt.105 and camt.106."""

    charges_id: Reference | None = None
    underlying: UnderlyingTransaction = Field(default_factory=UnderlyingTransaction)
    amount: Money
    credit_debit: CreditDebit | None = None
    value_date: date | None = None
    debtor_agent: Agent | None = None
    charge_type: ExternalCode | None = None
    instruction: Text140 | None = None  # InstrForInstdAgt/InstrInf
    additional_information: Text140 | None = None


@message_type("payment.charges_notification")
class ChargesPaymentNotification(ChargesFields):
    """Charges taken, e.g. debited from the charges account (camt.105; MT190 / MT290)."""

    charges_account: Account | None = None


@message_type("payment.charges_request")
class ChargesPaymentRequest(ChargesFields):
    """A request to pay charges to an account with an agent (camt.106; MT191 / MT291)."""

    charges_account_agent: Agent | None = None


# --- camt.107 / camt.108 / camt.109 cheques (MT110, MT111, MT112) -----------------------------------------


class ChequeFields(_Model):
    """What identifies a cheque in every cheque message: number, issue date, amount and the drawer's agent."""

    instruction_id: Reference | None = None
    cheque_number: Reference
    issue_date: date
    settlement_date: date | None = None
    amount: Money
    drawer_agent: Agent | None = None


class PresentedCheque(ChequeFields):
    """One cheque of a presentment notification: the payer may be named and the payee always is."""

    value_date: date | None = None
    payer: Party | None = None
    payee: Party


@message_type("payment.cheque_presentment")
class ChequePresentmentNotification(BusinessHeaderFields):
    """A cheque presentment notification (camt.107; MT110)."""

    cheques: list[PresentedCheque] = Field(min_length=1)


class _CodeOrText(_Model):
    """A code from an external list, or proprietary text, with additional information."""

    code: ExternalCode | None = None
    proprietary: Reference | None = None
    information: Text140 | None = None

    @model_validator(mode="after")
    def _one_of(self) -> _CodeOrText:
        if (self.code is None) == (self.proprietary is None):
            raise _broken("code_or_proprietary", "exactly one of the code and the proprietary text is required")
        return self


class StopReason(_CodeOrText):
    """ChqCxlOrStopRsn: why the cheque is to be cancelled or stopped."""


class StopStatus(_CodeOrText):
    """ChqCxlOrStopSts: what became of the cancellation or stop request."""


class StopChequeFields(ChequeFields):
    """A cheque as a cancellation or stop request and its report name it (the payee is optional there)."""

    original_instruction_id: Reference | None = None
    payee: Party | None = None


class ChequeToStop(StopChequeFields):
    """One cheque of a cancellation or stop request."""

    reason: StopReason | None = None


@message_type("payment.cheque_stop_request")
class ChequeStopRequest(BusinessHeaderFields):
    """A cheque cancellation or stop request (camt.108; MT111)."""

    cheques: list[ChequeToStop] = Field(min_length=1)


class StoppedCheque(StopChequeFields):
    """One cheque of a cancellation or stop report, with its status."""

    status: StopStatus


@message_type("payment.cheque_stop_report")
class ChequeStopReport(BusinessHeaderFields):
    """A cheque cancellation or stop report (camt.109; MT112)."""

    cheques: list[StoppedCheque] = Field(min_length=1)
