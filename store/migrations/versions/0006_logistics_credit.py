"""shipments with their tracking events; credit consents, report cache and quotas

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", tz, nullable=True),
        sa.Column("last_polled_at", tz, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shipments_carrier", "shipments", ["carrier"], unique=False)
    op.create_index("ix_shipments_next_poll_at", "shipments", ["next_poll_at"], unique=False)
    op.create_table(
        "shipment_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shipment_id", sa.String(length=64), nullable=False),
        sa.Column("status_key", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", tz, nullable=False),
        sa.Column("code", sa.String(length=24), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_shipment_events_shipment_id", "shipment_events", ["shipment_id"], unique=False)
    op.create_index("ux_shipment_events_status", "shipment_events", ["shipment_id", "status_key"], unique=True)
    op.create_table(
        "credit_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("subject_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("granted_at", tz, nullable=False),
        sa.Column("expires_at", tz, nullable=False),
        sa.Column("revoked_at", tz, nullable=True),
        sa.Column("evidence", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_credit_consents_tenant", "credit_consents", ["tenant"], unique=False)
    op.create_index("ix_credit_consents_subject_digest", "credit_consents", ["subject_digest"], unique=False)
    op.create_table(
        "credit_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bureau", sa.String(length=40), nullable=False),
        sa.Column("report_kind", sa.String(length=32), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("retrieved_at", tz, nullable=False),
        sa.Column("expires_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_credit_cache_expires_at", "credit_cache", ["expires_at"], unique=False)
    op.create_table(
        "credit_quota",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("spent", sa.Integer(), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("cached", sa.Integer(), nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "period"),
    )


def downgrade() -> None:
    op.drop_table("credit_quota")
    op.drop_table("credit_cache")
    op.drop_table("credit_consents")
    op.drop_table("shipment_events")
    op.drop_table("shipments")
