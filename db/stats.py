"""KPIs over the case record: one grouped aggregate in PostgreSQL (case_stats), and the same
counts recomputed from the event log (case_stats_from_events) to check the record against.
Read-only; never commits."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from typing import Any

from sqlalchemy import Boolean, ColumnElement, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, CaseEventRow, CaseRollup, CaseRollupMonth
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import (
    COUNTERS,
    Counts,
    StatsRow,
    check_group_by,
    counter_sql,
    facts_from_events,
    group_of,
)

TZ = "Asia/Shanghai"  # domain.calendar.SUBDISTRICT_TZ, spelled for PostgreSQL


def _group_column(key: str) -> ColumnElement[Any]:
    local = func.timezone(TZ, Case.received_at)  # received_at AT TIME ZONE 'Asia/Shanghai'
    if key == "day":
        return func.to_char(func.date_trunc("day", local), "YYYY-MM-DD")
    if key == "week":
        return func.to_char(func.date_trunc("week", local), 'IYYY-"W"IW')
    if key == "month":
        return func.to_char(func.date_trunc("month", local), "YYYY-MM")
    column: ColumnElement[Any] = getattr(Case, key)
    return column


def count_columns() -> dict[str, ColumnElement[int]]:
    """The KPI counters over case rows (domain.kpi.COUNTERS, as the rollups' triggers read it)."""
    counted = {
        name: func.count().filter(literal_column(counter_sql(name, "cases"), Boolean))
        for name in COUNTERS
    }
    return {**counted, "open": func.count().filter(Case.status != "closed")}


async def case_stats(
    session: AsyncSession, *, start: datetime, end: datetime, group_by: list[str]
) -> list[StatsRow]:
    """Counts and rates per group of the cases received in [start, end), ordered by group:
    from the rollup when the period is whole local days (always, through the API's dates),
    else straight from the cases."""
    if _local_month_start(start) and _local_month_start(end) and set(group_by) <= MONTHLY_KEYS:
        return await case_stats_from_rollup(
            session, start=start, end=end, group_by=group_by, table=CaseRollupMonth
        )
    if _local_midnight(start) and _local_midnight(end):
        return await case_stats_from_rollup(session, start=start, end=end, group_by=group_by)
    return await case_stats_direct(session, start=start, end=end, group_by=group_by)


# What the monthly rollup can group by.
MONTHLY_KEYS = {"community", "category", "channel", "month"}


def _local_month_start(moment: datetime) -> bool:
    return _local_midnight(moment) and moment.astimezone(SUBDISTRICT_TZ).day == 1


def _local_midnight(moment: datetime) -> bool:
    local = moment.astimezone(SUBDISTRICT_TZ)
    return local.timetz().replace(tzinfo=None) == time()


def _rollup_group_column(
    key: str, table: type[CaseRollup] | type[CaseRollupMonth]
) -> ColumnElement[Any]:
    day = table.month if table is CaseRollupMonth else CaseRollup.day
    if key == "day":
        return func.to_char(day, "YYYY-MM-DD")
    if key == "week":
        return func.to_char(func.date_trunc("week", day), 'IYYY-"W"IW')
    if key == "month":
        return func.to_char(day, "YYYY-MM")
    column: ColumnElement[Any] = getattr(table, key)
    return func.nullif(column, "") if key in ("community", "grid", "unit") else column


async def case_stats_from_rollup(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    table: type[CaseRollup] | type[CaseRollupMonth] = CaseRollup,
) -> list[StatsRow]:
    """The same figures summed from a rollup: the daily one for whole local days [start, end),
    the monthly one for whole months."""
    keys = check_group_by(group_by)
    period = table.month if table is CaseRollupMonth else CaseRollup.day
    groups = [_rollup_group_column(k, table).label(f"g_{k}") for k in keys]
    sums = [func.sum(getattr(table, c)).label(f"c_{c}") for c in COUNTERS]
    query = (
        select(*groups, *sums)
        .where(
            period >= start.astimezone(SUBDISTRICT_TZ).date(),
            period < end.astimezone(SUBDISTRICT_TZ).date(),
        )
        .group_by(*[g.element for g in groups])
        .order_by(*[g.asc().nulls_last() for g in groups])
    )
    rows = (await session.execute(query)).mappings().all()
    result = []
    for r in rows:
        counts = {c: int(r[f"c_{c}"] or 0) for c in COUNTERS}
        if not counts["received"]:
            continue
        counts["open"] = counts["received"] - counts["closed"]
        result.append(StatsRow.of({k: r[f"g_{k}"] for k in keys}, Counts(**counts)))
    return result


async def case_stats_direct(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    only: ColumnElement[bool] | None = None,
) -> list[StatsRow]:
    """Counts and rates per group, computed from the case rows themselves (those that match
    `only`, when given)."""
    keys = check_group_by(group_by)
    groups = [_group_column(k).label(f"g_{k}") for k in keys]
    counts = [c.label(f"c_{k}") for k, c in count_columns().items()]
    query = (
        select(*groups, *counts)
        .where(Case.received_at >= start, Case.received_at < end)
        .where(only if only is not None else true())
        .group_by(*[g.element for g in groups])
        .order_by(*[g.asc().nulls_last() for g in groups])
    )
    rows = (await session.execute(query)).mappings().all()
    if keys and not rows:
        return []
    return [
        StatsRow.of(
            {k: r[f"g_{k}"] for k in keys},
            Counts(**{k: r[f"c_{k}"] for k in Counts.model_fields}),
        )
        for r in rows
        if r["c_received"]
    ]


async def exempted_stats(
    session: AsyncSession, *, start: datetime, end: datetime, group_by: list[str]
) -> list[StatsRow]:
    """The counts of the cases exempted on appeal (核减): few, so straight from the rows."""
    only = Case.exemption.is_not(None)
    return await case_stats_direct(session, start=start, end=end, group_by=group_by, only=only)


async def case_stats_from_events(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: list[str],
    exempted_only: bool = False,
) -> list[StatsRow]:
    """The same statistics replayed from `case_events` (the cases whose `received` event falls
    in [start, end)). Every count comes from the events; only the grouping keys the events do
    not carry (community, grid, category: fixed at intake) are read from the case row."""
    keys = check_group_by(group_by)
    in_range = (
        select(CaseEventRow.case_id)
        .where(
            CaseEventRow.type == "received",
            CaseEventRow.at >= start,
            CaseEventRow.at < end,
        )
        .scalar_subquery()
    )
    result = await session.execute(
        select(CaseEventRow, Case.community, Case.grid, Case.category)
        .join(Case, Case.id == CaseEventRow.case_id)
        .where(CaseEventRow.case_id.in_(in_range))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    per_case: dict[str, list[CaseEventRow]] = defaultdict(list)
    places: dict[str, dict[str, Any]] = {}
    for event, community, grid, category in result:
        per_case[event.case_id].append(event)
        places[event.case_id] = {"community": community, "grid": grid, "category": category}
    summed: dict[tuple[Any, ...], Counts] = defaultdict(Counts)
    for case_id, events in per_case.items():
        facts = facts_from_events(events)
        if exempted_only and not facts.exempted:
            continue
        group = group_of(facts, places[case_id], keys)
        key = tuple(group[k] for k in keys)
        summed[key] = summed[key] + facts.counts()

    def order(key: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((v is None, v or "") for v in key)

    return [
        StatsRow.of(dict(zip(keys, key, strict=True)), summed[key])
        for key in sorted(summed, key=order)
    ]
