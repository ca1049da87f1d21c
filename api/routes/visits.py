"""The return-visit desk's queue (回访): replied cases due for a call. The call itself is the
`visit` action (routes/actions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import allowed
from api.deps import SessionDep
from api.edge import instant
from api.listing import decode_cursor, encode_cursor
from api.schemas import CaseSummary
from api.scope import scope_conditions
from db import cases
from domain.case import Grade
from domain.permissions import SEES_PHONE, Principal, mask_phone

router = APIRouter(tags=["visits"])


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


def _phone(phone: str | None, calls: bool) -> str | None:
    return phone if calls or phone is None else mask_phone(phone)
