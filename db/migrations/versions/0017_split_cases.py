"""split cases (拆分): a child case names its parent; the parent keeps its children; the
rollups count the cases closed `split` (rebuilt with the counters of this schema)

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from db import rollup

# The counters of this schema: 0014's and `split` (a later one may read a later column).
COUNTERS = (
    "received",
    "dispatched",
    "closed",
    "overdue",
    "escalated",
    "linked",
    "returned",
    "rejected",
    "unrated",
    "unreachable",
    "rated",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "solved",
    "accepted_on_time",
    "replied",
    "replied_on_time",
    "split",
)

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
        for statement in [*rollup.destroy(table), *rollup.build(table, COUNTERS)]:
            op.execute(statement)


def downgrade() -> None:
    """Back to 0014's counters."""
    for table in rollup.ROLLUPS:
        for statement in [*rollup.destroy(table), *rollup.build(table, COUNTERS[:-1])]:
            op.execute(statement)
    op.drop_index("ix_cases_parent", table_name="cases")
    op.drop_column("cases", "children")
    op.drop_column("cases", "parent")
