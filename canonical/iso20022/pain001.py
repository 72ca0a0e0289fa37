"""pain.001.001.09 CstmrCdtTrfInitn <-> payment.initiation: one PmtInf holding one CdtTrfTxInf (CBPR+)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from canonical.iso20022.group import read_group_header, write_group_header
from canonical.iso20022.parties import read_account, read_agent, read_party, write_account, write_agent, write_party
from canonical.iso20022.single import only
from canonical.iso20022.tree import Reader, Writer, amount_text, new_document
from canonical.payments import InitiatingParty, PaymentInitiation

DEFINITION = "pain.001.001.09"
ROOT = "CstmrCdtTrfInitn"


def read_initiating_party(r: Reader | None) -> InitiatingParty | None:
    """PartyIdentification135 -> InitiatingParty: name, AnyBIC and the first other identifier."""
    if r is None:
        return None
    return InitiatingParty.model_validate(
        dict(
            name=r.text("Nm"),
            bic=r.text("Id/OrgId/AnyBIC"),
            identifier=r.text("Id/OrgId/Othr/Id") or r.text("Id/PrvtId/Othr/Id"),
        )
    )


def write_initiating_party(w: Writer, tag: str, party: InitiatingParty | None) -> None:
    if party is None:
        return
    p = w.add(tag)
    p.opt("Nm", party.name)
    if party.bic or party.identifier:
        org = p.add("Id/OrgId")
        org.opt("AnyBIC", party.bic)
        org.opt("Othr/Id", party.identifier)


def _execution_date(pmt: Reader) -> date:
    day = pmt.date("ReqdExctnDt/Dt")
    if day is not None:
        return day
    moment = pmt.datetime("ReqdExctnDt/DtTm")
    if moment is None:
        pmt.need("ReqdExctnDt/Dt")  # raises, naming the missing element
    assert moment is not None
    return moment.date()


def read(doc: Reader) -> PaymentInitiation:
    """The one PmtInf and its one CdtTrfTxInf; RejectedInput (`cbpr_single_transaction`) if there are more."""
    msg = doc.child(ROOT)
    pmt = only(msg, "PmtInf")
    tx = only(pmt, "CdtTrfTxInf")
    rate = tx.text("XchgRateInf/XchgRate")
    return PaymentInitiation.model_validate(
        dict(
            **read_group_header(msg),
            authorisation=msg.text("GrpHdr/Authstn/Prtry"),
            initiating_party=read_initiating_party(msg.find("GrpHdr/InitgPty")),
            payment_information_id=pmt.need("PmtInfId"),
            requested_execution_date=_execution_date(pmt),
            debtor=read_party(pmt.find("Dbtr"), pmt.find("DbtrAcct")),
            debtor_agent=read_agent(pmt.find("DbtrAgt")),
            charges_account=read_account(pmt.find("ChrgsAcct")),
            instruction_id=tx.text("PmtId/InstrId"),
            end_to_end_id=tx.need("PmtId/EndToEndId"),
            uetr=tx.text("PmtId/UETR"),
            priority=tx.text("PmtTpInf/InstrPrty"),
            category_purpose=tx.text("PmtTpInf/CtgyPurp/Cd"),
            instructed_amount=tx.money("Amt/InstdAmt"),
            equivalent_amount=tx.money("Amt/EqvtAmt/Amt"),
            transfer_currency=tx.text("Amt/EqvtAmt/CcyOfTrf"),
            exchange_rate=Decimal(rate) if rate else None,
            fx_contract_id=tx.text("XchgRateInf/CtrctId"),
            charge_bearer=tx.text("ChrgBr"),
            intermediary_agent=read_agent(tx.find("IntrmyAgt1")),
            creditor_agent=read_agent(tx.find("CdtrAgt")),
            creditor=read_party(tx.find("Cdtr"), tx.find("CdtrAcct")),
            creditor_agent_instructions=[c for c in tx.texts("InstrForCdtrAgt/Cd") if c],
            instructions_for_debtor_agent=tx.text("InstrForDbtrAgt"),
            remittance_information=tx.texts("RmtInf/Ustrd"),
        )
    )


def _write_transaction(pmt: Writer, pi: PaymentInitiation) -> None:
    tx = pmt.add("CdtTrfTxInf")
    pid = tx.add("PmtId")
    pid.opt("InstrId", pi.instruction_id)
    pid.add("EndToEndId", pi.end_to_end_id)
    pid.opt("UETR", pi.uetr)
    if pi.priority or pi.category_purpose:
        tp = tx.add("PmtTpInf")
        tp.opt("InstrPrty", pi.priority.value if pi.priority else None)
        tp.opt("CtgyPurp/Cd", pi.category_purpose)
    amount = tx.add("Amt")
    if pi.equivalent_amount is not None and pi.transfer_currency is not None:
        eqvt = amount.add("EqvtAmt")
        eqvt.money("Amt", pi.equivalent_amount)
        eqvt.add("CcyOfTrf", pi.transfer_currency)
    else:
        amount.money("InstdAmt", pi.instructed_amount)
    if pi.exchange_rate is not None or pi.fx_contract_id:
        fx = tx.add("XchgRateInf")
        fx.opt("XchgRate", amount_text(pi.exchange_rate) if pi.exchange_rate is not None else None)
        fx.opt("CtrctId", pi.fx_contract_id)
    tx.opt("ChrgBr", pi.charge_bearer.value if pi.charge_bearer else None)
    write_agent(tx, "IntrmyAgt1", pi.intermediary_agent)
    write_agent(tx, "CdtrAgt", pi.creditor_agent)
    write_party(tx, "Cdtr", pi.creditor, "CdtrAcct")
    for code in pi.creditor_agent_instructions:
        tx.add("InstrForCdtrAgt/Cd", code.value)
    tx.opt("InstrForDbtrAgt", pi.instructions_for_debtor_agent)
    if pi.remittance_information:
        rmt = tx.add("RmtInf")
        for text in pi.remittance_information:
            rmt.add("Ustrd", text)


def write(pi: PaymentInitiation, now: datetime) -> Writer:
    """The Document in XSD order: the group header, one PmtInf (TRF) and its one transaction."""
    doc, msg = new_document(DEFINITION, ROOT)
    hdr = write_group_header(msg, pi, now)
    hdr.opt("Authstn/Prtry", pi.authorisation)
    hdr.add("NbOfTxs", "1")
    write_initiating_party(hdr, "InitgPty", pi.initiating_party)
    pmt = msg.add("PmtInf")
    pmt.add("PmtInfId", pi.payment_information_id)
    pmt.add("PmtMtd", "TRF")
    pmt.add("ReqdExctnDt/Dt", pi.requested_execution_date.isoformat())
    write_party(pmt, "Dbtr", pi.debtor, "DbtrAcct")
    write_agent(pmt, "DbtrAgt", pi.debtor_agent)
    write_account(pmt, "ChrgsAcct", pi.charges_account)
    _write_transaction(pmt, pi)
    return doc
