"""The timeline's deadline column: where each deadline stood after each event, from the events
alone (so it reads the same for a case past Temporal's retention). The events are folded
through the lifecycle's own `evolve`, so the column is what the workflow itself knew."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from domain.case import CaseStatus, Deadline
from domain.state import CaseState, EventLike, born, evolve

# not_needed: still open when the case closed (rejected, merged, resolved another way).
State = Literal["pending", "met", "met_late", "missed", "not_needed"]


class DeadlineState(BaseModel):
    due_at: datetime | None
    state: State


def standing(deadline: Deadline, closed: bool = False) -> DeadlineState:
    """A missed deadline stays missed, even when met late; once the case is closed, one that
    was neither met nor missed was not needed and no longer runs."""
    if deadline.missed:
        return DeadlineState(due_at=deadline.due_at, state="missed")
    if deadline.met_at is None:
        return DeadlineState(due_at=deadline.due_at, state="not_needed" if closed else "pending")
    late = deadline.met_at > deadline.due_at
    return DeadlineState(due_at=deadline.due_at, state="met_late" if late else "met")


def deadline_states(events: Iterable[EventLike]) -> list[dict[str, DeadlineState]]:
    """One snapshot per event, in order."""
    state: CaseState | None = None
    snapshots = []
    for event in events:
        if state is None:
            state = born(event)
        else:
            evolve(state, event)
        closed = state.status is CaseStatus.closed
        snapshots.append({d.kind.value: standing(d, closed) for d in state.deadlines.values()})
    return snapshots
