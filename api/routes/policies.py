"""/v1/policies: try a changed SLA policy on the past (what-if) before it touches the present,
then change it, with open cases following or not."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import allowed
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.errors import InvalidQuery, InvalidReference, UnknownPolicy
from api.scope import scope_conditions
from db import policies
from domain.kpi import InvalidStatsQuery, local_range, parse_bound
from domain.permissions import Principal
from domain.policy_change import PolicyFollowed
from domain.sla import SlaPolicy
from domain.whatif import ASSUMPTION, Comparison, Figures, PolicyChange, compare, totals
from workflows.policy import tell_open_cases

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
    until: datetime  # the latest recorded event: both sides are counted up to it
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
    until = min(await policies.recorded_until(session) or end, datetime.now(UTC))
    rows = await asyncio.to_thread(compare, cases, body.policy, body.change, until)
    recorded, proposed, diverged = totals(rows)
    return WhatIfOut(
        policy=body.policy,
        from_=first.isoformat(),
        to=last.isoformat(),
        change=body.change,
        assumption=ASSUMPTION,
        until=until,
        cases=recorded.cases,
        diverged=diverged,
        seconds=round(time.perf_counter() - started, 3),
        recorded=recorded,
        proposed=proposed,
        rows=rows,
    )


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change: PolicyChange
    open_cases_follow: bool = Field(
        description="Tell every running case under this policy to recompute its future "
        "deadlines now (else only cases dispatched from now on use it)"
    )


class PolicyUpdated(BaseModel):
    policy: SlaPolicy
    open_cases_follow: bool
    telling: str | None = None  # the workflow telling the open cases (Temporal UI, its result)


@router.put(
    "/{code}",
    response_model=PolicyUpdated,
    responses={
        404: {"description": "No policy has that code"},
        422: {"description": "An invalid limit"},
    },
)
async def change_policy(
    code: Annotated[str, Path(min_length=1, max_length=64)],
    body: PolicyUpdate,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(allowed("change_policy"))],
) -> PolicyUpdated:
    """Change a policy's limits (committed first: cases routed from now on use them) and, when
    open cases follow, start the durable telling of every running case it covers."""
    limits = body.change.model_dump(exclude_none=True)
    async with sessions.begin() as session:
        try:
            policy = await policies.change(session, code, limits)
        except ValidationError as invalid:
            raise InvalidQuery("the changed policy is not valid", invalid.errors()) from None
    if policy is None:
        raise UnknownPolicy("no policy has that code", {"code": code})
    if not body.open_cases_follow:
        return PolicyUpdated(policy=policy, open_cases_follow=False)
    followed = PolicyFollowed(policy=policy, actor=principal.actor)
    telling = await tell_open_cases(temporal, settings.task_queue, followed)
    return PolicyUpdated(policy=policy, open_cases_follow=True, telling=telling)
