"""Digital-currency (CBDC bridge) messages: what institutions send and what the bridge answers.

`dc.demand` is a multilateral payment demand (published on the bridge, quoted by liquidity providers,
accepted, settled payment-versus-payment when the currencies differ); `dc.transfer` a bilateral
transfer in one currency, optionally through a correspondent. The bridge's answers are `dc.quote`,
`dc.acceptance`, `dc.settlement` and `dc.record` (the settlement with its inclusion proof).

Amounts are Decimals with at most the currency's minor units; participants are the bridge's
participant ids (`BANK-CN-A`, `PBOC`), not BICs. Which currencies the bridge carries is the bridge's
decision (it refuses others with `unsupported_currency`), so the models accept any ISO 4217 code.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from canonical.money import CurrencyCode, check_decimals
from canonical.registry import message_type

PARTICIPANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_PRINTABLE_RE = re.compile(r"^[^\x00-\x1f\x7f]*$")
HASH_RE = r"^[0-9a-f]{64}$"
MAX_AMOUNT = Decimal("1000000000000")  # the bridge's ceiling per payment


def _participant(value: str) -> str:
    if not PARTICIPANT_RE.match(value):
        raise PydanticCustomError("participant_id", "{value!r} is not a bridge participant id", {"value": value[:70]})
    return value


def _printable(value: str) -> str:
    if not _PRINTABLE_RE.match(value):
        raise PydanticCustomError("printable_text", "control characters are not allowed")
    return value


ParticipantId = Annotated[str, AfterValidator(_participant)]
BridgeId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_participant)]
Text140 = Annotated[str, Field(min_length=1, max_length=140), AfterValidator(_printable)]
Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, max_digits=18)]
Hash = Annotated[str, Field(pattern=HASH_RE)]


def _check_amount(amount: Decimal, currency: str | None) -> Decimal:
    if currency is None:  # the currency itself failed: that error names it
        return amount
    try:
        check_decimals(amount, currency)
    except ValueError as exc:
        raise PydanticCustomError("currency_decimals", "{detail}", {"detail": str(exc)}) from None
    return amount


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@message_type("dc.demand")
class PaymentDemand(_Strict):
    """A payment demand for the multilateral bridge: `originator` pays `amount` of `source_currency`;
    `beneficiary` receives `target_currency` (the same currency when absent: no FX, no quote)."""

    demand_id: BridgeId | None = Field(default=None, description="idempotency on the bridge; default: the message id")
    originator: ParticipantId = Field(description="the paying participant bank")
    beneficiary: ParticipantId = Field(description="the receiving participant bank")
    source_currency: CurrencyCode
    amount: Amount  # after its currency, so that its decimals are checked against it
    target_currency: CurrencyCode | None = None
    purpose: Text140
    trade_reference: Text140 | None = None
    valid_for_s: int | None = Field(default=None, ge=1, le=30 * 86400, description="demand expiry on the bridge")

    @field_validator("amount")
    @classmethod
    def _decimals(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        return _check_amount(amount, info.data.get("source_currency"))

    @model_validator(mode="after")
    def _consistent(self) -> PaymentDemand:
        if self.originator == self.beneficiary:
            raise PydanticCustomError("same_participant", "the originator and the beneficiary are the same")
        return self

    @property
    def to_currency(self) -> str:
        return self.target_currency or self.source_currency


@message_type("dc.transfer")
class BilateralTransfer(_Strict):
    """A direct transfer between two participants' wallets in one currency (e-CNY bilateral mode),
    through `correspondent` when given (two hops: payer -> correspondent -> payee)."""

    transfer_id: BridgeId | None = Field(default=None, description="idempotency on the bridge; default: the message id")
    payer: ParticipantId
    payee: ParticipantId
    currency: CurrencyCode
    amount: Amount  # after its currency, so that its decimals are checked against it
    correspondent: ParticipantId | None = None

    @field_validator("amount")
    @classmethod
    def _decimals(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        return _check_amount(amount, info.data.get("currency"))

    @model_validator(mode="after")
    def _consistent(self) -> BilateralTransfer:
        if self.payer == self.payee or self.correspondent in (self.payer, self.payee):
            raise PydanticCustomError("same_participant", "payer, payee and correspondent must all differ")
        return self


@message_type("dc.quote")
class Quote(_Strict):
    """A liquidity provider's FX offer on a demand: `rate` units of target currency per source unit."""

    demand_id: BridgeId
    quote_id: BridgeId
    bank: ParticipantId
    rate: Decimal = Field(gt=0, le=1_000_000)
    expires_at: datetime
    expired: bool = False


@message_type("dc.acceptance")
class Acceptance(_Strict):
    """The originator's acceptance of one quote (none for a single-currency demand)."""

    demand_id: BridgeId
    quote_id: BridgeId | None = None
    accepted_at: datetime


class Leg(_Strict):
    payer: ParticipantId
    payee: ParticipantId
    currency: CurrencyCode
    amount: Amount


@message_type("dc.settlement")
class Settlement(_Strict):
    """A settled bridge transaction: every leg settled atomically (both legs of a PvP or neither)."""

    tx_id: BridgeId
    kind: Literal["pvp", "p2p", "transfer"]
    legs: list[Leg] = Field(min_length=1, max_length=4)
    settled_at: datetime
    rate: Decimal | None = None
    liquidity_provider: ParticipantId | None = None
    demand_id: BridgeId | None = None
    transfer_id: BridgeId | None = None


class Proof(_Strict):
    """Inclusion of a transaction in the bridge's hash chain, as the bridge returned it: the entry at
    `position` hashes `prev_hash` with the transaction's canonical bytes into `tx_hash`; the chain then
    had `head_position` entries ending in `chain_head`. docs/digital-currency.md gives the hashing."""

    tx_id: BridgeId
    position: int = Field(ge=1)
    prev_hash: Hash
    tx_hash: Hash
    head_position: int = Field(ge=1)
    chain_head: Hash

    @model_validator(mode="after")
    def _ordered(self) -> Proof:
        if self.head_position < self.position:
            raise PydanticCustomError("proof_order", "the chain head lies before the transaction")
        if self.head_position == self.position and self.chain_head != self.tx_hash:
            raise PydanticCustomError("proof_head", "the transaction is the head but the hashes differ")
        return self


@message_type("dc.record")
class SettlementRecord(_Strict):
    """What goes back to the originator: the settlement and its proof."""

    settlement: Settlement
    proof: Proof
    demand_id: BridgeId | None = None
    transfer_id: BridgeId | None = None
