"""indexes for the KPI statistics: cases by time of receipt

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00.000000

(Meant as 0003; 0003_places_and_duplicates already held that number.)
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every statistics query (and the generated history's check) is a range of received_at.
    op.create_index("ix_cases_received_at", "cases", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_received_at", table_name="cases")
