"""index attempts by finish time (canary analysis windows)

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_finished_at", "attempts", ["finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attempts_finished_at", table_name="attempts")
