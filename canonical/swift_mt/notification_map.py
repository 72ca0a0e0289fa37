"""MT900 / MT910 <-> payment.account_notification (camt.054), per the CBPR+ confirmation field map.

20 -> GrpHdr/MsgId and Ntfctn/Id, 21 -> TxDtls/Refs/InstrId (NONREF: none), 25 / 25P -> Acct (the 25P BIC ->
Acct/Ownr), 13D -> Ntry/BookgDt/DtTm, 32A -> Ntry/ValDt and Amt, 50a -> RltdPties/Dbtr (+ DbtrAcct), 52a ->
RltdAgts/DbtrAgt, 56a -> RltdAgts/IntrmyAgt1, 72 (lines concatenated) -> Ntry/AddtlNtryInf, 121 -> Refs/UETR.
The sender of a confirmation services the account (Acct/Svcr). A DBIT entry becomes an MT900, a CRDT one an
MT910; only booked entries are confirmed.
"""

from __future__ import annotations

from canonical.payments import AccountNotification, CreditDebit
from canonical.swift_mt.cash_fields import (
    NO_REFERENCE,
    account_and_owner,
    account_field,
    agent_field,
    agent_of,
    indication_of,
    joined,
    limited,
    moment_of,
    money_of,
    party_field,
    party_of,
    related,
)
from canonical.swift_mt.common import Mt900, Mt910
from canonical.swift_mt.fields import ValueDateAmount
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.to_mt import NOT_PROVIDED, mt_header, narrative, not_carried, reference

Confirmation = Mt900 | Mt910
_ENTRY = "Ntfctn/Ntry"
_TX = "Ntfctn/Ntry/NtryDtls/TxDtls"


def confirmation_to_notification(mt: Confirmation) -> tuple[AccountNotification, list[str]]:
    """MT900 (debit) / MT910 (credit) -> payment.account_notification and the warnings."""
    warnings: list[str] = []
    if isinstance(mt, Mt900):
        amount, when, side = mt.debit, mt.debited_at, CreditDebit.DBIT
        debtor, intermediary = None, None
    else:
        amount, when, side = mt.credit, mt.credited_at, CreditDebit.CRDT
        debtor = party_of(mt.ordering_customer, "50a", warnings)
        intermediary = agent_of(mt.intermediary, "56a", warnings)
    account, owner = account_and_owner(mt.account, "25")
    notification = AccountNotification(
        message_id=mt.sender_reference,
        notification_id=mt.sender_reference,
        account=account,
        account_owner=owner,
        account_servicer=mt.header.sender_bic,  # the sender of a confirmation services the account
        amount=money_of(amount),
        credit_debit=side,
        entry_status="BOOK",  # a confirmation is about a booked entry
        value_date=amount.value_date,
        booked_at=None if when is None else moment_of(when),
        instruction_id=related(mt.related_reference),
        uetr=mt.header.uetr,
        debtor=debtor,
        debtor_agent=agent_of(mt.ordering_institution, "52a", warnings),
        intermediary_agent=intermediary,
        additional_information=limited(joined(mt.sender_to_receiver_information), 500, "72", warnings),
    )
    return notification, warnings


def _related_reference(an: AccountNotification, warnings: list[str]) -> str:
    """21: the instruction id, else a provided end-to-end id, else NONREF."""
    end_to_end = an.end_to_end_id if an.end_to_end_id != NOT_PROVIDED else None
    if an.instruction_id is not None:
        if end_to_end is not None:
            warnings.append(f"{_TX}/Refs/EndToEndId: not carried in MT")
        return reference(an.instruction_id, "Refs/InstrId", warnings)
    if end_to_end is not None:
        warnings.append("21: taken from Refs/EndToEndId (no InstrId)")
        return reference(end_to_end, "Refs/EndToEndId", warnings)
    return NO_REFERENCE


def _dropped(an: AccountNotification, sender: str, warnings: list[str]) -> None:
    dropped = (
        ("Acct/Ccy", an.account_currency),
        ("Ntry/NtryRef", an.entry_reference),
        ("Ntry/BkTxCd", an.bank_transaction_code),
        ("Acct/Svcr", an.account_servicer not in (None, sender)),
        ("TxDtls/RltdDts/IntrBkSttlmDt", an.value_date and an.settlement_date not in (None, an.value_date)),
    )
    not_carried(dropped, "MT", warnings)


def _mt900(an: AccountNotification, common: dict[str, object], warnings: list[str]) -> Mt900:
    for what, present in (("RltdPties/Dbtr", an.debtor), ("RltdAgts/IntrmyAgt1", an.intermediary_agent)):
        if present:
            warnings.append(f"{_TX}/{what}: MT900 has no field for it")
    ordering = agent_field(an.debtor_agent, "52", warnings)
    return Mt900.model_validate({**common, "ordering_institution": ordering})


def _mt910(an: AccountNotification, common: dict[str, object], warnings: list[str]) -> Mt910:
    if an.debtor is None and an.debtor_agent is None:
        raise refuse(f"{_TX}/RltdPties/Dbtr", "ordering_party_required", "MT910 rule C1: 50a or 52a must be present")
    return Mt910.model_validate(
        {
            **common,
            "ordering_customer": None if an.debtor is None else party_field(an.debtor, "50", warnings),
            "ordering_institution": agent_field(an.debtor_agent, "52", warnings),
            "intermediary": agent_field(an.intermediary_agent, "56", warnings),
        }
    )


def notification_to_confirmation(an: AccountNotification, sender: str, receiver: str) -> tuple[Confirmation, list[str]]:
    """payment.account_notification -> MT900 (DBIT) or MT910 (CRDT) and the warnings.

    RejectedInput naming the element: an entry that is not booked, no value date for 32A, or (MT910 rule C1)
    neither a debtor nor a debtor agent."""
    warnings: list[str] = []
    if an.entry_status != "BOOK":
        detail = f"MT900 / MT910 confirm booked entries, not {an.entry_status}"
        raise refuse(f"{_ENTRY}/Sts/Cd", "entry_status_not_in_mt", detail)
    value_date = an.value_date or an.settlement_date
    if value_date is None:
        raise refuse(f"{_ENTRY}/ValDt", "value_date_required", "32A needs the value date")
    if an.value_date is None:
        warnings.append("32A: value date taken from TxDtls/RltdDts/IntrBkSttlmDt")
    _dropped(an, sender, warnings)
    debit = an.credit_debit is CreditDebit.DBIT
    when = None if an.booked_at is None else indication_of(an.booked_at, f"{_ENTRY}/BookgDt/DtTm", warnings)
    amount = ValueDateAmount.dated(value_date, an.amount.currency, an.amount.amount)
    common: dict[str, object] = dict(
        header=mt_header("900" if debit else "910", sender, receiver, an.uetr),
        sender_reference=reference(an.notification_id, "Ntfctn/Id", warnings),
        related_reference=_related_reference(an, warnings),
        account=account_field(an.account, an.account_owner),
        sender_to_receiver_information=narrative(an.additional_information, 35, 6, "AddtlNtryInf", warnings),
    )
    if debit:
        return _mt900(an, {**common, "debited_at": when, "debit": amount}, warnings), warnings
    return _mt910(an, {**common, "credited_at": when, "credit": amount}, warnings), warnings
