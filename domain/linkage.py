"""Multi-agency linkage (大事一网联动, 吹哨报到): the governance centre blows the whistle, the
agencies report (arrive / respond) within their limit and then finish their part; the lead unit
replies when every agency has finished or been released."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.calendar import WorkingDays
from domain.common import ActionInput, Code, Notice, Text
from domain.sla import SlaPolicy


class AgencyStatus(StrEnum):
    summoned = "summoned"  # 吹哨: must report within the report limit
    reported = "reported"  # 报到: working on its part
    done = "done"
    released = "released"  # the coordinator let it go


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
    policy: SlaPolicy
    working_days: WorkingDays = WorkingDays()


class LinkageView(BaseModel):
    id: str
    status: LinkageStatus
    lead_unit: str
    coordinator: str | None
    reason: str
    agencies: list[AgencyPart]


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


class AgencyInput(ActionInput):
    agency: Code
    note: Text | None = None


class AgencyDoneInput(ActionInput):
    agency: Code
    note: Text


class AddAgencyInput(ActionInput):
    agency: Code
    reason: Text | None = None


class ReleaseAgencyInput(ActionInput):
    agency: Code
    reason: Text


def allowed_linkage_actions(parts: list[AgencyPart], agency: str) -> list[LinkageAction]:
    """What can be done about `agency` now: report once summoned, finish once reported; the
    coordinator adds agencies not yet in and releases those not finished."""
    part = next((p for p in parts if p.unit == agency), None)
    if part is None:
        return [LinkageAction.add_agency]
    if part.status is AgencyStatus.summoned:
        return [LinkageAction.report, LinkageAction.release_agency]
    if part.status is AgencyStatus.reported:
        return [LinkageAction.agency_done, LinkageAction.release_agency]
    return []


def linkage_id(case_id: str) -> str:
    """One linkage at a time per case; a later one reuses the id as a new run."""
    return f"{case_id}-linkage"
