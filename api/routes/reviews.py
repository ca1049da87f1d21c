"""The supervisor review queue: cases rated unsatisfied after their re-handling."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.schemas import CasePage
from api.scope import scope_conditions
from db import cases

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


@router.get("", response_model=CasePage)
async def review_queue(
    session: SessionDep,
    principal: CurrentPrincipal,
    community: str | None = None,
    unit: str | None = None,
    before: Annotated[int | None, Query(ge=1, description="Case number to page from")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Waiting for a supervisor's `review_close` (verdict) or `reopen`, newest first."""
    rows = await cases.page(
        session,
        filters={"review": "pending", "community": community, "unit": unit},
        overdue=None,
        before=before,
        limit=limit + 1,
        conditions=scope_conditions(principal),  # a community's supervisor: its community
    )
    return CasePage.of(rows, limit)
