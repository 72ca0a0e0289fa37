"""MT107 <-> payment.direct_debit (pacs.003.001.08) and MT204 <-> payment.fi_direct_debit (pacs.010.001.03),
one transaction each (CBPR+), per the MT-MX field map.

MT107: 20 -> MsgId, 121 -> UETR, 30 -> IntrBkSttlmDt, 50C / 50L -> InitgPty, 50A / 50K -> Cdtr + CdtrAcct,
52a -> CdtrAgt (else the Sender), B 21 -> InstrId, 21C -> MndtId, 21D -> EndToEndId, C 32B -> IntrBkSttlmAmt,
57a -> DbtrAgt (else the Receiver), 59a -> Dbtr + DbtrAcct, 70 -> RmtInf, 33B -> InstdAmt, 36 -> XchgRate,
71A -> ChrgBr.
MT204: A 20 -> MsgId and CdtId, 30 -> IntrBkSttlmDt, 57a -> CdtrAgt, 58a -> Cdtr + CdtrAcct (else the Sender),
72 -> InstrForDbtrAgt, B 20 -> InstrId, 21 -> EndToEndId, 32B -> IntrBkSttlmAmt, 53a -> Dbtr + DbtrAcct.
"""

from __future__ import annotations

from canonical.payments import DirectDebit, FiDirectDebit, Party, SettlementMethod
from canonical.swift_mt.fields import CurrencyAmount, PartyField
from canonical.swift_mt.mapping import (
    account_of,
    agent_or,
    amount_field,
    institution,
    instructing_party,
    instructing_party_field,
    joined,
    money,
    narrative_lines,
    one_transaction,
    party_field,
    rate,
    rate_text,
    refuse,
)
from canonical.swift_mt.to_mt import (
    CHARGES_TO_MT,
    ISO_MESSAGE,
    NOT_PROVIDED,
    agent_field,
    identifier_of,
    mt_header,
    narrative,
    not_carried,
    x_text,
)
from canonical.swift_mt.transfers import Mt107, Mt107Transaction, Mt204, Mt204Transaction
from canonical.swift_mt.translate import CHARGES_TO_MX, customer_of, uetr_of
from canonical.swift_mt.values import Total


def _customer(field: PartyField | None, tag: str, warnings: list[str]) -> Party | None:
    if field is not None and field.option == "A":
        return Party(bic=field.bic, account=account_of(field.identifier))
    return customer_of(field, tag, warnings)


def mt107_to_direct_debit(mt: Mt107) -> tuple[DirectDebit, list[str]]:
    """MT107 (one sequence B) -> payment.direct_debit; RejectedInput naming the field when it cannot be carried."""
    b = one_transaction(mt.transactions, "21", "pacs.003")
    warnings: list[str] = []
    uetr = uetr_of(mt.header)
    not_carried(
        (
            ("23E", mt.instruction_code or b.instruction_code),
            ("21E", mt.registration_reference or b.registration_reference),
            ("51A", mt.sending_institution),
            ("26T", mt.transaction_type or b.transaction_type),
            ("77B", mt.regulatory_reporting or b.regulatory_reporting),
            ("72", mt.sender_to_receiver_information),
            ("71F", b.senders_charges or mt.sum_of_senders_charges),
            ("71G", b.receivers_charges or mt.sum_of_receivers_charges),
            ("53a", mt.senders_correspondent),
        ),
        ISO_MESSAGE,
        warnings,
    )
    if (b.amount.currency, b.amount.amount) != (mt.settlement_amount.currency, mt.settlement_amount.amount):
        warnings.append(
            "32B (sequence B): the debit amount differs from the settlement amount; only the latter is carried"
        )
    if b.direct_debit_reference is None:
        warnings.append(f"EndToEndId set to {NOT_PROVIDED}: no 21D direct debit reference")
    charges = b.details_of_charges or mt.details_of_charges
    if charges is None:
        raise refuse("4:71A", "charges_code_required", "pacs.003 ChrgBr is mandatory: 71A in sequence A or B")
    creditor = _customer(b.creditor or mt.creditor, "50a", warnings)
    if creditor is None:
        raise refuse("4:50a", "field_missing", "the creditor (50A / 50K) in sequence A or B")
    debtor = _customer(b.debtor, "59a", warnings)
    if debtor is None or debtor.account is None:
        raise refuse("4:59a", "debtor_account_required", "pacs.003 needs the debtor's account: /account on 59a")
    debit = DirectDebit(
        message_id=mt.sender_reference,
        uetr=uetr,
        instruction_id=b.transaction_reference,
        end_to_end_id=b.direct_debit_reference or NOT_PROVIDED,
        settlement_amount=money(mt.settlement_amount),
        settlement_date=mt.requested_execution_date,
        instructed_amount=money(b.original_amount),
        exchange_rate=rate(b.exchange_rate),
        charge_bearer=CHARGES_TO_MX[charges],
        mandate_id=b.mandate_reference,
        creditor=creditor,
        creditor_agent=agent_or(b.creditors_bank or mt.creditors_bank, "52a", mt.header.sender_bic, warnings),
        initiating_party=instructing_party(b.instructing_party or mt.instructing_party),
        instructing_agent=mt.header.sender_bic,
        instructed_agent=mt.header.receiver_bic,
        debtor=debtor,
        debtor_agent=agent_or(b.debtors_bank, "57a", mt.header.receiver_bic, warnings),
        remittance_information=["".join(b.remittance_information)] if b.remittance_information else [],
    )
    return debit, warnings


def direct_debit_to_mt107(dd: DirectDebit, sender: str, receiver: str) -> tuple[Mt107, list[str]]:
    """payment.direct_debit -> MT107 (sequences A, B and C) and the warnings."""
    warnings: list[str] = []
    if dd.charge_bearer not in CHARGES_TO_MT:
        raise refuse("DrctDbtTxInf/ChrgBr", "charge_bearer_not_in_mt", "SLEV has no 71A code")
    if dd.settlement_method is not SettlementMethod.INDA:
        warnings.append(f"SttlmMtd: {dd.settlement_method.value} not carried (MT107 settles on the account)")
    if dd.requested_collection_date not in (None, dd.settlement_date):
        warnings.append("ReqdColltnDt: not carried (30 carries IntrBkSttlmDt)")
    amount = amount_field(dd.settlement_amount)
    assert amount is not None
    transaction = Mt107Transaction(
        transaction_reference=x_text(dd.instruction_id or dd.end_to_end_id, "InstrId", 16, warnings),
        mandate_reference=x_text(dd.mandate_id, "MndtId", 35, warnings) if dd.mandate_id else None,
        direct_debit_reference=None
        if dd.end_to_end_id == NOT_PROVIDED
        else x_text(dd.end_to_end_id, "EndToEndId", 35, warnings),
        amount=amount,
        debtors_bank=agent_field(dd.debtor_agent, "57", warnings, omit_bic=receiver),
        debtor=party_field(dd.debtor, "59", "DrctDbtTxInf/Dbtr", warnings),
        remittance_information=narrative("".join(dd.remittance_information), 35, 4, "RmtInf", warnings),
        original_amount=amount_field(dd.instructed_amount),
        details_of_charges=CHARGES_TO_MT[dd.charge_bearer],
        exchange_rate=rate_text(dd.exchange_rate),
    )
    mt = Mt107(
        header=mt_header("107", sender, receiver, dd.uetr),
        sender_reference=x_text(dd.message_id, "MsgId", 16, warnings),
        requested_execution_date=dd.settlement_date,
        instructing_party=instructing_party_field(dd.initiating_party, "InitgPty", warnings),
        creditor=party_field(dd.creditor, "50", "DrctDbtTxInf/Cdtr", warnings),
        creditors_bank=agent_field(dd.creditor_agent, "52", warnings, omit_bic=sender),
        transactions=[transaction],
        settlement_amount=amount,
    )
    return mt, warnings


def mt204_to_fi_direct_debit(mt: Mt204) -> tuple[FiDirectDebit, list[str]]:
    """MT204 (one sequence B) -> payment.fi_direct_debit; RejectedInput naming the field when it cannot be carried."""
    b = one_transaction(mt.transactions, "20", "pacs.010")
    warnings: list[str] = []
    uetr = uetr_of(mt.header)
    if b.related_reference is None:
        warnings.append(f"EndToEndId set to {NOT_PROVIDED}: no 21 related reference")
    creditor_agent, creditor_agent_account = institution(mt.account_with_institution, "57a", warnings)
    if creditor_agent_account is not None:
        warnings.append("57a: account of the institution not carried")
    creditor, creditor_account = institution(mt.beneficiary_institution, "58a", warnings)
    debtor, debtor_account = institution(b.debit_institution, "53a", warnings)
    assert debtor is not None  # 53a is mandatory in sequence B
    debit = FiDirectDebit(
        message_id=mt.sender_reference,
        credit_id=mt.sender_reference,
        uetr=uetr,
        instruction_id=b.transaction_reference,
        end_to_end_id=b.related_reference or NOT_PROVIDED,
        settlement_amount=money(b.amount),
        settlement_date=mt.value_date,
        instructing_agent=mt.header.sender_bic,
        instructed_agent=mt.header.receiver_bic,
        creditor_agent=creditor_agent,
        # Without 58a the Sender is the beneficiary institution (MT204 usage).
        creditor=creditor or agent_or(None, "58a", mt.header.sender_bic, warnings),
        creditor_account=creditor_account,
        debtor=debtor,
        debtor_account=debtor_account,
        instructions_for_debtor_agent=_instructions(
            mt.sender_to_receiver_information + b.sender_to_receiver_information
        ),
    )
    return debit, warnings


def _instructions(lines: list[str]) -> str | None:
    text = joined(lines)
    if text is not None and len(text) > 210:
        raise refuse("4:72", "text_too_long", "72 of sequences A and B exceed InstrForDbtrAgt (210 characters)")
    return text


def fi_direct_debit_to_mt204(dd: FiDirectDebit, sender: str, receiver: str) -> tuple[Mt204, list[str]]:
    """payment.fi_direct_debit -> MT204 and the warnings."""
    warnings: list[str] = []
    if dd.credit_id != dd.message_id:
        warnings.append("CdtId: not carried (20 of sequence A carries MsgId)")
    amount = amount_field(dd.settlement_amount)
    assert amount is not None
    debit_institution = agent_field(dd.debtor, "53", warnings)
    assert debit_institution is not None  # the debtor is mandatory
    transaction = Mt204Transaction(
        transaction_reference=x_text(dd.instruction_id or dd.message_id, "InstrId", 16, warnings),
        related_reference=None
        if dd.end_to_end_id == NOT_PROVIDED
        else x_text(dd.end_to_end_id, "EndToEndId", 16, warnings),
        amount=CurrencyAmount.of(amount.currency, amount.amount),
        debit_institution=debit_institution.model_copy(update={"identifier": identifier_of(dd.debtor_account)}),
        sender_to_receiver_information=narrative_lines(dd.instructions_for_debtor_agent, "InstrForDbtrAgt", warnings),
    )
    beneficiary = agent_field(dd.creditor, "58", warnings, omit_bic=None if dd.creditor_account else sender)
    if beneficiary is not None:
        beneficiary = beneficiary.model_copy(update={"identifier": identifier_of(dd.creditor_account)})
    mt = Mt204(
        header=mt_header("204", sender, receiver, dd.uetr),
        sender_reference=x_text(dd.message_id, "MsgId", 16, warnings),
        sum_of_amounts=Total(amount=dd.settlement_amount.amount, text=amount.text),
        value_date=dd.settlement_date,
        account_with_institution=agent_field(dd.creditor_agent, "57", warnings),
        beneficiary_institution=beneficiary,
        transactions=[transaction],
    )
    return mt, warnings
