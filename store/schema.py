"""Tables of the journal: messages, their status transitions, attempts, idempotency, outbox, audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    destination: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(128), index=True)
    idempotency_scope: Mapped[str] = mapped_column(String(64))
    payload_digest: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True)
    adapter: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)  # since the last DLQ replay
    replays: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TransitionRow(Base):
    __tablename__ = "transitions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # Tamper evidence: each writer process chains its rows; see store/chain.py.
    chain: Mapped[str | None] = mapped_column(String(36), index=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AttemptRow(Base):
    __tablename__ = "attempts"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    n: Mapped[int] = mapped_column(Integer)
    adapter: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # ok | transient | permanent | in_doubt
    error: Mapped[str | None] = mapped_column(Text)


class IdempotencyRow(Base):
    __tablename__ = "idempotency"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(source, key)
    message_id: Mapped[str] = mapped_column(String(36))
    payload_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "published"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(200))
    msg_id: Mapped[str] = mapped_column(String(120))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="{}")


class ChainHeadRow(Base):
    """Where each writer's hash chain of transitions ends, updated in the same commit as its rows."""

    __tablename__ = "chain_heads"

    chain: Mapped[str] = mapped_column(String(36), primary_key=True)
    head: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The chain's digest (store/chain.py HASHES); chains written before this column are sha256.
    algorithm: Mapped[str] = mapped_column(String(16), default="sha256", server_default="sha256")


class CheckpointRow(Base):
    """A signed statement of every chain's length and head at one moment; see store/checkpoints.py."""

    __tablename__ = "checkpoints"

    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 1, 2, 3 ... no gaps
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the exact signed bytes (RFC 8785 JSON)
    signature: Mapped[str] = mapped_column(Text)  # compact detached JWS over body
    kid: Mapped[str] = mapped_column(String(200))


class OperatorRow(Base):
    """A person who may use the admin API and console, with one role (security/rbac.py)."""

    __tablename__ = "operators"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id PHC string
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(default=False)
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApprovalRow(Base):
    """A proposed action waiting for a second operator (four eyes); see store/approvals.py."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text, default="{}")
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)  # proposed | approved | refused | expired
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomsSetRow(Base):
    """One order's three-document set (order, payment, waybill) and its inventory declaration;
    see desk/customs.py. Changed only under a row lock (PostgreSQL) or the single SQLite writer."""

    __tablename__ = "customs_sets"

    order_no: Mapped[str] = mapped_column(String(60), primary_key=True)
    # collecting | held | matched | declared | accepted | released | rejected | timed_out
    status: Mapped[str] = mapped_column(String(16), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)  # +1 per document taken in
    mismatches: Mapped[str] = mapped_column(Text, default="[]")
    reason: Mapped[str | None] = mapped_column(Text)
    inventory_id: Mapped[str | None] = mapped_column(String(36))  # the CEB621 message the hub filed
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomsDocumentRow(Base):
    """One declared entity (an Order, a Payment, a waybill, an inventory) of a set, by its own guid,
    with the single window's receipts about it."""

    __tablename__ = "customs_documents"

    guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # order | payment | waybill | inventory
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(60), index=True)  # payTransactionId, logisticsNo, copNo ...
    # submitted | declared | accepted | released | rejected | superseded
    status: Mapped[str] = mapped_column(String(16))
    receipts: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShipmentRow(Base):
    """A tracked shipment (one carrier's tracking number) and its current normalized status; see
    desk/logistics.py. Changed only under a row lock (PostgreSQL) or the single SQLite writer."""

    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # <carrier adapter>:<tracking number>
    carrier: Mapped[str] = mapped_column(String(40), index=True)  # the adapter name
    tracking_number: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(64))  # the institution that registered it
    status: Mapped[str | None] = mapped_column(String(24))  # canonical TrackingCode of the latest event
    final: Mapped[bool] = mapped_column(default=False)  # delivered or returned: polling stops
    events: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShipmentEventRow(Base):
    """One normalized tracking event of a shipment, once: unique by (shipment, code + time + place)."""

    __tablename__ = "shipment_events"
    __table_args__ = (Index("ux_shipment_events_status", "shipment_id", "status_key", unique=True),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(String(64), index=True)
    status_key: Mapped[str] = mapped_column(String(64))  # sha256 of TrackingEvent.status_key()
    source_key: Mapped[str | None] = mapped_column(String(200))  # carrier + its event id, when it has one
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    code: Mapped[str | None] = mapped_column(String(24))  # None: an unknown carrier code, kept raw
    event: Mapped[str] = mapped_column(Text)  # the TrackingEvent as JSON
    message_id: Mapped[str | None] = mapped_column(String(36))  # its journal message
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditConsentRow(Base):
    """A data subject's consent to credit queries (PIPL art. 13-14); see desk/credit.py. The subject
    is stored only as a keyed digest of its identifier."""

    __tablename__ = "credit_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    subject_digest: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence: Mapped[str | None] = mapped_column(String(200))  # where the signed consent is kept
    recorded_by: Mapped[str] = mapped_column(String(64))


class CreditCacheRow(Base):
    """A bureau's report kept until its kind's TTL ends, as a sealed envelope (personal fields encrypted)."""

    __tablename__ = "credit_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # keyed digest of bureau, kind, subject
    bureau: Mapped[str] = mapped_column(String(40))
    report_kind: Mapped[str] = mapped_column(String(32))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    retrieved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CreditQuotaRow(Base):
    """What one tenant spent on bureau queries in one month; reserved atomically before each query."""

    __tablename__ = "credit_quota"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM (UTC)
    spent: Mapped[int] = mapped_column(Integer, default=0)  # cost units
    queries: Mapped[int] = mapped_column(Integer, default=0)
    cached: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
