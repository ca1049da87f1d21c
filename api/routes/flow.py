"""/v1/flow: where cases spend their time (p50/p90 hours per state, by unit and category), the
ageing of the open backlog in working days, hand-offs per case and deadline breaches by grid.
JSON, or CSV with `Accept: text/csv`; of the cases the caller may list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.errors import InvalidQuery
from api.scope import scope_conditions
from db import flow
from domain.flow import FlowReport
from domain.kpi import InvalidStatsQuery, local_range, parse_bound

router = APIRouter(prefix="/v1/flow", tags=["flow"])

# One CSV for the four tables: a `table` column, then every column any of them has.
CSV_COLUMNS = (
    "table",
    "unit",
    "category",
    "state",
    "grid",
    "community",
    "bucket",
    "stays",
    "p50_hours",
    "p90_hours",
    "cases",
    "handoffs",
    "per_case",
    "breached_cases",
    "breaches",
)


@router.get(
    "",
    response_model=FlowReport,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV (one line per row)"},
        422: {"description": "from after to, or a period over 3 years"},
    },
)
async def case_flow(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    from_: Annotated[
        str,
        Query(
            alias="from",
            description="First local day of receipt (YYYY-MM-DD, Asia/Shanghai) or an ISO datetime",
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
) -> Any:
    """The cases received in [from, to], replayed from their events; the backlog is those of
    them still open now, aged in working days since receipt."""
    try:
        start, end = local_range(parse_bound(from_, "from"), parse_bound(to, "to"))
    except InvalidStatsQuery as invalid:
        raise InvalidQuery(str(invalid), invalid.details) from None
    report = await flow.case_flow(
        session,
        start=start,
        end=end,
        as_of=datetime.now(UTC),
        scope=scope_conditions(principal),
    )
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            _csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gridcase-flow.csv"'},
        )
    return report


def _csv(report: FlowReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    tables: dict[str, list[Any]] = {
        "time_in_state": report.time_in_state,
        "backlog": report.backlog,
        "handoffs": report.handoffs,
        "handoffs_by_unit": report.handoffs_by_unit,
        "breaches": report.breaches,
    }
    for table, rows in tables.items():
        for row in rows:
            values = {k: "" if v is None else v for k, v in row.model_dump().items()}
            writer.writerow({"table": table, **values})
    return out.getvalue()
