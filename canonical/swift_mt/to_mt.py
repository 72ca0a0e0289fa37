"""payment.credit_transfer -> MT103 and payment.fi_transfer -> MT202(COV), warning where MT cannot carry data."""

from __future__ import annotations

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import Account, Agent, ChargeBearer, CreditTransfer, FiTransfer, Party
from canonical.swift_mt.blocks import ApplicationHeader, BasicHeader, MtHeader, bic_to_lt
from canonical.swift_mt.fields import X_CHARS, CurrencyAmount, PartyField, ValueDateAmount
from canonical.swift_mt.messages import Mt103, Mt202, Mt202Underlying

CHARGES_TO_MT = {ChargeBearer.DEBT: "OUR", ChargeBearer.SHAR: "SHA", ChargeBearer.CRED: "BEN"}


def mt_header(
    message_type: str,
    sender: str,
    receiver: str,
    uetr: str | None,
    *,
    possible_duplicate: bool = False,
    cover: bool = False,
) -> MtHeader:
    """An input (sender's view) header: block 1 sender LT, block 2 receiver, 121 UETR (if any), PDE if a resend."""
    user = ([("119", "COV")] if cover else []) + ([("121", uetr)] if uetr else [])
    return MtHeader(
        basic=BasicHeader(lt_address=bic_to_lt(sender, "A")),
        application=ApplicationHeader(
            direction="I", message_type=message_type, receiver_lt=bic_to_lt(receiver, "X"), priority="N"
        ),
        user_header=user,
        trailer=[("PDE", "")] if possible_duplicate else [],
    )


def x_text(text: str, what: str, width: int, warnings: list[str]) -> str:
    """SWIFT x-set text of at most `width` characters (others become '.', as CBPR+ translation does)."""
    clean = "".join(ch if X_CHARS.match(ch) else "." for ch in text)
    if clean != text:
        warnings.append(f"{what}: characters outside the SWIFT x set replaced by '.'")
    if len(clean) > width:
        warnings.append(f"{what}: truncated to {width} characters")
    return clean[:width]


def _chunks(text: str, width: int, max_lines: int, what: str, warnings: list[str]) -> list[str]:
    clean = x_text(text, what, width * max_lines, warnings)
    return [clean[i : i + width] for i in range(0, len(clean), width)]


def _reference(value: str, what: str, warnings: list[str]) -> str:
    return x_text(value, what, 16, warnings)


def _identifier(account: Account | None) -> str | None:
    return None if account is None else "/" + account.identifier


def _party_field(party: Party, tag: str, warnings: list[str]) -> PartyField:
    if party.bic and not party.name:
        return PartyField(option="A", identifier=_identifier(party.account), bic=party.bic)
    lines = [x_text(party.name or "", f"{tag} name", 35, warnings)]
    address = party.address
    if address is not None:
        lines += [x_text(line, f"{tag} address", 35, warnings) for line in address.lines]
        structured = " ".join(
            p for p in (address.street, address.building_number, address.post_code, address.town, address.country) if p
        )
        if structured and not address.lines:
            lines += _chunks(structured, 35, 3, f"{tag} address", warnings)
    if len(lines) > 4:
        warnings.append(f"{tag}: only 4 name and address lines fit")
    option = "K" if tag == "50" else ""
    return PartyField(option=option, identifier=_identifier(party.account), lines=lines[:4])


def _agent_field(agent: Agent | None, tag: str, warnings: list[str], omit_bic: str | None = None) -> PartyField | None:
    if agent is None or (agent.bic is not None and agent.bic == omit_bic):
        return None
    if agent.bic:
        return PartyField(option="A", bic=agent.bic)
    lines = [x_text(agent.name or "", f"{tag} name", 35, warnings)]
    lines += [x_text(line, f"{tag} address", 35, warnings) for line in (agent.address.lines if agent.address else [])]
    return PartyField(option="D", lines=lines[:4])


def _bic_field(bic: str | None, omit: str | None = None) -> PartyField | None:
    return None if bic is None or bic == omit else PartyField(option="A", bic=bic)


def _date_amount(money: Money, when: object) -> ValueDateAmount:
    return ValueDateAmount.dated(when, money.currency, money.amount)  # type: ignore[arg-type]


def credit_transfer_to_mt103(
    ct: CreditTransfer, sender: str, receiver: str, possible_duplicate: bool = False
) -> tuple[Mt103, list[str]]:
    warnings: list[str] = []
    if ct.charge_bearer not in CHARGES_TO_MT:
        raise RejectedInput("not translatable", [Violation("ChrgBr", "charge_bearer_not_in_mt", "SLEV has no 71A")])
    for what, present in (
        ("ChrgsInf", ct.charges),
        ("InstrForCdtrAgt", ct.instructions_for_creditor_agent),
        ("EndToEndId", ct.end_to_end_id != "NOTPROVIDED"),
    ):
        if present:
            warnings.append(f"{what}: not carried in MT103")
    mt = Mt103(
        header=mt_header("103", sender, receiver, ct.uetr, possible_duplicate=possible_duplicate),
        sender_reference=_reference(ct.instruction_id or ct.message_id, "InstrId", warnings),
        bank_operation_code="CRED",
        settlement=_date_amount(ct.settlement_amount, ct.settlement_date),
        instructed_amount=None
        if ct.instructed_amount is None
        else CurrencyAmount.of(ct.instructed_amount.currency, ct.instructed_amount.amount),
        exchange_rate=None if ct.exchange_rate is None else format(ct.exchange_rate.normalize(), "f").replace(".", ","),
        ordering_customer=_party_field(ct.debtor, "50", warnings),
        ordering_institution=_agent_field(ct.debtor_agent, "52", warnings, omit_bic=sender),
        senders_correspondent=_bic_field(ct.instructing_reimbursement_agent),
        receivers_correspondent=_bic_field(ct.instructed_reimbursement_agent),
        intermediary=_agent_field(ct.intermediary_agent, "56", warnings),
        account_with_institution=_agent_field(ct.creditor_agent, "57", warnings, omit_bic=receiver),
        beneficiary=_party_field(ct.creditor, "59", warnings),
        remittance_information=_chunks("".join(ct.remittance_information), 35, 4, "RmtInf", warnings),
        details_of_charges=CHARGES_TO_MT[ct.charge_bearer],
        sender_to_receiver_information=[
            x_text(t, "InstrForNxtAgt", 35, warnings) for t in ct.instructions_for_next_agent
        ][:6],
    )
    return mt, warnings


def fi_transfer_to_mt202(
    ft: FiTransfer, sender: str, receiver: str, possible_duplicate: bool = False
) -> tuple[Mt202, list[str]]:
    warnings: list[str] = []
    underlying = None
    if ft.underlying is not None:
        u = ft.underlying
        underlying = Mt202Underlying(
            ordering_customer=_party_field(u.debtor, "50", warnings),
            ordering_institution=_agent_field(u.debtor_agent, "52", warnings),
            intermediary=_agent_field(u.intermediary_agent, "56", warnings),
            account_with_institution=_agent_field(u.creditor_agent, "57", warnings),
            beneficiary=_party_field(u.creditor, "59", warnings),
            remittance_information=_chunks("".join(u.remittance_information), 35, 4, "RmtInf", warnings),
            instructed_amount=None
            if u.instructed_amount is None
            else CurrencyAmount.of(u.instructed_amount.currency, u.instructed_amount.amount),
        )
    mt = Mt202(
        header=mt_header("202", sender, receiver, ft.uetr, possible_duplicate=possible_duplicate, cover=ft.cover),
        sender_reference=_reference(ft.instruction_id or ft.message_id, "InstrId", warnings),
        related_reference=_reference(ft.end_to_end_id, "EndToEndId", warnings),
        settlement=_date_amount(ft.settlement_amount, ft.settlement_date),
        ordering_institution=_bic_field(ft.debtor, omit=sender),
        senders_correspondent=_bic_field(ft.instructing_reimbursement_agent),
        receivers_correspondent=_bic_field(ft.instructed_reimbursement_agent),
        intermediary=_bic_field(ft.intermediary_agent),
        account_with_institution=_bic_field(ft.creditor_agent),
        beneficiary_institution=PartyField(option="A", identifier=_identifier(ft.creditor_account), bic=ft.creditor),
        sender_to_receiver_information=[
            x_text(t, "InstrForNxtAgt", 35, warnings) for t in ft.instructions_for_next_agent
        ][:6],
        underlying=underlying,
    )
    return mt, warnings
