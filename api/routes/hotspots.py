"""/v1/hotspots: the hot spots open now and those raised recently, each with its governance case
and the requests behind it; in the places the caller may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from db import hotspots
from domain.permissions import visibility

router = APIRouter(prefix="/v1/hotspots", tags=["hotspots"])


class HotspotCase(BaseModel):
    id: str
    title: str
    status: str
    received_at: datetime


class HotspotOut(BaseModel):
    key: str
    grid: str
    community: str | None
    category: str
    status: str  # open | closed
    governance_case: str | None
    raised_at: datetime
    closed_at: datetime | None
    cases: list[HotspotCase]


@router.get("", response_model=list[HotspotOut])
async def list_hotspots(
    session: SessionDep,
    principal: CurrentPrincipal,
    days: Annotated[
        int, Query(ge=1, le=366, description="Closed hot spots raised in the last `days` too")
    ] = 30,
) -> list[HotspotOut]:
    found = await hotspots.open_and_recent(
        session, since=datetime.now(UTC) - timedelta(days=days), seen=visibility(principal)
    )
    return [
        HotspotOut(
            key=row.key,
            grid=row.grid,
            community=row.community,
            category=row.category,
            status=row.status,
            governance_case=row.governance_case,
            raised_at=row.raised_at,
            closed_at=row.closed_at,
            cases=[
                HotspotCase(id=c.id, title=c.title, status=c.status, received_at=c.received_at)
                for c in cases
            ],
        )
        for row, cases in found
    ]
