"""The timeline's deadline column: where each deadline stood after each event, from the events
alone (so it reads the same for a case past Temporal's retention). The events are folded
through the lifecycle's own `evolve`, so the column is what the workflow itself knew."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from domain.case import Deadline
from domain.state import CaseState, EventLike, born, evolve

State = Literal["pending", "met", "met_late", "missed"]


class DeadlineState(BaseModel):
    due_at: datetime | None
    state: State


def standing(deadline: Deadline) -> DeadlineState:
    """A missed deadline stays missed, even when met late."""
    if deadline.missed:
        return DeadlineState(due_at=deadline.due_at, state="missed")
    if deadline.met_at is None:
        return DeadlineState(due_at=deadline.due_at, state="pending")
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
        snapshots.append({d.kind.value: standing(d) for d in state.deadlines.values()})
    return snapshots
