"""What the clock does to a case: its next alarm (a reminder, a deadline, the next rung of the
ladder, the end of a suspension) and `ring`, the decision taken when that alarm goes off. The
decisions on people's actions are in `domain.lifecycle`."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import local
from domain.case import CaseStatus, EventType, Outcome
from domain.change import (
    SYSTEM,
    Alarm,
    Change,
    Step,
    climb,
    close,
    link_if_big,
    restart_clocks,
    supervisor,
)
from domain.escalation import next_climb_at
from domain.sla import DeadlineKind, duration
from domain.state import CaseState

# A unit whose cases go unrated this often within the window gets the next one reviewed.
UNRATED_FOR_REVIEW = 3
UNRATED_WINDOW = timedelta(days=30)


# ---- time: alarms ------------------------------------------------------------------------------


def next_alarm(state: CaseState) -> Alarm | None:
    """The earliest of: a reminder, a deadline, the next rung for a missed one, the end of the
    longest allowed suspension. A closed case has only its appeal's ruling to wait for."""
    routed = state.routed
    closed = state.status is CaseStatus.closed
    if routed is None or (closed and not state.appeal_pending):
        return None
    policy, days, unit = routed.policy, routed.working_days, state.unit or ""
    if state.suspended_at is not None:
        limit = duration(policy.max_suspended, days, state.suspended_at)
        return Alarm(at=state.suspended_at + limit, kind="resume", summary="suspension limit")
    alarms: list[Alarm] = []
    for d in state.deadlines.values():
        if d.met_at is not None or (closed and d.kind is not DeadlineKind.appeal):
            continue
        climbs = d.kind is not DeadlineKind.rating
        name = d.kind.value
        if not d.missed:
            if climbs and d.warn_at is not None and not d.warned:
                summary = f"{name} reminder {unit}".strip()
                alarms.append(Alarm(at=d.warn_at, kind="warn", deadline=d.kind, summary=summary))
            summary = f"{name} deadline {unit}".strip()
            alarms.append(Alarm(at=d.due_at, kind="due", deadline=d.kind, summary=summary))
        elif climbs and state.escalation_level < len(routed.ladder):
            every = duration(policy.escalate_every, days, d.due_at)
            alarms.append(
                Alarm(
                    at=next_climb_at(d.due_at, d.climbs, every),
                    kind="climb",
                    deadline=d.kind,
                    summary=f"escalate to level {state.escalation_level + 1}",
                )
            )
    return min(alarms, key=lambda alarm: alarm.at) if alarms else None


def _watcher(state: CaseState, kind: DeadlineKind) -> str | None:
    """Who a deadline's reminder goes to: who rules, for a ruling on a disputed return or on an
    appeal (the governance centre); the unit for the others."""
    rulings = (DeadlineKind.ruling, DeadlineKind.appeal)
    return supervisor(state) if kind in rulings else state.unit


def counts_unrated(state: CaseState, alarm: Alarm) -> bool:
    """Whether ringing `alarm` needs the unit's recent unrated closures (an activity's answer)."""
    rating = alarm.kind == "due" and alarm.deadline is DeadlineKind.rating
    return rating and state.verification != "pending"


def ring(state: CaseState, alarm: Alarm, now: datetime, unrated_recently: int = 0) -> Step:
    """The alarm went off: remind, mark missed and climb, close unrated, or resume."""
    change = Change(state, now)
    if alarm.kind == "resume":
        restart_clocks(
            change, EventType.auto_resumed, SYSTEM, "suspended longer than the policy allows"
        )
        return change.done()
    assert alarm.deadline is not None
    deadline = state.deadlines[alarm.deadline]
    kind = deadline.kind.value
    # A late ruling on an appeal climbs the ladder but summons no agencies: the matter is not late.
    summons = deadline.kind is not DeadlineKind.appeal
    if alarm.kind == "warn":
        change.record(
            EventType.deadline_warning,
            SYSTEM,
            deadline=kind,
            due_at=deadline.due_at.isoformat(),
            unit=state.unit,
        )
        reminder = {"deadline": kind, "due_at": local(deadline.due_at)}
        change.notify(_watcher(state, deadline.kind), "reminder", **reminder)
    elif alarm.kind == "climb":
        climb(change, EventType.escalated, SYSTEM, f"{kind} still not met", deadline.kind)
        if summons:
            link_if_big(change)
    elif deadline.kind is DeadlineKind.rating and state.verification == "pending":
        close(change, Outcome.rated)  # no verification call in the window: the app's rating
    elif deadline.kind is DeadlineKind.rating and unrated_recently >= UNRATED_FOR_REVIEW:
        # Residents of this unit keep not answering: a supervisor looks before it closes.
        change.record(
            EventType.review_opened,
            SYSTEM,
            unit=state.unit,
            reason="unrated too often",
            deadline=kind,
        )
        change.notify(supervisor(state), "review", reason="unrated")
    elif deadline.kind is DeadlineKind.rating:
        close(change, Outcome.unrated)
    else:
        change.record(
            EventType.deadline_missed,
            SYSTEM,
            deadline=kind,
            due_at=deadline.due_at.isoformat(),
            unit=state.unit,
        )
        if state.routed and state.escalation_level < len(state.routed.ladder):
            climb(change, EventType.escalated, SYSTEM, f"{kind} missed", deadline.kind)
            if summons:
                link_if_big(change)
    return change.done()
