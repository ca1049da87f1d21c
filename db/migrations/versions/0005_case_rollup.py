"""case_rollup: KPI counters per local day and place, kept by a trigger on cases

Revision ID: 0005
Revises: 0004

Every insert, update or delete of a case row subtracts what the old row counted and adds what
the new one counts, in the same transaction: the rollup cannot drift from the record, a replayed
persistence activity (which changes no row) changes nothing, and /v1/stats sums a few thousand
rollup rows instead of reading a million cases. The counter definitions are those of
db/stats.py (`_count_columns`); tests/integration/test_stats.py checks that both agree.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "day, community, grid, unit, category, channel"


def _met_on_time(row: str, kind: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements({row}.deadlines) AS d "
        f"WHERE d->>'kind' = '{kind}' AND d->>'met_at' IS NOT NULL "
        "AND (d->>'met_at')::timestamptz <= (d->>'due_at')::timestamptz)"
    )


def _counters(row: str) -> dict[str, str]:
    """Counter -> the condition under which one case adds 1 to it."""
    rated = f"{row}.grade IN ('satisfied', 'basically_satisfied', 'unsatisfied')"
    return {
        "received": "TRUE",
        "dispatched": f"{row}.dispatched_at IS NOT NULL",
        "closed": f"{row}.status = 'closed'",
        "overdue": f"{row}.overdue",
        "escalated": f"{row}.escalation_level > 0",
        "linked": f"{row}.linkage IS NOT NULL",
        "returned": f"{row}.returns > 0",
        "rejected": f"{row}.outcome = 'rejected'",
        "unrated": f"{row}.outcome = 'unrated'",
        "rated": rated,
        "satisfied": f"{row}.grade = 'satisfied'",
        "basically_satisfied": f"{row}.grade = 'basically_satisfied'",
        "unsatisfied": f"{row}.grade = 'unsatisfied'",
        "solved": f"({rated}) AND {row}.solved IS TRUE",
        "accepted_on_time": f"{row}.dispatched_at IS NOT NULL AND {_met_on_time(row, 'accept')}",
        "replied": f"{row}.replied_at IS NOT NULL",
        "replied_on_time": f"{row}.replied_at IS NOT NULL AND {_met_on_time(row, 'reply')}",
    }


COUNTERS = tuple(_counters("c"))


# The rollup's key, as an expression of a case row named {row}.
ROW_KEY = (
    "(timezone('Asia/Shanghai', {row}.received_at))::date, coalesce({row}.community, ''), "
    "coalesce({row}.grid, ''), coalesce({row}.unit, ''), {row}.category, {row}.channel"
)


def apply(table: str, key: str, row_key: str, row: str, sign: int) -> str:
    # row_key: an expression of a case row named {row}, such as ROW_KEY.
    """The trigger's statement: add (sign 1) or take away (-1) what `row` counts, at its key.
    Migration 0006 builds its monthly rollup from the same pieces."""
    values = ", ".join(
        f"{sign} * (CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for condition in _counters(row).values()
    )
    added = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in COUNTERS)
    return (
        f"INSERT INTO {table} ({key}, {', '.join(COUNTERS)}) "
        f"SELECT {row_key.format(row=row)}, {values} "
        f"ON CONFLICT ({key}) DO UPDATE SET {added};"
    )


def create(table: str, key: str, key_columns: str, row_key: str) -> None:
    """The table, its trigger function and trigger, and the rows of the cases already there."""
    counters = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in COUNTERS)
    op.execute(
        f"CREATE TABLE {table} ({key_columns}, {counters}, "
        f"CONSTRAINT pk_{table} PRIMARY KEY ({key}))"
    )
    old, new = (
        apply(table, key, row_key.format(row=r), r, s) for r, s in (("OLD", -1), ("NEW", 1))
    )
    op.execute(
        f"CREATE FUNCTION {table}_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {old} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER cases_{table.removeprefix('case_')} AFTER INSERT OR UPDATE OR DELETE "
        f"ON cases FOR EACH ROW EXECUTE FUNCTION {table}_apply()"
    )
    sums = ", ".join(f"sum(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in _counters("c").values())
    groups = ", ".join(str(i + 1) for i in range(key.count(",") + 1))
    op.execute(
        f"INSERT INTO {table} ({key}, {', '.join(COUNTERS)}) "
        f"SELECT {row_key.format(row='c')}, {sums} FROM cases AS c GROUP BY {groups}"
    )


def drop(table: str) -> None:
    op.execute(f"DROP TRIGGER cases_{table.removeprefix('case_')} ON cases")
    op.execute(f"DROP FUNCTION {table}_apply()")
    op.execute(f"DROP TABLE {table}")


def upgrade() -> None:
    create(
        "case_rollup",
        KEY,
        "day date NOT NULL, community varchar(32) NOT NULL, grid varchar(32) NOT NULL, "
        "unit varchar(32) NOT NULL, category varchar(64) NOT NULL, channel varchar(16) NOT NULL",
        ROW_KEY,
    )


def downgrade() -> None:
    drop("case_rollup")
