"""each recorded event keeps the fence of the workflow task that wrote it (its run's start, then
how much history the task had seen), so a stale task's late record never replaces what a task
that saw more had written

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "case_events", sa.Column("fence", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("case_events", "fence")
