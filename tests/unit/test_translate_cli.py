"""`hub translate mt2mx | mx2mt` and `hub validate`: pure codec calls, no running hub.

Every shared sample is validated; bad input gets one `location: rule: detail` line per broken rule on
stderr and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from canonical.swift_mt import parse_message
from canonical.swift_mt.transfers import Mt205
from cli import app

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MT_SAMPLES = sorted((DATA / "swift-mt" / "samples").glob("*.*"))
MX_SAMPLES = sorted((DATA / "iso20022" / "samples").glob("*.xml"))
MX_INVALID = DATA / "iso20022" / "samples" / "invalid" / "pacs_008_stp_2025_invalid.xml"
CEB_SAMPLE = DATA / "customs-ceb" / "samples" / "CEB311Message.xml"
MT103_WITH_UETR = DATA / "swift-mt" / "samples" / "MT103-out-ack_msg1_uetr_sha.fin"
MT103_WITHOUT_UETR = DATA / "swift-mt" / "samples" / "MT103-out-ack_msg2_our.fin"
MT202_WITHOUT_UETR = DATA / "swift-mt" / "samples" / "MT202ParserTest_test202_1.fin"
PACS008 = DATA / "iso20022" / "samples" / "pacs008_credit_transfer_sample.xml"
PACS009 = DATA / "iso20022" / "samples" / "pacs009_fi_transfer_sample.xml"
ENVELOPE = "urn:swift:xsd:envelope"

MT103 = (
    "{1:F01BANKDEFFAXXX0000000000}{2:I103BANKGB2LXXXXN}{3:{121:8579f4a4-a547-463e-ae63-e7c6620d59b4}}{4:\r\n"
    ":20:PAY0001\r\n:23B:CRED\r\n:32A:260414EUR1000,\r\n:50K:/DE89370400440532013000\r\nACME GMBH\r\n"
    ":57A:BANKFRPPXXX\r\n:59:/FR1420041010050500013M02606\r\nDUPONT SA\r\n:70:INVOICE 4711\r\n:71A:SHA\r\n-}"
)


def hub(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def errors_of(result: Result) -> list[str]:
    assert result.exit_code == 1, result.output
    return result.stderr.splitlines()


@pytest.mark.parametrize("sample", [*MT_SAMPLES, *MX_SAMPLES, CEB_SAMPLE], ids=lambda p: p.name)
def test_every_valid_sample_is_valid(sample: Path) -> None:
    result = hub("validate", str(sample))
    assert (result.exit_code, result.stdout) == (0, "valid\n"), result.stderr


def test_the_invalid_sample_prints_each_broken_rule_and_exits_1() -> None:
    lines = errors_of(hub("validate", str(MX_INVALID)))
    assert any(
        line.startswith("/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/InstgAgt/FinInstnId/BICFI: bic_pattern: ")
        for line in lines
    )
    assert "/AppHdr/BizSvc: cbpr_business_service: expected e.g. swift.cbprplus.02" in lines
    assert any(
        line.startswith("/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/IntrBkSttlmAmt/@Ccy: currency_code") for line in lines
    )
    assert hub("validate", str(MX_INVALID)).stdout == ""


def test_validate_reads_stdin_for_a_dash() -> None:
    assert hub("validate", "-", stdin=MT103.encode()).stdout == "valid\n"
    assert hub("validate", "-", stdin=PACS008.read_bytes()).stdout == "valid\n"


def test_mt2mx_prints_the_enveloped_mx_and_the_warnings_on_stderr() -> None:
    result = hub("translate", "mt2mx", str(MT103_WITH_UETR))
    assert result.exit_code == 0, result.stderr
    root = etree.fromstring(result.stdout.encode())
    assert etree.QName(root).namespace == ENVELOPE and etree.QName(root).localname == "Envelope"
    assert [etree.QName(child).localname for child in root] == ["AppHdr", "Document"]
    assert "EndToEndId set to NOTPROVIDED: MT103 has no end-to-end reference" in result.stderr.splitlines()


def test_mt2mx_reads_stdin_and_its_output_validates() -> None:
    result = hub("translate", "mt2mx", "-", stdin=MT103.encode())
    assert result.exit_code == 0, result.stderr
    assert hub("validate", "-", stdin=result.stdout.encode()).stdout == "valid\n"


def test_mx2mt_prints_fin_text_that_parses_back() -> None:
    result = hub("translate", "mx2mt", str(PACS008))
    assert result.exit_code == 0, result.stderr
    assert parse_message(result.stdout).header.uetr == "a1b2c3d4-e5f6-4890-abcd-ef1234567890"
    assert "EndToEndId: not carried in MT103" in result.stderr.splitlines()


@pytest.mark.parametrize(
    ("sample", "mt"),
    [
        ("pacs002_status_report_sample.xml", "199"),
        ("pacs004_payment_return_sample.xml", "103"),
        ("pacs008_credit_transfer_sample.xml", "103"),
        ("pacs009_fi_transfer_sample.xml", "202"),
    ],
)
def test_mx2mt_translates_every_payment_sample(sample: str, mt: str) -> None:
    result = hub("translate", "mx2mt", str(DATA / "iso20022" / "samples" / sample))
    assert result.exit_code == 0, result.stderr
    assert parse_message(result.stdout).header.message_type == mt
    assert hub("validate", "-", stdin=result.stdout.encode()).stdout == "valid\n"


def test_mx2mt_gives_an_mt205_when_asked() -> None:
    result = hub("translate", "mx2mt", "--mt", "205", str(PACS009))
    assert result.exit_code == 0, result.stderr
    assert isinstance(parse_message(result.stdout), Mt205)
    assert errors_of(hub("translate", "mx2mt", "--mt", "205", str(PACS008))) == [
        "mt_type: mt_type_not_available: this message translates to MT103, not MT205"
    ]


@pytest.mark.parametrize("sample", [MT103_WITHOUT_UETR, MT202_WITHOUT_UETR], ids=lambda p: p.name)
def test_mt2mx_without_uetr_names_block_3_and_the_rule(sample: Path) -> None:
    assert errors_of(hub("translate", "mt2mx", str(sample))) == ["3:121: uetr_required: CBPR+ payments need a UETR"]


def test_mt2mx_refuses_a_batch_of_several_messages() -> None:
    assert errors_of(hub("translate", "mt2mx", str(DATA / "swift-mt" / "samples" / "MT103-bulk-with-ack.rje"))) == [
        "message: single_message: 3 messages: translate one at a time"
    ]


def test_mx_without_uetr_names_the_element() -> None:
    no_uetr = PACS008.read_bytes().replace(b"<pacs:UETR>a1b2c3d4-e5f6-4890-abcd-ef1234567890</pacs:UETR>", b"")
    for args in (("validate", "-"), ("translate", "mx2mt", "-")):
        lines = errors_of(hub(*args, stdin=no_uetr))
        assert "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/PmtId/UETR: uetr_required: CBPR+ requires the UETR" in lines


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (MT103.replace("\r\n-}", ""), "4: block4_unterminated: the text block does not end with CRLF '-}'"),
        (
            MT103.replace("INVOICE 4711", "INVOICE @ 4711"),
            "4:70: x_character_set: characters '@' are not in the SWIFT set",
        ),
        (MT103.replace("BANKFRPPXXX", "BANKFRPP1"), "4:57A: bic_pattern: 'BANKFRPP1' is not one ISO 9362 BIC"),
        (MT103.replace("EUR1000,", "XYZ1000,"), "4:32A: currency_code: 'XYZ' is not an active ISO 4217 code"),
        (MT103.replace("EUR1000,", "EUR1000,123"), "4:32A: currency_decimals: EUR allows 2 decimals, got 1000,123"),
    ],
    ids=["truncated-block-4", "non-swift-character", "invalid-bic", "unknown-currency", "too-many-decimals"],
)
def test_bad_mt_gets_a_specific_error_line_from_validate_and_mt2mx(bad: str, expected: str) -> None:
    assert errors_of(hub("validate", "-", stdin=bad.encode())) == [expected]
    assert errors_of(hub("translate", "mt2mx", "-", stdin=bad.encode())) == [expected]


def test_a_non_ascii_byte_is_named_by_its_offset() -> None:
    bad = MT103.replace("DUPONT SA", "DUPONT SÀ").encode()
    offset = bad.index("À".encode())
    assert errors_of(hub("validate", "-", stdin=bad)) == [
        f"offset {offset}: x_character_set: byte 0xc3 is outside the SWIFT character set"
    ]


def test_validate_reports_every_broken_rule_of_an_mt() -> None:
    bad = MT103.replace("EUR1000,", "EUR1000,123").replace("INVOICE 4711", "INVOICE @ 4711").replace(":71A:SHA\r\n", "")
    lines = errors_of(hub("validate", "-", stdin=bad.encode()))
    assert [line.split(": ")[:2] for line in lines] == [
        ["4:32A", "currency_decimals"],
        ["4:70", "x_character_set"],
        ["4:71A", "field_missing"],
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08",
            b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.99",
            "/Document: wrong_namespace: urn:iso:std:iso:20022:tech:xsd:pacs.008.001.99",
        ),
        (
            b"<BICFI>BANKFRPPXXX</BICFI>",
            b"<BICFI>BANKFRPP1</BICFI>",
            "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/CdtrAgt/FinInstnId/BICFI: bic_pattern: ",
        ),
        (
            b'Ccy="EUR">1000<',
            b'Ccy="XYZ">1000<',
            "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/IntrBkSttlmAmt/@Ccy: currency_code: 'XYZ' is not an active",
        ),
        (
            b'Ccy="EUR">1000<',
            b'Ccy="EUR">1000.001<',
            "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/IntrBkSttlmAmt: currency_decimals: EUR allows 2 decimals",
        ),
    ],
    ids=["wrong-namespace", "invalid-bic", "unknown-currency", "too-many-decimals"],
)
def test_bad_mx_gets_a_specific_error_line_from_validate_and_mx2mt(old: bytes, new: bytes, expected: str) -> None:
    good = hub("translate", "mt2mx", "-", stdin=MT103.encode()).stdout.encode()
    bad = good.replace(old, new, 1)
    assert bad != good
    for args in (("validate", "-"), ("translate", "mx2mt", "-")):
        lines = errors_of(hub(*args, stdin=bad))
        assert any(line.startswith(expected) for line in lines), lines


def test_input_in_no_known_format_is_named_as_such() -> None:
    assert errors_of(hub("validate", "-", stdin=b"hello")) == [
        "input: unknown_format: neither SWIFT FIN ({1: block), ISO 20022 XML nor CEB XML"
    ]


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = hub("validate", str(tmp_path / "nothing.xml"))
    assert result.exit_code == 1 and "cannot read" in result.stderr
