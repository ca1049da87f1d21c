"""the escalation ladder's table is `ladder_rungs` (one name for a rung across layers)

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.rename_table("escalation_levels", "ladder_rungs")
    op.execute("ALTER TABLE ladder_rungs RENAME CONSTRAINT pk_escalation_levels TO pk_ladder_rungs")


def downgrade() -> None:
    op.execute("ALTER TABLE ladder_rungs RENAME CONSTRAINT pk_ladder_rungs TO pk_escalation_levels")
    op.rename_table("ladder_rungs", "escalation_levels")
