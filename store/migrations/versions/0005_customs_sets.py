"""customs three-document sets and their documents

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customs_sets",
        sa.Column("order_no", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("inventory_id", sa.String(length=36), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_no"),
    )
    op.create_index("ix_customs_sets_status", "customs_sets", ["status"], unique=False)
    op.create_index("ix_customs_sets_deadline", "customs_sets", ["deadline"], unique=False)
    op.create_table(
        "customs_documents",
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("receipts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guid"),
    )
    op.create_index("ix_customs_documents_order_no", "customs_documents", ["order_no"], unique=False)
    op.create_index("ix_customs_documents_message_id", "customs_documents", ["message_id"], unique=False)
    op.create_index("ix_customs_documents_key", "customs_documents", ["key"], unique=False)


def downgrade() -> None:
    op.drop_table("customs_documents")
    op.drop_table("customs_sets")
