"""申诉 and 核减: a unit appeals an unsatisfied rating or a missed deadline of its case, within the
policy's window, with a reason and evidence; a supervisor rules within the policy's limit
(`upheld`: the figures stand; `exempted`: the case leaves the unit's score), or the ladder climbs
as for any missed deadline.

An appeal on an open case is one more step of the case's life (`appeal` and `rule_on_appeal` are
Updates of its workflow, which stays until the ruling); on a closed case it is a workflow of its
own (workflows/appeal.py, id `<case id>-appeal-<n>`) taking the same steps of domain.lifecycle on
the state the record gives back. Either way the steps land in the case's event log. Each ground
(the unsatisfied rating, each missed deadline) is appealed once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, Field, HttpUrl, model_validator

from domain.common import ActionInput, Text
from domain.sla import DeadlineKind, due_at

if TYPE_CHECKING:
    from domain.state import CaseState

# The unit's own deadlines: what a missed-deadline appeal may be about.
UNIT_DEADLINES = (DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply)


class Ruling(StrEnum):
    upheld = "upheld"  # the rating or the miss stands
    exempted = "exempted"  # 核减: the case leaves the unit's score


class AppealInput(ActionInput):
    against: Literal["unsatisfied", "deadline"]
    deadline: DeadlineKind | None = Field(
        default=None, description="With `against: deadline`: accept, contact or reply"
    )
    reason: Text
    evidence: list[HttpUrl] = Field(min_length=1, max_length=10, description="Evidence URLs")

    @model_validator(mode="after")
    def _a_ground(self) -> Self:
        if self.against == "deadline" and self.deadline not in UNIT_DEADLINES:
            raise ValueError("a deadline appeal names accept, contact or reply")
        if self.against == "unsatisfied" and self.deadline is not None:
            raise ValueError("an appeal of the rating names no deadline")
        return self

    @property
    def ground(self) -> str:
        """`unsatisfied`, or `deadline:<kind>`: what is appealed (each once)."""
        return f"deadline:{self.deadline}" if self.deadline else self.against


class RuleOnAppealInput(ActionInput):
    ruling: Ruling
    reason: Text


class Appeal(BaseModel):
    """A case's latest appeal."""

    n: int  # the case's n-th appeal
    ground: str
    unit: str
    status: Literal["pending", "upheld", "exempted"] = "pending"
    workflow_id: str  # where it is ruled: the case's own workflow, or its appeal workflow

    @property
    def pending(self) -> bool:
        return self.status == "pending"


def appeal_id(case_id: str, n: int) -> str:
    """The workflow of an appeal on a closed case."""
    return f"{case_id}-appeal-{n}"


def grounds(grade: str | None, deadlines: list[dict[str, Any]], appealed: list[str]) -> list[str]:
    """What the unit may still appeal: an unsatisfied rating, the unit's missed deadlines (late
    or never met), each once. From the case's record as well as its state."""
    found = ["unsatisfied"] if grade == "unsatisfied" else []
    for d in deadlines:
        met = d.get("met_at")
        late = d.get("missed") or (met is not None and _instant(met) > _instant(d["due_at"]))
        if d["kind"] in UNIT_DEADLINES and late:
            found.append(f"deadline:{d['kind']}")
    return [g for g in found if g not in appealed]


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def state_grounds(state: CaseState) -> list[str]:
    if state.unit is None:
        return []
    deadlines = [d.model_dump() for d in state.deadlines.values()]
    return grounds(state.grade.value if state.grade else None, deadlines, state.appealed)


def refusal(state: CaseState, input: AppealInput, now: datetime) -> str | None:
    """Why this appeal cannot be filed now (None: it can)."""
    routed = state.routed
    if routed is None or state.unit is None:
        return "the case has no unit to appeal for"
    if state.appeal is not None and state.appeal.pending:
        return "an appeal on this case awaits its ruling"
    if input.ground in state.appealed:
        return f"{input.ground} was appealed already"
    if input.ground not in state_grounds(state):
        if input.deadline is None:
            return "the case's rating is not unsatisfied"
        return f"the case's {input.deadline} deadline was not missed"
    if input.deadline is None:
        assert state.rated_at is not None
        start = state.rated_at
    else:
        start = state.deadlines[input.deadline].due_at
    window = routed.policy.appeal_window
    if due_at(start, window, routed.working_days) < now:
        return f"the policy's appeal window ({window}) has ended"
    return None
