"""case_rollup_month: the same counters per local month, community, category and channel, for
year-long reports (the daily rollup keeps grid and unit, so a year of it is still large)

Revision ID: 0006
Revises: 0005
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counter definitions live in 0005 (one place), loaded by path as Alembic loads it.
_spec = importlib.util.spec_from_file_location(
    "case_rollup_0005", Path(__file__).with_name("0005_case_rollup.py")
)
assert _spec is not None and _spec.loader is not None
daily = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(daily)
KEY = "month, community, category, channel"


def _key(row: str) -> str:
    return (
        f"date_trunc('month', timezone('Asia/Shanghai', {row}.received_at))::date, "
        f"coalesce({row}.community, ''), {row}.category, {row}.channel"
    )


def _apply(row: str, sign: int) -> str:
    values = ", ".join(
        f"{sign} * (CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for condition in daily._counters(row).values()
    )
    added = ", ".join(f"{c} = case_rollup_month.{c} + EXCLUDED.{c}" for c in daily.COUNTERS)
    return (
        f"INSERT INTO case_rollup_month ({KEY}, {', '.join(daily.COUNTERS)}) "
        f"SELECT {_key(row)}, {values} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET {added};"
    )


def upgrade() -> None:
    counters = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in daily.COUNTERS)
    op.execute(
        "CREATE TABLE case_rollup_month (month date NOT NULL, community varchar(32) NOT NULL, "
        f"category varchar(64) NOT NULL, channel varchar(16) NOT NULL, {counters}, "
        f"CONSTRAINT pk_case_rollup_month PRIMARY KEY ({KEY}))"
    )
    op.execute(
        "CREATE FUNCTION case_rollup_month_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_apply('OLD', -1)} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_apply('NEW', 1)} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER cases_rollup_month AFTER INSERT OR UPDATE OR DELETE ON cases "
        "FOR EACH ROW EXECUTE FUNCTION case_rollup_month_apply()"
    )
    sums = ", ".join(f"sum(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in daily._counters("c").values())
    op.execute(
        f"INSERT INTO case_rollup_month ({KEY}, {', '.join(daily.COUNTERS)}) "
        f"SELECT {_key('c')}, {sums} FROM cases AS c GROUP BY 1, 2, 3, 4"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER cases_rollup_month ON cases")
    op.execute("DROP FUNCTION case_rollup_month_apply()")
    op.execute("DROP TABLE case_rollup_month")
