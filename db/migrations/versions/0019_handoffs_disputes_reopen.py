"""hand-offs, routing disputes and reopening: the case's hand-off and reopen counts, its
dispute and the unit a ruling bound to it, until when it may be reopened, the policy's ruling
limit and reopen window; both rollups rebuilt with the `reopened` and `handed_off` counters

Revision ID: 0019
Revises: 0018

Cases recorded before this migration get their counts from their event log (returns and
reassignments; a supervisor's reopen), then the rollups are rebuilt from `domain.kpi.COUNTERS`
(db/rollup.py), recounting every case.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import rollup

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counters of 0018 (0014's, `split` and `assisted`), and the two this revision adds (their
# conditions: domain.kpi.COUNTERS).
COUNTED = (
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
NEW_COUNTERS = ("reopened", "handed_off")
CASE_COLUMNS = (
    sa.Column("handoffs", sa.Integer(), server_default="0", nullable=False),
    sa.Column("reopens", sa.Integer(), server_default="0", nullable=False),
    sa.Column("dispute", sa.String(length=16), nullable=True),
    sa.Column("bound_unit", sa.String(length=32), nullable=True),
    sa.Column("reopen_until", sa.DateTime(timezone=True), nullable=True),
)
POLICY_COLUMNS = (
    sa.Column("ruling", sa.String(length=16), server_default="2wd", nullable=False),
    sa.Column("reopen_window", sa.String(length=16), server_default="30d", nullable=False),
)
# case column -> the event types it counts
FROM_THE_LOG = {"handoffs": "'return', 'reassign'", "reopens": "'reopen'"}


def upgrade() -> None:
    for rule in POLICY_COLUMNS:
        op.add_column("sla_policies", rule)
    for field in CASE_COLUMNS:
        op.add_column("cases", field)
    for table in rollup.ROLLUPS:  # no trigger fires while earlier cases get their counts
        for statement in rollup.destroy(table):
            op.execute(statement)
    for count, types in FROM_THE_LOG.items():
        op.execute(
            f"UPDATE cases SET {count} = e.n FROM (SELECT case_id, count(*) AS n "
            f"FROM case_events WHERE type IN ({types}) GROUP BY case_id) AS e "
            "WHERE e.case_id = cases.id"
        )
    for table in rollup.ROLLUPS:
        for statement in rollup.build(table, (*COUNTED, *NEW_COUNTERS)):
            op.execute(statement)


def downgrade() -> None:
    """Back to 0018's counters: the new ones' columns go, the triggers count the rest."""
    for table in rollup.ROLLUPS:
        for statement in rollup.drop_triggers(table):
            op.execute(statement)
        for statement in rollup.triggers(table, COUNTED):
            op.execute(statement)
        for counter in NEW_COUNTERS:
            op.drop_column(table, counter)
    for field in CASE_COLUMNS:
        op.drop_column("cases", field.name)
    for rule in POLICY_COLUMNS:
        op.drop_column("sla_policies", rule.name)
