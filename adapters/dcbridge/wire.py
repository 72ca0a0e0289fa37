"""What the dcbridge adapter reads and writes on the bridge's wire: its settings, amounts as the
bridge's decimal strings, a settled transaction read into the canonical record, and quote choice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from adapters.partner import PartnerSettings
from canonical.dc import Proof, Settlement, SettlementRecord
from canonical.envelope import violations_of
from canonical.errors import RejectedInput, Violation


class BridgeSettings(PartnerSettings):
    """The keys of an adapter version (routes.yaml) the bridge adapter reads."""

    timeout_s: float = Field(default=15.0, gt=0, le=120, description="per call, and the budget of one demand's flow")
    poll_s: float = Field(default=0.2, gt=0, le=10, description="how often to look for quotes")
    health_path: str = Field(default="/chain/head", pattern=r"^/")


def bridge_amount(amount: Decimal) -> str:
    """The bridge's decimal string (never a JSON number, never an exponent)."""
    return format(amount, "f")


def record_of(transaction: dict[str, Any], proof: dict[str, Any]) -> SettlementRecord:
    """A bridge transaction body (as on its chain) and its proof as the canonical record; RejectedInput
    naming the field (`$.transaction.legs`, `$.proof.tx_hash`) when the bridge's answer is not one."""
    if not isinstance(transaction, dict) or not isinstance(transaction.get("reference", {}), dict):
        raise RejectedInput("bridge record", [Violation("$.transaction.reference", "type", "expected an object")])
    reference = transaction.get("reference") or {}
    fields = {
        "tx_id": transaction.get("tx_id"),
        "kind": transaction.get("type"),
        "legs": transaction.get("legs"),
        "settled_at": transaction.get("settled_at"),
        "rate": reference.get("rate"),
        "liquidity_provider": reference.get("liquidity_provider"),
        "demand_id": reference.get("demand_id"),
        "transfer_id": reference.get("transfer_id"),
    }
    try:
        settlement = Settlement.model_validate(fields)
    except PydanticValidationError as exc:
        raise RejectedInput("bridge record", violations_of(exc, "$.transaction.")) from None
    try:
        checked = Proof.model_validate(proof)
    except PydanticValidationError as exc:
        raise RejectedInput("bridge record", violations_of(exc, "$.proof.")) from None
    return SettlementRecord(
        settlement=settlement, proof=checked, demand_id=settlement.demand_id, transfer_id=settlement.transfer_id
    )


class Steps:
    """What happened when, for the Receipt (and so the journal)."""

    def __init__(self) -> None:
        self.done: list[dict[str, Any]] = []

    def add(self, step: str, **detail: Any) -> None:
        if not any(s["step"] == step and s.get("quote_id") == detail.get("quote_id") for s in self.done):
            self.done.append({"step": step, "at": datetime.now(UTC).isoformat(), **detail})


def best_quote(quotes: Any) -> dict[str, Any] | None:
    """The live quote with the most target currency per source unit (the earliest on a tie)."""
    best: tuple[Decimal, dict[str, Any]] | None = None
    for quote in quotes if isinstance(quotes, list) else []:
        if not isinstance(quote, dict) or quote.get("expired") is not False or not quote.get("quote_id"):
            continue
        try:
            rate = Decimal(str(quote.get("rate")))
        except InvalidOperation:
            continue
        if rate.is_finite() and rate > 0 and (best is None or rate > best[0]):
            best = (rate, quote)
    return best[1] if best else None
