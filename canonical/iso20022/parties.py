"""Parties, agents and accounts: the building blocks shared by pacs and camt documents."""

from __future__ import annotations

from canonical.iso20022.tree import Reader, Writer
from canonical.payments import Account, Agent, Party, PostalAddress


def read_address(r: Reader | None) -> PostalAddress | None:
    if r is None:
        return None
    return PostalAddress.model_validate(
        dict(
            street=r.text("StrtNm"),
            building_number=r.text("BldgNb"),
            post_code=r.text("PstCd"),
            town=r.text("TwnNm"),
            country=r.text("Ctry"),
            lines=r.texts("AdrLine"),
        )
    )


def write_address(w: Writer, address: PostalAddress | None) -> None:
    if address is None:
        return
    a = w.add("PstlAdr")
    a.opt("StrtNm", address.street)
    a.opt("BldgNb", address.building_number)
    a.opt("PstCd", address.post_code)
    a.opt("TwnNm", address.town)
    a.opt("Ctry", address.country)
    for line in address.lines:
        a.add("AdrLine", line)


def read_account(r: Reader | None) -> Account | None:
    if r is None:
        return None
    iban = r.text("Id/IBAN")
    return Account.model_validate({"iban": iban} if iban else {"other": r.text("Id/Othr/Id")})


def write_account(w: Writer, tag: str, account: Account | None) -> None:
    if account is None:
        return
    if account.iban:
        w.add(f"{tag}/Id/IBAN", account.iban)
    else:
        w.add(f"{tag}/Id/Othr/Id", account.other)


def read_party(r: Reader | None, account: Reader | None = None) -> Party | None:
    if r is None:
        return None
    return Party.model_validate(
        dict(
            name=r.text("Nm"),
            address=read_address(r.find("PstlAdr")),
            bic=r.text("Id/OrgId/AnyBIC"),
            account=read_account(account),
        )
    )


def write_party(w: Writer, tag: str, party: Party | None, account_tag: str | None = None) -> None:
    """Write `tag` (PartyIdentification135) and, if `account_tag` is given, the party's account after it."""
    if party is None:
        return
    p = w.add(tag)
    p.opt("Nm", party.name)
    write_address(p, party.address)
    if party.bic:
        p.add("Id/OrgId/AnyBIC", party.bic)
    if account_tag:
        write_account(w, account_tag, party.account)


def read_agent(r: Reader | None) -> Agent | None:
    """BranchAndFinancialInstitutionIdentification6 -> Agent (BIC, or name and address)."""
    if r is None:
        return None
    return Agent.model_validate(
        dict(
            bic=r.text("FinInstnId/BICFI"),
            name=r.text("FinInstnId/Nm"),
            address=read_address(r.find("FinInstnId/PstlAdr")),
        )
    )


def write_agent(w: Writer, tag: str, agent: Agent | None) -> None:
    if agent is None:
        return
    f = w.add(f"{tag}/FinInstnId")
    f.opt("BICFI", agent.bic)
    f.opt("Nm", agent.name)
    write_address(f, agent.address)


def read_bic(r: Reader, tag: str) -> str | None:
    return r.text(f"{tag}/FinInstnId/BICFI")


def write_bic(w: Writer, tag: str, bic: str | None) -> None:
    if bic is not None:
        w.add(f"{tag}/FinInstnId/BICFI", bic)
