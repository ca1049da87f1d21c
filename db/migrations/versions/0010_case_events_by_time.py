"""case events by time: Open311's servicerequestupdates (which FixMyStreet polls) reads the
events of a time window, without scanning the whole event log

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_events_at", "case_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_events_at", table_name="case_events")
