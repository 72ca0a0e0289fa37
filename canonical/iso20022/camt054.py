"""camt.054.001.08 BkToCstmrDbtCdtNtfctn <-> payment.account_notification (one notification, one entry)."""

from __future__ import annotations

from datetime import datetime

from canonical.iso20022.parties import read_account, write_account
from canonical.iso20022.statements import read_bank_transaction_code, write_bank_transaction_code
from canonical.iso20022.tree import Reader, Writer, iso_datetime
from canonical.payments import AccountNotification

DEFINITION = "camt.054.001.08"
ROOT = "BkToCstmrDbtCdtNtfctn"


def read(doc: Reader) -> AccountNotification:
    msg = doc.find(ROOT)
    assert msg is not None
    ntf = msg.find("Ntfctn")
    entry = ntf.find("Ntry") if ntf else None
    if ntf is None or entry is None:
        msg.need("Ntfctn/Ntry")
    assert ntf is not None and entry is not None
    tx = entry.find("NtryDtls/TxDtls")
    return AccountNotification.model_validate(
        dict(
            message_id=msg.need("GrpHdr/MsgId"),
            created_at=msg.datetime("GrpHdr/CreDtTm"),
            notification_id=ntf.need("Id"),
            account=read_account(ntf.find("Acct")),
            account_currency=ntf.text("Acct/Ccy"),
            entry_reference=entry.text("NtryRef"),
            amount=entry.money("Amt"),
            credit_debit=entry.need("CdtDbtInd"),
            entry_status=entry.need("Sts/Cd"),
            bank_transaction_code=read_bank_transaction_code(entry),
            instruction_id=tx.text("Refs/InstrId") if tx else None,
            end_to_end_id=tx.text("Refs/EndToEndId") if tx else None,
            uetr=tx.text("Refs/UETR") if tx else None,
            settlement_date=tx.date("RltdDts/IntrBkSttlmDt") if tx else None,
        )
    )


def write(an: AccountNotification, now: datetime) -> Writer:
    doc = Writer.root(f"urn:iso:std:iso:20022:tech:xsd:{DEFINITION}", "Document")
    msg = doc.add(ROOT)
    hdr = msg.add("GrpHdr")
    hdr.add("MsgId", an.message_id)
    hdr.add("CreDtTm", iso_datetime(an.created_at or now))
    ntf = msg.add("Ntfctn")
    ntf.add("Id", an.notification_id)
    write_account(ntf, "Acct", an.account)
    if an.account_currency:
        acct = Writer(ntf.el[-1], ntf.ns)
        acct.add("Ccy", an.account_currency)
    entry = ntf.add("Ntry")
    entry.opt("NtryRef", an.entry_reference)
    entry.money("Amt", an.amount)
    entry.add("CdtDbtInd", an.credit_debit.value)
    entry.add("Sts/Cd", an.entry_status)
    write_bank_transaction_code(entry, an.bank_transaction_code)
    if an.instruction_id or an.end_to_end_id or an.uetr or an.settlement_date:
        tx = entry.add("NtryDtls/TxDtls")
        refs = tx.add("Refs")
        refs.opt("InstrId", an.instruction_id)
        refs.opt("EndToEndId", an.end_to_end_id)
        refs.opt("UETR", an.uetr)
        tx.money("Amt", an.amount)
        tx.add("CdtDbtInd", an.credit_debit.value)
        if an.settlement_date:
            tx.add("RltdDts/IntrBkSttlmDt", an.settlement_date.isoformat())
    return doc
