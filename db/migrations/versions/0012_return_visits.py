"""return visits: the policy's visit fields, when a case's call is due (the visits queue) and
the `unreachable` counter in both rollups

Revision ID: 0012
Revises: 0011

The new counter is kept by a trigger of its own beside each rollup's (adding what the old row
counted and the new one counts, at the same key), so the counters of 0005 stay as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# rollup table -> (its key columns, the key as an expression of a case row named {row})
ROLLUPS = {
    "case_rollup": (
        "day, community, grid, unit, category, channel",
        "(timezone('Asia/Shanghai', {row}.received_at))::date, coalesce({row}.community, ''), "
        "coalesce({row}.grid, ''), coalesce({row}.unit, ''), {row}.category, {row}.channel",
    ),
    "case_rollup_month": (
        "month, community, category, channel",
        "date_trunc('month', timezone('Asia/Shanghai', {row}.received_at))::date, "
        "coalesce({row}.community, ''), {row}.category, {row}.channel",
    ),
}
UNREACHABLE = "{row}.outcome = 'unreachable'"


def _apply(table: str, key: str, row_key: str, row: str, sign: int) -> str:
    counted = UNREACHABLE.format(row=row)
    return (
        f"INSERT INTO {table} ({key}, unreachable) "
        f"SELECT {row_key.format(row=row)}, {sign} * (CASE WHEN {counted} THEN 1 ELSE 0 END) "
        f"WHERE {counted} "
        f"ON CONFLICT ({key}) DO UPDATE "
        f"SET unreachable = {table}.unreachable + EXCLUDED.unreachable;"
    )


POLICY_COLUMNS = (
    sa.Column("visit_after", sa.String(length=16), server_default="1wd", nullable=False),
    sa.Column("visit_attempts", sa.Integer(), server_default="3", nullable=False),
    sa.Column("verification_share", sa.Float(), server_default="0.1", nullable=False),
)


def upgrade() -> None:
    for column in POLICY_COLUMNS:
        op.add_column("sla_policies", column)
    op.add_column("cases", sa.Column("visit_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("verification", sa.String(length=16), nullable=True))
    op.create_index("ix_cases_status_visit_due_at", "cases", ["status", "visit_due_at"])
    for table, (key, row_key) in ROLLUPS.items():
        op.add_column(
            table, sa.Column("unreachable", sa.Integer(), nullable=False, server_default="0")
        )
        old, new = (_apply(table, key, row_key, r, s) for r, s in (("OLD", -1), ("NEW", 1)))
        op.execute(
            f"CREATE FUNCTION {table}_unreachable_apply() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP IN ('UPDATE', 'DELETE') THEN {old} END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new} END IF; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER cases_{table.removeprefix('case_')}_unreachable AFTER INSERT OR "
            f"UPDATE OR DELETE ON cases FOR EACH ROW EXECUTE FUNCTION {table}_unreachable_apply()"
        )


def downgrade() -> None:
    for table in ROLLUPS:
        op.execute(f"DROP TRIGGER cases_{table.removeprefix('case_')}_unreachable ON cases")
        op.execute(f"DROP FUNCTION {table}_unreachable_apply()")
        op.drop_column(table, "unreachable")
    op.drop_index("ix_cases_status_visit_due_at", "cases")
    op.drop_column("cases", "visit_due_at")
    op.drop_column("cases", "verification")
    for column in POLICY_COLUMNS:
        op.drop_column("sla_policies", column.name)
