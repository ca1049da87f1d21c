"""split cases (拆分): a child case names its parent; the parent keeps its children; the
rollups count the cases closed `split` (rebuilt from `domain.kpi.COUNTERS`, as 0014 says)

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from db import rollup

revision: str = "0017"
down_revision: str | None = "0016"
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
    for table in rollup.ROLLUPS:
        for statement in [*rollup.destroy(table), *rollup.build(table)]:
            op.execute(statement)


def downgrade() -> None:
    # The rollups keep their `split` column: the counters are the code's, not this migration's.
    op.drop_index("ix_cases_parent", table_name="cases")
    op.drop_column("cases", "children")
    op.drop_column("cases", "parent")
