"""Turning an HTTP submission into an accepted Envelope: parse, validate, authorize, claim, publish."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from canonical.codecs import codec_names, detect
from canonical.envelope import Envelope, parse_envelope
from canonical.errors import RejectedInput, Violation
from canonical.jsonwire import load_json
from gateway.problems import Problem
from routes.pipeline import scope_of
from security.institutions import Institution
from security.origin import SEAL_HEADER, IngressSeal
from store import IdempotencyConflict, Store

SERVER_FIELDS = ("id", "created_at", "signature")
UNSAFE_XML_RULES = frozenset({"doctype_forbidden", "too_deep", "too_large", "processing_instruction"})
MAX_JSON_DEPTH = 32  # an envelope is about six levels deep; more is an attack on the parser


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (declared or streamed)."""

    def too_large(detail: str) -> Problem:
        return Problem(
            413, "body-too-large", "Request body too large", detail, [Violation("body", "max_size", f"{limit} bytes")]
        )

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(f"the body is {declared} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"the limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def envelope_from(body: bytes, content_type: str, inst: Institution, idem_header: str | None) -> Envelope:
    """Build the Envelope of a submission, or raise Problem naming each broken field and rule."""
    if "json" in content_type or (not content_type and body.lstrip()[:1] == b"{"):
        return _from_json(body, inst, idem_header)
    codec = detect(body, content_type)
    if codec is None:
        supported = ", ".join(["application/json (envelope)", *codec_names()])
        raise Problem(
            415,
            "unsupported-document",
            "Unsupported document",
            f"content type {content_type or '(none)'} is not a format the hub reads; supported: {supported}",
        )
    try:
        decoded = codec.decode(body)
    except RejectedInput as exc:
        # A parser protection tripping (DTD, depth, size) is an attack on the parser, not a bad document.
        unsafe = any(v.rule in UNSAFE_XML_RULES for v in exc.violations)
        slug = "unsafe-xml" if unsafe else "invalid-document"
        raise Problem(422, slug, "Unsafe XML refused" if unsafe else exc.title, str(exc), exc.violations) from None
    data = {
        "type": decoded.type,
        "source": inst.id,
        "destination": decoded.destination or "hub",
        "payload": decoded.payload,
        "idempotency_key": idem_header or decoded.idempotency_key,
        "correlation_id": decoded.correlation_id,
    }
    return _validated(data)


def _from_json(body: bytes, inst: Institution, idem_header: str | None) -> Envelope:
    try:
        data: Any = load_json(body, "Malformed JSON", max_bytes=len(body), max_depth=MAX_JSON_DEPTH)
    except RejectedInput as exc:
        errors = [Violation("body", v.rule, v.detail) for v in exc.violations]
        raise Problem(
            400, "malformed-json", "Malformed JSON", "; ".join(f"{v.rule}: {v.detail}" for v in errors), errors
        ) from None
    if not isinstance(data, dict):
        raise Problem(
            422,
            "invalid-envelope",
            "invalid envelope",
            "the body must be a JSON object",
            [Violation("body", "object_type", "a JSON object with type, destination and payload")],
        )
    server_set = [f for f in SERVER_FIELDS if f in data]
    if server_set:
        raise Problem(
            422,
            "invalid-envelope",
            "invalid envelope",
            "fields assigned by the hub were sent",
            [Violation(f, "server_assigned", "set by the hub, not the sender") for f in server_set],
        )
    if data.get("source", inst.id) != inst.id:
        raise Problem(
            403,
            "wrong-source",
            "Source is not the authenticated institution",
            f"source {data.get('source')!r} differs from the caller {inst.id!r}",
            [Violation("source", "authenticated_institution", inst.id)],
        )
    key = data.get("idempotency_key")
    if idem_header and key and idem_header != key:
        raise Problem(
            422,
            "invalid-envelope",
            "invalid envelope",
            "Idempotency-Key header and body differ",
            [Violation("idempotency_key", "matches_header", "send one key, or the same in both")],
        )
    return _validated({**data, "source": inst.id, "idempotency_key": key or idem_header or ""})


def _validated(data: dict[str, Any]) -> Envelope:
    try:
        return parse_envelope(data)
    except RejectedInput as exc:
        raise Problem(422, "invalid-envelope", exc.title, str(exc), exc.violations) from None


async def accept(store: Store, js: Any, env: Envelope, seal: IngressSeal | None = None) -> tuple[str, str, bool]:
    """Claim the idempotency key, publish to HUB_IN and wait for JetStream's ack.

    Returns (message id, status, new). Nothing is acknowledged to the caller before the ack; a
    claim whose publish fails is released so the caller can retry.
    """
    scope = scope_of(env)
    try:
        claim = await store.claim(env, scope)
    except IdempotencyConflict as exc:
        raise Problem(
            409,
            "idempotency-conflict",
            "Idempotency key reused with a different payload",
            str(exc),
            [Violation("idempotency_key", "same_payload", f"first used by message {exc.message_id}")],
            message_id=exc.message_id,
        ) from None
    if not claim.new and claim.status != "received":
        return claim.message_id, claim.status, False
    if not claim.new:
        # An earlier submission claimed the key but its publish was never confirmed: publish the
        # stored envelope again; the msg-id makes a second copy harmless.
        view = await store.message(claim.message_id)
        if view is not None:
            env = Envelope.from_bytes(view.envelope)
    try:
        body = env.to_bytes()
        headers = {"Nats-Msg-Id": scope, **({SEAL_HEADER: seal.seal(scope, body)} if seal else {})}
        await js.publish(env.subject, body, headers=headers, timeout=5)
    except Exception as exc:
        if claim.new:
            await store.release(str(env.id), scope)
        raise Problem(
            503, "not-accepted", "Message not accepted", f"the message bus did not confirm: {exc}", retry_after="1"
        ) from None
    view_, _owner = await store.ensure(env, scope)
    return str(env.id), view_.status, claim.new
