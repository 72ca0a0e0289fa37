"""pacs.009.001.08 FICdtTrf <-> payment.fi_transfer; the cover variant carries UndrlygCstmrCdtTrf."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canonical.iso20022.parties import (
    read_account,
    read_agent,
    read_bic,
    read_party,
    write_account,
    write_agent,
    write_bic,
    write_party,
)
from canonical.iso20022.transfer import read_frame, write_frame
from canonical.iso20022.tree import Reader, Writer
from canonical.payments import FiTransfer, UnderlyingCustomerTransfer

DEFINITION = "pacs.009.001.08"
ROOT = "FICdtTrf"


def read(doc: Reader) -> FiTransfer:
    msg = doc.child(ROOT)
    tx = msg.child("CdtTrfTxInf")
    underlying = tx.find("UndrlygCstmrCdtTrf")
    return FiTransfer.model_validate(
        dict(
            **read_frame(msg, tx),
            intermediary_agent=read_bic(tx, "IntrmyAgt1"),
            debtor=read_bic(tx, "Dbtr"),
            debtor_agent=read_bic(tx, "DbtrAgt"),
            creditor_agent=read_bic(tx, "CdtrAgt"),
            creditor=read_bic(tx, "Cdtr"),
            creditor_account=read_account(tx.find("CdtrAcct")),
            instructions_for_next_agent=tx.texts("InstrForNxtAgt/InstrInf"),
            cover=underlying is not None,
            underlying=_read_underlying(underlying) if underlying is not None else None,
        )
    )


def _read_underlying(u: Reader) -> dict[str, Any]:
    return dict(
        debtor=read_party(u.find("Dbtr"), u.find("DbtrAcct")),
        debtor_agent=read_agent(u.find("DbtrAgt")),
        intermediary_agent=read_agent(u.find("IntrmyAgt1")),
        creditor_agent=read_agent(u.find("CdtrAgt")),
        creditor=read_party(u.find("Cdtr"), u.find("CdtrAcct")),
        remittance_information=u.texts("RmtInf/Ustrd"),
        instructed_amount=u.money("InstdAmt"),
    )


def write(ft: FiTransfer, now: datetime) -> Writer:
    doc, tx = write_frame(DEFINITION, ROOT, ft, now)
    write_bic(tx, "InstgAgt", ft.instructing_agent)
    write_bic(tx, "InstdAgt", ft.instructed_agent)
    write_bic(tx, "IntrmyAgt1", ft.intermediary_agent)
    write_bic(tx, "Dbtr", ft.debtor)
    write_bic(tx, "DbtrAgt", ft.debtor_agent)
    write_bic(tx, "CdtrAgt", ft.creditor_agent)
    write_bic(tx, "Cdtr", ft.creditor)
    write_account(tx, "CdtrAcct", ft.creditor_account)
    for text in ft.instructions_for_next_agent:
        tx.add("InstrForNxtAgt/InstrInf", text)
    if ft.underlying is not None:
        _write_underlying(tx.add("UndrlygCstmrCdtTrf"), ft.underlying)
    return doc


def _write_underlying(u: Writer, cov: UnderlyingCustomerTransfer) -> None:
    write_party(u, "Dbtr", cov.debtor, "DbtrAcct")
    write_agent(u, "DbtrAgt", cov.debtor_agent)
    write_agent(u, "IntrmyAgt1", cov.intermediary_agent)
    write_agent(u, "CdtrAgt", cov.creditor_agent)
    write_party(u, "Cdtr", cov.creditor, "CdtrAcct")
    if cov.remittance_information:
        rmt = u.add("RmtInf")
        for text in cov.remittance_information:
            rmt.add("Ustrd", text)
    u.money("InstdAmt", cov.instructed_amount)
