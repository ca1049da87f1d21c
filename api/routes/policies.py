"""/v1/policies: try a changed SLA policy on the past (what-if) before it touches the present."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.auth import allowed
from api.deps import SessionDep
from api.errors import InvalidQuery, InvalidReference
from api.scope import scope_conditions
from db import policies
from domain.kpi import InvalidStatsQuery, local_range, parse_bound
from domain.permissions import Principal
from domain.whatif import ASSUMPTION, Comparison, Figures, PolicyChange, compare, totals

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class WhatIfInput(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    policy: str = Field(min_length=1, max_length=64, examples=["SLA-NORMAL"])
    from_: str = Field(alias="from", examples=["2026-10-01"], description="First local day")
    to: str = Field(examples=["2026-10-31"], description="Last local day, included")
    change: PolicyChange


class WhatIfOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    policy: str
    from_: str = Field(alias="from")
    to: str
    change: PolicyChange
    assumption: str
    cases: int
    diverged: int
    seconds: float  # how long the replay took
    recorded: Figures
    proposed: Figures
    rows: list[Comparison]


@router.post(
    "/whatif",
    response_model=WhatIfOut,
    responses={422: {"description": "Unknown policy, invalid limit or period"}},
)
async def what_if(
    body: WhatIfInput,
    session: SessionDep,
    principal: Annotated[Principal, Depends(allowed("stats"))],
) -> WhatIfOut:
    """Replay the recorded actions of the period's cases that ran under `policy`, at their
    recorded times, through the case model with `change` applied, and compare per unit and
    category. Read-only: no live case is touched."""
    try:
        first, last = parse_bound(body.from_, "from"), parse_bound(body.to, "to")
        start, end = local_range(first, last)
    except InvalidStatsQuery as invalid:
        raise InvalidQuery(str(invalid), invalid.details) from None
    if not await policies.exists(session, body.policy):
        raise InvalidReference("unknown policy", {"field": "policy", "value": body.policy})
    started = time.perf_counter()
    cases = await policies.recorded_cases(
        session, code=body.policy, start=start, end=end, scope=scope_conditions(principal)
    )
    rows = await asyncio.to_thread(compare, cases, body.policy, body.change, datetime.now(UTC))
    recorded, proposed, diverged = totals(rows)
    return WhatIfOut(
        policy=body.policy,
        from_=first.isoformat(),
        to=last.isoformat(),
        change=body.change,
        assumption=ASSUMPTION,
        cases=recorded.cases,
        diverged=diverged,
        seconds=round(time.perf_counter() - started, 3),
        recorded=recorded,
        proposed=proposed,
        rows=rows,
    )
