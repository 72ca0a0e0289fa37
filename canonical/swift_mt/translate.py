"""MT103 <-> payment.credit_transfer and MT202(COV) <-> payment.fi_transfer, per the CBPR+ field map.

Nothing is invented: data an MT cannot carry (or an MX lacks) becomes a warning, and missing mandatory
data (a UETR, a charges code the MT does not know) raises RejectedInput naming the field.
"""

from __future__ import annotations

from typing import Any

from canonical.errors import RejectedInput, Violation
from canonical.payments import (
    Account,
    Agent,
    ChargeBearer,
    CreditTransfer,
    FiTransfer,
    Party,
    PostalAddress,
    UnderlyingCustomerTransfer,
    iban_is_valid,
)
from canonical.swift_mt.blocks import MtHeader
from canonical.swift_mt.cash_fields import agent_of
from canonical.swift_mt.fields import PartyField
from canonical.swift_mt.mapping import money
from canonical.swift_mt.messages import Mt103, Mt202
from canonical.swift_mt.to_mt import ISO_MESSAGE, NOT_PROVIDED, not_carried
from canonical.swift_mt.transfers import Mt200

CHARGES_TO_MX = {"OUR": ChargeBearer.DEBT, "SHA": ChargeBearer.SHAR, "BEN": ChargeBearer.CRED}
CHARGES_TO_MT = {v: k for k, v in CHARGES_TO_MX.items()}


def uetr_of(header: MtHeader) -> str:
    """121 of the user header; RejectedInput `uetr_required` without it."""
    if header.uetr is None:
        raise RejectedInput("UETR missing", [Violation("3:121", "uetr_required", "CBPR+ payments need a UETR")])
    return header.uetr


def transfer_fields(mt: Mt103 | Mt202 | Mt200, end_to_end_id: str) -> dict[str, Any]:
    """What an MT103, MT202 or MT200 carries alike into a transfer: 20 -> MsgId and InstrId, 121 -> UETR, 32A ->
    IntrBkSttlmAmt and IntrBkSttlmDt, the Sender -> InstgAgt and the Receiver -> InstdAgt."""
    return dict(
        message_id=mt.sender_reference,
        uetr=uetr_of(mt.header),
        instruction_id=mt.sender_reference,
        end_to_end_id=end_to_end_id,
        settlement_amount=money(mt.settlement),
        settlement_date=mt.settlement.value_date,
        instructing_agent=mt.header.sender_bic,
        instructed_agent=mt.header.receiver_bic,
    )


def _account(identifier: str | None) -> Account | None:
    if not identifier or not identifier.startswith("/") or identifier.startswith("//"):
        return None
    value = identifier[1:]
    return Account(iban=value) if iban_is_valid(value) else Account(other=value[:34])


def customer_of(field: PartyField | None, tag: str, warnings: list[str]) -> Party | None:
    """A customer field (50a, 59a): by BIC (A), structured (F), or name and address lines."""
    if field is None:
        return None
    account = _account(field.identifier)
    if field.identifier and account is None and field.option != "F":
        warnings.append(f"{tag}: party identifier {field.identifier!r} not carried")
    if field.option == "A":
        return Party(bic=field.bic, account=account)
    lines = field.lines
    if field.option == "F":
        # 50F/59F: numbered lines 1/name 2/address 3/country/town.
        name = " ".join(line[2:] for line in lines if line.startswith("1/"))
        address = [line[2:] for line in lines if line.startswith("2/")]
        town_lines = [line[2:] for line in lines if line.startswith("3/")]
        country = town_lines[0][:2] if town_lines else None
        town = town_lines[0][3:] if town_lines else None
        if any(line[:2] not in ("1/", "2/", "3/") for line in lines):
            warnings.append(f"{tag}: structured lines other than 1/, 2/, 3/ not carried")
        return Party(
            name=name or None,
            account=_account(field.identifier) or _other(field.identifier),
            address=PostalAddress(lines=address[:3], country=country, town=town[:35] if town else None),
        )
    address_lines = lines[1:]
    return Party(
        name=lines[0] if lines else None,
        account=account,
        address=PostalAddress(lines=address_lines) if address_lines else None,
    )


def _other(identifier: str | None) -> Account | None:
    return Account(other=identifier[:34]) if identifier else None


def _agent(field: PartyField | None, tag: str, warnings: list[str]) -> Agent | None:
    # Every address line of a D is kept: more than the model holds are refused, not cut.
    return agent_of(field, tag, warnings, address_lines=None)


def bic_of(field: PartyField | None, tag: str, warnings: list[str]) -> str | None:
    """An institution field that pacs.009 needs as a BIC; RejectedInput `bic_required` for a D."""
    agent = _agent(field, tag, warnings)
    if agent is not None and agent.bic is None:
        raise RejectedInput("agent without BIC", [Violation(f"4:{tag}", "bic_required", "pacs.009 needs a BIC here")])
    return None if agent is None else agent.bic


def mt103_to_credit_transfer(mt: Mt103) -> tuple[CreditTransfer, list[str]]:
    warnings: list[str] = [f"EndToEndId set to {NOT_PROVIDED}: MT103 has no end-to-end reference"]
    dropped = (
        ("13C", mt.time_indications),
        ("23E", mt.instruction_codes),
        ("26T", mt.transaction_type),
        ("71F", mt.senders_charges),
        ("71G", mt.receivers_charges),
        ("77B", mt.regulatory_reporting),
        ("77T", mt.envelope_contents),
        ("51A", mt.sending_institution),
        ("55a", mt.third_reimbursement_institution),
    )
    not_carried(dropped, ISO_MESSAGE, warnings)
    sender, receiver = mt.header.sender_bic, mt.header.receiver_bic
    ct = CreditTransfer(
        **transfer_fields(mt, NOT_PROVIDED),
        instructed_amount=money(mt.instructed_amount),
        exchange_rate=mt.exchange_rate.replace(",", ".") if mt.exchange_rate else None,  # type: ignore[arg-type]
        charge_bearer=CHARGES_TO_MX[mt.details_of_charges],
        instructing_reimbursement_agent=bic_of(mt.senders_correspondent, "53a", warnings),
        instructed_reimbursement_agent=bic_of(mt.receivers_correspondent, "54a", warnings),
        intermediary_agent=_agent(mt.intermediary, "56a", warnings),
        debtor=customer_of(mt.ordering_customer, "50a", warnings) or Party(),
        # Without 52a/57a the sender / receiver is the debtor's / creditor's agent (MT semantics).
        debtor_agent=_agent(mt.ordering_institution, "52a", warnings) or Agent(bic=sender),
        creditor_agent=_agent(mt.account_with_institution, "57a", warnings) or Agent(bic=receiver),
        creditor=customer_of(mt.beneficiary, "59a", warnings) or Party(),
        instructions_for_next_agent=mt.sender_to_receiver_information,
        remittance_information=["".join(mt.remittance_information)] if mt.remittance_information else [],
    )
    return ct, warnings


def mt202_to_fi_transfer(mt: Mt202) -> tuple[FiTransfer, list[str]]:
    warnings: list[str] = []
    cover_72 = None if mt.underlying is None else mt.underlying.sender_to_receiver_information
    not_carried((("13C", mt.time_indications), ("72 (sequence B)", cover_72)), ISO_MESSAGE, warnings)
    sender = mt.header.sender_bic
    beneficiary = mt.beneficiary_institution
    underlying = None
    if mt.underlying is not None:
        b = mt.underlying
        debtor_agent = _agent(b.ordering_institution, "52a", warnings)
        creditor_agent = _agent(b.account_with_institution, "57a", warnings)
        if debtor_agent is None or creditor_agent is None:
            loc = "4:52a" if debtor_agent is None else "4:57a"
            raise RejectedInput("cover incomplete", [Violation(loc, "field_missing", "needed in sequence B")])
        underlying = UnderlyingCustomerTransfer(
            debtor=customer_of(b.ordering_customer, "50a", warnings) or Party(),
            debtor_agent=debtor_agent,
            intermediary_agent=_agent(b.intermediary, "56a", warnings),
            creditor_agent=creditor_agent,
            creditor=customer_of(b.beneficiary, "59a", warnings) or Party(),
            remittance_information=["".join(b.remittance_information)] if b.remittance_information else [],
            instructed_amount=money(b.instructed_amount),
        )
    ft = FiTransfer(
        **transfer_fields(mt, mt.related_reference),
        instructing_reimbursement_agent=bic_of(mt.senders_correspondent, "53a", warnings),
        instructed_reimbursement_agent=bic_of(mt.receivers_correspondent, "54a", warnings),
        intermediary_agent=bic_of(mt.intermediary, "56a", warnings),
        debtor=bic_of(mt.ordering_institution, "52a", warnings) or sender,
        creditor_agent=bic_of(mt.account_with_institution, "57a", warnings),
        creditor=_beneficiary_bic(beneficiary),
        creditor_account=_account(beneficiary.identifier),
        instructions_for_next_agent=mt.sender_to_receiver_information,
        cover=underlying is not None,
        underlying=underlying,
    )
    return ft, warnings


def _beneficiary_bic(field: PartyField) -> str:
    if field.bic is None:
        raise RejectedInput("agent without BIC", [Violation("4:58a", "bic_required", "pacs.009 needs a BIC")])
    return field.bic
