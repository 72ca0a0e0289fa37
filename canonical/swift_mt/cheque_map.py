"""MT110 <-> payment.cheque_presentment (camt.107), MT111 <-> payment.cheque_stop_request (camt.108) and MT112
<-> payment.cheque_stop_report (camt.109), per the CBPR+ cheque field map.

20 -> GrpHdr/MsgId; per cheque 21 -> ChqNb, 30 -> IsseDt, 32A / 32B -> Amt (the 32A date -> ValDt in camt.107,
StlDt in camt.108 / camt.109, which have no value date), 50a -> Pyer (+ PyerAcct), 52a -> DrwrAgt, 59a -> Pyee
(+ PyeeAcct). MT111 75 and MT112 76: line 1 -> Rsn/Prtry (Sts/Prtry), the rest concatenated -> AddtlInf.
MT110 rules: at most 10 cheques (C1), one currency (C2); MT111 / MT112 are about one cheque.
"""

from __future__ import annotations

from datetime import date

from canonical.cash import (
    ChequeFields,
    ChequePresentmentNotification,
    ChequeStopReport,
    ChequeStopRequest,
    ChequeToStop,
    PresentedCheque,
    StopChequeFields,
    StoppedCheque,
    StopReason,
    StopStatus,
)
from canonical.money import Money
from canonical.payments import Party
from canonical.swift_mt.cash_fields import (
    agent_field,
    agent_of,
    check_repeated,
    currency_amount,
    dated_amount,
    joined,
    limited,
    money_of,
    party_field,
    party_of,
)
from canonical.swift_mt.fields import CurrencyAmount, PartyField, ValueDateAmount
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.to_mt import mt_header, narrative, not_carried, reference
from canonical.swift_mt.transfers import Cheque, Mt110, Mt111, Mt112

MAX_CHEQUES = 10


def _amount_and_date(amount: ValueDateAmount | CurrencyAmount) -> tuple[Money, date | None]:
    return money_of(amount), amount.value_date if isinstance(amount, ValueDateAmount) else None


def _mt_amount(money: Money, day: date | None) -> ValueDateAmount | CurrencyAmount:
    """32A when the date is known, else 32B."""
    return currency_amount(money) if day is None else dated_amount(day, money)


def _presented(cheque: Cheque, n: int, warnings: list[str]) -> PresentedCheque:
    amount, value_date = _amount_and_date(cheque.amount)
    payee = party_of(cheque.payee, f"59a (cheque {n})", warnings)
    assert payee is not None  # 59a is mandatory in MT110
    return PresentedCheque(
        cheque_number=cheque.cheque_number,
        issue_date=cheque.date_of_issue,
        amount=amount,
        value_date=value_date,
        payer=party_of(cheque.payer, f"50a (cheque {n})", warnings),
        drawer_agent=agent_of(cheque.drawer_bank, f"52a (cheque {n})", warnings),
        payee=payee,
    )


def mt110_to_presentment(mt: Mt110) -> tuple[ChequePresentmentNotification, list[str]]:
    """MT110 -> payment.cheque_presentment; RejectedInput for more than 10 cheques or mixed currencies."""
    warnings: list[str] = []
    check_repeated([c.amount for c in mt.cheques], MAX_CHEQUES, "cheque", "32a", "C2")
    for tag, present in (("53a", mt.senders_correspondent), ("54a", mt.receivers_correspondent)):
        if present:
            warnings.append(f"{tag}: not carried (camt.107 has no correspondents)")
    if mt.sender_to_receiver_information:
        warnings.append("72: not carried in camt.107")
    cheques = [_presented(c, n, warnings) for n, c in enumerate(mt.cheques, 1)]
    return ChequePresentmentNotification(message_id=mt.sender_reference, cheques=cheques), warnings


def _payee_field(payee: Party, loc: str, warnings: list[str]) -> PartyField | None:
    """59a by name and address (MT cheque messages have no BIC option for the payee)."""
    if payee.name is None:
        warnings.append(f"{loc}/Pyee: a payee without a name has no 59a form")
        return None
    return party_field(payee, "59", warnings, name_option="")


def _cheque_warnings(cheque: ChequeFields, loc: str, warnings: list[str]) -> None:
    original = cheque.original_instruction_id if isinstance(cheque, StopChequeFields) else None
    # The 32A date is ValDt in camt.107 but StlDt in camt.108 / camt.109, which have no value date.
    settlement = cheque.settlement_date if isinstance(cheque, PresentedCheque) else None
    dropped = (("InstrId", cheque.instruction_id), ("OrgnlInstrId", original), ("StlDt", settlement))
    not_carried(dropped, "MT", warnings, prefix=f"{loc}/")


def _mt_cheque(cheque: PresentedCheque, n: int, warnings: list[str]) -> Cheque:
    loc = f"Chq[{n}]"
    _cheque_warnings(cheque, loc, warnings)
    payee = _payee_field(cheque.payee, loc, warnings)
    if payee is None:
        raise refuse(f"{loc}/Pyee/Nm", "payee_name_required", "59a is mandatory in MT110 and needs the payee's name")
    return Cheque(
        cheque_number=reference(cheque.cheque_number, f"{loc}/ChqNb", warnings),
        date_of_issue=cheque.issue_date,
        amount=_mt_amount(cheque.amount, cheque.value_date),
        payer=None if cheque.payer is None else party_field(cheque.payer, "50", warnings),
        drawer_bank=agent_field(cheque.drawer_agent, "52", warnings),
        payee=payee,
    )


def presentment_to_mt110(
    notification: ChequePresentmentNotification, sender: str, receiver: str
) -> tuple[Mt110, list[str]]:
    """payment.cheque_presentment -> MT110; RejectedInput (naming Chq[n]) for more than 10 cheques, mixed
    currencies or a payee without a name."""
    warnings: list[str] = []
    cheques = notification.cheques
    if len(cheques) > MAX_CHEQUES:
        raise refuse("Chq", "too_many_cheques", f"MT110 rule C1: at most {MAX_CHEQUES} cheques")
    for n, cheque in enumerate(cheques, 1):
        if cheque.amount.currency != cheques[0].amount.currency:
            raise refuse(
                f"Chq[{n}]/Amt", "cheque_currency", f"MT110 rule C2: every cheque in {cheques[0].amount.currency}"
            )
    mt = Mt110(
        header=mt_header("110", sender, receiver, None),
        sender_reference=reference(notification.message_id, "GrpHdr/MsgId", warnings),
        cheques=[_mt_cheque(c, n, warnings) for n, c in enumerate(cheques, 1)],
    )
    return mt, warnings


def _coded_text(lines: list[str], tag: str, warnings: list[str]) -> dict[str, str | None]:
    """75 / 76: line 1 is the proprietary reason or status, the other lines its additional information."""
    return dict(proprietary=lines[0], information=limited(joined(lines[1:]), 140, tag, warnings))


def _stop_fields(mt: Mt111 | Mt112, warnings: list[str]) -> dict[str, object]:
    amount, settlement = _amount_and_date(mt.amount)
    return dict(
        cheque_number=mt.cheque_number,
        issue_date=mt.date_of_issue,
        settlement_date=settlement,
        amount=amount,
        drawer_agent=agent_of(mt.drawer_bank, "52a", warnings),
        payee=party_of(mt.payee, "59", warnings),
    )


def mt111_to_stop_request(mt: Mt111) -> tuple[ChequeStopRequest, list[str]]:
    """MT111 -> payment.cheque_stop_request (one cheque) and the warnings."""
    warnings: list[str] = []
    reason = None if not mt.queries else StopReason.model_validate(_coded_text(mt.queries, "75", warnings))
    cheque = ChequeToStop.model_validate({**_stop_fields(mt, warnings), "reason": reason})
    return ChequeStopRequest(message_id=mt.sender_reference, cheques=[cheque]), warnings


def mt112_to_stop_report(mt: Mt112) -> tuple[ChequeStopReport, list[str]]:
    """MT112 -> payment.cheque_stop_report (one cheque) and the warnings."""
    warnings: list[str] = []
    status = StopStatus.model_validate(_coded_text(mt.answers, "76", warnings))
    cheque = StoppedCheque.model_validate({**_stop_fields(mt, warnings), "status": status})
    return ChequeStopReport(message_id=mt.sender_reference, cheques=[cheque]), warnings


def _one_cheque(cheques: list[ChequeToStop] | list[StoppedCheque], kind: str) -> None:
    if len(cheques) > 1:
        raise refuse("Chq[2]", "single_cheque", f"MT{kind} is about one cheque, the message holds {len(cheques)}")


def _lines(
    code: str | None, proprietary: str | None, information: str | None, what: str, warnings: list[str]
) -> list[str]:
    """75 / 76: the proprietary text (or the code as /CODE/) on line 1, then the additional information."""
    first = narrative(proprietary if proprietary is not None else f"/{code}/", 35, 1, what, warnings)
    return first + narrative(information, 35, 5, f"{what}/AddtlInf", warnings)


def _mt_stop_fields(cheque: StopChequeFields, warnings: list[str]) -> dict[str, object]:
    loc = "Chq[1]"
    _cheque_warnings(cheque, loc, warnings)
    return dict(
        cheque_number=reference(cheque.cheque_number, f"{loc}/ChqNb", warnings),
        date_of_issue=cheque.issue_date,
        amount=_mt_amount(cheque.amount, cheque.settlement_date),
        drawer_bank=agent_field(cheque.drawer_agent, "52", warnings),
        payee=None if cheque.payee is None else _payee_field(cheque.payee, loc, warnings),
    )


def stop_request_to_mt111(request: ChequeStopRequest, sender: str, receiver: str) -> tuple[Mt111, list[str]]:
    """payment.cheque_stop_request -> MT111; RejectedInput naming Chq[2] when it holds more than one cheque."""
    warnings: list[str] = []
    _one_cheque(request.cheques, "111")
    cheque = request.cheques[0]
    reason = cheque.reason
    queries = (
        []
        if reason is None
        else _lines(reason.code, reason.proprietary, reason.information, "Chq[1]/ChqCxlOrStopRsn", warnings)
    )
    mt = Mt111.model_validate(
        {
            **_mt_stop_fields(cheque, warnings),
            "header": mt_header("111", sender, receiver, None),
            "sender_reference": reference(request.message_id, "GrpHdr/MsgId", warnings),
            "queries": queries,
        }
    )
    return mt, warnings


def stop_report_to_mt112(report: ChequeStopReport, sender: str, receiver: str) -> tuple[Mt112, list[str]]:
    """payment.cheque_stop_report -> MT112; RejectedInput naming Chq[2] when it holds more than one cheque."""
    warnings: list[str] = []
    _one_cheque(report.cheques, "112")
    cheque = report.cheques[0]
    status = cheque.status
    answers = _lines(status.code, status.proprietary, status.information, "Chq[1]/ChqCxlOrStopSts", warnings)
    mt = Mt112.model_validate(
        {
            **_mt_stop_fields(cheque, warnings),
            "header": mt_header("112", sender, receiver, None),
            "sender_reference": reference(report.message_id, "GrpHdr/MsgId", warnings),
            "answers": answers,
        }
    )
    return mt, warnings
