"""Canonical message models and codecs. Depends on nothing else of the hub's."""

from canonical import cash as cash
from canonical import ceb as ceb
from canonical import credit as credit
from canonical import customs as customs
from canonical import dc as dc
from canonical import iso20022 as iso20022
from canonical import logistics as logistics
from canonical import notifications as notifications
from canonical import payments as payments
from canonical import soap_partners as soap_partners
from canonical import swift_mt as swift_mt
from canonical import trade as trade
from canonical.codecs import Decoded, DocumentCodec, detect, register_codec
from canonical.envelope import Classification, Envelope, canonical_json, idempotency_scope, parse_envelope
from canonical.errors import RejectedInput, Violation
from canonical.registry import json_schemas, message_type, message_types, payload_model
from canonical.sensitive import Sensitive, mask, sensitive_paths

__all__ = [
    "Classification",
    "Decoded",
    "DocumentCodec",
    "Envelope",
    "RejectedInput",
    "Sensitive",
    "Violation",
    "canonical_json",
    "detect",
    "idempotency_scope",
    "json_schemas",
    "mask",
    "message_type",
    "message_types",
    "parse_envelope",
    "payload_model",
    "register_codec",
    "sensitive_paths",
]
