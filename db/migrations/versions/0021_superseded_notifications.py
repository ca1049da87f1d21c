"""superseded notifications: what a lost workflow task's record wrote to the outbox is set
aside (not sent) and taken over by the same notice when the retried task records it

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_notifications_superseded",
        "notifications",
        ["case_id"],
        postgresql_where=sa.text("superseded_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_superseded", table_name="notifications")
    op.drop_column("notifications", "superseded_at")
