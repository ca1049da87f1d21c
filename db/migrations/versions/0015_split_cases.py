"""split cases (拆分): a child case names its parent; the parent keeps its children

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("parent", sa.String(32), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "children", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
    )
    op.create_index("ix_cases_parent", "cases", ["parent"])


def downgrade() -> None:
    op.drop_index("ix_cases_parent", table_name="cases")
    op.drop_column("cases", "children")
    op.drop_column("cases", "parent")
