"""The timeline's deadline column: where each deadline stood after each event, replayed from
the events alone (so it reads the same for a case past Temporal's retention)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel

State = Literal["pending", "met", "met_late", "missed"]
_MEETS = {"accept": "accept", "return": "accept", "contact": "contact", "reply": "reply"}


class DeadlineState(BaseModel):
    due_at: datetime | None
    state: State


class EventLike(Protocol):
    type: str
    at: datetime
    data: dict[str, Any]


def deadline_states(events: Iterable[EventLike]) -> list[dict[str, DeadlineState]]:
    """One snapshot per event, in order."""
    current: dict[str, DeadlineState] = {}
    snapshots = []
    for event in events:
        data = event.data or {}
        if isinstance(data.get("due"), dict):  # dispatched / reassigned: fresh clocks
            current = {
                kind: DeadlineState(due_at=datetime.fromisoformat(due), state="pending")
                for kind, due in data["due"].items()
            }
        kind = _MEETS.get(event.type)
        if kind and kind in current and current[kind].state == "pending":
            due = current[kind].due_at
            late = due is not None and event.at > due
            current[kind] = DeadlineState(due_at=due, state="met_late" if late else "met")
        if event.type == "return":
            current = {k: v for k, v in current.items() if k == "accept"}
        if event.type == "deadline_missed" and data.get("deadline") in current:
            missed = current[data["deadline"]]
            current[data["deadline"]] = DeadlineState(due_at=missed.due_at, state="missed")
        if event.type == "approve_extension" and "reply" in current and data.get("due_at"):
            current["reply"] = DeadlineState(
                due_at=datetime.fromisoformat(data["due_at"]), state="pending"
            )
        if event.type in ("rehandling", "reopen") or (
            event.type == "verify" and data.get("fixed") is False
        ):
            current["reply"] = DeadlineState(due_at=None, state="pending")  # a fresh one
        if event.type in ("resume", "auto_resumed") and data.get("suspended_seconds"):
            shift = timedelta(seconds=data["suspended_seconds"])
            current = {
                k: DeadlineState(due_at=v.due_at + shift, state=v.state)
                if v.state == "pending" and v.due_at is not None
                else v
                for k, v in current.items()
            }
        snapshots.append(dict(current))
    return snapshots
