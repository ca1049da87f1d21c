"""outbox dead letters: when a notification may be tried again (backoff), and when and why it
was given up (a gateway's permanent refusal, or too many attempts)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("notifications", sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("last_error", sa.Text(), nullable=True))
    op.create_index(
        "ix_notifications_dead",
        "notifications",
        ["dead_at"],
        postgresql_where=sa.text("dead_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_dead", table_name="notifications")
    op.drop_column("notifications", "last_error")
    op.drop_column("notifications", "dead_at")
    op.drop_column("notifications", "next_attempt_at")
