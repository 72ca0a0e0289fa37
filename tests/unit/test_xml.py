"""The hardened XML parser refuses hostile input with the rule that tripped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.xml import UnsafeXml, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>"""


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (BILLION_LAUGHS, "doctype_forbidden"),
        (XXE, "doctype_forbidden"),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a []><a/>'.encode("utf-16"), "doctype_forbidden"),
        (b"<a>" * 10_000 + b"</a>" * 10_000, "too_deep"),
        (b"<a>" + b"x" * (5 * 1024 * 1024) + b"</a>", "too_large"),
        (b"<a><b></a>", "malformed"),
        (b"", "malformed"),
        (b"<a>&undefined;</a>", "malformed"),
        (b"not xml at all", "malformed"),
    ],
)
def test_hostile_and_malformed_xml_is_refused(data: bytes, rule: str) -> None:
    with pytest.raises(UnsafeXml) as info:
        parse_xml(data)
    assert info.value.rule == rule


def test_plain_document_parses_without_comments_or_pis() -> None:
    root = parse_xml(b"<?xml version='1.0'?><a><!-- c --><?pi x?><b>t</b></a>")
    assert [c.tag for c in root] == ["b"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_parse_or_fail_with_a_rule(data: bytes) -> None:
    try:
        parse_xml(data)
    except UnsafeXml as exc:
        assert exc.rule in {"doctype_forbidden", "too_large", "too_deep", "malformed"}
