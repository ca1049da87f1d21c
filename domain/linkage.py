"""Multi-agency linkage (大事一网联动, 吹哨报到), the life of one linkage written once.

The governance centre blows the whistle, each summoned unit reports (arrives / responds) within
its limit and then finishes its part; the lead unit replies when every part is finished or
released. A part is any piece of a case held by a unit other than the lead, with its own clocks.

Like `domain.lifecycle` for the case: `act` and `ring` take the state, an action or an expired
alarm, and the time, and return a `LinkageStep` (the new state and the changes its case must
record); `next_alarm` names the one moment the linkage acts by itself. `workflows/linkage.py`
is the thin shell that waits, applies and tells the case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

from domain.calendar import WorkingDays, local
from domain.common import ActionInput, Code, Forbidden, NotAllowedNow, Notice, Text, parse
from domain.permissions import Principal, Role, may
from domain.sla import SlaPolicy, due_at


class AgencyStatus(StrEnum):
    summoned = "summoned"  # 吹哨: must report within the report limit
    reported = "reported"  # 报到: working on its part
    done = "done"
    released = "released"  # the coordinator let it go


class LinkageKind(StrEnum):
    """Why other units hold parts of the case: the same parts, clocks and closing rule."""

    linkage = "linkage"  # 吹哨报到: the governance centre summons agencies to a big issue
    assist = "assist"  # 协办: the lead unit asked for help and a dispatcher or supervisor agreed


class LinkageStatus(StrEnum):
    open = "open"
    completed = "completed"
    cancelled = "cancelled"  # the case closed first


class LinkageAction(StrEnum):
    """Actions on a linkage: Updates of LinkageWorkflow, `POST /v1/cases/{id}/linkage/{action}`."""

    report = "report"
    agency_done = "agency_done"
    add_agency = "add_agency"
    release_agency = "release_agency"


class AgencyPart(BaseModel):
    unit: str
    status: AgencyStatus = AgencyStatus.summoned
    summoned_at: datetime
    report_due: datetime
    done_due: datetime | None = None
    reported_at: datetime | None = None
    done_at: datetime | None = None
    note: str | None = None
    reminded: bool = False  # reminded of its current limit (report, then done)
    late: bool = False  # missed its report or done limit (and was escalated to the coordinator)

    @property
    def finished(self) -> bool:
        return self.status in (AgencyStatus.done, AgencyStatus.released)


class LinkageInput(BaseModel):
    """What the case hands its linkage: the agencies already summoned (the case recorded it),
    and the policy and working days their clocks count with."""

    case_id: str
    case_title: str
    lead_unit: str
    coordinator: str | None
    reason: str
    parts: list[AgencyPart]
    kind: LinkageKind = LinkageKind.linkage
    policy: SlaPolicy
    working_days: WorkingDays = WorkingDays()


class LinkageView(BaseModel):
    id: str
    status: LinkageStatus
    lead_unit: str
    coordinator: str | None
    reason: str
    agencies: list[AgencyPart]
    kind: LinkageKind = LinkageKind.linkage


class LinkageChange(BaseModel):
    """What a linkage tells its case, which records it (the case is the one writer)."""

    type: str
    actor: str
    data: dict[str, Any] = {}
    notify: list[Notice] = []  # seq is filled in by the case when it records the event
    view: LinkageView


class OpenLinkageInput(ActionInput):
    reason: Text
    agencies: list[Code] | None = None  # default: the category's linkage agencies


class PartInput(ActionInput):
    """An action about one unit's part of the linkage."""

    agency: Code


class AgencyInput(PartInput):
    note: Text | None = None


class AgencyDoneInput(PartInput):
    note: Text


class AddAgencyInput(PartInput):
    reason: Text | None = None


class ReleaseAgencyInput(PartInput):
    reason: Text


# The roles that hold parts: each acts for its own unit's part only.
PART_HOLDERS = (Role.agency, Role.unit_handler)


def linkage_id(case_id: str) -> str:
    """One linkage at a time per case; a later one reuses the id as a new run."""
    return f"{case_id}-linkage"


# ---- the state and its transitions ----------------------------------------------------------


class LinkageState(LinkageInput):
    """Everything a linkage's life needs: the workflow keeps it and every change shows it."""

    status: LinkageStatus = LinkageStatus.open

    @property
    def id(self) -> str:
        return linkage_id(self.case_id)

    def view(self) -> LinkageView:
        return LinkageView(
            id=self.id,
            status=self.status,
            lead_unit=self.lead_unit,
            coordinator=self.coordinator,
            reason=self.reason,
            agencies=[p.model_copy() for p in self.parts],
            kind=self.kind,
        )

    def part(self, unit: str) -> AgencyPart | None:
        return next((p for p in self.parts if p.unit == unit), None)

    @property
    def complete(self) -> bool:
        """Every part finished (an empty linkage waits for the coordinator to add someone)."""
        return bool(self.parts) and all(p.finished for p in self.parts)


class LinkageStep(BaseModel):
    """What one decision returns: the new state and the changes for the case to record."""

    state: LinkageState
    changes: list[LinkageChange] = []


class LinkageAlarm(BaseModel):
    """The next moment the linkage acts by itself: remind a part, or mark it late."""

    at: datetime
    kind: Literal["remind", "late"]
    unit: str
    stage: Literal["report", "done"]

    @property
    def summary(self) -> str:
        return f"{self.unit} {self.stage} {self.kind}"


INPUTS: dict[LinkageAction, type[PartInput]] = {
    LinkageAction.report: AgencyInput,
    LinkageAction.agency_done: AgencyDoneInput,
    LinkageAction.add_agency: AddAgencyInput,
    LinkageAction.release_agency: ReleaseAgencyInput,
}


def start(input: LinkageInput) -> LinkageState:
    """The linkage as its case opened it (the case recorded the whistle and told the parts)."""
    return LinkageState.model_validate(input.model_dump())


def parse_input(action: LinkageAction, payload: dict[str, Any]) -> PartInput:
    return parse(INPUTS[action], action.value, payload)


def allowed_linkage_actions(state: LinkageState, unit: str) -> list[LinkageAction]:
    """What can be done about `unit` now: report once summoned, finish once reported; the
    coordinator adds units not yet in and releases those not finished."""
    return _steps(state.status, state.part(unit))


def _steps(status: LinkageStatus, part: AgencyPart | None) -> list[LinkageAction]:
    if status is not LinkageStatus.open:
        return []
    if part is None:
        return [LinkageAction.add_agency]
    if part.status is AgencyStatus.summoned:
        return [LinkageAction.report, LinkageAction.release_agency]
    if part.status is AgencyStatus.reported:
        return [LinkageAction.agency_done, LinkageAction.release_agency]
    return []


def check(state: LinkageState, action: LinkageAction, input: PartInput) -> None:
    """Raise unless this authenticated caller may take `action` for the unit it names now: its
    role may, an agency acts for its own part only, and the part is at that step."""
    unit: str = input.agency
    principal = input.principal
    if principal is None:
        raise Forbidden(
            "an action needs an authenticated principal (act through the API)",
            {"action": action.value},
        )
    if not may_act_for(principal, action, unit):
        raise Forbidden(
            f"a {principal.role.value} may not {action.value} for {unit}",
            {"role": principal.role.value, "agency": unit},
        )
    allowed = allowed_linkage_actions(state, unit)
    if action not in allowed:
        raise NotAllowedNow(
            f"cannot {action.value} for {unit} now",
            {"agency": unit, "allowed_actions": [a.value for a in allowed]},
        )


def may_act_for(principal: Principal, action: LinkageAction, unit: str) -> bool:
    """The caller's role may take the action, and an agency (or an assisting unit) acts for its
    own part only."""
    own = principal.role not in PART_HOLDERS or principal.unit == unit
    return may(principal, action.value) and own


def linkage_actions(
    view: LinkageView, principal: Principal, others: tuple[str, ...] = ()
) -> dict[str, list[LinkageAction]]:
    """What `principal` may do now about each unit of a linkage, and about each of `others` not
    in it yet: what `check` lets through (the console's buttons)."""
    parts = {part.unit: part for part in view.agencies}
    candidates = [u for u in others if u not in parts and u != view.lead_unit]
    return {
        unit: [a for a in _steps(view.status, parts.get(unit)) if may_act_for(principal, a, unit)]
        for unit in [*parts, *candidates]
    }


class _Change:
    """One decision in the making: a copy of the state and the changes told so far."""

    def __init__(self, state: LinkageState, now: datetime) -> None:
        self.state, self.now = state.model_copy(deep=True), now
        self.step = LinkageStep(state=self.state)

    def tell(self, type: str, actor: str, notify: list[Notice] | None = None, **data: Any) -> None:
        """A change for the case to record, with the linkage as it is after it."""
        self.step.changes.append(
            LinkageChange(
                type=type, actor=actor, data=data, notify=notify or [], view=self.state.view()
            )
        )

    def notice(self, recipient: str | None, kind: str, **params: str) -> list[Notice]:
        """A notification for the case to send with the change (it fills in the event's seq):
        template `kind` with `params` and the case id (see `Notice`)."""
        values = {"case_id": self.state.case_id, **params}
        return [Notice(seq=0, recipient=recipient, kind=kind, params=values)] if recipient else []


def act(state: LinkageState, action: LinkageAction, input: PartInput, now: datetime) -> LinkageStep:
    """A unit's or the coordinator's action, checked (again: the state may have moved)."""
    check(state, action, input)
    assert input.principal is not None
    change = _Change(state, now)
    _ACTIONS[action](change, input.principal.actor, input)
    return change.step


def _part(change: _Change, unit: str) -> AgencyPart:
    part = change.state.part(unit)
    assert part is not None  # `check` refused it otherwise
    return part


def _report(change: _Change, actor: str, input: AgencyInput) -> None:
    """报到: the unit has arrived / responded; its clock for finishing starts."""
    part, state = _part(change, input.agency), change.state
    part.status, part.reported_at = AgencyStatus.reported, change.now
    part.done_due = due_at(change.now, state.policy.agency_done, state.working_days)
    part.reminded = part.late = False  # a fresh clock for finishing
    change.tell("agency_reported", actor, agency=part.unit, note=input.note)


def _agency_done(change: _Change, actor: str, input: AgencyDoneInput) -> None:
    part = _part(change, input.agency)
    part.status, part.done_at, part.note = AgencyStatus.done, change.now, input.note
    change.tell("agency_done", actor, agency=part.unit, note=input.note)


def _add_agency(change: _Change, actor: str, input: AddAgencyInput) -> None:
    """The coordinator blows the whistle for one more unit."""
    state = change.state
    report_due = due_at(change.now, state.policy.agency_report, state.working_days)
    state.parts.append(AgencyPart(unit=input.agency, summoned_at=change.now, report_due=report_due))
    notify = change.notice(input.agency, "linkage", report_due=local(report_due))
    change.tell("agency_added", actor, notify, agency=input.agency, reason=input.reason)


def _release_agency(change: _Change, actor: str, input: ReleaseAgencyInput) -> None:
    part = _part(change, input.agency)
    part.status = AgencyStatus.released
    change.tell("agency_released", actor, agency=part.unit, reason=input.reason)


_ACTIONS: dict[LinkageAction, Callable[[_Change, str, Any], None]] = {
    LinkageAction.report: _report,
    LinkageAction.agency_done: _agency_done,
    LinkageAction.add_agency: _add_agency,
    LinkageAction.release_agency: _release_agency,
}


def next_alarm(state: LinkageState) -> LinkageAlarm | None:
    """The earliest of every running part's alarms: a reminder at the policy's share of its
    current limit (report, then finish), then the limit itself."""
    if state.status is not LinkageStatus.open:
        return None
    alarms: list[LinkageAlarm] = []
    for part in state.parts:
        if part.late or part.finished:
            continue
        reporting = part.status is AgencyStatus.summoned
        due = part.report_due if reporting else part.done_due
        if due is None:
            continue
        stage: Literal["report", "done"] = "report" if reporting else "done"
        if not part.reminded:
            started = part.summoned_at if reporting else (part.reported_at or part.summoned_at)
            at = started + (due - started) * state.policy.warn_share
            alarms.append(LinkageAlarm(at=at, kind="remind", unit=part.unit, stage=stage))
        alarms.append(LinkageAlarm(at=due, kind="late", unit=part.unit, stage=stage))
    return min(alarms, key=lambda alarm: alarm.at) if alarms else None


def ring(state: LinkageState, alarm: LinkageAlarm, now: datetime) -> LinkageStep:
    """The alarm went off: remind the unit, or mark it late and escalate to the coordinator."""
    change = _Change(state, now)
    part = _part(change, alarm.unit)
    if alarm.kind == "remind":
        part.reminded = True
        due = part.report_due if alarm.stage == "report" else part.done_due
        assert due is not None  # an alarm rings only while its limit runs
        notify = change.notice(
            part.unit, "reminder", deadline=f"agency_{alarm.stage}", due_at=local(due)
        )
        change.tell("agency_reminded", "system", notify, agency=part.unit, stage=alarm.stage)
    else:
        part.late = True
        notify = change.notice(
            state.coordinator, "linkage_late", agency=part.unit, stage=alarm.stage
        )
        change.tell(
            "agency_late",
            "system",
            notify,
            agency=part.unit,
            stage=alarm.stage,
            due_at=alarm.at.isoformat(),
        )
    return change.step


def finish(state: LinkageState, now: datetime) -> LinkageStep:
    """Every part is finished: the linkage completes and the lead unit may reply."""
    change = _Change(state, now)
    change.state.status = LinkageStatus.completed
    notify = change.notice(state.lead_unit, "linkage_done")
    change.tell("linkage_closed", "system", notify, outcome=LinkageStatus.completed.value)
    return change.step
