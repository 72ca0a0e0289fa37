"""ISO 20022 CBPR+ codecs for the enquiry, cancellation, resolution and statement messages:
XSD-valid rendering, round trips, and bad input refused with the element path and the rule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from lxml import etree
from pydantic import BaseModel

from canonical.errors import RejectedInput
from canonical.iso20022 import Iso20022Message, codec, parse, render
from canonical.iso20022.schemas import xsd_violations
from canonical.money import Money
from canonical.payments import (
    Account,
    AccountReport,
    AccountStatement,
    Balance,
    CancellationRequest,
    CancellationResolution,
    CreditDebit,
    OriginalReference,
    ResolutionStatus,
    StatementEntry,
    StatusRequest,
)
from canonical.sensitive import sensitive_paths
from tests.unit.translation_support import business_header, rules_of

UETR = "7f2c9e1a-4b3d-4e8f-9a6b-1c2d3e4f5a6b"
CREATED = datetime(2026, 4, 14, 9, 15, tzinfo=UTC)
ORIGINAL = OriginalReference(
    message_id="P008-20260413-5017",
    message_type="pacs.008.001.08",
    instruction_id="INSTR-5017",
    end_to_end_id="E2E-INV-2026-0413",
    uetr=UETR,
)


def message(payload: BaseModel, definition: str) -> Iso20022Message:
    header = business_header(
        definition, sender="FNTXDE2XXXX", receiver="GLPBES2X", message_id="BIZ-20260414-0001", created_at=CREATED
    )
    return Iso20022Message(header, payload)


def document_of(xml: bytes) -> etree._Element:
    return next(el for el in etree.fromstring(xml) if etree.QName(el).localname == "Document")


def assert_round_trip(msg: Iso20022Message, definition: str) -> bytes:
    xml = render(msg)
    assert xsd_violations(definition, document_of(xml)) == []  # independent of render's own check
    again = parse(xml)
    assert again.header == msg.header
    assert again.payload == msg.payload
    return xml


# --- pacs.028 status request ----------------------------------------------------------------------------

STATUS_REQUEST = StatusRequest(
    message_id="P028-20260414-0001",
    created_at=CREATED,
    status_request_id="SRQ-0001",
    original=ORIGINAL,
    instructing_agent="FNTXDE2XXXX",
    instructed_agent="GLPBES2X",
    original_settlement_amount=Money(currency="EUR", amount=Decimal("750000.25")),
    original_settlement_date=datetime(2026, 4, 13).date(),
)


def test_status_request_renders_xsd_valid_and_round_trips() -> None:
    xml = assert_round_trip(message(STATUS_REQUEST, "pacs.028.001.05"), "pacs.028.001.05")
    decoded = codec.decode(xml)
    assert decoded.type == "payment.status_request"
    assert decoded.correlation_id == UETR


def test_minimal_status_request_round_trips() -> None:
    minimal = StatusRequest(
        message_id="P028-2",
        created_at=CREATED,
        original=OriginalReference(message_id="M1", message_type="pacs.009.001.08", uetr=UETR),
        instructing_agent="FNTXDE2X",
        instructed_agent="GLPBES2X",
    )
    assert_round_trip(message(minimal, "pacs.028.001.05"), "pacs.028.001.05")


def test_status_request_model_requires_the_uetr() -> None:
    with pytest.raises(ValueError, match="uetr_required"):
        StatusRequest.model_validate(
            STATUS_REQUEST.model_dump() | {"original": ORIGINAL.model_copy(update={"uetr": None}).model_dump()}
        )


def test_status_request_without_agents_breaks_the_cbpr_rule() -> None:
    xml = render(message(STATUS_REQUEST, "pacs.028.001.05"))
    doc = document_of(xml)
    tx = doc[0][1]
    tx.remove(tx.find("{*}InstdAgt"))
    with pytest.raises(RejectedInput) as exc:
        parse(etree.tostring(doc.getparent()))
    assert rules_of(exc)["cbpr_required"] == "/Document/FIToFIPmtStsReq/TxInf/InstdAgt"


# --- camt.056 cancellation request ----------------------------------------------------------------------

CANCELLATION = CancellationRequest(
    assignment_id="CXL-20260414-0001",
    assigner="FNTXDE2XXXX",
    assignee="GLPBES2X",
    created_at=CREATED,
    case_id="CASE-20260414-77",
    case_creator="FNTXDE2XXXX",
    cancellation_id="CXLID-0001",
    original=ORIGINAL,
    original_settlement_amount=Money(currency="EUR", amount=Decimal("750000.25")),
    original_settlement_date=datetime(2026, 4, 13).date(),
    reason_code="DUPL",
    additional_information=["Sent twice by the debtor's bank"],
)
CAMT056_TX = "/Document/FIToFIPmtCxlReq/Undrlyg/TxInf"


@pytest.mark.parametrize("reason", ["DUPL", "FRAD", "CUST", "AGNT"])
def test_cancellation_request_renders_xsd_valid_and_round_trips(reason: str) -> None:
    request = CANCELLATION.model_copy(update={"reason_code": reason})
    xml = assert_round_trip(message(request, "camt.056.001.08"), "camt.056.001.08")
    decoded = codec.decode(xml)
    assert decoded.type == "payment.cancellation_request"
    assert decoded.correlation_id == UETR


def test_cancellation_request_with_two_transactions_is_refused() -> None:
    doc = document_of(render(message(CANCELLATION, "camt.056.001.08")))
    underlying = doc[0].find("{*}Undrlyg")
    underlying.append(etree.fromstring(etree.tostring(underlying.find("{*}TxInf"))))
    with pytest.raises(RejectedInput) as exc:
        parse(etree.tostring(doc.getparent()))
    assert rules_of(exc)["cbpr_single_transaction"] == CAMT056_TX


# --- camt.029 resolution of investigation -----------------------------------------------------------------

RESOLUTION = CancellationResolution(
    assignment_id="RES-20260414-0001",
    assigner="GLPBES2X",
    assignee="FNTXDE2XXXX",
    created_at=CREATED,
    case_id="CASE-20260414-77",
    case_creator="FNTXDE2XXXX",
    status=ResolutionStatus.RJCR,
    cancellation_status_id="CXLSTS-0001",
    original=ORIGINAL,
    reason_code="LEGL",
    additional_information=["Funds already credited to the beneficiary"],
    original_settlement_amount=Money(currency="EUR", amount=Decimal("750000.25")),
    original_settlement_date=datetime(2026, 4, 13).date(),
)
CAMT029_TX = "/Document/RsltnOfInvstgtn/CxlDtls/TxInfAndSts"


@pytest.mark.parametrize("status", list(ResolutionStatus))
def test_cancellation_resolution_renders_xsd_valid_and_round_trips(status: ResolutionStatus) -> None:
    resolution = RESOLUTION.model_copy(update={"status": status})
    xml = assert_round_trip(message(resolution, "camt.029.001.09"), "camt.029.001.09")
    decoded = codec.decode(xml)
    assert decoded.type == "payment.cancellation_resolution"
    assert decoded.correlation_id == UETR


def test_accepted_cancellation_without_reason_round_trips() -> None:
    done = CancellationResolution.model_validate(
        RESOLUTION.model_dump() | {"status": "CNCL", "reason_code": None, "additional_information": []}
    )
    xml = assert_round_trip(message(done, "camt.029.001.09"), "camt.029.001.09")
    assert b"<TxCxlSts>ACCR</TxCxlSts>" in xml


def test_resolution_model_refuses_a_rejection_without_reason() -> None:
    with pytest.raises(ValueError, match="cbpr_rejection_reason"):
        CancellationResolution.model_validate(RESOLUTION.model_dump() | {"reason_code": None})


def test_resolution_with_bad_case_creator_bic_is_refused() -> None:
    xml = render(message(RESOLUTION, "camt.029.001.09"))
    with pytest.raises(RejectedInput) as exc:
        parse(xml.replace(b"<BICFI>FNTXDE2XXXX</BICFI>", b"<BICFI>FNTXDE2XXX</BICFI>"))
    bad = {v.loc for v in exc.value.violations if v.rule == "bic_pattern"}
    assert bad >= {
        "/Document/RsltnOfInvstgtn/Assgnmt/Assgne/Agt/FinInstnId/BICFI",
        "/Document/RsltnOfInvstgtn/RslvdCase/Cretr/Agt/FinInstnId/BICFI",
    }


# --- camt.053 statement and camt.052 account report ---------------------------------------------------------

D13, D14 = datetime(2026, 4, 13).date(), datetime(2026, 4, 14).date()
ENTRIES = [
    StatementEntry(
        entry_reference="NTRY-1",
        amount=Money(currency="EUR", amount=Decimal("750000.25")),
        credit_debit=CreditDebit.CRDT,
        booking_date=D13,
        value_date=D13,
        account_servicer_reference="ASR-20260413-1",
        bank_transaction_code=("PMNT", "RCDT", "XBCT"),
        instruction_id="INSTR-5017",
        end_to_end_id="E2E-INV-2026-0413",
        uetr=UETR,
    ),
    StatementEntry(
        amount=Money(currency="EUR", amount=Decimal("12.5")),
        credit_debit=CreditDebit.DBIT,
        booking_date=D13,
        value_date=D14,
        account_servicer_reference="ASR-20260413-2",
    ),
]
STATEMENT = AccountStatement(
    message_id="C053-20260414-0001",
    created_at=CREATED,
    report_id="STMT-2026-0413",
    sequence_number=103,
    account=Account(iban="DE89370400440532013000"),
    account_currency="EUR",
    account_owner="Fintex Trading GmbH",
    account_servicer="FNTXDE2XXXX",
    balances=[
        Balance(type="OPBD", currency="EUR", amount=Decimal("0"), credit_debit=CreditDebit.CRDT, as_of=D13),
        Balance(type="CLBD", currency="EUR", amount=Decimal("749987.75"), credit_debit=CreditDebit.CRDT, as_of=D13),
    ],
    entries=ENTRIES,
)
STMT = "/Document/BkToCstmrStmt/Stmt"


def test_statement_renders_xsd_valid_and_round_trips() -> None:
    xml = assert_round_trip(message(STATEMENT, "camt.053.001.08"), "camt.053.001.08")
    assert codec.decode(xml).type == "payment.account_statement"
    parsed = parse(xml).payload
    assert isinstance(parsed, AccountStatement)
    assert [e.uetr for e in parsed.entries] == [UETR, None]
    assert parsed.balance("CLBD") == STATEMENT.balances[1]


def test_statement_with_other_account_id_round_trips() -> None:
    other = AccountStatement.model_validate(STATEMENT.model_dump() | {"account": {"other": "4711-0815"}})
    assert_round_trip(message(other, "camt.053.001.08"), "camt.053.001.08")


def test_account_report_renders_xsd_valid_and_round_trips_without_balances() -> None:
    report = AccountReport.model_validate(STATEMENT.model_dump() | {"balances": [], "message_id": "C052-1"})
    xml = assert_round_trip(message(report, "camt.052.001.08"), "camt.052.001.08")
    assert codec.decode(xml).type == "payment.account_report"


def test_statement_needs_opening_and_closing_balances() -> None:
    with pytest.raises(ValueError, match="statement_balances"):
        AccountStatement.model_validate(STATEMENT.model_dump() | {"balances": STATEMENT.balances[:1]})


def test_statement_account_owner_is_declared_sensitive() -> None:
    assert {"account_owner", "account.iban", "account.other"} <= set(sensitive_paths(AccountStatement))


def test_statement_with_bad_servicer_bic_is_refused() -> None:
    xml = render(message(STATEMENT, "camt.053.001.08"))
    with pytest.raises(RejectedInput) as exc:
        parse(xml.replace(b"<BICFI>FNTXDE2XXXX</BICFI>", b"<BICFI>FNTX</BICFI>"))
    assert f"{STMT}/Acct/Svcr/FinInstnId/BICFI" in {v.loc for v in exc.value.violations if v.rule == "bic_pattern"}


def test_statement_with_two_accounts_is_refused() -> None:
    doc = document_of(render(message(STATEMENT, "camt.053.001.08")))
    doc[0].append(etree.fromstring(etree.tostring(doc[0].find("{*}Stmt"))))
    with pytest.raises(RejectedInput) as exc:
        parse(etree.tostring(doc.getparent()))
    assert rules_of(exc)["cbpr_single_transaction"] == STMT


# --- one edit of a rendered message: the rule it breaks and the element named --------------------------------

JPY_CANCELLATION = CANCELLATION.model_copy(
    update={"original_settlement_amount": Money(currency="JPY", amount=Decimal(45000000))}
)
NO_UETR = f"<OrgnlUETR>{UETR}</OrgnlUETR>".encode()
PACS028_TX = "/Document/FIToFIPmtStsReq/TxInf"
PACS028, CAMT056, CAMT029, CAMT053 = "pacs.028.001.05", "camt.056.001.08", "camt.029.001.09", "camt.053.001.08"

# (payload, its definition, text in the rendered message, its replacement, rule, location)
BROKEN: dict[str, tuple[BaseModel, str, bytes, bytes, str, str]] = {
    "status-request-without-uetr": (STATUS_REQUEST, PACS028, NO_UETR, b"", "uetr_required", f"{PACS028_TX}/OrgnlUETR"),
    "status-request-with-bad-bic": (
        STATUS_REQUEST,
        PACS028,
        b"<BICFI>GLPBES2X</BICFI>",
        b"<BICFI>GLPB-ES2X</BICFI>",
        "bic_pattern",
        f"{PACS028_TX}/InstdAgt/FinInstnId/BICFI",
    ),
    "status-request-with-too-many-decimals": (
        STATUS_REQUEST,
        PACS028,
        b">750000.25<",
        b">750000.255<",
        "currency_decimals",
        f"{PACS028_TX}/OrgnlTxRef/IntrBkSttlmAmt",
    ),
    "status-request-in-a-wrong-namespace": (
        STATUS_REQUEST,
        PACS028,
        b"tech:xsd:pacs.028.001.05",
        b"tech:xsd:pacs.028.001.03",
        "wrong_namespace",
        "/Document",
    ),
    "cancellation-request-without-uetr": (
        CANCELLATION,
        CAMT056,
        NO_UETR,
        b"",
        "uetr_required",
        f"{CAMT056_TX}/OrgnlUETR",
    ),
    "cancellation-request-with-bad-assignee-bic": (
        CANCELLATION,
        CAMT056,
        b"<BICFI>GLPBES2X</BICFI>",
        b"<BICFI>glpbes2x</BICFI>",
        "bic_pattern",
        "/Document/FIToFIPmtCxlReq/Assgnmt/Assgne/Agt/FinInstnId/BICFI",
    ),
    "cancellation-request-with-too-many-decimals": (
        JPY_CANCELLATION,
        CAMT056,
        b">45000000<",
        b">45000000.5<",
        "currency_decimals",
        f"{CAMT056_TX}/OrgnlIntrBkSttlmAmt",
    ),
    "cancellation-request-without-a-reason-code": (
        CANCELLATION,
        CAMT056,
        b"<Cd>DUPL</Cd>",
        b"<Prtry>DUPLICATE</Prtry>",
        "cbpr_required",
        f"{CAMT056_TX}/CxlRsnInf/Rsn/Cd",
    ),
    "cancellation-request-in-a-wrong-namespace": (
        CANCELLATION,
        CAMT056,
        b"tech:xsd:camt.056.001.08",
        b"tech:xsd:camt.056.001.07",
        "wrong_namespace",
        "/Document",
    ),
    "resolution-refusal-without-a-reason": (
        RESOLUTION,
        CAMT029,
        b"<Cd>LEGL</Cd>",
        b"<Prtry>LEGAL</Prtry>",
        "cbpr_rejection_reason",
        f"{CAMT029_TX}/CxlStsRsnInf/Rsn/Cd",
    ),
    "resolution-without-uetr": (RESOLUTION, CAMT029, NO_UETR, b"", "uetr_required", f"{CAMT029_TX}/OrgnlUETR"),
    "resolution-with-too-many-decimals": (
        RESOLUTION,
        CAMT029,
        b">750000.25<",
        b">750000.251<",
        "currency_decimals",
        f"{CAMT029_TX}/OrgnlIntrBkSttlmAmt",
    ),
    "resolution-in-a-wrong-namespace": (
        RESOLUTION,
        CAMT029,
        b"tech:xsd:camt.029.001.09",
        b"tech:xsd:camt.029.001.08",
        "wrong_namespace",
        "/Document",
    ),
    "statement-with-too-many-decimals": (
        STATEMENT,
        CAMT053,
        b">749987.75<",
        b">749987.755<",
        "currency_decimals",
        f"{STMT}/Bal/Amt",
    ),
    "statement-entry-with-malformed-uetr": (
        STATEMENT,
        CAMT053,
        UETR.encode(),
        UETR.upper().encode(),
        "xsd_pattern",
        f"{STMT}/Ntry/NtryDtls/TxDtls/Refs/UETR",
    ),
    "statement-in-a-wrong-namespace": (
        STATEMENT,
        CAMT053,
        b"tech:xsd:camt.053.001.08",
        b"tech:xsd:camt.053.001.02",
        "wrong_namespace",
        "/Document",
    ),
}


@pytest.mark.parametrize(("payload", "definition", "old", "new", "rule", "loc"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_message_is_refused_naming_the_rule_and_the_element(
    payload: BaseModel, definition: str, old: bytes, new: bytes, rule: str, loc: str
) -> None:
    xml = render(message(payload, definition))
    assert old in xml
    with pytest.raises(RejectedInput) as exc:
        parse(xml.replace(old, new))
    assert rules_of(exc)[rule] == loc


def test_a_camt054_without_a_bank_transaction_code_still_validates() -> None:
    """The XSD makes BkTxCd mandatory even when the bank gives no code: render an empty one."""
    from canonical.iso20022.codec import Iso20022Message, parse, render
    from canonical.iso20022.header import BusinessHeader
    from canonical.payments import AccountNotification

    notification = AccountNotification.model_validate(
        {
            "message_id": "NTF-1",
            "created_at": CREATED.isoformat(),
            "notification_id": "NTF-1-1",
            "account": {"iban": "DE89370400440532013000"},
            "amount": {"currency": "EUR", "amount": "125.00"},
            "credit_debit": "CRDT",
            "entry_status": "BOOK",
            "uetr": "8a562c67-ca16-48ba-b074-65581be6f011",
        }
    )
    header = BusinessHeader(
        from_bic="COBADEFFXXX",
        to_bic="NWBKGB2LXXX",
        business_message_id="NTF-1",
        message_definition="camt.054.001.08",
        created_at=CREATED,
    )
    rendered = render(Iso20022Message(header, notification))
    assert b"<BkTxCd/>" in rendered and parse(rendered).payload == notification
