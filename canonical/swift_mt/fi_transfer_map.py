"""MT200 and MT205 / MT205COV -> payment.fi_transfer (pacs.009.001.08), and payment.fi_transfer -> MT205(COV).

MT205 has the fields of an MT202 less 54a, with 52a mandatory: it maps as an MT202 does. MT200 moves the
Sender's own funds: the Sender is debtor and creditor, 57a the creditor's agent, 56a the intermediary;
MT200 has no related reference, so EndToEndId is NOTPROVIDED (warned).
"""

from __future__ import annotations

from canonical.payments import FiTransfer
from canonical.swift_mt.fields import PartyField
from canonical.swift_mt.mapping import refuse
from canonical.swift_mt.messages import Mt202
from canonical.swift_mt.to_mt import NOT_PROVIDED, fi_transfer_to_mt202
from canonical.swift_mt.transfers import Mt200, Mt205
from canonical.swift_mt.translate import bic_of, mt202_to_fi_transfer, transfer_fields


def as_mt202(mt: Mt205) -> Mt202:
    """The MT202 with the same fields (an MT205 is an MT202 without 54a)."""
    return Mt202.model_validate({name: getattr(mt, name) for name in Mt205.model_fields})


def mt205_to_fi_transfer(mt: Mt205) -> tuple[FiTransfer, list[str]]:
    """MT205 / MT205COV -> payment.fi_transfer, as for MT202 / MT202COV."""
    return mt202_to_fi_transfer(as_mt202(mt))


def mt200_to_fi_transfer(mt: Mt200) -> tuple[FiTransfer, list[str]]:
    """MT200 -> payment.fi_transfer; RejectedInput when 57a or 56a do not name a BIC (pacs.009 needs one)."""
    warnings = [f"EndToEndId set to {NOT_PROVIDED}: MT200 has no related reference"]
    if mt.senders_correspondent is not None:
        warnings.append("53B: the Sender's account to debit is not carried")
    sender = mt.header.sender_bic
    creditor_agent = bic_of(mt.account_with_institution, "57a", warnings)
    if creditor_agent is None:
        raise refuse(f"4:57{mt.account_with_institution.option}", "bic_required", "pacs.009 needs the BIC (57A)")
    transfer = FiTransfer(
        **transfer_fields(mt, NOT_PROVIDED),
        intermediary_agent=bic_of(mt.intermediary, "56a", warnings),
        debtor=sender,  # an own-account transfer: the Sender's funds go to its account at 57a
        creditor_agent=creditor_agent,
        creditor=sender,
        instructions_for_next_agent=mt.sender_to_receiver_information,
    )
    return transfer, warnings


def fi_transfer_to_mt205(
    ft: FiTransfer, sender: str, receiver: str, possible_duplicate: bool = False
) -> tuple[Mt205, list[str]]:
    """payment.fi_transfer -> MT205 (MT205COV with the underlying transfer) and the warnings."""
    mt202, warnings = fi_transfer_to_mt202(ft, sender, receiver, possible_duplicate)
    if mt202.receivers_correspondent is not None:
        warnings.append("InstdRmbrsmntAgt: MT205 has no 54a; not carried")
    application = mt202.header.application.model_copy(update={"message_type": "205"})
    fields = {name: getattr(mt202, name) for name in Mt205.model_fields}
    fields["header"] = mt202.header.model_copy(update={"application": application})
    # 52a is mandatory in MT205, even when the ordering institution is the Sender.
    fields["ordering_institution"] = mt202.ordering_institution or PartyField(option="A", bic=ft.debtor)
    return Mt205.model_validate(fields), warnings
