"""camt.057.001.06 NtfctnToRcv <-> payment.notice_to_receive: one notification, its items in order."""

from __future__ import annotations

from datetime import datetime

from canonical.cash import ExpectedCredit, NoticeToReceive
from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, read_agent, write_account, write_agent
from canonical.iso20022.party_choice import read_party_choice, write_party_choice
from canonical.iso20022.tree import Reader, Writer, new_document

DEFINITION = "camt.057.001.06"
ROOT = "NtfctnToRcv"


def _read_item(item: Reader) -> ExpectedCredit:
    return ExpectedCredit.model_validate(
        dict(
            item_id=item.need("Id"),
            end_to_end_id=item.text("EndToEndId"),
            uetr=item.text("UETR"),
            amount=item.money("Amt"),
            expected_value_date=item.date("XpctdValDt"),
            debtor=read_party_choice(item.find("Dbtr")),
            debtor_agent=read_agent(item.find("DbtrAgt")),
            intermediary_agent=read_agent(item.find("IntrmyAgt")),
        )
    )


def read(doc: Reader) -> NoticeToReceive:
    msg = doc.child(ROOT)
    ntf = msg.child("Ntfctn")
    return NoticeToReceive.model_validate(
        dict(
            **read_group_header(msg),
            notification_id=ntf.need("Id"),
            account=read_account(ntf.find("Acct")),
            expected_value_date=ntf.date("XpctdValDt"),
            items=[_read_item(item) for item in ntf.all("Itm")],
        )
    )


def _write_item(ntf: Writer, credit: ExpectedCredit) -> None:
    item = ntf.add("Itm")
    item.add("Id", credit.item_id)
    item.opt("EndToEndId", credit.end_to_end_id)
    item.opt("UETR", credit.uetr)
    item.money("Amt", credit.amount)
    item.opt("XpctdValDt", credit.expected_value_date.isoformat() if credit.expected_value_date else None)
    write_party_choice(item, "Dbtr", credit.debtor)
    write_agent(item, "DbtrAgt", credit.debtor_agent)
    write_agent(item, "IntrmyAgt", credit.intermediary_agent)


def write(notice: NoticeToReceive, now: datetime) -> Writer:
    """The Document in XSD order; the items' debtors are written as parties (Dbtr/Pty)."""
    doc, msg = new_document(DEFINITION, ROOT)
    write_group_header(msg, notice, now)
    ntf = msg.add("Ntfctn")
    ntf.add("Id", notice.notification_id)
    write_account(ntf, "Acct", notice.account)
    ntf.opt("XpctdValDt", notice.expected_value_date.isoformat() if notice.expected_value_date else None)
    for credit in notice.items:
        _write_item(ntf, credit)
    return doc
