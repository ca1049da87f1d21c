"""A case's state and `evolve`, the one place a recorded event changes it.

The decisions in `domain.lifecycle` write events and evolve the state through them; `replay`
folds the events a case recorded (`case_events`) through the same function, so the timeline, the
KPIs and the generated history see exactly the state the workflow had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from domain.appeal import Appeal
from domain.calendar import SUBDISTRICT_TZ
from domain.case import (
    Action,
    AssistRequest,
    CaseIntake,
    CaseStatus,
    Channel,
    ChildView,
    Deadline,
    EventType,
    ExtensionRequest,
    Grade,
    Outcome,
    Routed,
)
from domain.escalation import warn_point
from domain.linkage import LinkageStatus, LinkageView
from domain.sla import DeadlineKind, due_at
from domain.split import gathered

# Closed cases a resident may reopen: a unit replied, and the resident was asked.
REOPENABLE = (Outcome.rated, Outcome.unrated, Outcome.unreachable)


class CaseState(BaseModel):
    """Everything a case's life needs, in one object: the workflow keeps it, continue-as-new
    carries it, and folding the recorded events rebuilds it."""

    intake: CaseIntake
    received_at: datetime
    status: CaseStatus = CaseStatus.received
    routed: Routed | None = None
    unit: str | None = None
    rule: str | None = None
    deadlines: dict[DeadlineKind, Deadline] = {}
    overdue: bool = False
    returns: int = 0
    rehandled: bool = False
    grade: Grade | None = None
    solved: bool | None = None
    outcome: Outcome | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    contacted_at: datetime | None = None
    replied_at: datetime | None = None
    rated_at: datetime | None = None
    closed_at: datetime | None = None
    seq: int = 0  # of the last recorded event
    escalation_level: int = 0
    extension: ExtensionRequest | None = None  # waiting for a supervisor's decision
    extensions: int = 0
    assist: AssistRequest | None = None  # 协办 asked for by the lead unit, waiting for a decision
    assists: int = 0  # approved
    suspended_at: datetime | None = None
    suspensions: int = 0
    review: str | None = None  # pending / closed / reopened
    linkage: LinkageView | None = None
    linkages: int = 0
    result: str | None = None  # the unit's latest reply, sent to every reporter at closure
    merged: list[str] = []  # duplicates merged into this case
    merged_into: str | None = None
    repeats: list[str] = []  # the earlier requests this one repeats (domain.repeat)
    # 回访 (domain/visit.py): when the call is due, the working days with an unreached attempt,
    # and a verification call's finding on an app rating (pending / agrees / disagrees).
    visit_due_at: datetime | None = None
    unreached: list[date] = []
    verification: str | None = None
    chased: list[date] = []  # the local day of each of the resident's chasers
    # 申诉 (domain/appeal.py): the latest appeal, how many were filed, the grounds appealed, and
    # why an exempted case left its unit's score (核减).
    appeal: Appeal | None = None
    appeals: int = 0
    appealed: list[str] = []
    exemption: str | None = None
    children: list[ChildView] = []  # 拆分: the cases this one was split into (domain/split.py)
    handoffs: int = 0  # returns and reassignments (a ruling is one)
    reopens: int = 0  # sent back to its unit to be handled again (重办)
    dispute: str | None = None  # a disputed return: pending / ruled
    bound_unit: str | None = None  # a ruling's unit, which may not return the case

    @property
    def grid_event(self) -> bool:
        return self.intake.channel is Channel.grid_patrol

    @property
    def appeal_pending(self) -> bool:
        return self.appeal is not None and self.appeal.pending

    @property
    def warn_share(self) -> float:
        """Where the policy's reminders fall in each limit (clocks run only once routed)."""
        assert self.routed is not None, "a deadline before routing"
        return self.routed.policy.warn_share

    @property
    def linkage_open(self) -> bool:
        return self.linkage is not None and self.linkage.status is LinkageStatus.open

    def fork(self) -> CaseState:
        """A copy `evolve` may change without touching this one, made for every decision. Only
        what `evolve` changes in place is copied (each deadline, the lists, the linkage); the
        intake and the routing, which it replaces but never changes, are shared: a deep copy of
        them (the routing carries the policy, ladder and working-day calendar) was most of the
        cost of a decision."""
        return self.model_copy(
            update={
                "deadlines": {k: d.model_copy() for k, d in self.deadlines.items()},
                "linkage": self.linkage.model_copy(deep=True) if self.linkage else None,
                "merged": list(self.merged),
                "repeats": list(self.repeats),
                "unreached": list(self.unreached),
                "chased": list(self.chased),
            }
        )

    def reopen_until(self) -> datetime | None:
        """The end of the policy's window to reopen the closed case; None when it cannot be
        reopened (not closed, or no unit replied to a resident who was asked)."""
        routed = self.routed
        if self.closed_at is None or routed is None or self.outcome not in REOPENABLE:
            return None
        if self.unit is None or self.replied_at is None:
            return None
        return due_at(self.closed_at, routed.policy.reopen_window, routed.working_days)

    def pending(self) -> list[Deadline]:
        """The deadlines still running, earliest first."""
        if self.status is CaseStatus.closed:
            return []
        waiting = [d for d in self.deadlines.values() if d.met_at is None and not d.missed]
        return sorted(waiting, key=lambda d: d.due_at)


class TimedEvent(Protocol):
    """What happened and when: all the flow analytics read of an event."""

    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...


class EventLike(TimedEvent, Protocol):
    """A recorded event: also its number in the case and who did it."""

    @property
    def seq(self) -> int: ...
    @property
    def actor(self) -> str: ...


# The status a case is in after an event of this type; other events keep it. The two that depend
# on the event's data are in `status_after`. The flow analytics (domain/flow.py) read the same.
STATUS_AFTER: dict[str, CaseStatus] = {
    EventType.received: CaseStatus.received,
    EventType.dispatched: CaseStatus.dispatched,
    Action.reassign: CaseStatus.dispatched,
    Action.rule_on_return: CaseStatus.dispatched,
    EventType.route_failed: CaseStatus.returned,
    Action.return_: CaseStatus.returned,
    Action.accept: CaseStatus.in_progress,
    EventType.rehandling: CaseStatus.in_progress,
    Action.reopen: CaseStatus.in_progress,
    Action.reply: CaseStatus.replied,
    Action.resolve_on_site: CaseStatus.resolved_on_site,
    Action.split_: CaseStatus.split_,
    EventType.closed: CaseStatus.closed,
}


def status_after(type: str, data: Mapping[str, Any], status: CaseStatus) -> CaseStatus:
    """The status after an event of `type` with `data`, from `status`."""
    if type == Action.reply and "verify" in (data.get("due") or {}):
        return CaseStatus.verifying  # a unit's reply to a grid event is checked on site first
    if type == Action.verify and data.get("fixed") is False:
        return CaseStatus.in_progress  # not fixed: back to the unit
    return STATUS_AFTER.get(type, status)


def replay(events: Iterable[EventLike]) -> CaseState:
    """A case's state from its recorded events (in seq order, starting with `received`)."""
    state: CaseState | None = None
    for event in events:
        if state is None:
            state = born(event)
        else:
            evolve(state, event)
    if state is None:
        raise ValueError("no events to replay")
    return state


def born(event: EventLike) -> CaseState:
    """The state a `received` event starts."""
    if event.type != EventType.received:
        raise ValueError(f"a case's first event is `received`, not {event.type!r}")
    intake = CaseIntake.model_validate(event.data["intake"])
    return CaseState(intake=intake, received_at=event.at, seq=event.seq)


def evolve(state: CaseState, event: EventLike) -> None:
    """Apply one recorded event to the state (in place). Unknown event types change nothing."""
    state.seq = event.seq
    data, at = event.data or {}, event.at
    state.status = status_after(event.type, data, state.status)
    if "routed" in data:
        state.routed = Routed.model_validate(data["routed"])
    if "linkage" in data and isinstance(data["linkage"], dict):
        state.linkage = LinkageView.model_validate(data["linkage"])
    handler = _EVOLVE.get(event.type)
    if handler is not None:
        handler(state, data, at)
    elif event.type == Action.request_extension:
        state.extension = ExtensionRequest(
            requested_by=event.actor,
            reason=data["reason"],
            due_at=datetime.fromisoformat(data["due_at"]),
        )
    if isinstance(data.get("due"), dict):
        # In the loop's order, whatever order the stored document keeps its keys in (JSONB
        # sorts them).
        for kind in DeadlineKind:
            if kind.value in data["due"]:
                due = datetime.fromisoformat(data["due"][kind.value])
                _start_deadline(state, kind, at, due)


def _start_deadline(state: CaseState, kind: DeadlineKind, at: datetime, due: datetime) -> None:
    state.deadlines[kind] = Deadline(
        kind=kind, due_at=due, started_at=at, warn_at=warn_point(at, due, state.warn_share)
    )


def _meet(state: CaseState, kind: DeadlineKind, at: datetime) -> None:
    deadline = state.deadlines.get(kind)
    if deadline is not None and deadline.met_at is None:
        deadline.met_at = at


def _dispatched(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.unit, state.rule = data["unit"], data.get("rule")
    state.dispatched_at = at
    # Fresh clocks follow in `due`; a ruling on an appeal keeps its own.
    state.deadlines = {k: d for k, d in state.deadlines.items() if k is DeadlineKind.appeal}
    if state.dispute == "pending":  # a rung that takes the case over ends the dispute
        state.dispute = None


def _reassigned(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _dispatched(state, data, at)
    state.handoffs += 1


def _dispute(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.dispute = "pending"  # the ruling's deadline follows in `due`


def _rule_on_return(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """The named unit takes the case with fresh clocks; the ruling's deadline stays, met."""
    _meet(state, DeadlineKind.ruling, at)
    ruling = state.deadlines.get(DeadlineKind.ruling)
    _reassigned(state, data, at)
    if ruling is not None:
        state.deadlines[DeadlineKind.ruling] = ruling
    state.dispute, state.bound_unit = "ruled", data["unit"]


def _accept(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.accept, at)
    state.accepted_at = at


def _return(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    # Returning in time counts as acting on the case; the other clocks stop with it.
    _meet(state, DeadlineKind.accept, at)
    state.deadlines.pop(DeadlineKind.contact, None)
    state.deadlines.pop(DeadlineKind.reply, None)
    state.returns += 1
    state.handoffs += 1


def _contact(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.contact, at)
    state.contacted_at = at


def _reply(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.reply, at)
    state.replied_at, state.result = at, data.get("result")
    visit_due = data.get("visit_due")
    state.visit_due_at = datetime.fromisoformat(visit_due) if visit_due else None
    state.unreached = []


def _rate(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    if data.get("verification"):  # the rating window stays open for the verification call
        state.verification = "pending"
    else:
        _meet(state, DeadlineKind.rating, at)
    state.grade, state.solved, state.rated_at = Grade(data["grade"]), data.get("solved"), at


def _visit(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    if not data["reached"]:
        state.unreached = [date.fromisoformat(d) for d in data["unreached"]]
    elif state.verification == "pending":  # the app's rating stays; the call's is beside it
        _meet(state, DeadlineKind.rating, at)
        state.verification = "agrees" if data["agrees"] else "disagrees"
    else:  # reached: the resident's grade is the rating
        _rate(state, data, at)


def _back_to_the_unit(state: CaseState) -> None:
    """Re-handling: the unit works on it again; a fresh reply deadline follows in `due`."""
    state.deadlines.pop(DeadlineKind.rating, None)
    state.deadlines.pop(DeadlineKind.verify, None)


def _rehandling(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.rehandled = True
    _back_to_the_unit(state)


def _review_opened(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.review = "pending"
    if data.get("deadline") in state.deadlines:  # the rating window ran out
        state.deadlines[DeadlineKind(data["deadline"])].missed = True


def _reopen(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """Back to the unit: from a supervisor's review, or from closure (the resident). A closed
    case opens again and waits for a new reply and a new rating."""
    if state.outcome is not None:  # it was closed
        state.outcome = state.closed_at = None
        state.grade = state.solved = state.rated_at = None
        state.verification = state.visit_due_at = None
    else:
        state.review = "reopened"
    state.reopens += 1
    _back_to_the_unit(state)


def _review_close(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.review = "closed"


def _climbed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.escalation_level = data["level"]
    if data.get("deadline") in state.deadlines:
        state.deadlines[DeadlineKind(data["deadline"])].climbs += 1


def _approve_extension(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    reply = state.deadlines[DeadlineKind.reply]
    reply.original_due_at = datetime.fromisoformat(data["original_due_at"])
    reply.due_at = datetime.fromisoformat(data["due_at"])
    reply.extended, reply.warned = True, False
    reply.warn_at = warn_point(reply.started_at or at, reply.due_at, state.warn_share)
    state.extensions += 1
    state.extension = None


def _request_assist(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.assist = AssistRequest(
        requested_by=data["unit"], units=list(data["units"]), reason=data["reason"]
    )


def _approve_assist(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.assist = None
    state.assists += 1  # the parts follow in `linkage_opened`


def _deny_assist(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.assist = None


def _deny_extension(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.extension = None


def _suspend(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.suspended_at = at
    state.suspensions += 1


def _resumed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """Every running clock moves on by the time it stood still."""
    assert state.suspended_at is not None
    stopped = at - state.suspended_at
    for d in state.deadlines.values():
        if d.met_at is None and not d.missed:
            d.due_at += stopped
            if d.warn_at is not None and not d.warned:
                d.warn_at += stopped
    state.suspended_at = None


def _resolve_on_site(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    for kind in (DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply):
        _meet(state, kind, at)
    state.replied_at = at


def _verify(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.verify, at)
    if data.get("fixed") is False:
        _back_to_the_unit(state)


def _confirm(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.verify, at)


def _chase(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.chased.append(at.astimezone(SUBDISTRICT_TZ).date())


def _appeal(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """申诉 filed; the ruling's deadline follows in `due`."""
    state.appeals = data["n"]
    state.appealed.append(data["ground"])
    state.appeal = Appeal(
        n=data["n"], ground=data["ground"], unit=data["unit"], workflow_id=data["workflow_id"]
    )


def _rule_on_appeal(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    _meet(state, DeadlineKind.appeal, at)
    if state.appeal is not None:
        state.appeal = state.appeal.model_copy(update={"status": data["ruling"]})
    if data["ruling"] == "exempted":
        state.exemption = data["reason"]


def _split(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """Like a return, splitting acts on the case in time; the children's clocks run now."""
    _meet(state, DeadlineKind.accept, at)
    state.deadlines.pop(DeadlineKind.contact, None)
    state.deadlines.pop(DeadlineKind.reply, None)
    state.children = [
        ChildView(id=c["case_id"], category=c["category"], title=c["title"])
        for c in data["children"]
    ]


def _child_closed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    for child in state.children:
        if child.id == data["case"]:
            child.outcome, child.result = Outcome(data["outcome"]), data.get("result")
    if all(child.outcome is not None for child in state.children):
        state.result = gathered(state.children)  # the parent's reply to the resident


def _merge(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.merged_into = data["into"]


def _merged_in(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.merged.append(data["case"])


def _warned(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.deadlines[DeadlineKind(data["deadline"])].warned = True


def _missed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    kind = DeadlineKind(data["deadline"])
    state.deadlines[kind].missed = True
    if kind is not DeadlineKind.appeal:  # a late ruling is the supervisor's, not the unit's
        state.overdue = True


def _linkage_opened(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.linkages += 1


def _linkage_cancelled(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    if state.linkage is not None:
        state.linkage = state.linkage.model_copy(update={"status": LinkageStatus.cancelled})


def _policy_changed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    """The new policy's limits (its routing came in `routed`): running deadlines move, the
    first due time kept; a reminder not yet sent is re-timed by the new share."""
    share = state.warn_share
    for kind, due in data.get("moved", {}).items():
        d = state.deadlines[DeadlineKind(kind)]
        d.original_due_at = d.original_due_at or d.due_at
        d.due_at = datetime.fromisoformat(due)
        if not d.warned:
            d.warn_at = warn_point(d.started_at or at, d.due_at, share)


def _repeated(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.repeats = list(data["earlier"])


def _closed(state: CaseState, data: dict[str, Any], at: datetime) -> None:
    state.outcome, state.closed_at = Outcome(data["outcome"]), at


_EVOLVE: dict[str, Callable[[CaseState, dict[str, Any], datetime], None]] = {
    EventType.dispatched: _dispatched,
    Action.reassign: _reassigned,
    Action.dispute: _dispute,
    Action.rule_on_return: _rule_on_return,
    Action.accept: _accept,
    Action.return_: _return,
    Action.contact: _contact,
    Action.reply: _reply,
    Action.rate: _rate,
    Action.visit: _visit,
    Action.chase: _chase,
    Action.appeal: _appeal,
    Action.rule_on_appeal: _rule_on_appeal,
    EventType.rehandling: _rehandling,
    EventType.review_opened: _review_opened,
    Action.reopen: _reopen,
    Action.review_close: _review_close,
    EventType.escalated: _climbed,
    Action.escalate: _climbed,
    Action.approve_extension: _approve_extension,
    Action.deny_extension: _deny_extension,
    Action.request_assist: _request_assist,
    Action.approve_assist: _approve_assist,
    Action.deny_assist: _deny_assist,
    Action.suspend: _suspend,
    Action.resume: _resumed,
    EventType.auto_resumed: _resumed,
    Action.resolve_on_site: _resolve_on_site,
    Action.verify: _verify,
    Action.confirm: _confirm,
    Action.merge: _merge,
    Action.split_: _split,
    EventType.child_closed: _child_closed,
    EventType.merged_in: _merged_in,
    EventType.deadline_warning: _warned,
    EventType.deadline_missed: _missed,
    "linkage_opened": _linkage_opened,
    "linkage_cancelled": _linkage_cancelled,
    EventType.closed: _closed,
    "policy_changed": _policy_changed,  # domain.policy_change
    "repeated": _repeated,  # domain.repeat
}
