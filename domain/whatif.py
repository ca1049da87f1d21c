"""What-if: a proposed SLA policy tried on the past before it touches the present.

Each case the policy covered is played again through the lifecycle model (`domain.lifecycle`,
the decisions the workflow takes) from its recorded intake and routing, with the proposed
limits in place of the recorded ones: the people's recorded actions are taken again at their
recorded times and, between them, the case's own alarms (reminders, deadlines, ladder rungs,
the rating window) ring when the proposed policy says. It reads recorded events and returns
figures; no live case is touched.

The assumption, stated in every answer: people would have acted at the same moments. An action
the proposed policy makes impossible (a rating after a shorter window closed the case) is
skipped and counted as diverged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.alarms import next_alarm, ring
from domain.allowed import INPUTS, parse
from domain.case import Action, CaseEvent, EventType, Routed
from domain.common import Refused
from domain.kpi import Rate, facts_of
from domain.lifecycle import act, route
from domain.permissions import Principal, Role
from domain.sla import SlaPolicy, parse_limit
from domain.state import CaseState, EventLike, born, evolve, replay

ASSUMPTION = (
    "People are assumed to have acted at the same moments as recorded; reminders, deadlines, "
    "ladder steps and rating windows follow the proposed policy. A recorded action the proposed "
    "policy would have made impossible is skipped and counted as diverged."
)
SYSTEM = "system"
# A linkage's steps are recorded by its case but made by the agencies: taken as recorded. Its
# opening and cancelling are the case's own decisions (a rung, a big case, a hand-opened one,
# closure): the model makes them again when the proposed policy would have.
_AS_RECORDED = ("linkage_", "agency_")
_MODEL_MADE = frozenset({"linkage_opened", "linkage_cancelled"})
# Recorded actions are taken again by a principal who may take every action: the question is
# what the policy changes, not who may act.
_REPLAYER = Principal(subject="whatif", role=Role.admin)
_MAX_ALARMS = 64  # more than any case rings between two actions (reminders, deadlines, rungs)
_ACTIONS = frozenset(a.value for a in Action)


class PolicyChange(BaseModel):
    """The limits a proposal changes; a field left out keeps the recorded policy's."""

    model_config = ConfigDict(extra="forbid")

    accept: str | None = None
    contact: str | None = None
    reply: str | None = None
    rating_window: str | None = None
    warn_share: float | None = Field(default=None, gt=0, lt=1)
    escalate_every: str | None = None

    @field_validator("accept", "contact", "reply", "rating_window", "escalate_every")
    @classmethod
    def _valid_limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limit(value)
        return value

    def applied_to(self, policy: SlaPolicy) -> SlaPolicy:
        return policy.model_copy(update=self.model_dump(exclude_none=True))


class Figures(BaseModel):
    """What a set of cases did, or would have done, under one policy."""

    cases: int = 0
    dispatched: int = 0
    accepted_on_time: int = 0
    replied: int = 0
    replied_on_time: int = 0
    overdue: int = 0
    escalation_steps: int = 0
    reminders: int = 0
    closed_unrated: int = 0
    response: Rate = Rate.of(0, 0)
    on_time: Rate = Rate.of(0, 0)

    def add(self, state: CaseState, events: Iterable[EventLike]) -> None:
        counts = facts_of(state).counts()
        self.cases += 1
        self.dispatched += counts.dispatched
        self.accepted_on_time += counts.accepted_on_time
        self.replied += counts.replied
        self.replied_on_time += counts.replied_on_time
        self.overdue += counts.overdue
        self.closed_unrated += counts.unrated
        for e in events:
            self.escalation_steps += int(e.type in (EventType.escalated, Action.escalate))
            self.reminders += int(e.type == EventType.deadline_warning)
        self.response = Rate.of(self.accepted_on_time, self.dispatched)
        self.on_time = Rate.of(self.replied_on_time, self.replied)


class Comparison(BaseModel):
    """One unit and category: as recorded, and as the proposed policy would have had it."""

    unit: str | None
    category: str
    recorded: Figures
    proposed: Figures
    diverged: int  # recorded actions the proposed policy made impossible


def play_again(
    events: Sequence[EventLike], policy: SlaPolicy, until: datetime
) -> tuple[CaseState, list[CaseEvent], int] | None:
    """One case played again under `policy` up to `until`: its state, its events and how many
    recorded actions could not be taken. None if it never reached a unit (nothing was timed)."""
    dispatch = next((i for i, e in enumerate(events) if e.type == EventType.dispatched), None)
    if dispatch is None or "routed" not in (events[dispatch].data or {}):
        return None
    recorded = Routed.model_validate(events[dispatch].data["routed"])
    routed = recorded.model_copy(update={"policy": policy})
    step = route(born(events[0]), routed, events[dispatch].at)
    state, produced, diverged = step.state, list(step.events), 0
    for event in events[dispatch + 1 :]:
        state = _ring_until(state, event.at, produced)
        if event.type in _MODEL_MADE:
            continue
        if event.type.startswith(_AS_RECORDED):
            state = _as_recorded(state, event, produced)
        elif event.actor != SYSTEM and event.type in _ACTIONS:
            action = Action(event.type)
            try:
                payload = {**(event.data or {}), "principal": _REPLAYER}
                fields = parse(action, _known(action, payload))
                step = act(state, action, fields, event.at)
            except Refused:
                diverged += 1
                continue
            state = step.state
            produced.extend(step.events)
    return _ring_until(state, until, produced), produced, diverged


def _known(action: Action, payload: dict[str, object]) -> dict[str, object]:
    """The recorded data the action's input takes (events also record unit, due times...)."""
    fields = INPUTS[action].model_fields
    return {k: v for k, v in payload.items() if k in fields}


def _ring_until(state: CaseState, moment: datetime, produced: list[CaseEvent]) -> CaseState:
    for _ in range(_MAX_ALARMS):
        alarm = next_alarm(state)
        if alarm is None or alarm.at > moment:
            break
        step = ring(state, alarm, alarm.at)
        state = step.state
        produced.extend(step.events)
    return state


def _as_recorded(state: CaseState, event: EventLike, produced: list[CaseEvent]) -> CaseState:
    copy = CaseEvent(
        seq=state.seq + 1, type=event.type, at=event.at, actor=event.actor, data=event.data
    )
    state = state.fork()
    evolve(state, copy)
    produced.append(copy)
    return state


def compare(
    cases: Iterable[Sequence[EventLike]], code: str, change: PolicyChange, until: datetime
) -> list[Comparison]:
    """Per unit (the recorded one) and category, for the cases whose recorded policy is `code`."""
    rows: dict[tuple[str | None, str], Comparison] = {}
    for events in cases:
        recorded = replay(events)
        if recorded.routed is None or recorded.routed.policy.code != code:
            continue
        played = play_again(events, change.applied_to(recorded.routed.policy), until)
        if played is None:
            continue
        state, produced, diverged = played
        key = (recorded.unit, recorded.intake.category)
        if key not in rows:
            rows[key] = Comparison(
                unit=key[0], category=key[1], recorded=Figures(), proposed=Figures(), diverged=0
            )
        row = rows[key]
        row.recorded.add(recorded, events)
        row.proposed.add(state, produced)
        row.diverged += diverged
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0] or "", k[1]))]


def totals(rows: Iterable[Comparison]) -> tuple[Figures, Figures, int]:
    """The recorded and proposed figures over every row, and the actions that diverged."""
    sums: dict[str, dict[str, int]] = {"recorded": defaultdict(int), "proposed": defaultdict(int)}
    diverged = 0
    for row in rows:
        diverged += row.diverged
        for side in ("recorded", "proposed"):
            figures: Figures = getattr(row, side)
            for name, value in figures.model_dump(exclude={"response", "on_time"}).items():
                sums[side][name] += value
    recorded, proposed = Figures(**sums["recorded"]), Figures(**sums["proposed"])
    for figures in (recorded, proposed):
        figures.response = Rate.of(figures.accepted_on_time, figures.dispatched)
        figures.on_time = Rate.of(figures.replied_on_time, figures.replied)
    return recorded, proposed, diverged
