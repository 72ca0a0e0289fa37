"""Small namespace-aware helpers to read and write one ISO 20022 document (one namespace each)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from lxml import etree

from canonical.errors import RejectedInput, Violation
from canonical.money import Money

ISO_NS = "urn:iso:std:iso:20022:tech:xsd:"
ENVELOPE_NS = "urn:swift:xsd:envelope"


@lru_cache(maxsize=1024)
def qualified(ns: str, path: str) -> str:
    return "/".join(f"{{{ns}}}{step}" for step in path.split("/"))


def local_name(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def element_path(el: etree._Element) -> str:
    """`/Document/FIToFICstmrCdtTrf/...`: local names from the message root (Document or AppHdr)."""
    names: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        name = local_name(node)
        names.append(name)
        if name in ("Document", "AppHdr"):
            break
        node = node.getparent()
    return "/" + "/".join(reversed(names))


class Reader:
    """Reads one element of a document by relative paths of local names (`PmtId/UETR`)."""

    __slots__ = ("el", "ns")

    def __init__(self, el: etree._Element, ns: str) -> None:
        self.el = el
        self.ns = ns

    def find(self, path: str) -> Reader | None:
        found = self.el.find(qualified(self.ns, path))
        return None if found is None else Reader(found, self.ns)

    def all(self, path: str) -> list[Reader]:
        return [Reader(e, self.ns) for e in self.el.iterfind(qualified(self.ns, path))]

    def text(self, path: str) -> str | None:
        value = self.el.findtext(qualified(self.ns, path))
        return None if value is None else str(value)

    def need(self, path: str) -> str:
        value = self.text(path)
        if not value:
            raise self.missing(path)
        return value

    def child(self, path: str) -> Reader:
        """The (first) element at `path`; RejectedInput (path + `required`) when there is none."""
        found = self.find(path)
        if found is None:
            raise self.missing(path)
        return found

    def missing(self, path: str) -> RejectedInput:
        """The error of a mandatory element missing at `path`, naming it."""
        where = f"{element_path(self.el)}/{path}"
        return RejectedInput("missing element", [Violation(where, "required", "this element is mandatory")])

    def texts(self, path: str) -> list[str]:
        return [e.text or "" for e in self.el.iterfind(qualified(self.ns, path))]

    def money(self, path: str) -> Money | None:
        node = self.el.find(qualified(self.ns, path))
        if node is None:
            return None
        return Money(currency=node.get("Ccy", ""), amount=Decimal((node.text or "").strip()))

    def date(self, path: str) -> date | None:
        value = self.text(path)
        return None if value is None else date.fromisoformat(value)

    def datetime(self, path: str) -> datetime | None:
        value = self.text(path)
        return None if value is None else datetime.fromisoformat(value)


class Writer:
    """Appends children in the order the caller writes them (which must be the XSD's order)."""

    __slots__ = ("el", "ns")

    def __init__(self, el: etree._Element, ns: str) -> None:
        self.el = el
        self.ns = ns

    @classmethod
    def root(cls, ns: str, tag: str) -> Writer:
        return cls(etree.Element(f"{{{ns}}}{tag}", nsmap={None: ns}), ns)

    def add(self, path: str, text: str | None = None, **attrs: str) -> Writer:
        node = self.el
        for step in path.split("/"):
            node = etree.SubElement(node, f"{{{self.ns}}}{step}")
        if text is not None:
            node.text = text
        for key, value in attrs.items():
            node.set(key, value)
        return Writer(node, self.ns)

    def opt(self, path: str, text: str | None) -> None:
        if text is not None:
            self.add(path, text)

    def money(self, path: str, money: Money | None) -> None:
        if money is not None:
            self.add(path, amount_text(money.amount), Ccy=money.currency)


def new_document(definition: str, root: str) -> tuple[Writer, Writer]:
    """The Document of message definition `definition` and its message element `root`."""
    doc = Writer.root(f"{ISO_NS}{definition}", "Document")
    return doc, doc.add(root)


def amount_text(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def iso_datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
