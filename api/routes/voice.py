"""The resident's voice on an open case (with its resident token, or through the hotline's
dispatcher): `add_info` and `chase`, one Update each through the action adapter."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.actions import Act
from api.schemas import CaseId, CaseOut
from domain.case import Action
from domain.voice import AddInfoInput, ChaseInput

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the resident (its token) or a dispatcher"},
    404: {"description": "Unknown case"},
    409: {"description": "Not open, or the day's chasers are used up; details say what is allowed"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}


@router.post("/{case_id}/add_info", response_model=CaseOut, responses=_ERRORS)
async def add_info(case_id: CaseId, body: AddInfoInput, act: Act) -> CaseOut:
    """The resident adds a note or a photo URL: recorded and sent to the unit."""
    return await act(case_id, Action.add_info, body)


@router.post("/{case_id}/chase", response_model=CaseOut, responses=_ERRORS)
async def chase(case_id: CaseId, body: ChaseInput, act: Act) -> CaseOut:
    """催促: recorded, counted on the case and sent to the unit (the policy's number a day)."""
    return await act(case_id, Action.chase, body)
