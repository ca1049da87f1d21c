"""The outbox's dead letters: notifications a gateway refused for good or that failed too often,
for an operator to see and, once the cause is fixed, to send again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select, update

from api.deps import SessionDep
from api.errors import GridcaseError
from db.models import Notification

router = APIRouter(prefix="/v1/outbox", tags=["outbox"])


class DeadLetter(BaseModel):
    id: str
    case_id: str
    recipient: str
    kind: str
    params: dict[str, str]
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_at: datetime


class UnknownDeadLetter(GridcaseError):
    status_code = 404
    code = "unknown_dead_letter"


@router.get("/dead", response_model=list[DeadLetter])
async def dead_letters(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[DeadLetter]:
    """Given-up notifications, most recent first: template, parameters and why (no contact)."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.dead_at.is_not(None), Notification.unsent())
        .order_by(Notification.dead_at.desc())
        .limit(limit)
    )
    return [DeadLetter.model_validate(row, from_attributes=True) for row in rows]


@router.post("/dead/{notification_id}/retry")
async def retry(session: SessionDep, notification_id: str) -> dict[str, str]:
    """Queue a dead letter again (the gateway's template approved, the recipient fixed...)."""
    requeued = await session.scalar(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.dead_at.is_not(None),
            Notification.unsent(),
        )
        .values(dead_at=None, next_attempt_at=None, attempts=0)
        .returning(Notification.id)
    )
    if requeued is None:
        raise UnknownDeadLetter("no dead letter with this id", {"id": notification_id})
    return {"id": requeued, "status": "queued"}
