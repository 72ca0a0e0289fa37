"""`hub validate` on a CEB body refuses hostile XML with one specific line each (DOCTYPE, entities, XInclude,
bytes that do not match the declared encoding, too deep, too large) and accepts the published samples of
the 202205 pack and the 2018 form of the export samples (one BaseTransfer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canonical.xml import MAX_BYTES, MAX_DEPTH, UnsafeXml, parse_xml
from tests.unit.test_ceb import INVALID, SAMPLES, VALID
from tests.unit.test_translate_cli import errors_of, hub

ORDER = (SAMPLES / "CEB311Message.xml").read_bytes().removeprefix(b"\xef\xbb\xbf")
HEAD = b"<ceb:OrderHead>"
XINCLUDE = b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'


def inside_order_head(fragment: bytes) -> bytes:
    return ORDER.replace(HEAD, HEAD + fragment, 1)


def redeclared(encoding: str, body: bytes = ORDER) -> bytes:
    return body.replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode(), 1)


def validate_lines(body: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "message.xml"
    path.write_bytes(body)
    return errors_of(hub("validate", str(path)))


def one_base_transfer(raw: bytes) -> bytes:
    """The 2018 form of the 202205 export samples: the second BaseTransfer block removed."""
    return re.sub(rb"(</ceb:BaseTransfer>)\s*<ceb:BaseTransfer>.*?</ceb:BaseTransfer>", rb"\1", raw, flags=re.S)


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (redeclared("UTF-8").replace(b"?>", b'?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd">', 1),
         "/: doctype_forbidden: "),
        (ORDER.replace(b"?>", b'?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1).replace(
            b"<ceb:orderType>I<", b"<ceb:orderType>&x;<"), "/: doctype_forbidden: "),
        (ORDER.replace(b"?>", b'?><!ENTITY x "y">', 1), "/: doctype_forbidden: "),
        (ORDER.replace(b"<ceb:orderType>I<", b"<ceb:orderType>&x;<"), "/: malformed: "),
        (inside_order_head(XINCLUDE), "line 5: xinclude_forbidden: XInclude element 'include' is not accepted"),
        (inside_order_head(b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH), "/: too_deep: "),
        (inside_order_head(b" " * MAX_BYTES), f"/: too_large: {len(ORDER) + MAX_BYTES} bytes"),
    ],
    ids=["doctype", "xxe-entity", "entity-without-doctype", "undefined-entity", "xinclude", "too-deep", "too-large"],
)  # fmt: skip
def test_hostile_ceb_body_is_refused_with_one_specific_line(body: bytes, start: str, tmp_path: Path) -> None:
    [line] = validate_lines(body, tmp_path)
    assert line.startswith(start), line


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (ORDER.decode().encode("gbk"),
         "line 13: malformed: encoding mismatch: declared UTF-8, but byte 0xb6 at offset 540"),
        (redeclared("GBK"), "line 13: malformed: encoding mismatch: declared GBK, but byte "),
        (redeclared("GB2312"), "line 13: malformed: encoding mismatch: declared GB2312, but byte "),
        (ORDER[ORDER.index(b"?>") + 2 :].lstrip().replace(b"<ceb:OrderHead>", "<!-- 东 -->".encode("gbk"), 1),
         "line 4: malformed: encoding mismatch: declared UTF-8 (no declaration), but byte 0xb6"),
        (b"\xef\xbb\xbf" + redeclared("GBK", ORDER.decode().encode("gbk")),
         "/: malformed: encoding mismatch: a UTF-8 byte-order mark, but the declaration says GBK"),
    ],
    ids=["gbk-bytes-declared-utf8", "utf8-bytes-declared-gbk", "utf8-bytes-declared-gb2312", "gbk-no-declaration",
         "bom-against-declaration"],
)  # fmt: skip
def test_bytes_that_do_not_match_the_declared_encoding_are_refused(body: bytes, start: str, tmp_path: Path) -> None:
    [line] = validate_lines(body, tmp_path)
    assert line.startswith(start), line


def test_a_message_in_the_encoding_it_declares_is_valid_utf8_or_gbk(tmp_path: Path) -> None:
    for name, body in {"utf8": ORDER, "gbk": redeclared("GBK", ORDER.decode().encode("gbk"))}.items():
        path = tmp_path / f"{name}.xml"
        path.write_bytes(body)
        result = hub("validate", str(path))
        assert (result.exit_code, result.stdout) == (0, "valid\n"), result.stderr


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_202205_sample_is_valid(path: Path) -> None:
    result = hub("validate", str(path))
    assert (result.exit_code, result.stdout) == (0, "valid\n"), result.stderr


# CEB303/CEB603 pass the XSD once fixed, but the hub's models refuse their sample values (unit, ieFlag).
EXPORT_2018 = [p for p in INVALID if p.stem in ("CEB403Message", "CEB505Message")]


@pytest.mark.parametrize("path", EXPORT_2018, ids=lambda p: p.name)
def test_the_2018_form_of_the_export_samples_is_valid(path: Path) -> None:
    result = hub("validate", "-", stdin=one_base_transfer(path.read_bytes()))
    assert (result.exit_code, result.stdout) == (0, "valid\n"), result.stderr


def test_xinclude_is_refused_by_the_generic_parser_whatever_the_vocabulary() -> None:
    with pytest.raises(UnsafeXml) as refused:
        parse_xml(b'<Document xmlns="urn:iso"><x:fallback xmlns:x="http://www.w3.org/2001/XInclude"/></Document>')
    assert (refused.value.rule, refused.value.line) == ("xinclude_forbidden", 1)


def test_utf16_with_its_mark_still_parses() -> None:
    assert parse_xml('<?xml version="1.0" encoding="UTF-16"?><a>东</a>'.encode("utf-16")).text == "东"
