"""Read and write CEB elements from the models alone: fields in XSD order, aliases as element names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from lxml import etree
from pydantic import BaseModel

NS = "http://www.chinaport.gov.cn/ceb"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True)
class Slot:
    """How one model field appears in XML: a text element, a child entity, or a repeated child entity."""

    name: str
    alias: str
    tag: str
    entity: type[BaseModel] | None
    many: bool
    required: bool


def _entity(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        return next((e for a in get_args(annotation) if a is not NoneType and (e := _entity(a))), None)
    return None


@cache
def slots(model: type[BaseModel], skip: tuple[str, ...] = ()) -> tuple[Slot, ...]:
    out: list[Slot] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        alias = info.alias or name
        many = get_origin(info.annotation) is list
        inner = get_args(info.annotation)[0] if many else info.annotation
        out.append(Slot(name, alias, f"{{{NS}}}{alias}", _entity(inner), many, info.is_required()))
    return tuple(out)


def read(el: etree._Element, model: type[BaseModel], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Children of `el` as a dict by alias, ready for `model.model_validate`; unknown children are left out."""
    by_tag = {s.tag: s for s in slots(model, skip)}
    data: dict[str, Any] = {}
    for child in el:
        slot = by_tag.get(child.tag) if isinstance(child.tag, str) else None
        if slot is None:
            continue  # ds:Signature, ExtendMessage: not business data
        if slot.entity is not None:
            value: Any = read(child, slot.entity)
        else:
            value = child.text or ""
            if value == "" and not slot.required:
                continue  # `<ceb:note></ceb:note>` means absent
        if slot.many:
            data.setdefault(slot.alias, []).append(value)
        else:
            data[slot.alias] = value
    return data


def text_of(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent: xs:decimal has none
    return str(value)


def write(el: etree._Element, model: BaseModel, only: Sequence[str] | None = None, skip: tuple[str, ...] = ()) -> None:
    """Append `model`'s fields to `el` in XSD order (or in the order of `only`), leaving out absent ones."""
    fields = slots(type(model), skip)
    if only is not None:
        by_name = {s.name: s for s in fields}
        fields = tuple(by_name[n] for n in only)
    for slot in fields:
        value = getattr(model, slot.name)
        if value is None:
            continue
        for item in value if slot.many else (value,):
            child = etree.SubElement(el, slot.tag)
            if slot.entity is not None:
                write(child, item)
            else:
                child.text = text_of(item)


def signature_template(parent: etree._Element) -> None:
    """An unsigned enveloped `ds:Signature` (SM2/SM3, empty values) for the security layer to fill in."""
    sig = etree.SubElement(parent, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
    info = etree.SubElement(sig, f"{{{DS_NS}}}SignedInfo")
    c14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    etree.SubElement(info, f"{{{DS_NS}}}CanonicalizationMethod", Algorithm=c14n)
    etree.SubElement(
        info, f"{{{DS_NS}}}SignatureMethod", Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
    )
    ref = etree.SubElement(info, f"{{{DS_NS}}}Reference", URI="")
    transforms = etree.SubElement(ref, f"{{{DS_NS}}}Transforms")
    etree.SubElement(transforms, f"{{{DS_NS}}}Transform", Algorithm=f"{DS_NS}enveloped-signature")
    etree.SubElement(ref, f"{{{DS_NS}}}DigestMethod", Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm3")
    etree.SubElement(ref, f"{{{DS_NS}}}DigestValue")
    etree.SubElement(sig, f"{{{DS_NS}}}SignatureValue")
