"""Masking: views show '***' for declared fields; logs and errors never carry secrets or personal data."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from canonical import RejectedInput, mask, parse_envelope, sensitive_paths
from canonical.errors import Violation
from canonical.payments import CreditTransfer
from security.masking import MaskingFilter, install_masking, mask_envelope, mask_text

DEBTOR_IBAN = "DE89370400440532013000"
JWS = "eyJhbGciOiJFZERTQSIsImtpZCI6ImJhbmstYS0xIn0.eyJzdWIiOiJiYW5rLWEifQ.c2lnbmF0dXJlLWJ5dGVz"
API_KEY = "hk_9hJ2kLmN3pQrS4tUvW5xYz6aBcDeFgHi"


def credit_transfer(debtor_name: str = "Anna Muster", iban: str = DEBTOR_IBAN) -> dict[str, Any]:
    return {
        "type": "payment.credit_transfer",
        "source": "bank-a",
        "destination": "cips",
        "idempotency_key": f"k-{uuid.uuid4()}",
        "payload": {
            "message_id": "M-1",
            "uetr": "8a562c67-ca16-48ba-b074-65581be6f011",
            "end_to_end_id": "E2E-1",
            "settlement_amount": {"currency": "EUR", "amount": "1250.00"},
            "settlement_date": "2026-11-02",
            "charge_bearer": "SHAR",
            "debtor": {"name": debtor_name, "account": {"iban": iban}},
            "debtor_agent": {"bic": "COBADEFFXXX"},
            "creditor_agent": {"bic": "NWBKGB2L"},
            "creditor": {"name": "Bob Smith Ltd", "account": {"other": "1234567890"}},
        },
    }


# -- views -------------------------------------------------------------------------------------


def test_a_masked_view_hides_every_declared_field_and_nothing_else() -> None:
    env = parse_envelope(credit_transfer()).model_dump(mode="json")
    view = mask_envelope(env)
    payload = view["payload"]
    assert payload["debtor"] == {"name": "***", "address": None, "account": {"iban": "***", "other": None}, "bic": None}
    assert payload["creditor"]["name"] == "***" and payload["creditor"]["account"]["other"] == "***"
    assert payload["uetr"] == env["payload"]["uetr"] and payload["settlement_amount"] == {
        "currency": "EUR",
        "amount": "1250.00",
    }
    assert {k: v for k, v in view.items() if k != "payload"} == {k: v for k, v in env.items() if k != "payload"}


def test_a_masked_view_is_the_declaration_s_mask_and_leaves_the_original_alone() -> None:
    env = parse_envelope(credit_transfer()).model_dump(mode="json")
    assert mask_envelope(env)["payload"] == mask(env["payload"], sensitive_paths(CreditTransfer))
    assert env["payload"]["debtor"]["name"] == "Anna Muster"


def test_a_view_of_a_type_without_declared_fields_is_unchanged() -> None:
    env = {"id": "x", "type": "payment.status_report", "payload": {"status": "ACSC", "message_id": "S-1"}}
    assert mask_envelope(env) == env


# -- log lines ---------------------------------------------------------------------------------


@pytest.fixture
def hub_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with one handler, as `hub run` has, and the masking filter on it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(f"hub.test.{uuid.uuid4().hex}")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    install_masking([logger])
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        for each in (
            logging.root,
            *[lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)],
        ):
            for h in each.handlers:
                for f in [f for f in h.filters if isinstance(f, MaskingFilter)]:
                    h.removeFilter(f)


def test_api_keys_and_bearer_tokens_are_not_logged(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    log.warning("refused X-Api-Key %s from %s", API_KEY, "10.0.0.7")
    log.info("calling partner with headers %s", {"Authorization": f"Bearer {JWS}", "Accept": "application/json"})
    text = out.getvalue()
    assert API_KEY not in text and JWS not in text and "10.0.0.7" in text and "application/json" in text


def test_jws_and_jwe_compact_strings_are_not_logged(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    detached = JWS.split(".")[0] + ".." + JWS.split(".")[2]
    jwe = "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9.ZW5j.aXY.Y2lwaGVy.dGFn"
    log.info("X-Hub-Signature: %s; body sealed as %s", detached, jwe)
    assert "eyJ" not in out.getvalue() and "Y2lwaGVy" not in out.getvalue()


def test_a_password_pair_is_masked_even_when_its_value_comes_from_an_argument(
    hub_log: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = hub_log
    log.info("operator %s login failed password=%s", "alice", "hunter2")
    log.info('token request body {"client_id": "bank-a", "client_secret": "s3cr3t-value"}')
    text = out.getvalue()
    assert "hunter2" not in text and "s3cr3t-value" not in text
    assert "operator alice login failed password=***" in text and '"client_id": "bank-a"' in text


def test_ibans_and_card_numbers_in_partner_answers_are_masked(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    log.error("partner answered 400: %s", f'{{"DbtrAcct": {{"IBAN": "{DEBTOR_IBAN}"}}, "card": "4111 1111 1111 1111"}}')
    log.info("printed form DE89 3704 0044 0532 0130 00 on statement %d", 20261102)
    text = out.getvalue()
    assert DEBTOR_IBAN not in text and "4111 1111 1111 1111" not in text and "DE89 3704" not in text
    assert "statement 20261102" in text  # numbers that are not card-shaped stay


def test_an_envelope_in_the_arguments_is_logged_with_its_declared_fields_masked(
    hub_log: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = hub_log
    env = parse_envelope(credit_transfer(debtor_name="Anna Muster", iban=DEBTOR_IBAN))
    log.info("received %s", env.model_dump(mode="json"))
    log.info("payload %s", env.payload)
    text = out.getvalue()
    assert "Anna Muster" not in text and "Bob Smith" not in text and "1234567890" not in text
    assert "8a562c67-ca16-48ba-b074-65581be6f011" in text  # the UETR is not personal


def test_an_envelope_in_extra_is_masked_for_every_formatter(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    handler = log.handlers[0]
    handler.setFormatter(logging.Formatter("%(message)s %(envelope)s %(api_key)s"))
    env = parse_envelope(credit_transfer()).model_dump(mode="json")
    log.info("delivered", extra={"envelope": env, "api_key": API_KEY})
    text = out.getvalue()
    assert "Anna Muster" not in text and DEBTOR_IBAN not in text and API_KEY not in text and "COBADEFFXXX" in text


def test_a_traceback_is_masked(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    try:
        raise ValueError(f"partner refused account {DEBTOR_IBAN} with password=hunter2")
    except ValueError:
        log.exception("delivery of %s failed", "M-1")
    text = out.getvalue()
    assert "Traceback" in text and "delivery of M-1 failed" in text
    assert DEBTOR_IBAN not in text and "hunter2" not in text


def test_a_format_string_that_does_not_fit_still_logs_masked(hub_log: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = hub_log
    log.info("two places %s %s", API_KEY)
    assert "two places" in out.getvalue() and API_KEY not in out.getvalue()


def test_install_masking_is_idempotent() -> None:
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger(f"hub.test.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    try:
        first = install_masking([logger])
        install_masking([logger])
        assert [f for f in handler.filters if isinstance(f, MaskingFilter)] == [first]
    finally:
        logger.removeHandler(handler)
        for h in logging.root.handlers:
            h.removeFilter(first)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("sealed $sealed:v1:k1:A256GCM:q83v", "sealed $sealed:v1:k1:A256GCM:q83v"),
        ("token_ttl_s=300 attempts=3", "token_ttl_s=300 attempts=3"),
        ("uetr 8a562c67-ca16-48ba-b074-65581be6f011 at 1718000000000", None),
        ("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----", "***"),
        ("kek=0123456789abcdef0123456789abcdef", "kek=***"),
    ],
)
def test_what_mask_text_keeps_and_what_it_hides(text: str, shown: str | None) -> None:
    assert mask_text(text) == (text if shown is None else shown)


# -- errors ------------------------------------------------------------------------------------


def rejection(data: dict[str, Any]) -> RejectedInput:
    with pytest.raises(RejectedInput) as refused:
        parse_envelope(data)
    return refused.value


def test_an_error_about_a_sensitive_account_does_not_echo_it() -> None:
    refused = rejection(credit_transfer(iban="DE00370400440532013000"))
    (violation,) = refused.violations
    assert violation.loc == "payload.debtor.account.iban" and violation.rule == "iban_check_digits"
    assert "DE00370400440532013000" not in str(refused) and "***" in violation.detail


def test_an_error_about_a_sensitive_name_does_not_echo_its_characters() -> None:
    refused = rejection(credit_transfer(debtor_name="张三"))
    (violation,) = refused.violations
    assert violation.loc == "payload.debtor.name" and violation.rule == "cbpr_character_set"
    assert "张" not in str(refused) and "三" not in str(refused)


def test_an_error_about_a_field_that_is_not_sensitive_still_shows_the_value() -> None:
    data = credit_transfer()
    data["payload"]["debtor_agent"] = {"bic": "NOT-A-BIC"}
    (violation,) = rejection(data).violations
    assert violation.loc == "payload.debtor_agent.bic" and "NOT-A-BIC" in violation.detail


def test_an_iban_in_any_error_detail_is_masked() -> None:
    violation = Violation("/Document/FIToFICstmrCdtTrf/CdtTrfTxInf/DbtrAcct/Id/IBAN", "iban_check_digits", DEBTOR_IBAN)
    assert violation.detail == "***"
