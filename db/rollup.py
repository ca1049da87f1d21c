"""The KPI rollups (`case_rollup` per local day and place, `case_rollup_month` per local month),
kept by triggers on `cases` and built from the one definition of the counters,
`domain.kpi.COUNTERS`. Migrations call `build` and `destroy`; the code only reads the tables.

Every insert, update or delete of a case row subtracts what the old row counted and adds what
the new one counts, in the same transaction: the rollup cannot drift from the record, a replayed
persistence activity (which changes no row) changes nothing, and /v1/stats sums a few thousand
rollup rows instead of reading a million cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.kpi import COUNTERS, counter_sql


@dataclass(frozen=True)
class Rollup:
    key: str  # its key columns
    columns: str  # their DDL
    row_key: str  # the key as expressions of a case row named {row}


ROLLUPS = {
    "case_rollup": Rollup(
        key="day, community, grid, unit, category, channel",
        columns="day date NOT NULL, community varchar(32) NOT NULL, grid varchar(32) NOT NULL, "
        "unit varchar(32) NOT NULL, category varchar(64) NOT NULL, channel varchar(16) NOT NULL",
        row_key="(timezone('Asia/Shanghai', {row}.received_at))::date, "
        "coalesce({row}.community, ''), coalesce({row}.grid, ''), coalesce({row}.unit, ''), "
        "{row}.category, {row}.channel",
    ),
    "case_rollup_month": Rollup(
        key="month, community, category, channel",
        columns="month date NOT NULL, community varchar(32) NOT NULL, "
        "category varchar(64) NOT NULL, channel varchar(16) NOT NULL",
        row_key="date_trunc('month', timezone('Asia/Shanghai', {row}.received_at))::date, "
        "coalesce({row}.community, ''), {row}.category, {row}.channel",
    ),
}


def _apply(table: str, counters: Sequence[str], row: str, sign: int) -> str:
    """Add (sign 1) or take away (-1) what the case row `row` counts, at its key."""
    rollup = ROLLUPS[table]
    values = ", ".join(
        f"{sign} * (CASE WHEN {counter_sql(c, row)} THEN 1 ELSE 0 END)" for c in counters
    )
    added = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in counters)
    return (
        f"INSERT INTO {table} ({rollup.key}, {', '.join(counters)}) "
        f"SELECT {rollup.row_key.format(row=row)}, {values} "
        f"ON CONFLICT ({rollup.key}) DO UPDATE SET {added};"
    )


def triggers(table: str, counters: Sequence[str] = tuple(COUNTERS), name: str = "") -> list[str]:
    """The trigger function and trigger that keep `counters` of `table` (named with `name`)."""
    old, new = (_apply(table, counters, r, s) for r, s in (("OLD", -1), ("NEW", 1)))
    function = f"{table}{name}_apply"
    return [
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {old} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new} END IF; "
        "RETURN NULL; END $$",
        f"CREATE TRIGGER cases_{table.removeprefix('case_')}{name} AFTER INSERT OR UPDATE OR "
        f"DELETE ON cases FOR EACH ROW EXECUTE FUNCTION {function}()",
    ]


def drop_triggers(table: str, name: str = "") -> list[str]:
    return [
        f"DROP TRIGGER cases_{table.removeprefix('case_')}{name} ON cases",
        f"DROP FUNCTION {table}{name}_apply()",
    ]


def build(table: str, counters: Sequence[str] = tuple(COUNTERS)) -> list[str]:
    """The table with `counters` (a migration names those its schema has the columns for: a
    later counter may read a column a later migration adds), its trigger, and the rows of the
    cases already there."""
    rollup = ROLLUPS[table]
    columns = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in counters)
    sums = ", ".join(f"sum(CASE WHEN {counter_sql(c, 'c')} THEN 1 ELSE 0 END)" for c in counters)
    groups = ", ".join(str(i + 1) for i in range(rollup.key.count(",") + 1))
    return [
        f"CREATE TABLE {table} ({rollup.columns}, {columns}, "
        f"CONSTRAINT pk_{table} PRIMARY KEY ({rollup.key}))",
        *triggers(table, counters),
        f"INSERT INTO {table} ({rollup.key}, {', '.join(counters)}) "
        f"SELECT {rollup.row_key.format(row='c')}, {sums} FROM cases AS c GROUP BY {groups}",
    ]


def destroy(table: str) -> list[str]:
    return [*drop_triggers(table), f"DROP TABLE {table}"]
