"""MT210 <-> payment.notice_to_receive (camt.057), per the CBPR+ notice to receive field map.

20 -> GrpHdr/MsgId and Ntfctn/Id, 25 -> Ntfctn/Acct, 30 -> Ntfctn/XpctdValDt; each notice: 21 -> Itm/Id,
32B -> Itm/Amt, 50a -> Itm/Dbtr, 52a -> Itm/DbtrAgt, 56a -> Itm/IntrmyAgt. MT210 rules: at most 10 notices
(C1), the ordering customer or the ordering institution in each, not both (C2), one currency (C3).
"""

from __future__ import annotations

from canonical.cash import ExpectedCredit, NoticeToReceive
from canonical.payments import Party
from canonical.swift_mt.cash_fields import (
    account_of,
    agent_field,
    agent_of,
    check_repeated,
    currency_amount,
    money_of,
    party_field,
    party_of,
)
from canonical.swift_mt.fields import PartyField
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.to_mt import mt_header, not_carried, reference
from canonical.swift_mt.transfers import Mt210, Mt210Notice

MAX_NOTICES = 10


def _debtor(field: PartyField | None, n: int, warnings: list[str]) -> Party | None:
    party = party_of(field, f"50a (notice {n})", warnings)
    if party is not None and party.account is not None:
        # camt.057 has no debtor account (Dbtr is a Party40Choice without one).
        warnings.append(f"50a (notice {n}): account {party.account.identifier} not carried")
        party = party.model_copy(update={"account": None})
    return party


def mt210_to_notice(mt: Mt210) -> tuple[NoticeToReceive, list[str]]:
    """MT210 -> payment.notice_to_receive; RejectedInput for more than 10 notices or mixed currencies."""
    warnings: list[str] = []
    check_repeated([n.amount for n in mt.notices], MAX_NOTICES, "notice", "32B", "C3")
    items = [
        ExpectedCredit(
            item_id=notice.related_reference,
            amount=money_of(notice.amount),
            debtor=_debtor(notice.ordering_customer, n, warnings),
            debtor_agent=agent_of(notice.ordering_institution, f"52a (notice {n})", warnings),
            intermediary_agent=agent_of(notice.intermediary, f"56a (notice {n})", warnings),
        )
        for n, notice in enumerate(mt.notices, 1)
    ]
    notice = NoticeToReceive(
        message_id=mt.sender_reference,
        notification_id=mt.sender_reference,
        account=None if mt.account is None else account_of(mt.account, "4:25"),
        expected_value_date=mt.value_date,
        items=items,
    )
    return notice, warnings


def _mt_notice(item: ExpectedCredit, n: int, warnings: list[str]) -> Mt210Notice:
    loc = f"Ntfctn/Itm[{n}]"
    if item.debtor is None and item.debtor_agent is None:
        raise refuse(f"{loc}/Dbtr", "ordering_party_required", "MT210 rule C2: 50a or 52a must be present")
    debtor_agent = item.debtor_agent
    if item.debtor is not None and debtor_agent is not None:
        warnings.append(f"{loc}/DbtrAgt: not carried (MT210 rule C2: 50a or 52a, not both)")
        debtor_agent = None
    not_carried((("EndToEndId", item.end_to_end_id), ("UETR", item.uetr)), "MT210", warnings, prefix=f"{loc}/")
    debtor = item.debtor
    if debtor is not None and debtor.account is not None:
        warnings.append(f"{loc}/Dbtr: account not carried in 50a")
        debtor = debtor.model_copy(update={"account": None})
    return Mt210Notice(
        related_reference=reference(item.item_id, f"{loc}/Id", warnings),
        amount=currency_amount(item.amount),
        ordering_customer=None
        if debtor is None
        else party_field(debtor, "50", warnings, bic_option="C", name_option=""),
        ordering_institution=agent_field(debtor_agent, "52", warnings),
        intermediary=agent_field(item.intermediary_agent, "56", warnings),
    )


def notice_to_mt210(notice: NoticeToReceive, sender: str, receiver: str) -> tuple[Mt210, list[str]]:
    """payment.notice_to_receive -> MT210 and the warnings; RejectedInput (naming the element) without a value
    date, with more than 10 items, mixed currencies or an item naming neither its debtor nor its agent."""
    warnings: list[str] = []
    if len(notice.items) > MAX_NOTICES:
        raise refuse("Ntfctn/Itm", "too_many_notices", f"MT210 rule C1: at most {MAX_NOTICES} items")
    currency = notice.items[0].amount.currency
    for n, item in enumerate(notice.items, 1):
        if item.amount.currency != currency:
            raise refuse(f"Ntfctn/Itm[{n}]/Amt", "notice_currency", f"MT210 rule C3: every item in {currency}")
    item_dates = {item.expected_value_date for item in notice.items}
    value_date = notice.expected_value_date
    if value_date is None and len(item_dates) == 1 and None not in item_dates:
        value_date = item_dates.pop()
        warnings.append("30: taken from Itm/XpctdValDt")
    elif item_dates - {None, value_date}:
        warnings.append("Itm/XpctdValDt: dates other than Ntfctn/XpctdValDt not carried")
    if value_date is None:
        raise refuse("Ntfctn/XpctdValDt", "expected_value_date_required", "30 is mandatory in MT210")
    mt = Mt210(
        header=mt_header("210", sender, receiver, None),
        sender_reference=reference(notice.notification_id, "Ntfctn/Id", warnings),
        account=None if notice.account is None else notice.account.identifier,
        value_date=value_date,
        notices=[_mt_notice(item, n, warnings) for n, item in enumerate(notice.items, 1)],
    )
    return mt, warnings
