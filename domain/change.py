"""One change to a case in the making, and the steps several decisions share (dispatch, a rung
of the ladder, a linkage, closure). Only `domain.lifecycle` uses it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain.calendar import local
from domain.case import Action, CaseEvent, CaseStatus, EventType, Outcome, Routed
from domain.common import Notice, reporter
from domain.escalation import big_issue_reason
from domain.linkage import (
    AgencyPart,
    LinkageInput,
    LinkageKind,
    LinkageStatus,
    LinkageView,
    linkage_id,
)
from domain.sla import DeadlineKind, due_at
from domain.split import ChildClosed, Children
from domain.state import CaseState, evolve

SYSTEM = "system"


class Step(BaseModel):
    """What one decision returns: the new state and what the workflow must do about it."""

    state: CaseState
    events: list[CaseEvent] = []
    notices: list[Notice] = []
    start_linkage: LinkageInput | None = None  # start the linkage child with this input
    cancel_linkage: bool = False  # the case closed while its linkage was open
    merge_into: str | None = None  # tell this master case that this case was merged into it
    open_children: Children | None = None  # file and start the child cases of a split
    tell_parent: ChildClosed | None = None  # this child case closed: tell the case it came from


class Alarm(BaseModel):
    """The next moment the case acts by itself, and what it will do then."""

    at: datetime
    kind: Literal["warn", "due", "climb", "resume"]
    deadline: DeadlineKind | None = None
    summary: str


class Change:
    """One decision in the making: events are recorded and evolve a copy of the state."""

    def __init__(self, state: CaseState, now: datetime) -> None:
        self.state = state.fork()
        self.now = now
        self.step = Step(state=self.state)

    def record(self, type: str, actor: str, **data: Any) -> None:
        self.state.seq += 1
        event = CaseEvent(seq=self.state.seq, type=str(type), at=self.now, actor=actor, data=data)
        evolve(self.state, event)
        self.step.events.append(event)

    def notify(self, recipient: str | None, kind: str, **params: str) -> None:
        """A notification caused by the last recorded event (outbox, exactly once): template
        `kind` with `params` (codes and times, never free text) and the case id."""
        if recipient:
            values = {"case_id": self.state.intake.case_id, **params}
            self.step.notices.append(
                Notice(seq=self.state.seq, recipient=recipient, kind=kind, params=values)
            )

    def due(self, kind: DeadlineKind, start: datetime | None = None) -> str:
        routed = self.state.routed
        assert routed is not None
        return due_at(start or self.now, routed.policy.limit(kind), routed.working_days).isoformat()

    def done(self) -> Step:
        return self.step


# ---- shared steps ------------------------------------------------------------------------------


def dispatch(
    change: Change,
    type: str,
    actor: str,
    unit: str,
    rule: str | None,
    reason: str | None,
    routed: Routed | None = None,
) -> None:
    """派单: the unit's clocks start now for accepting, contacting and replying."""
    if routed is not None:
        change.state.routed = routed  # the due times below need its policy
    kinds = (DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply)
    extra = {"routed": routed.model_dump(mode="json")} if routed is not None else {}
    due = {k.value: change.due(k) for k in kinds}
    change.record(type, actor, unit=unit, rule=rule, reason=reason, due=due, **extra)
    change.notify(unit, "dispatched", due_at=local(datetime.fromisoformat(due["accept"])))


def climb(
    change: Change, type: str, actor: str, reason: str, deadline: DeadlineKind | None
) -> None:
    """One rung up the ladder: record it, tell that rung, and let it take the case over when
    the ladder says so."""
    state = change.state
    assert state.routed is not None
    rung = state.routed.ladder[state.escalation_level]
    change.record(
        type,
        actor,
        level=rung.level,
        to=rung.unit,
        name=rung.name,
        reason=reason,
        deadline=deadline.value if deadline else None,
    )
    change.notify(rung.unit, "escalation", level=str(rung.level), rung=rung.name)
    if rung.takes_over and rung.unit != state.unit and state.status is not CaseStatus.closed:
        dispatch(
            change, Action.reassign, SYSTEM, rung.unit, None, f"taken over at level {rung.level}"
        )


def restart_clocks(change: Change, type: str, actor: str, note: str | None) -> None:
    """The clocks restart with the time they had left."""
    assert change.state.suspended_at is not None
    stopped = change.now - change.state.suspended_at
    change.record(type, actor, note=note, suspended_seconds=int(stopped.total_seconds()))


def link_if_big(change: Change) -> None:
    """大事一网联动: a major, multi-agency, bounced or subdistrict-escalated case links its
    agencies by itself (once; later ones are opened by hand)."""
    state, routed = change.state, change.state.routed
    if routed is None or state.linkages > 0 or state.unit is None:
        return
    if state.status not in (CaseStatus.dispatched, CaseStatus.in_progress):
        return
    reason = big_issue_reason(
        severity=routed.severity.value,
        category_needs_linkage=routed.needs_linkage,
        returns=state.returns,
        returns_for_linkage=routed.policy.returns_for_linkage,
        escalation_level=state.escalation_level,
    )
    if reason:
        link(change, SYSTEM, reason, None)


def link(
    change: Change,
    actor: str,
    reason: str,
    agencies: list[str] | None,
    kind: LinkageKind = LinkageKind.linkage,
) -> None:
    """吹哨 (or 协办, the lead unit's assisting units): summon the units (recorded here) and hand
    their parts to a linkage child."""
    state, routed = change.state, change.state.routed
    assert routed is not None and state.unit is not None
    chosen = agencies if agencies is not None else routed.linkage_agencies
    members = [a for a in dict.fromkeys(chosen) if a != state.unit]
    report_due = due_at(change.now, routed.policy.agency_report, routed.working_days)
    view = LinkageView(
        id=linkage_id(state.intake.case_id),
        status=LinkageStatus.open,
        lead_unit=state.unit,
        coordinator=supervisor(state),
        reason=reason,
        agencies=[
            AgencyPart(unit=a, summoned_at=change.now, report_due=report_due) for a in members
        ],
        kind=kind,
    )
    change.record(
        "linkage_opened",
        actor,
        reason=reason,
        agencies=members,
        linkage=view.model_dump(mode="json"),
    )
    assisting = kind is LinkageKind.assist
    for agency in members:
        change.notify(agency, "assist" if assisting else "linkage", report_due=local(report_due))
    change.step.start_linkage = LinkageInput(
        case_id=state.intake.case_id,
        case_title=state.intake.title,
        lead_unit=state.unit,
        coordinator=view.coordinator,
        reason=reason,
        parts=view.agencies,
        kind=kind,
        policy=routed.policy,
        working_days=routed.working_days,
    )


def close(change: Change, outcome: Outcome) -> None:
    """办结: the record keeps the outcome, every timestamp and whether each deadline was met;
    every reporter (this case's and its merged duplicates') is told the result."""
    state = change.state
    if state.linkage is not None and state.linkage_open:
        change.record("linkage_cancelled", SYSTEM, linkage=state.linkage.id)
        change.step.cancel_linkage = True
    change.record(
        EventType.closed,
        SYSTEM,
        outcome=outcome.value,
        grade=state.grade.value if state.grade else None,
        deadlines={
            d.kind.value: {
                "due_at": d.due_at.isoformat(),
                "met_at": d.met_at.isoformat() if d.met_at else None,
                "on_time": d.met_at is not None and d.met_at <= d.due_at,
                "original_due_at": d.original_due_at.isoformat() if d.original_due_at else None,
            }
            for d in state.deadlines.values()
        },
    )
    # A child case's resident hears from the parent, whose reply gathers the children's.
    parent = state.intake.parent
    if parent is not None:
        change.step.tell_parent = ChildClosed(
            case_id=state.intake.case_id, outcome=outcome, result=state.result, grade=state.grade
        )
    if outcome is not Outcome.duplicate:
        own = [state.intake.case_id] if parent is None else []
        # A split case's reply names each child and how it closed (codes: its text is on record).
        gathered = {"children": ",".join(f"{c.id}:{c.outcome}" for c in state.children)}
        for case_id in [*own, *state.merged]:
            change.notify(
                reporter(case_id),
                "reply",
                outcome=outcome.value,
                **(gathered if state.children else {}),
            )


def supervisor(state: CaseState) -> str | None:
    """Who decides extensions and reviews: the governance centre (rung 2), else the top rung."""
    ladder = state.routed.ladder if state.routed else []
    return ladder[min(1, len(ladder) - 1)].unit if ladder else None
