"""MT101 <-> payment.initiation (pain.001.001.09), one transaction (CBPR+), per the MT-MX field map.

Sequence A: 20 -> GrpHdr/MsgId, 21R -> PmtInfId (else 20), 25 -> Authstn/Prtry, 50C / 50L -> InitgPty (else the
ordering customer), 50F/G/H -> Dbtr + DbtrAcct, 52A -> DbtrAgt (else the Receiver), 30 -> ReqdExctnDt, 121 -> UETR.
Sequence B: 21 -> InstrId and EndToEndId, 21F -> XchgRateInf/CtrctId, 23E -> PmtTpInf / InstrForCdtrAgt /
InstrForDbtrAgt, 32B -> InstdAmt (a zero 32B with 33B -> EqvtAmt), 36 -> XchgRate, 56a -> IntrmyAgt1,
57a -> CdtrAgt, 59a -> Cdtr + CdtrAcct, 70 -> RmtInf/Ustrd, 71A -> ChrgBr, 25A -> ChrgsAcct.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from canonical.money import Money
from canonical.payments import CreditorAgentInstruction, InitiatingParty, InstructionPriority, Party, PaymentInitiation
from canonical.swift_mt.fields import CurrencyAmount, PartyField
from canonical.swift_mt.mapping import (
    account_of,
    agent_or,
    amount_field,
    institution,
    instructing_party,
    instructing_party_field,
    money,
    one_transaction,
    party_field,
    rate,
    rate_text,
    refuse,
)
from canonical.swift_mt.to_mt import (
    CHARGES_TO_MT,
    ISO_MESSAGE,
    agent_field,
    identifier_of,
    mt_header,
    narrative,
    not_carried,
    x_text,
)
from canonical.swift_mt.transfers import Mt101, Mt101Transaction
from canonical.swift_mt.translate import CHARGES_TO_MX, customer_of

CATEGORY_PURPOSES = frozenset({"CORT", "INTC"})  # 23E codes that are ExternalCategoryPurpose1 codes too
TO_CREDITOR_AGENT = {"CHQB": CreditorAgentInstruction.CHQB, "PHON": CreditorAgentInstruction.PHOB}
FROM_CREDITOR_AGENT = {v: k for k, v in TO_CREDITOR_AGENT.items()}
# The other 23E codes are instructions to the Receiver, the debtor's agent: carried as InstrForDbtrAgt text.
FOR_DEBTOR_AGENT = ("CMSW", "CMTO", "CMZB", "EQUI", "NETS", "OTHR", "REPA", "RTGS")
_DEBTOR_AGENT_CODE = re.compile(r"(?:^| )(?=(?:" + "|".join(FOR_DEBTOR_AGENT) + r")(?:/|$| ))")


def _ordering_customer(field: PartyField, warnings: list[str]) -> Party:
    """50G (account + BIC), 50H (account + name and address) or 50F (structured) as the debtor."""
    if field.option == "G":
        return Party(bic=field.bic, account=account_of(field.identifier))
    party = customer_of(field, "50a", warnings)
    assert party is not None
    return party


def _ordering_customer_field(debtor: Party, warnings: list[str]) -> PartyField:
    """The debtor as 50G (BIC, no name) or 50H (name and address), both with the account line."""
    identifier = identifier_of(debtor.account)
    if debtor.bic and not debtor.name:
        return PartyField(option="G", identifier=identifier, bic=debtor.bic)
    lines = party_field(debtor, "50", "PmtInf/Dbtr", warnings).lines
    return PartyField(option="H", identifier=identifier, lines=lines)


def _derived_initiator(debtor: Party) -> InitiatingParty | None:
    # Without 50C / 50L the ordering customer instructs itself: pain.001 names it as the initiating party.
    return None if debtor.name is None and debtor.bic is None else InitiatingParty(name=debtor.name, bic=debtor.bic)


class Instructions(NamedTuple):
    """What the 23E codes of an MT101 transaction say, in pain.001 terms."""

    priority: InstructionPriority | None
    category_purpose: str | None
    creditor_agent: list[CreditorAgentInstruction]
    debtor_agent: str | None


def _instructions(codes: list[str], warnings: list[str]) -> Instructions:
    """23E codes as priority, category purpose, instructions to the creditor's and to the debtor's agent."""
    priority = purpose = None
    creditor_agent: list[CreditorAgentInstruction] = []
    debtor_agent: list[str] = []
    for value in codes:
        code = value[:4]
        if code == "URGP":
            priority = InstructionPriority.HIGH
        elif code in CATEGORY_PURPOSES and purpose is None:
            purpose = code
        elif code in TO_CREDITOR_AGENT:
            creditor_agent.append(TO_CREDITOR_AGENT[code])
        elif code in FOR_DEBTOR_AGENT:
            debtor_agent.append(value)
        else:
            warnings.append(f"23E: {value} not carried")
    text = " ".join(debtor_agent)
    if len(text) > 140:
        warnings.append("23E: instructions to the Receiver truncated to 140 characters (InstrForDbtrAgt)")
    return Instructions(priority, purpose, creditor_agent, text[:140] or None)


def _amounts(b: Mt101Transaction) -> tuple[Money | None, Money | None, str | None]:
    """(instructed, equivalent, currency of transfer): 32B, or the 33B ordered amount when 32B is zero."""
    if b.amount.amount == 0:
        if b.original_amount is None:
            raise refuse("4:32B", "amount_zero", "a zero 32B needs the ordered amount in 33B")
        return None, money(b.original_amount), b.amount.currency
    return money(b.amount), None, None


def mt101_to_initiation(mt: Mt101) -> tuple[PaymentInitiation, list[str]]:
    """MT101 (one sequence B) -> payment.initiation; RejectedInput naming the field when it cannot be carried."""
    b = one_transaction(mt.transactions, "21", "pain.001")
    warnings: list[str] = []
    if mt.message_index != "1/1":
        warnings.append(f"28D: message index {mt.message_index} not carried (pain.001 is one message)")
    not_carried((("51A", mt.sending_institution), ("77B", b.regulatory_reporting)), ISO_MESSAGE, warnings)
    if b.original_amount is not None and b.amount.amount != 0:
        warnings.append("33B: original ordered amount not carried (32B is the instructed amount)")
    ordering = mt.ordering_customer or b.ordering_customer
    assert ordering is not None  # rule C2, checked by the parser
    debtor = _ordering_customer(ordering, warnings)
    if debtor.account is None:
        raise refuse(f"4:50{ordering.option}", "debtor_account_required", "pain.001 needs the account to debit")
    initiator = instructing_party(mt.instructing_party or b.instructing_party) or _derived_initiator(debtor)
    if initiator is None:
        raise refuse(f"4:50{ordering.option}", "party_identification", "the ordering customer has no name nor BIC")
    servicer = mt.account_servicing_institution or b.account_servicing_institution
    creditor_agent, creditor_agent_account = institution(b.account_with_institution, "57a", warnings)
    intermediary, intermediary_account = institution(b.intermediary, "56a", warnings)
    for tag, account in (("57a", creditor_agent_account), ("56a", intermediary_account)):
        if account is not None:
            warnings.append(f"{tag}: account of the institution not carried")
    creditor = customer_of(b.beneficiary, "59a", warnings)
    assert creditor is not None  # 59a is mandatory
    codes = _instructions(b.instruction_codes, warnings)
    instructed, equivalent, transfer_currency = _amounts(b)
    initiation = PaymentInitiation(
        message_id=mt.sender_reference,
        authorisation=mt.authorisation,
        initiating_party=initiator,
        payment_information_id=mt.customer_reference or mt.sender_reference,
        requested_execution_date=mt.execution_date,
        debtor=debtor,
        debtor_agent=agent_or(servicer, "52a", mt.header.receiver_bic, warnings),
        charges_account=account_of(b.charges_account),
        instruction_id=b.transaction_reference,
        end_to_end_id=b.transaction_reference,
        uetr=mt.header.uetr,
        priority=codes.priority,
        category_purpose=codes.category_purpose,
        instructed_amount=instructed,
        equivalent_amount=equivalent,
        transfer_currency=transfer_currency,
        exchange_rate=rate(b.exchange_rate),
        fx_contract_id=b.fx_deal_reference,
        charge_bearer=CHARGES_TO_MX[b.details_of_charges],
        intermediary_agent=intermediary,
        creditor_agent=creditor_agent,
        creditor=creditor,
        creditor_agent_instructions=codes.creditor_agent,
        instructions_for_debtor_agent=codes.debtor_agent,
        remittance_information=["".join(b.remittance_information)] if b.remittance_information else [],
    )
    return initiation, warnings


def _instruction_codes(pi: PaymentInitiation, warnings: list[str]) -> list[str]:
    codes: list[str] = []
    if pi.priority is InstructionPriority.HIGH:
        codes.append("URGP")
    if pi.category_purpose in CATEGORY_PURPOSES:
        codes.append(str(pi.category_purpose))
    elif pi.category_purpose:
        warnings.append(f"CtgyPurp: {pi.category_purpose} has no 23E code; not carried")
    for instruction in pi.creditor_agent_instructions:
        if instruction in FROM_CREDITOR_AGENT:
            codes.append(FROM_CREDITOR_AGENT[instruction])
        else:
            warnings.append(f"InstrForCdtrAgt: {instruction.value} has no 23E code; not carried")
    text = pi.instructions_for_debtor_agent
    if text:
        parts = [p for p in _DEBTOR_AGENT_CODE.split(text) if p] if _DEBTOR_AGENT_CODE.match(text) else [f"OTHR/{text}"]
        codes += [x_text(part, "InstrForDbtrAgt", 35, warnings) for part in parts]  # 23E is 4!c[/30x]
    return codes


def _transaction(pi: PaymentInitiation, warnings: list[str]) -> Mt101Transaction:
    if pi.charge_bearer is None or pi.charge_bearer not in CHARGES_TO_MT:
        detail = "71A needs DEBT, SHAR or CRED" + (" (SLEV has no MT code)" if pi.charge_bearer else "")
        raise refuse("CdtTrfTxInf/ChrgBr", "charge_bearer_not_in_mt", detail)
    reference = pi.instruction_id or pi.end_to_end_id
    if pi.end_to_end_id != reference:
        warnings.append("EndToEndId: not carried in MT101 (21 carries InstrId)")
    amount: CurrencyAmount | None
    if pi.equivalent_amount is not None and pi.transfer_currency is not None:
        amount = CurrencyAmount.of(pi.transfer_currency, Decimal(0))
        original = amount_field(pi.equivalent_amount)
    else:
        amount, original = amount_field(pi.instructed_amount), None
    assert amount is not None  # the model holds one of the two amounts
    return Mt101Transaction(
        transaction_reference=x_text(reference, "InstrId", 16, warnings),
        fx_deal_reference=x_text(pi.fx_contract_id, "CtrctId", 16, warnings) if pi.fx_contract_id else None,
        instruction_codes=_instruction_codes(pi, warnings),
        amount=amount,
        intermediary=agent_field(pi.intermediary_agent, "56", warnings),
        account_with_institution=agent_field(pi.creditor_agent, "57", warnings),
        beneficiary=party_field(pi.creditor, "59", "CdtTrfTxInf/Cdtr", warnings),
        remittance_information=narrative("".join(pi.remittance_information), 35, 4, "RmtInf", warnings),
        original_amount=original,
        details_of_charges=CHARGES_TO_MT[pi.charge_bearer],
        charges_account=identifier_of(pi.charges_account),
        exchange_rate=rate_text(pi.exchange_rate),
    )


def initiation_to_mt101(pi: PaymentInitiation, sender: str, receiver: str) -> tuple[Mt101, list[str]]:
    """payment.initiation -> MT101 (FIN fields) and the warnings; RejectedInput naming the MX element."""
    warnings: list[str] = []
    if pi.debtor_agent.bic is None:
        raise refuse("PmtInf/DbtrAgt", "bic_required", "MT101 52A names the account servicer by its BIC")
    initiator = None if pi.initiating_party == _derived_initiator(pi.debtor) else pi.initiating_party
    reference = x_text(pi.message_id, "MsgId", 16, warnings)
    mt = Mt101(
        header=mt_header("101", sender, receiver, pi.uetr),
        sender_reference=reference,
        customer_reference=None
        if pi.payment_information_id == pi.message_id
        else x_text(pi.payment_information_id, "PmtInfId", 16, warnings),
        message_index="1/1",
        instructing_party=instructing_party_field(initiator, "InitgPty", warnings),
        ordering_customer=_ordering_customer_field(pi.debtor, warnings),
        account_servicing_institution=agent_field(pi.debtor_agent, "52", warnings, omit_bic=receiver),
        execution_date=pi.requested_execution_date,
        authorisation=x_text(pi.authorisation, "Authstn", 35, warnings) if pi.authorisation else None,
        transactions=[_transaction(pi, warnings)],
    )
    return mt, warnings
