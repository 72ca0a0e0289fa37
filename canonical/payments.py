"""Payment messages (format-neutral): what ISO 20022 pacs/camt and SWIFT MT codecs parse into.

The models enforce the CBPR+ rules that matter to every channel: BIC (ISO 9362), IBAN check digits
(ISO 13616), ISO 4217 currencies with their decimals, UUIDv4 UETRs and the CBPR+ character set and
lengths of names and address lines. Names and accounts are declared Sensitive.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from canonical.money import CurrencyCode, Money, check_decimals
from canonical.registry import message_type
from canonical.sensitive import Sensitive

BIC_RE = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$")
UETR_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$")
# CBPR+ "RestrictedFINX" character set (CBPR_RestrictedFINXMax*Text_Extended).
CBPR_TEXT_RE = re.compile(r"^[0-9a-zA-Z/\-?:().,'+ !#$%&*=^_`{|}~\";<>@\[\\\]]*$")
NAME_MAX = 140
ADDRESS_LINE_MAX = 35  # CBPR+ restricts AdrLine to 3 x 35 (the XSD allows 7 x 70) to stay MT-translatable
ADDRESS_LINES_MAX = 3


def _broken(rule: str, detail: str) -> PydanticCustomError:
    # The error type is the rule name, so callers see e.g. `bic_pattern` rather than `value_error`.
    return PydanticCustomError(rule, "{detail}", {"detail": detail})


def check_bic(value: str) -> str:
    if not BIC_RE.match(value):
        raise _broken("bic_pattern", f"{value!r} is not an ISO 9362 BIC (8 or 11 characters)")
    return value


def iban_is_valid(value: str) -> bool:
    """ISO 13616: the check digits make the rearranged number congruent to 1 mod 97."""
    if not IBAN_RE.match(value):
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def check_iban(value: str) -> str:
    if not IBAN_RE.match(value):
        raise _broken("iban_format", f"{value!r} is not shaped like an IBAN")
    if not iban_is_valid(value):
        raise _broken("iban_check_digits", f"the check digits of {value!r} are wrong")
    return value


def check_uetr(value: str) -> str:
    if not UETR_RE.match(value):
        raise _broken("uetr_format", f"{value!r} is not a lower-case UUIDv4")
    return value


def check_cbpr_text(value: str) -> str:
    if not CBPR_TEXT_RE.match(value):
        bad = sorted({ch for ch in value if not CBPR_TEXT_RE.match(ch)})
        raise _broken("cbpr_character_set", f"characters {''.join(bad)!r} are outside the CBPR+ set")
    return value


Bic = Annotated[str, AfterValidator(check_bic)]
Iban = Annotated[str, AfterValidator(check_iban)]
Uetr = Annotated[str, AfterValidator(check_uetr)]
Reference = Annotated[str, Field(min_length=1, max_length=35), AfterValidator(check_cbpr_text)]
PartyName = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(check_cbpr_text)]
AddressLine = Annotated[str, Field(min_length=1, max_length=ADDRESS_LINE_MAX), AfterValidator(check_cbpr_text)]
Text140 = Annotated[str, Field(min_length=1, max_length=140), AfterValidator(check_cbpr_text)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
ExternalCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,4}$")]


class ChargeBearer(StrEnum):
    DEBT = "DEBT"  # MT 71A OUR
    CRED = "CRED"  # MT 71A BEN
    SHAR = "SHAR"  # MT 71A SHA
    SLEV = "SLEV"  # no MT equivalent


class SettlementMethod(StrEnum):
    INDA = "INDA"
    INGA = "INGA"
    COVE = "COVE"
    CLRG = "CLRG"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Model):
    """An account: an IBAN, or another identifier (e.g. a domestic account number)."""

    iban: Annotated[Iban | None, Sensitive("account")] = None
    other: Annotated[str | None, Sensitive("account")] = Field(default=None, min_length=1, max_length=34)

    @model_validator(mode="after")
    def _one_identifier(self) -> Account:
        if (self.iban is None) == (self.other is None):
            raise _broken("account_identification", "exactly one of iban / other is required")
        return self

    @property
    def identifier(self) -> str:
        return self.iban or self.other or ""


class PostalAddress(_Model):
    street: str | None = Field(default=None, max_length=70)
    building_number: str | None = Field(default=None, max_length=16)
    post_code: str | None = Field(default=None, max_length=16)
    town: str | None = Field(default=None, max_length=35)
    country: Country | None = None
    lines: list[AddressLine] = Field(default_factory=list, max_length=ADDRESS_LINES_MAX)


class Party(_Model):
    """A debtor or creditor (a person or a company)."""

    name: Annotated[PartyName | None, Sensitive()] = None
    address: PostalAddress | None = None
    account: Account | None = None
    bic: Bic | None = None  # organisation identified by a BIC (Id/OrgId/AnyBIC)


class Agent(_Model):
    """A financial institution: by BIC, or (MT option D) by name and address."""

    bic: Bic | None = None
    name: PartyName | None = None
    address: PostalAddress | None = None

    @model_validator(mode="after")
    def _identified(self) -> Agent:
        if self.bic is None and self.name is None:
            raise _broken("agent_identification", "an agent needs a BIC or a name")
        return self


class Charge(_Model):
    amount: Money
    agent: Bic


class BusinessHeaderFields(_Model):
    """Fields every pacs/camt message carries in its group header."""

    message_id: Reference
    created_at: datetime | None = None  # None: the renderer stamps the time of rendering


class InterbankPayment(BusinessHeaderFields):
    """What a customer payment between agents (pacs.003, pacs.008, pacs.009) carries first: its ids and its
    interbank settlement."""

    uetr: Uetr
    instruction_id: Reference | None = None
    end_to_end_id: Reference
    settlement_amount: Money
    settlement_date: date
    settlement_method: SettlementMethod = SettlementMethod.INDA


class InterbankTransfer(InterbankPayment):
    """What every interbank credit transfer (pacs.008, pacs.009) carries: ids, settlement, agents."""

    instructing_agent: Bic | None = None
    instructed_agent: Bic | None = None
    instructing_reimbursement_agent: Bic | None = None
    instructed_reimbursement_agent: Bic | None = None


@message_type("payment.credit_transfer")
class CreditTransfer(InterbankTransfer):
    """A customer credit transfer (pacs.008 / MT103)."""

    transaction_id: Reference | None = None
    instructed_amount: Money | None = None
    exchange_rate: Decimal | None = Field(default=None, gt=0, max_digits=11, decimal_places=10)
    charge_bearer: ChargeBearer
    charges: list[Charge] = Field(default_factory=list)
    intermediary_agent: Agent | None = None
    debtor: Party
    debtor_agent: Agent
    creditor_agent: Agent
    creditor: Party
    instructions_for_creditor_agent: list[Text140] = Field(default_factory=list)
    instructions_for_next_agent: list[Text140] = Field(default_factory=list)
    remittance_information: list[Text140] = Field(default_factory=list, max_length=1)  # CBPR+: one Ustrd


class UnderlyingCustomerTransfer(_Model):
    """The customer transfer a cover payment (pacs.009 COV / MT202COV) settles."""

    debtor: Party
    debtor_agent: Agent
    intermediary_agent: Agent | None = None
    creditor_agent: Agent
    creditor: Party
    remittance_information: list[Text140] = Field(default_factory=list, max_length=1)
    instructed_amount: Money | None = None


@message_type("payment.fi_transfer")
class FiTransfer(InterbankTransfer):
    """A financial institution credit transfer (pacs.009 / MT202, cover variant MT202COV)."""

    intermediary_agent: Bic | None = None
    debtor: Bic
    debtor_agent: Bic | None = None
    creditor_agent: Bic | None = None
    creditor: Bic
    creditor_account: Account | None = None
    instructions_for_next_agent: list[Text140] = Field(default_factory=list)
    cover: bool = False
    underlying: UnderlyingCustomerTransfer | None = None

    @model_validator(mode="after")
    def _cover_has_underlying(self) -> FiTransfer:
        if self.cover != (self.underlying is not None):
            raise _broken("cover_underlying", "a cover transfer carries its underlying transfer, others do not")
        return self


class OriginalReference(_Model):
    """Identifies the payment a status, return or cancellation is about."""

    message_id: Reference
    message_type: str = Field(pattern=r"^[a-z]{4}\.\d{3}\.\d{3}\.\d{2}$|^MT\d{3}$")
    instruction_id: Reference | None = None
    end_to_end_id: Reference | None = None
    uetr: Uetr | None = None


class TransactionStatus(StrEnum):
    ACTC = "ACTC"
    ACCP = "ACCP"
    ACSP = "ACSP"
    ACSC = "ACSC"
    ACCC = "ACCC"
    ACWC = "ACWC"
    PDNG = "PDNG"
    RJCT = "RJCT"


@message_type("payment.status_report")
class StatusReport(BusinessHeaderFields):
    """A payment status report (pacs.002; MT199/MT299 reject or status)."""

    original: OriginalReference
    status: TransactionStatus
    reason_code: ExternalCode | None = None
    additional_information: list[Annotated[str, Field(max_length=105)]] = Field(default_factory=list)
    instructing_agent: Bic | None = None
    instructed_agent: Bic | None = None


@message_type("payment.return")
class PaymentReturn(BusinessHeaderFields):
    """A payment return (pacs.004; MT103/MT202 with RETN)."""

    return_id: Reference | None = None
    original: OriginalReference
    returned_amount: Money
    settlement_date: date | None = None
    settlement_method: SettlementMethod = SettlementMethod.INDA
    charge_bearer: ChargeBearer | None = None
    instructing_agent: Bic | None = None
    instructed_agent: Bic | None = None
    return_debtor: Party | None = None  # the party in the return chain the funds come from
    return_creditor: Party | None = None
    reason_code: ExternalCode
    reason_originator: Party | None = None
    original_settlement_amount: Money | None = None
    original_settlement_date: date | None = None
    original_debtor: Party | None = None
    original_creditor: Party | None = None


class CreditDebit(StrEnum):
    CRDT = "CRDT"
    DBIT = "DBIT"


@message_type("payment.account_notification")
class AccountNotification(BusinessHeaderFields):
    """A single-entry debit/credit notification (camt.054; MT900/MT910)."""

    notification_id: Reference
    account: Account
    account_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    entry_reference: Reference | None = None
    amount: Money
    credit_debit: CreditDebit
    entry_status: str = Field(default="BOOK", pattern=r"^[A-Z]{4}$")
    bank_transaction_code: tuple[str, str, str] | None = None  # domain, family, sub-family
    instruction_id: Reference | None = None
    end_to_end_id: Reference | None = None
    uetr: Uetr | None = None
    settlement_date: date | None = None
    # What an MT900 / MT910 adds: 32A value date, 13D booking time, 25P owner, 50a / 52a / 56a and 72.
    value_date: date | None = None
    booked_at: datetime | None = None
    account_owner: Bic | None = None
    account_servicer: Bic | None = None
    debtor: Party | None = None
    debtor_agent: Agent | None = None
    intermediary_agent: Agent | None = None
    additional_information: str | None = Field(default=None, min_length=1, max_length=500)


def _require_uetr(original: OriginalReference) -> None:
    # CBPR+ makes the original UETR mandatory in every enquiry and investigation about a payment.
    if original.uetr is None:
        raise _broken("uetr_required", "CBPR+ requires the UETR of the original payment")


@message_type("payment.status_request")
class StatusRequest(BusinessHeaderFields):
    """A request for the status of an earlier payment (pacs.028; gpi status enquiry).

    `original.uetr` is always set (CBPR+ makes it mandatory); both agents are BICs."""

    status_request_id: Reference | None = None
    original: OriginalReference
    instructing_agent: Bic
    instructed_agent: Bic
    original_settlement_amount: Money | None = None
    original_settlement_date: date | None = None

    @model_validator(mode="after")
    def _has_uetr(self) -> StatusRequest:
        _require_uetr(self.original)
        return self


class InvestigationFields(_Model):
    """What a camt.056 / camt.029 case carries: the assignment (who asks whom) and the case."""

    assignment_id: Reference
    assigner: Bic
    assignee: Bic
    created_at: datetime | None = None  # None: the renderer stamps the time of rendering
    case_id: Reference
    case_creator: Bic


@message_type("payment.cancellation_request")
class CancellationRequest(InvestigationFields):
    """A request to cancel an earlier payment (camt.056; MT192/MT292), one transaction (CBPR+).

    `original.uetr` is always set; `reason_code` is an ExternalCancellationReason1Code (DUPL, FRAD,
    CUST, AGNT, ...); `original_settlement_amount` is mandatory, as CBPR+ has it."""

    cancellation_id: Reference | None = None
    original: OriginalReference
    original_settlement_amount: Money
    original_settlement_date: date | None = None
    reason_code: ExternalCode
    additional_information: list[Annotated[str, Field(min_length=1, max_length=105)]] = Field(
        default_factory=list, max_length=2
    )

    @model_validator(mode="after")
    def _has_uetr(self) -> CancellationRequest:
        _require_uetr(self.original)
        return self


class ResolutionStatus(StrEnum):
    """camt.029 Sts/Conf for a cancellation: done, refused, or still pending."""

    CNCL = "CNCL"  # cancelled as requested
    RJCR = "RJCR"  # cancellation request rejected
    PDCR = "PDCR"  # pending: decision not taken yet


@message_type("payment.cancellation_resolution")
class CancellationResolution(InvestigationFields):
    """The answer to a cancellation request (camt.029; MT196/MT296), one transaction (CBPR+).

    `original.uetr` is always set; a refusal (RJCR) always carries `reason_code`
    (an ExternalPaymentCancellationRejection1Code, e.g. LEGL, CUST, AC04, NOAS)."""

    status: ResolutionStatus
    cancellation_status_id: Reference | None = None
    original: OriginalReference
    reason_code: ExternalCode | None = None
    additional_information: list[Annotated[str, Field(min_length=1, max_length=105)]] = Field(
        default_factory=list, max_length=2
    )
    original_settlement_amount: Money | None = None
    original_settlement_date: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CancellationResolution:
        _require_uetr(self.original)
        if self.status is ResolutionStatus.RJCR and self.reason_code is None:
            raise _broken("cbpr_rejection_reason", "a rejected cancellation carries its reason code")
        return self


class Balance(_Model):
    """One balance of a statement or report: type code (OPBD, CLBD, ITBD, CLAV ...), amount >= 0 with
    its side, and date. An amount of zero is a real balance, hence not Money (which is positive)."""

    type: ExternalCode
    currency: CurrencyCode
    amount: Decimal = Field(ge=0, max_digits=18)
    credit_debit: CreditDebit
    as_of: date

    @model_validator(mode="after")
    def _decimals(self) -> Balance:
        try:
            check_decimals(self.amount, self.currency)
        except ValueError as exc:
            raise _broken("currency_decimals", str(exc)) from None
        return self


class StatementEntry(_Model):
    """One booked (or pending / information) entry, with the references reconciliation matches on."""

    entry_reference: Reference | None = None
    amount: Money
    credit_debit: CreditDebit
    status: str = Field(default="BOOK", pattern=r"^[A-Z]{4}$")  # BOOK, PDNG or INFO
    booking_date: date | None = None
    value_date: date | None = None
    account_servicer_reference: Reference | None = None
    bank_transaction_code: tuple[str, str, str] | None = None  # domain, family, sub-family
    instruction_id: Reference | None = None
    end_to_end_id: Reference | None = None
    uetr: Uetr | None = None
    transaction_id: Reference | None = None


class EntryTotals(_Model):
    """The number of debit (or credit) entries of a report and their sum, in the account currency."""

    count: int = Field(ge=0)
    total: Decimal = Field(ge=0, max_digits=18)


class AccountReportFields(BusinessHeaderFields):
    """What camt.052 and camt.053 share: one account, its balances and its entries (in order)."""

    report_id: Reference
    sequence_number: int | None = Field(default=None, ge=0)
    # FrToDt: the period covered; reconciliation needs it to tell which payments a statement must show.
    period_from: datetime | None = None
    period_to: datetime | None = None
    account: Account
    account_currency: CurrencyCode
    account_owner: Annotated[PartyName | None, Sensitive()] = None
    account_servicer: Bic | None = None
    balances: list[Balance] = Field(default_factory=list)
    entries: list[StatementEntry] = Field(default_factory=list)

    def balance(self, *types: str) -> Balance | None:
        """The first balance whose type is one of `types` (e.g. "OPBD", "PRCD"), or None."""
        return next((b for b in self.balances if b.type in types), None)


@message_type("payment.account_report")
class AccountReport(AccountReportFields):
    """An intraday account report (camt.052; MT941/MT942): balances are optional."""

    original_request_id: Reference | None = None  # the request (MT920 / camt.060) this report answers
    reported_at: datetime | None = None
    debit_entries: EntryTotals | None = None
    credit_entries: EntryTotals | None = None
    additional_information: str | None = Field(default=None, min_length=1, max_length=500)


@message_type("payment.account_statement")
class AccountStatement(AccountReportFields):
    """An account statement (camt.053; MT940/MT950): always an opening booked balance (OPBD, or PRCD
    when carried over) and a closing booked balance (CLBD)."""

    @model_validator(mode="after")
    def _booked_balances(self) -> AccountStatement:
        if self.balance("OPBD", "PRCD") is None or self.balance("CLBD") is None:
            raise _broken("statement_balances", "a statement carries opening (OPBD/PRCD) and closing (CLBD) balances")
        return self


class InitiatingParty(_Model):
    """Who initiates a customer payment or collection (pain.001 / pacs.003 InitgPty; MT 50C / 50L, or the
    ordering customer itself): a name, a BIC and / or another identifier."""

    name: Annotated[PartyName | None, Sensitive()] = None
    bic: Bic | None = None
    identifier: Annotated[str | None, Sensitive()] = Field(default=None, min_length=1, max_length=35)

    @model_validator(mode="after")
    def _identified(self) -> InitiatingParty:
        if self.name is None and self.bic is None and self.identifier is None:
            raise _broken("initiating_party_identification", "a name, a BIC or an identifier is required")
        return self


class InstructionPriority(StrEnum):
    HIGH = "HIGH"  # MT 23E URGP
    NORM = "NORM"


class CreditorAgentInstruction(StrEnum):
    """pain.001 InstrForCdtrAgt/Cd: what the creditor's bank is asked to do."""

    CHQB = "CHQB"  # pay the creditor by cheque (MT101 23E CHQB)
    HOLD = "HOLD"
    PHOB = "PHOB"  # call the creditor by phone (MT101 23E PHON)
    TELB = "TELB"


def _one_amount(instructed: Money | None, equivalent: Money | None, transfer_currency: str | None) -> None:
    if (instructed is None) == (equivalent is None):
        raise _broken("amount_choice", "exactly one of the instructed amount / the equivalent amount is required")
    if (equivalent is None) != (transfer_currency is None):
        raise _broken("transfer_currency", "an equivalent amount goes with the currency of transfer, and only then")


@message_type("payment.initiation")
class PaymentInitiation(BusinessHeaderFields):
    """A customer credit transfer initiation (pain.001; MT101): one payment information block holding one
    transaction, as CBPR+ has it.

    The amount is either `instructed_amount` or `equivalent_amount` (to be converted into
    `transfer_currency`), never both. The debtor always has an account (pain.001 DbtrAcct is mandatory)."""

    authorisation: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    initiating_party: InitiatingParty
    payment_information_id: Reference
    requested_execution_date: date
    debtor: Party
    debtor_agent: Agent
    charges_account: Account | None = None
    instruction_id: Reference | None = None
    end_to_end_id: Reference
    uetr: Uetr | None = None
    priority: InstructionPriority | None = None
    category_purpose: ExternalCode | None = None
    instructed_amount: Money | None = None
    equivalent_amount: Money | None = None
    transfer_currency: CurrencyCode | None = None
    exchange_rate: Decimal | None = Field(default=None, gt=0, max_digits=11, decimal_places=10)
    fx_contract_id: Reference | None = None
    charge_bearer: ChargeBearer | None = None
    intermediary_agent: Agent | None = None
    creditor_agent: Agent | None = None
    creditor: Party
    creditor_agent_instructions: list[CreditorAgentInstruction] = Field(default_factory=list)
    instructions_for_debtor_agent: Text140 | None = None
    remittance_information: list[Text140] = Field(default_factory=list, max_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PaymentInitiation:
        if self.debtor.account is None:
            raise _broken("debtor_account_required", "pain.001 always names the account to debit (DbtrAcct)")
        _one_amount(self.instructed_amount, self.equivalent_amount, self.transfer_currency)
        return self


@message_type("payment.direct_debit")
class DirectDebit(InterbankPayment):
    """A customer direct debit between agents (pacs.003; MT107), one transaction (CBPR+).

    `uetr` is always set; the debtor always has an account (pacs.003 DbtrAcct is mandatory); the
    settlement method is INDA, INGA or CLRG (pacs.003 has no cover method)."""

    instructed_amount: Money | None = None
    exchange_rate: Decimal | None = Field(default=None, gt=0, max_digits=11, decimal_places=10)
    charge_bearer: ChargeBearer
    requested_collection_date: date | None = None
    mandate_id: Reference | None = None
    creditor: Party
    creditor_agent: Agent
    initiating_party: InitiatingParty | None = None
    instructing_agent: Bic | None = None
    instructed_agent: Bic | None = None
    debtor: Party
    debtor_agent: Agent
    remittance_information: list[Text140] = Field(default_factory=list, max_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DirectDebit:
        if self.settlement_method is SettlementMethod.COVE:
            raise _broken("settlement_method", "a direct debit settles INDA, INGA or CLRG, never COVE")
        if self.debtor.account is None:
            raise _broken("debtor_account_required", "pacs.003 always names the account to debit (DbtrAcct)")
        return self


Text210 = Annotated[str, Field(min_length=1, max_length=210), AfterValidator(check_cbpr_text)]


@message_type("payment.fi_direct_debit")
class FiDirectDebit(BusinessHeaderFields):
    """A financial institution direct debit (pacs.010; MT204): one credit instruction holding one debit (CBPR+).

    `uetr` is always set; creditor and debtor are financial institutions."""

    credit_id: Reference
    uetr: Uetr
    instruction_id: Reference | None = None
    end_to_end_id: Reference
    settlement_amount: Money
    settlement_date: date
    instructing_agent: Bic | None = None
    instructed_agent: Bic | None = None
    creditor_agent: Agent | None = None
    creditor: Agent
    creditor_account: Account | None = None
    debtor: Agent
    debtor_account: Account | None = None
    instructions_for_debtor_agent: Text210 | None = None
