"""/v1/cases: intake, lists, one case with its live state, and its timeline.

The API never writes a case: intake starts the case workflow (api/intake.py), every action is
an Update on it (api/routes/actions.py), and reads come from the PostgreSQL record (plus a
live query for timers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from api.auth import allowed, rate_limited
from api.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.intake import file_case
from api.listing import CaseQuery, case_count, case_page
from api.schemas import CaseCount, CaseCreate, CaseOut, CasePage, EventOut
from api.scope import ReadableCase, Reader
from api.views import case_out, live_state, shown
from core.auth import issue
from db import cases
from domain.case import CaseStatus
from domain.permissions import Principal, Role
from domain.timeline import deadline_states

router = APIRouter(prefix="/v1/cases", tags=["cases"])

RESIDENT_TOKEN_LIFETIME = timedelta(days=180)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown case"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOut,
    responses={
        200: {"description": "This channel + external_ref was filed before: the existing case"},
        202: {"description": "Recorded and started; routing still under way"},
        409: {"description": "This channel + external_ref names a case the caller may not see"},
        **_ERRORS,
    },
)
async def create_case(
    body: CaseCreate,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(allowed("create"))],
) -> CaseOut:
    """受理. A resident's app is rate-limited per client; the answer to the call that made the
    case carries `resident_token`, with which the resident follows and rates this case and
    nothing else."""
    if principal.role is Role.resident:
        rate_limited(request, f"resident:{principal.subject}")
    filed = await file_case(sessions, temporal, settings, body, principal)
    response.status_code = filed.status
    case = filed.case
    if filed.created:
        resident = Principal(subject=f"resident:{case.id}", role=Role.resident, case_id=case.id)
        case.resident_token = issue(settings, resident, RESIDENT_TOKEN_LIFETIME)
    return shown(case, principal, filed.scope)


@router.get("", response_model=CasePage)
async def list_cases(
    session: SessionDep,
    principal: Annotated[Principal, Depends(allowed("list"))],
    query: Annotated[CaseQuery, Depends()],
) -> CasePage:
    return await case_page(session, principal, query)


@router.get("/count", response_model=CaseCount)
async def count_cases(
    session: SessionDep,
    principal: Annotated[Principal, Depends(allowed("list"))],
    query: Annotated[CaseQuery, Depends()],
) -> CaseCount:
    """How many cases the list would show for the same query, over all its pages (paging
    parameters are ignored), with the overdue and at-risk among them."""
    return await case_count(session, principal, query)


@router.get("/{case_id}", response_model=CaseOut, responses={404: _ERRORS[404]})
async def get_case(
    case: ReadableCase, principal: Reader, temporal: TemporalDep, settings: SettingsDep
) -> CaseOut:
    out = case_out(case.row)
    if case.row.status != CaseStatus.closed:
        out.live = await live_state(temporal, case.row.id, settings)
        if out.live is not None:  # what the workflow allows now, not a reading of the record
            out.allowed_actions = list(out.live.allowed_actions)
            out.linkage = out.live.linkage
    return shown(out, principal, case.scope)


@router.get("/{case_id}/events", response_model=list[EventOut], responses={404: _ERRORS[404]})
async def case_events(case: ReadableCase, session: SessionDep) -> list[EventOut]:
    events = await cases.events(session, case.row.id)
    return [
        EventOut.model_validate(e).model_copy(update={"deadlines": states})
        for e, states in zip(events, deadline_states(events), strict=True)
    ]
