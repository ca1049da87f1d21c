"""/v1/scores: the monthly ranking of units or communities by their score (考评), with every
rate's numerator and denominator behind it. JSON, or CSV with `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.auth import CurrentPrincipal
from api.deps import SessionDep, SettingsDep
from api.edge import instant
from api.errors import InvalidQuery
from api.figures import csv_response, wants_csv
from api.routes.stats import rate_cells, rate_columns, scoped_stats
from db import stats
from domain.kpi import COUNT_KEYS, local_range
from domain.score import SCORE_RATES, ScoreRow, ranking

router = APIRouter(prefix="/v1/scores", tags=["stats"])

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ScoresOut(BaseModel):
    """The cases received in `month` (Asia/Shanghai), scored per unit or community."""

    month: str
    by: str
    weights: dict[str, float]
    rows: list[ScoreRow]


@router.get(
    "",
    response_model=ScoresOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV (one line per group)"},
        422: {"description": "A month that is not YYYY-MM"},
    },
)
async def scores(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    month: Annotated[str, Query(description="The local month, YYYY-MM", examples=["2026-03"])],
    by: Annotated[Literal["unit", "community"], Query(description="Rank units or communities")],
) -> Any:
    first, last = _month(month)
    start, end = local_range(first, last)
    start, end = instant(start, "month"), instant(end, "month")
    # The figures of the cases the caller may see, as for /v1/stats; a case with no unit (or
    # no community) yet is nobody's to score.
    rows = await scoped_stats(session, principal, start, end, [by])
    groups = {code: row.counts for row in rows if (code := row.group[by]) is not None}
    # 核减: the cases exempted on appeal leave the score; `raw` keeps them.
    left_out = await scoped_stats(session, principal, start, end, [by], stats.exempted_stats)
    exempted = {code: row.counts for row in left_out if (code := row.group[by]) is not None}
    ranked = ranking(by, groups, settings.score_weights, exempted)
    if wants_csv(request):
        weighed = list(settings.score_weights)
        return csv_response(_csv(by, weighed, ranked), f"gridcase-scores-{month}.csv")
    return ScoresOut(month=month, by=by, weights=settings.score_weights, rows=ranked)


def _month(text: str) -> tuple[date, date]:
    """The first and last day of a YYYY-MM month."""
    found = _MONTH.match(text)
    try:
        if found is None:
            raise ValueError(text)
        year, month = int(found.group(1)), int(found.group(2))
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
    except ValueError:
        raise InvalidQuery(
            "month must be YYYY-MM (01 to 12)", {"field": "month", "value": text}
        ) from None
    return first, date.fromordinal(following.toordinal() - 1)


def _csv(by: str, weighed: list[str], rows: list[ScoreRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    points = [f"{k}_points" for k in weighed]
    columns = rate_columns(SCORE_RATES)
    raw = [f"raw_{c}" for c in columns]
    header = ["rank", by, "score", "raw_score", "exempted", *points, *COUNT_KEYS, *columns]
    writer.writerow([*header, *raw])
    for row in rows:
        counts = row.counts.model_dump()
        writer.writerow(
            [
                "" if row.rank is None else row.rank,
                row.group[by],
                "" if row.score is None else row.score,
                "" if row.raw.score is None else row.raw.score,
                row.exempted,
                *("" if row.points[k] is None else row.points[k] for k in weighed),
                *(counts[k] for k in COUNT_KEYS),
                *rate_cells(row.rates, SCORE_RATES),
                *rate_cells(row.raw.rates, SCORE_RATES),
            ]
        )
    return out.getvalue()
