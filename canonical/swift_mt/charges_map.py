"""MT190 / MT290 <-> payment.charges_notification (camt.105) and MT191 / MT291 <-> payment.charges_request
(camt.106), per the CBPR+ charges field map (one charges record, Chrgs/Sngl).

20 -> GrpHdr/MsgId and ChrgsId, 21 -> UndrlygTx/InstrId (NONREF: none), 121 -> UndrlygTx/UETR, 25 -> ChrgsAcct,
32C / 32D -> Amt with CdtDbtInd CRDT / DBIT and ValDt, 32B -> Amt, 52a -> DbtrAgt, 57a -> ChrgsAcctAgt, 71B
-> AddtlInf and 72 -> InstrForInstdAgt/InstrInf (lines concatenated, 140 characters). The category 2 form
(MT290 / MT291) is chosen when the underlying message is an FI transfer or direct debit (pacs.009, pacs.010),
or when the caller asks for it.
"""

from __future__ import annotations

from canonical.cash import ChargesFields, ChargesPaymentNotification, ChargesPaymentRequest, UnderlyingTransaction
from canonical.payments import CreditDebit
from canonical.swift_mt.cash_fields import (
    NO_REFERENCE,
    account_of,
    agent_field,
    agent_of,
    currency_amount,
    joined,
    limited,
    money_of,
    related,
)
from canonical.swift_mt.common import Mt190, Mt191, Mt290, Mt291
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.to_mt import mt_header, narrative, not_carried, reference
from canonical.swift_mt.values import DatedMarkedAmount

RECORD = "Chrgs/Sngl"
FI_MESSAGES = ("pacs.009", "pacs.010", "MT2")
_SIDES = {"C": CreditDebit.CRDT, "D": CreditDebit.DBIT}


def _category_warning(mt: Mt190 | Mt191, warnings: list[str]) -> None:
    if isinstance(mt, Mt290 | Mt291):
        back = "MT190" if isinstance(mt, Mt290) else "MT191"
        warnings.append(
            f"MT{mt.header.message_type}: the category is not carried; translates back as {back} unless asked"
        )


def _common(mt: Mt190 | Mt191, warnings: list[str]) -> dict[str, object]:
    return dict(
        message_id=mt.sender_reference,
        charges_id=mt.sender_reference,
        underlying=UnderlyingTransaction(instruction_id=related(mt.related_reference), uetr=mt.header.uetr),
        debtor_agent=agent_of(mt.ordering_institution, "52a", warnings),
        additional_information=limited(joined(mt.details_of_charges), 140, "71B", warnings),
        instruction=limited(joined(mt.sender_to_receiver_information), 140, "72", warnings),
    )


def mt190_to_notification(mt: Mt190) -> tuple[ChargesPaymentNotification, list[str]]:
    """MT190 / MT290 -> payment.charges_notification and the warnings."""
    warnings: list[str] = []
    _category_warning(mt, warnings)
    charges = mt.charges
    notification = ChargesPaymentNotification.model_validate(
        dict(
            _common(mt, warnings),
            amount=money_of(charges),
            credit_debit=_SIDES[charges.option],
            value_date=charges.value_date,
            charges_account=account_of(mt.account, "4:25"),
        )
    )
    return notification, warnings


def mt191_to_request(mt: Mt191) -> tuple[ChargesPaymentRequest, list[str]]:
    """MT191 / MT291 -> payment.charges_request and the warnings."""
    warnings: list[str] = []
    _category_warning(mt, warnings)
    request = ChargesPaymentRequest.model_validate(
        dict(
            _common(mt, warnings),
            amount=money_of(mt.amount),
            charges_account_agent=agent_of(mt.account_with_institution, "57a", warnings),
        )
    )
    return request, warnings


def _related(u: UnderlyingTransaction, warnings: list[str]) -> str:
    """21: the underlying instruction id, else its end-to-end id, else its message id, else NONREF."""
    where = f"{RECORD}/UndrlygTx"
    if u.message_name:
        warnings.append(f"{where}/MsgNmId: not carried in MT")
    given = [
        (tag, v)
        for tag, v in (("InstrId", u.instruction_id), ("EndToEndId", u.end_to_end_id), ("MsgId", u.message_id))
        if v
    ]
    if not given:
        return NO_REFERENCE
    (tag, value), rest = given[0], given[1:]
    warnings += [f"{where}/{other}: not carried in MT" for other, _ in rest]
    if tag != "InstrId":
        warnings.append(f"21: taken from UndrlygTx/{tag}")
    return reference(value, f"{where}/{tag}", warnings)


def _details(charges: ChargesFields, warnings: list[str]) -> list[str]:
    """71B (mandatory): AddtlInf, else the charge type code as /CODE/."""
    if charges.additional_information:
        if charges.charge_type:
            warnings.append(f"{RECORD}/Tp/Cd: not carried next to AddtlInf")
        return narrative(charges.additional_information, 35, 6, f"{RECORD}/AddtlInf", warnings)
    if charges.charge_type:
        return [f"/{charges.charge_type}/"]
    raise refuse(f"{RECORD}/AddtlInf", "charges_details_required", "71B is mandatory: AddtlInf or Tp/Cd is needed")


def _fi_category(charges: ChargesFields, asked: bool) -> bool:
    return asked or (charges.underlying.message_name or "").startswith(FI_MESSAGES)


def _common_mt(charges: ChargesFields, kind: str, sender: str, receiver: str, warnings: list[str]) -> dict[str, object]:
    return dict(
        header=mt_header(kind, sender, receiver, charges.underlying.uetr),
        sender_reference=reference(charges.charges_id or charges.message_id, "ChrgsId", warnings),
        related_reference=_related(charges.underlying, warnings),
        ordering_institution=agent_field(charges.debtor_agent, "52", warnings),
        details_of_charges=_details(charges, warnings),
        sender_to_receiver_information=narrative(charges.instruction, 35, 6, f"{RECORD}/InstrForInstdAgt", warnings),
    )


def notification_to_mt190(
    n: ChargesPaymentNotification, sender: str, receiver: str, category_2: bool = False
) -> tuple[Mt190, list[str]]:
    """payment.charges_notification -> MT190 (MT290 for an FI transfer, or with `category_2`) and the warnings;
    RejectedInput naming the element when the charges account, the side (CdtDbtInd) or the value date is
    missing."""
    warnings: list[str] = []
    if n.charges_account is None:
        raise refuse(f"{RECORD}/ChrgsAcct", "charges_account_required", "25 is mandatory in MT190")
    if n.credit_debit is None:
        raise refuse(f"{RECORD}/CdtDbtInd", "credit_debit_required", "32C / 32D need the side of the charges")
    if n.value_date is None:
        raise refuse(f"{RECORD}/ValDt", "value_date_required", "32C / 32D need the value date")
    option = "C" if n.credit_debit is CreditDebit.CRDT else "D"
    charges = DatedMarkedAmount(option=option, value_date=n.value_date, **currency_amount(n.amount).model_dump())
    fi = _fi_category(n, category_2)
    model = Mt290 if fi else Mt190
    values = _common_mt(n, "290" if fi else "190", sender, receiver, warnings)
    mt = model.model_validate({**values, "account": n.charges_account.identifier, "charges": charges})
    return mt, warnings


def request_to_mt191(
    r: ChargesPaymentRequest, sender: str, receiver: str, category_2: bool = False
) -> tuple[Mt191, list[str]]:
    """payment.charges_request -> MT191 (MT291 for an FI transfer, or with `category_2`) and the warnings."""
    warnings: list[str] = []
    not_carried((("CdtDbtInd", r.credit_debit), ("ValDt", r.value_date)), "MT191", warnings, prefix=f"{RECORD}/")
    fi = _fi_category(r, category_2)
    model = Mt291 if fi else Mt191
    values = _common_mt(r, "291" if fi else "191", sender, receiver, warnings)
    account_with = agent_field(r.charges_account_agent, "57", warnings)
    mt = model.model_validate({**values, "amount": currency_amount(r.amount), "account_with_institution": account_with})
    return mt, warnings
