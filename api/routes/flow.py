"""/v1/flow: where cases spend their time (p50/p90 hours per state, by unit and category), the
ageing of the open backlog in working days, hand-offs per case and deadline breaches by grid.
JSON, or CSV with `Accept: text/csv`; of the cases the caller may list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.figures import PeriodDep, csv_response, wants_csv
from api.scope import scope_conditions
from db import flow
from domain.flow import FlowReport

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
    period: PeriodDep,
) -> Any:
    """The cases received in [from, to], replayed from their events; the backlog is those of
    them still open now, aged in working days since receipt."""
    report = await flow.case_flow(
        session,
        start=period.start,
        end=period.end,
        as_of=datetime.now(UTC),
        scope=scope_conditions(principal),
    )
    if wants_csv(request):
        return csv_response(_csv(report), "gridcase-flow.csv")
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
