"""RFC 8785 (JCS) against the examples published in the RFC."""

from __future__ import annotations

import json
import struct

import pytest

from security.jcs import JcsError, canonicalize, number


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 section 3.2.2 input, parsed as a JSON text, and the section 3.2.3 output.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_4_utf8_bytes() -> None:
    # Section 3.2.4: the UTF-8 bytes of the section 3.2.2 example's canonical form.
    rfc_hex = """
        7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e
        75 6d 62 65 72 73 22 3a 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30
        2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24
        5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d
    """
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 1e-27],
        "string": '\u20ac$\u000f\nA\'B"\\\\"/',
        "literals": [None, True, False],
    }
    assert canonicalize(value) == bytes.fromhex("".join(rfc_hex.split()))


def test_rfc8785_section_3_2_3_sorting() -> None:
    # Section 3.2.3: keys sorted by UTF-16 code units (the emoji's high surrogate sorts before U+FB33).
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonicalize(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("bits", "expected"),
    [  # RFC 8785 Appendix B
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert number(value) == expected
    assert canonicalize([value]) == f"[{expected}]".encode()


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), float("-inf"), 2**53 + 1, -(2**53) - 1, "\ud800", {1: "x"}, b"x", {1, 2}]
)
def test_rejects_values_outside_the_model(bad: object) -> None:
    with pytest.raises(JcsError):
        canonicalize({"v": bad})


def test_integers_nesting_and_whitespace() -> None:
    assert canonicalize({"b": [1, -2, 2**53, 1.0, 100.0, 0.5], "a": {"y": None, "x": True}}) == (
        b'{"a":{"x":true,"y":null},"b":[1,-2,9007199254740992,1,100,0.5]}'
    )
    assert canonicalize("\u2028\x7f\x1f") == '"\u2028\x7f\\u001f"'.encode()
    assert canonicalize(()) == b"[]" and canonicalize({}) == b"{}"
