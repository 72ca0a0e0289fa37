"""Party40Choice: a party (Pty) or an agent (Agt) acting in a party's role (debtor, account owner ...)."""

from __future__ import annotations

from canonical.iso20022.parties import read_account, read_agent, read_party, write_party
from canonical.iso20022.tree import Reader, Writer
from canonical.payments import Party


def read_party_choice(r: Reader | None, account: Reader | None = None) -> Party | None:
    """The party at `r`: its Pty, or its Agt kept by BIC, name and address; with the account at `account`."""
    if r is None:
        return None
    pty = r.find("Pty")
    if pty is not None:
        return read_party(pty, account)
    agent = read_agent(r.find("Agt"))
    if agent is None:
        return None
    return Party(name=agent.name, address=agent.address, bic=agent.bic, account=read_account(account))


def write_party_choice(w: Writer, tag: str, party: Party | None, account_tag: str | None = None) -> None:
    """`tag`/Pty (the hub writes every party as Pty) and, if `account_tag` is given, the account after `tag`."""
    write_party(w, f"{tag}/Pty", party, account_tag)
