"""resident chasers: how many times the resident chased a case (催促), and the policy's daily
limit

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("chases", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "sla_policies",
        sa.Column("chases_per_day", sa.Integer(), server_default="2", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sla_policies", "chases_per_day")
    op.drop_column("cases", "chases")
