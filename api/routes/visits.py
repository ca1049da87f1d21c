"""The return-visit desk (回访): the queue of cases due for a call, and the call's outcome (the
`visit` action, one Update through the action adapter)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.actions import Act
from api.auth import allowed
from api.deps import SessionDep
from api.edge import instant
from api.listing import decode_cursor, encode_cursor
from api.schemas import CaseId, CaseOut, CaseSummary
from api.scope import scope_conditions
from db import cases
from domain.case import Action, Grade
from domain.permissions import SEES_PHONE, Principal, mask_phone
from domain.visit import VisitInput

router = APIRouter(tags=["visits"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller's role may not call residents back"},
    404: {"description": "Unknown case"},
    409: {"description": "Not waiting for a return visit; details list what is allowed"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}


class DueVisit(CaseSummary):
    visit_due_at: datetime
    replied_at: datetime
    reporter_phone: str | None = Field(description="Masked unless the caller's role calls")
    app_grade: Grade | None = Field(
        description="Rated in the app already: this call verifies that rating"
    )


class VisitPage(BaseModel):
    items: list[DueVisit]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page")


@router.get("/v1/visits", response_model=VisitPage)
async def due_visits(
    session: SessionDep,
    principal: Annotated[Principal, Depends(allowed("visits"))],
    due_before: Annotated[
        datetime | None, Query(description="Plan ahead: due by then (default: now)")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> VisitPage:
    """Replied cases due for a call (by default from the next working day after the reply),
    the longest waiting first; `app_grade` marks a verification call."""
    rows = await cases.due_visits(
        session,
        by=instant(due_before, "due_before") if due_before else datetime.now(UTC),
        limit=limit + 1,
        conditions=scope_conditions(principal),
        after=decode_cursor(cursor) if cursor else None,
    )
    calls = principal.role in SEES_PHONE
    items = [
        DueVisit.model_validate(
            {
                **CaseSummary.model_validate(row).model_dump(),
                "visit_due_at": row.visit_due_at,
                "replied_at": row.replied_at,
                "reporter_phone": _phone(row.reporter_phone, calls),
                "app_grade": row.grade if row.verification == "pending" else None,
            }
        )
        for row in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return VisitPage(
        items=items, next_cursor=encode_cursor(last.visit_due_at, last.number) if last else None
    )


@router.post("/v1/cases/{case_id}/visit", response_model=CaseOut, responses=_ERRORS)
async def visit(case_id: CaseId, body: VisitInput, act: Act) -> CaseOut:
    """回访: reached (grade and solved: the rating), or not reached (with a note). The policy's
    number of unreached attempts on different working days closes the case `unreachable`."""
    return await act(case_id, Action.visit, body)


def _phone(phone: str | None, calls: bool) -> str | None:
    return phone if calls or phone is None else mask_phone(phone)
