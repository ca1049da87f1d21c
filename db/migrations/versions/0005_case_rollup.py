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


def _key(row: str) -> str:
    return (
        f"(timezone('Asia/Shanghai', {row}.received_at))::date, coalesce({row}.community, ''), "
        f"coalesce({row}.grid, ''), coalesce({row}.unit, ''), {row}.category, {row}.channel"
    )


def _apply(row: str, sign: int) -> str:
    values = ", ".join(
        f"{sign} * (CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for condition in _counters(row).values()
    )
    added = ", ".join(f"{c} = case_rollup.{c} + EXCLUDED.{c}" for c in COUNTERS)
    return (
        f"INSERT INTO case_rollup ({KEY}, {', '.join(COUNTERS)}) "
        f"SELECT {_key(row)}, {values} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {added};"
    )


def upgrade() -> None:
    counters = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in COUNTERS)
    op.execute(
        "CREATE TABLE case_rollup (day date NOT NULL, community varchar(32) NOT NULL, "
        "grid varchar(32) NOT NULL, unit varchar(32) NOT NULL, category varchar(64) NOT NULL, "
        f"channel varchar(16) NOT NULL, {counters}, "
        f"CONSTRAINT pk_case_rollup PRIMARY KEY ({KEY}))"
    )
    op.execute(
        "CREATE FUNCTION case_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_apply('OLD', -1)} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_apply('NEW', 1)} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER cases_rollup AFTER INSERT OR UPDATE OR DELETE ON cases "
        "FOR EACH ROW EXECUTE FUNCTION case_rollup_apply()"
    )
    sums = ", ".join(f"sum(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in _counters("c").values())
    op.execute(
        f"INSERT INTO case_rollup ({KEY}, {', '.join(COUNTERS)}) "
        f"SELECT {_key('c')}, {sums} FROM cases AS c GROUP BY 1, 2, 3, 4, 5, 6"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER cases_rollup ON cases")
    op.execute("DROP FUNCTION case_rollup_apply()")
    op.execute("DROP TABLE case_rollup")
