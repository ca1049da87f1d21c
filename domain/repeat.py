"""Repeated requests: the same resident (by phone) or the same address asking again. The third
time (by default) within the window, the case is marked as a repeat on its record and the unit's
leader, the ladder's first rung, is told, so the matter is taken on above the desk that keeps
answering it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.change import SYSTEM, Change, Step
from domain.state import CaseState

REPEATED = "repeated"  # the event that marks the case, and the workflow's signal


class RepeatRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(default=3, ge=2)
    window_days: int = Field(default=90, ge=1)


class Repeat(BaseModel):
    """What the case is told: the earlier requests it repeats, and what they share."""

    earlier: list[str]  # case ids, oldest first
    basis: Literal["reporter", "address"]


def mark(state: CaseState, repeat: Repeat, now: datetime) -> Step:
    """Record the repeat and tell the ladder's first rung (once: a repeated signal adds nothing)."""
    change = Change(state, now)
    if state.outcome is not None or state.repeats:
        return change.done()
    times = len(repeat.earlier) + 1
    change.record(REPEATED, SYSTEM, basis=repeat.basis, earlier=repeat.earlier, times=times)
    ladder = state.routed.ladder if state.routed else []
    leader = ladder[0].unit if ladder else None
    change.notify(leader, "repeat", basis=repeat.basis, times=str(times))
    return change.done()
