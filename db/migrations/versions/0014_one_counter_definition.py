"""the KPI rollups rebuilt from the one definition of the counters

Revision ID: 0014
Revises: 0013

Migrations 0005, 0006 and 0012 each spelled the counters in SQL (0012 added `unreachable` with a
trigger of its own). This one drops their triggers and tables and builds both rollups again from
`domain.kpi.COUNTERS` (db/rollup.py), the definition the statistics over the rows and the
event-log replay read too, recounting every case already there. A later change of the counters
is one more migration that calls `rollup.destroy` and `rollup.build` again.
"""

from collections.abc import Sequence

from alembic import op

from db import rollup

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0012 kept `unreachable` with a trigger of its own beside 0005's and 0006's.
SPLIT = "_unreachable"
# The counters of this schema (a later one may read a column a later migration adds).
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
)


def upgrade() -> None:
    for table in rollup.ROLLUPS:
        for statement in rollup.drop_triggers(table, SPLIT):
            op.execute(statement)
        for statement in [*rollup.destroy(table), *rollup.build(table, COUNTERS)]:
            op.execute(statement)


def downgrade() -> None:
    """Back to two triggers per rollup, named as 0005/0006 and 0012 named them."""
    for table in rollup.ROLLUPS:
        for statement in rollup.drop_triggers(table):
            op.execute(statement)
        for statement in [
            *rollup.triggers(table, [c for c in COUNTERS if c != "unreachable"]),
            *rollup.triggers(table, ["unreachable"], SPLIT),
        ]:
            op.execute(statement)
