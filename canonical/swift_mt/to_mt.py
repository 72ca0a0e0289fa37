"""payment.credit_transfer -> MT103 and payment.fi_transfer -> MT202(COV), warning where MT cannot carry data;
and what every MT map writes with: the header, x-set text, narratives and references, customer and institution
fields, and the warnings about data not carried."""

from __future__ import annotations

from collections.abc import Iterable

from canonical.errors import RejectedInput, Violation
from canonical.money import Money
from canonical.payments import Account, Agent, ChargeBearer, CreditTransfer, FiTransfer, Party
from canonical.swift_mt.blocks import ApplicationHeader, BasicHeader, MtHeader, bic_to_lt
from canonical.swift_mt.fields import X_CHARS, CurrencyAmount, PartyField, ValueDateAmount, format_amount
from canonical.swift_mt.messages import Mt103, Mt202, Mt202Underlying

CHARGES_TO_MT = {ChargeBearer.DEBT: "OUR", ChargeBearer.SHAR: "SHA", ChargeBearer.CRED: "BEN"}
NOT_PROVIDED = "NOTPROVIDED"  # the CBPR+ translation placeholder for an absent end-to-end id
ISO_MESSAGE = "the ISO 20022 message"  # where MT data that is not carried would have gone


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


def x_line(text: str, what: str, width: int, warnings: list[str]) -> str:
    """`x_text` for a line that may follow another in its field: FIN forbids such a line to start with
    ':' or '-' (it would read as a new tag or the end of the text), so that character becomes '.'."""
    line = x_text(text, what, width, warnings)
    if line.startswith((":", "-")):
        warnings.append(f"{what}: a line starting with {line[0]!r} starts with '.' instead")
        return "." + line[1:]
    return line


def narrative(text: str | None, width: int, max_lines: int, what: str, warnings: list[str]) -> list[str]:
    """`text` cut into at most `max_lines` lines of `width` SWIFT x characters (with a warning when cut)."""
    if not text:
        return []
    clean = x_text(text, what, width * max_lines, warnings)
    return [x_line(clean[i : i + width], what, width, warnings) for i in range(0, len(clean), width)]


def reference(value: str, what: str, warnings: list[str]) -> str:
    """A reference as field 20 or 21 holds it (16 x characters)."""
    return x_text(value, what, 16, warnings)


def not_carried(fields: Iterable[tuple[str, object]], where: str, warnings: list[str], prefix: str = "") -> None:
    """A warning `<prefix><name>: not carried in <where>` for each (name, value) of `fields` with a value."""
    warnings.extend(f"{prefix}{name}: not carried in {where}" for name, present in fields if present)


def identifier_of(account: Account | None) -> str | None:
    """An account as the party identifier line `/account`."""
    return None if account is None else "/" + account.identifier


def customer_field(party: Party, tag: str, warnings: list[str]) -> PartyField:
    """A customer (50a, 59a) as option A (a BIC alone) or as name and address lines, with its account line."""
    if party.bic and not party.name:
        return PartyField(option="A", identifier=identifier_of(party.account), bic=party.bic)
    lines = [x_line(party.name or "", f"{tag} name", 35, warnings)]
    address = party.address
    if address is not None:
        lines += [x_line(line, f"{tag} address", 35, warnings) for line in address.lines]
        structured = " ".join(
            p for p in (address.street, address.building_number, address.post_code, address.town, address.country) if p
        )
        if structured and not address.lines:
            lines += narrative(structured, 35, 3, f"{tag} address", warnings)
    if len(lines) > 4:
        warnings.append(f"{tag}: only 4 name and address lines fit")
    option = "K" if tag == "50" else ""
    return PartyField(option=option, identifier=identifier_of(party.account), lines=lines[:4])


def agent_field(agent: Agent | None, tag: str, warnings: list[str], omit_bic: str | None = None) -> PartyField | None:
    """An Agent as option A (BIC) or D (name and address); None when absent or the implied `omit_bic`."""
    if agent is None or (agent.bic is not None and agent.bic == omit_bic):
        return None
    if agent.bic:
        return PartyField(option="A", bic=agent.bic)
    lines = [x_line(agent.name or "", f"{tag} name", 35, warnings)]
    lines += [x_line(line, f"{tag} address", 35, warnings) for line in (agent.address.lines if agent.address else [])]
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
    dropped = (
        ("ChrgsInf", ct.charges),
        ("InstrForCdtrAgt", ct.instructions_for_creditor_agent),
        ("EndToEndId", ct.end_to_end_id != NOT_PROVIDED),
    )
    not_carried(dropped, "MT103", warnings)
    mt = Mt103(
        header=mt_header("103", sender, receiver, ct.uetr, possible_duplicate=possible_duplicate),
        sender_reference=reference(ct.instruction_id or ct.message_id, "InstrId", warnings),
        bank_operation_code="CRED",
        settlement=_date_amount(ct.settlement_amount, ct.settlement_date),
        instructed_amount=None
        if ct.instructed_amount is None
        else CurrencyAmount.of(ct.instructed_amount.currency, ct.instructed_amount.amount),
        exchange_rate=None if ct.exchange_rate is None else format_amount(ct.exchange_rate),
        ordering_customer=customer_field(ct.debtor, "50", warnings),
        ordering_institution=agent_field(ct.debtor_agent, "52", warnings, omit_bic=sender),
        senders_correspondent=_bic_field(ct.instructing_reimbursement_agent),
        receivers_correspondent=_bic_field(ct.instructed_reimbursement_agent),
        intermediary=agent_field(ct.intermediary_agent, "56", warnings),
        account_with_institution=agent_field(ct.creditor_agent, "57", warnings, omit_bic=receiver),
        beneficiary=customer_field(ct.creditor, "59", warnings),
        remittance_information=narrative("".join(ct.remittance_information), 35, 4, "RmtInf", warnings),
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
            ordering_customer=customer_field(u.debtor, "50", warnings),
            ordering_institution=agent_field(u.debtor_agent, "52", warnings),
            intermediary=agent_field(u.intermediary_agent, "56", warnings),
            account_with_institution=agent_field(u.creditor_agent, "57", warnings),
            beneficiary=customer_field(u.creditor, "59", warnings),
            remittance_information=narrative("".join(u.remittance_information), 35, 4, "RmtInf", warnings),
            instructed_amount=None
            if u.instructed_amount is None
            else CurrencyAmount.of(u.instructed_amount.currency, u.instructed_amount.amount),
        )
    mt = Mt202(
        header=mt_header("202", sender, receiver, ft.uetr, possible_duplicate=possible_duplicate, cover=ft.cover),
        sender_reference=reference(ft.instruction_id or ft.message_id, "InstrId", warnings),
        related_reference=reference(ft.end_to_end_id, "EndToEndId", warnings),
        settlement=_date_amount(ft.settlement_amount, ft.settlement_date),
        ordering_institution=_bic_field(ft.debtor, omit=sender),
        senders_correspondent=_bic_field(ft.instructing_reimbursement_agent),
        receivers_correspondent=_bic_field(ft.instructed_reimbursement_agent),
        intermediary=_bic_field(ft.intermediary_agent),
        account_with_institution=_bic_field(ft.creditor_agent),
        beneficiary_institution=PartyField(option="A", identifier=identifier_of(ft.creditor_account), bic=ft.creditor),
        sender_to_receiver_information=[
            x_text(t, "InstrForNxtAgt", 35, warnings) for t in ft.instructions_for_next_agent
        ][:6],
        underlying=underlying,
    )
    return mt, warnings
