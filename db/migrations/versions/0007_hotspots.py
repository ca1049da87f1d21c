"""hot spots: one row per hot spot raised, with its governance case and the requests behind it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotspots",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("grid", sa.String(length=32), nullable=False),
        sa.Column("community", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("governance_case", sa.String(length=32), nullable=True),
        sa.Column("cases", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hotspots")),
    )
    # GET /v1/hotspots: the open ones and the most recent.
    op.create_index("ix_hotspots_raised_at", "hotspots", ["raised_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hotspots_raised_at", table_name="hotspots")
    op.drop_table("hotspots")
