"""appeals: a case's latest appeal, the grounds appealed and its exemption (核减); the policy's
appeal window and ruling limit

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("appeal", JSONB(), nullable=True))
    op.add_column("cases", sa.Column("appealed", JSONB(), server_default="[]", nullable=False))
    op.add_column("cases", sa.Column("exemption", sa.Text(), nullable=True))
    op.add_column(
        "sla_policies",
        sa.Column("appeal_window", sa.String(length=16), server_default="5wd", nullable=False),
    )
    op.add_column(
        "sla_policies",
        sa.Column("appeal", sa.String(length=16), server_default="3wd", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sla_policies", "appeal")
    op.drop_column("sla_policies", "appeal_window")
    op.drop_column("cases", "exemption")
    op.drop_column("cases", "appealed")
    op.drop_column("cases", "appeal")
