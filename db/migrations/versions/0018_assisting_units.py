"""assisting units (协办): how many times a case's lead unit brought assisting units in; the
rollups count the assisted cases (rebuilt from `domain.kpi.COUNTERS`, as 0014 says)

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import rollup

# The counters of this schema: 0017's and `assisted` (a later one may read a later column).
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
    "assisted",
)

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("assists", sa.Integer(), server_default="0", nullable=False))
    for table in rollup.ROLLUPS:
        for statement in [*rollup.destroy(table), *rollup.build(table, COUNTERS)]:
            op.execute(statement)


def downgrade() -> None:
    """Back to 0017's counters, which do not read `assists`."""
    for table in rollup.ROLLUPS:
        for statement in [*rollup.destroy(table), *rollup.build(table, COUNTERS[:-1])]:
            op.execute(statement)
    op.drop_column("cases", "assists")
