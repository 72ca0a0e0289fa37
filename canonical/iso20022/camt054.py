"""camt.054.001.08 BkToCstmrDbtCdtNtfctn <-> payment.account_notification (one notification, one entry).

Besides the references, the entry carries its booking time (BookgDt/DtTm), value date (ValDt), the debtor and
its agents (TxDtls/RltdPties, RltdAgts) and additional information (AddtlNtryInf); the account its owner's BIC
and servicer: what an MT900 / MT910 confirms.
"""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, read_agent, write_account, write_agent
from canonical.iso20022.party_choice import read_party_choice, write_party_choice
from canonical.iso20022.statements import (
    read_bank_transaction_code,
    read_date_choice,
    write_bank_transaction_code,
)
from canonical.iso20022.tree import Reader, Writer, iso_datetime, new_document
from canonical.payments import AccountNotification

DEFINITION = "camt.054.001.08"
ROOT = "BkToCstmrDbtCdtNtfctn"


def read(doc: Reader) -> AccountNotification:
    msg = doc.child(ROOT)
    ntf = msg.find("Ntfctn")
    entry = ntf.find("Ntry") if ntf else None
    if ntf is None or entry is None:
        msg.need("Ntfctn/Ntry")
    assert ntf is not None and entry is not None
    tx = entry.find("NtryDtls/TxDtls")
    return AccountNotification.model_validate(
        dict(
            **read_group_header(msg),
            notification_id=ntf.need("Id"),
            account=read_account(ntf.find("Acct")),
            account_currency=ntf.text("Acct/Ccy"),
            account_owner=ntf.text("Acct/Ownr/Id/OrgId/AnyBIC"),
            account_servicer=ntf.text("Acct/Svcr/FinInstnId/BICFI"),
            entry_reference=entry.text("NtryRef"),
            amount=entry.money("Amt"),
            credit_debit=entry.need("CdtDbtInd"),
            entry_status=entry.need("Sts/Cd"),
            booked_at=entry.datetime("BookgDt/DtTm"),
            value_date=read_date_choice(entry, "ValDt"),
            bank_transaction_code=read_bank_transaction_code(entry),
            instruction_id=tx.text("Refs/InstrId") if tx else None,
            end_to_end_id=tx.text("Refs/EndToEndId") if tx else None,
            uetr=tx.text("Refs/UETR") if tx else None,
            debtor=read_party_choice(tx.find("RltdPties/Dbtr"), tx.find("RltdPties/DbtrAcct")) if tx else None,
            debtor_agent=read_agent(tx.find("RltdAgts/DbtrAgt")) if tx else None,
            intermediary_agent=read_agent(tx.find("RltdAgts/IntrmyAgt1")) if tx else None,
            settlement_date=tx.date("RltdDts/IntrBkSttlmDt") if tx else None,
            additional_information=entry.text("AddtlNtryInf"),
        )
    )


def _write_account(ntf: Writer, an: AccountNotification) -> None:
    write_account(ntf, "Acct", an.account)
    acct = Writer(ntf.el[-1], ntf.ns)
    acct.opt("Ccy", an.account_currency)
    acct.opt("Ownr/Id/OrgId/AnyBIC", an.account_owner)
    acct.opt("Svcr/FinInstnId/BICFI", an.account_servicer)


def _write_transaction(entry: Writer, an: AccountNotification) -> None:
    """TxDtls, written only when the notification has something to say about the transaction."""
    references = (an.instruction_id, an.end_to_end_id, an.uetr)
    parties = (an.debtor, an.debtor_agent, an.intermediary_agent)
    if not any(references) and not any(parties) and an.settlement_date is None:
        return
    tx = entry.add("NtryDtls/TxDtls")
    if any(references):
        refs = tx.add("Refs")
        refs.opt("InstrId", an.instruction_id)
        refs.opt("EndToEndId", an.end_to_end_id)
        refs.opt("UETR", an.uetr)
    tx.money("Amt", an.amount)
    tx.add("CdtDbtInd", an.credit_debit.value)
    if an.debtor is not None:
        write_party_choice(tx.add("RltdPties"), "Dbtr", an.debtor, "DbtrAcct")
    if an.debtor_agent is not None or an.intermediary_agent is not None:
        agents = tx.add("RltdAgts")
        write_agent(agents, "DbtrAgt", an.debtor_agent)
        write_agent(agents, "IntrmyAgt1", an.intermediary_agent)
    if an.settlement_date:
        tx.add("RltdDts/IntrBkSttlmDt", an.settlement_date.isoformat())


def write(an: AccountNotification, now: datetime) -> Writer:
    doc, msg = new_document(DEFINITION, ROOT)
    write_group_header(msg, an, now)
    ntf = msg.add("Ntfctn")
    ntf.add("Id", an.notification_id)
    _write_account(ntf, an)
    entry = ntf.add("Ntry")
    entry.opt("NtryRef", an.entry_reference)
    entry.money("Amt", an.amount)
    entry.add("CdtDbtInd", an.credit_debit.value)
    entry.add("Sts/Cd", an.entry_status)
    entry.opt("BookgDt/DtTm", iso_datetime(an.booked_at) if an.booked_at else None)
    entry.opt("ValDt/Dt", an.value_date.isoformat() if an.value_date else None)
    write_bank_transaction_code(entry, an.bank_transaction_code)
    _write_transaction(entry, an)
    entry.opt("AddtlNtryInf", an.additional_information)
    return doc
