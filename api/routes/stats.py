"""/v1/stats: the figures that matter (completion, response, on-time, satisfaction, resolution
rates) with their counts, per community, grid, unit, category, channel, day, week or month.
JSON, or CSV with `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep
from api.errors import InvalidQuery
from api.schemas import StatsOut
from db import stats
from domain.kpi import (
    COUNT_KEYS,
    GROUP_KEYS,
    RATE_KEYS,
    InvalidStatsQuery,
    StatsRow,
    check_group_by,
    local_range,
    parse_bound,
    total,
)

router = APIRouter(prefix="/v1/stats", tags=["stats"])


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
    from_: Annotated[
        str,
        Query(
            alias="from",
            description="First local day (YYYY-MM-DD, Asia/Shanghai) or an ISO datetime",
            examples=["2026-01-01"],
        ),
    ],
    to: Annotated[
        str,
        Query(
            description="Last local day, included; an ISO datetime is an exclusive end",
            examples=["2026-03-31"],
        ),
    ],
    group_by: Annotated[
        list[str] | None, Query(description=f"Any of {', '.join(GROUP_KEYS)}; repeatable")
    ] = None,
) -> Any:
    try:
        keys = check_group_by(group_by or [])
        first, last = parse_bound(from_, "from"), parse_bound(to, "to")
        start, end = local_range(first, last)
    except InvalidStatsQuery as invalid:
        raise InvalidQuery(str(invalid), invalid.details) from None
    rows = await stats.case_stats(session, start=start, end=end, group_by=keys)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            _csv(keys, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gridcase-stats.csv"'},
        )
    return StatsOut(
        from_=first.isoformat(), to=last.isoformat(), group_by=keys, rows=rows, total=total(rows)
    )


def _csv(keys: list[str], rows: list[StatsRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rate_columns = [
        f"{r}_{part}" for r in RATE_KEYS for part in ("rate", "numerator", "denominator")
    ]
    writer.writerow([*keys, *COUNT_KEYS, *rate_columns])
    for row in rows:
        counts = row.counts.model_dump()
        rates = [
            value
            for r in RATE_KEYS
            for value in (
                "" if row.rates[r].value is None else row.rates[r].value,
                row.rates[r].numerator,
                row.rates[r].denominator,
            )
        ]
        group = ["" if row.group[k] is None else row.group[k] for k in keys]
        writer.writerow([*group, *(counts[k] for k in COUNT_KEYS), *rates])
    return out.getvalue()
