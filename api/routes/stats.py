"""/v1/stats: the figures that matter (completion, response, on-time, satisfaction, resolution
rates) with their counts, per community, grid, unit, category, channel, day, week or month.
JSON, or CSV with `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.errors import InvalidQuery
from api.figures import PeriodDep, csv_response, wants_csv
from api.schemas import StatsOut
from db import stats
from domain.kpi import (
    COUNT_KEYS,
    GROUP_KEYS,
    RATE_KEYS,
    InvalidStatsQuery,
    Rate,
    StatsRow,
    check_group_by,
    total,
)
from domain.permissions import Principal, visibility

router = APIRouter(prefix="/v1/stats", tags=["stats"])


class Fetch(Protocol):
    """How figures are read (db.stats.case_stats, or another cut such as exempted_stats)."""

    async def __call__(
        self, session: AsyncSession, *, start: datetime, end: datetime, group_by: list[str]
    ) -> list[StatsRow]: ...


@router.get(
    "",
    response_model=StatsOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV (one line per group)"},
        422: {"description": "Unknown group_by, from after to, or a period over 3 years"},
    },
)
async def case_stats(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    period: PeriodDep,
    group_by: Annotated[
        list[str] | None, Query(description=f"Any of {', '.join(GROUP_KEYS)}; repeatable")
    ] = None,
) -> Any:
    try:
        keys = check_group_by(group_by or [])
    except InvalidStatsQuery as invalid:
        raise InvalidQuery(str(invalid), invalid.details) from None
    rows = await scoped_stats(session, principal, period.start, period.end, keys)
    if wants_csv(request):
        return csv_response(_csv(keys, rows), "gridcase-stats.csv")
    return StatsOut(
        from_=period.first.isoformat(),
        to=period.last.isoformat(),
        group_by=keys,
        rows=rows,
        total=total(rows),
    )


async def scoped_stats(
    session: AsyncSession,
    principal: Principal,
    start: datetime,
    end: datetime,
    keys: list[str],
    fetch: Fetch = stats.case_stats,
) -> list[StatsRow]:
    """The figures of the cases the principal may see (its visibility, as for lists): grouped
    also by the places that visibility names, the others dropped, the extra keys summed away.
    What has no place key (a committee, a summoned agency) is left out, never let in."""
    seen = visibility(principal)
    if seen.everything:
        return await fetch(session, start=start, end=end, group_by=keys)
    places = {"community": seen.communities, "grid": seen.grids, "unit": seen.units}
    places = {key: values for key, values in places.items() if values}
    by_place = [*keys, *(k for k in places if k not in keys)]
    rows = await fetch(session, start=start, end=end, group_by=by_place)
    groups: dict[tuple[str | None, ...], list[StatsRow]] = {}
    for row in rows:
        if any(row.group[key] in values for key, values in places.items()):
            groups.setdefault(tuple(row.group[k] for k in keys), []).append(row)
    return [
        StatsRow.of(dict(zip(keys, group, strict=True)), total(members).counts)
        for group, members in groups.items()
    ]


# Every rate as three CSV columns: its value, numerator and denominator.
def rate_columns(keys: Sequence[str] = RATE_KEYS) -> list[str]:
    return [f"{r}_{part}" for r in keys for part in ("rate", "numerator", "denominator")]


def rate_cells(rates: dict[str, Rate], keys: Sequence[str] = RATE_KEYS) -> list[Any]:
    return [
        value
        for r in keys
        for value in (
            "" if rates[r].value is None else rates[r].value,
            rates[r].numerator,
            rates[r].denominator,
        )
    ]


def _csv(keys: list[str], rows: list[StatsRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*keys, *COUNT_KEYS, *rate_columns()])
    for row in rows:
        counts = row.counts.model_dump()
        group = ["" if row.group[k] is None else row.group[k] for k in keys]
        writer.writerow([*group, *(counts[k] for k in COUNT_KEYS), *rate_cells(row.rates)])
    return out.getvalue()
