"""Property: any valid credit transfer survives MT103 (render, parse, translate back) in every field
MT103 carries; what it cannot carry is warned about, and the charge bearer it has no code for is
refused, naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical.errors import RejectedInput
from canonical.payments import ChargeBearer, CreditTransfer
from canonical.swift_mt import to_mt
from canonical.swift_mt.codec import SwiftMtCodec
from canonical.swift_mt.to_mt import NOT_PROVIDED
from tests.unit.test_iso20022 import credit_transfers

CODEC = SwiftMtCodec()
BIC8 = st.from_regex(r"\A[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}\Z")
RATES = st.none() | st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9.9999"), places=4)  # BaseOneRate
KEPT = ("uetr", "settlement_amount", "settlement_date", "instructed_amount", "exchange_rate", "charge_bearer")


def bic11(bic: str | None) -> str | None:
    """A BIC with its branch: `ABCDDEFF` and `ABCDDEFFXXX` name the same institution."""
    return bic if bic is None or len(bic) == 11 else bic + "XXX"


@given(credit_transfers(), BIC8, BIC8, RATES)
def test_generated_credit_transfers_keep_every_mt103_field(
    ct: CreditTransfer, sender: str, receiver: str, rate: Decimal | None
) -> None:
    ct = CreditTransfer.model_validate({**ct.model_dump(), "exchange_rate": rate})
    if ct.charge_bearer is ChargeBearer.SLEV:
        with pytest.raises(RejectedInput, match="charge_bearer_not_in_mt"):
            to_mt(ct, sender, receiver)
        return
    text, warnings = to_mt(ct, sender, receiver)
    decoded = CODEC.decode(text.encode())
    back = decoded.payload
    assert isinstance(back, CreditTransfer) and decoded.correlation_id == ct.uetr
    assert {k: getattr(back, k) for k in KEPT} == {k: getattr(ct, k) for k in KEPT}
    # MT103 has no end-to-end id: the translation says so, and the way back never invents one.
    assert "EndToEndId: not carried in MT103" in warnings and back.end_to_end_id == NOT_PROVIDED
    # A text MT103 must change (a line starting with ':' or '-') changes only with a warning naming it.
    for before, after, what in (
        (ct.debtor.name, back.debtor.name, "50 name"),
        (ct.creditor.name, back.creditor.name, "59 name"),
        (ct.remittance_information, back.remittance_information, "RmtInf"),
        (ct.instruction_id, back.instruction_id, "InstrId"),  # field 20 holds 16 characters
    ):
        assert before == after or any(w.startswith(what) for w in warnings), (what, before, after, warnings)
    assert (back.debtor.account, back.creditor.account) == (ct.debtor.account, ct.creditor.account)
    assert bic11(back.debtor_agent.bic) == bic11(ct.debtor_agent.bic)
    assert bic11(back.creditor_agent.bic) == bic11(ct.creditor_agent.bic)
