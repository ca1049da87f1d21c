"""LinkageWorkflow: one multi-agency linkage, a child of its case's workflow.

Each agency has its own clock: report within `agency_report`, then finish within `agency_done`;
a missed limit marks it late and escalates to the coordinator (the governance centre). The
linkage never writes the record itself: it signals each change to its case, which records it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.common import ActionInput, Notice
    from domain.linkage import (
        AddAgencyInput,
        AgencyDoneInput,
        AgencyInput,
        AgencyPart,
        AgencyStatus,
        LinkageAction,
        LinkageChange,
        LinkageInput,
        LinkageStatus,
        LinkageView,
        ReleaseAgencyInput,
        allowed_linkage_actions,
        linkage_id,
    )
    from domain.permissions import Principal, Role, may
    from domain.sla import due_at

__all__ = ["LinkageWorkflow", "linkage_id"]

# The case workflow's signal (named, not imported: the case imports this module).
LINKAGE_CHANGED = "linkage_changed"
NOT_ALLOWED_NOW = "NotAllowedNow"
FORBIDDEN = "Forbidden"


@workflow.defn
class LinkageWorkflow:
    @workflow.init
    def __init__(self, input: LinkageInput) -> None:
        self._input = input
        self._status = LinkageStatus.open
        # Summoned by the case, which recorded the whistle and told the agencies.
        self._parts = [p.model_copy() for p in input.parts]
        self._version = 0
        self._outbox: list[LinkageChange] = []

    @workflow.run
    async def run(self, input: LinkageInput) -> LinkageView:
        try:
            while True:
                await self._flush()
                # Checked after the flush: an agency may have finished while a signal was sent.
                if self._complete():
                    break
                await self._watch()
        except BaseException:
            self._status = LinkageStatus.cancelled
            raise
        self._status = LinkageStatus.completed
        self._tell("linkage_closed", "system", outcome=self._status.value)
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _complete(self) -> bool:
        # An empty linkage waits for the coordinator to add someone.
        return bool(self._parts) and all(p.finished for p in self._parts)

    # ---- agencies' actions -------------------------------------------------------------------

    @workflow.update
    async def report(self, input: AgencyInput) -> LinkageView:
        """报到: the agency has arrived / responded; its clock for finishing starts."""
        part = self._part(input.agency)
        now = workflow.now()
        part.status, part.reported_at = AgencyStatus.reported, now
        policy, days = self._input.policy, self._input.working_days
        part.done_due = due_at(now, policy.agency_done, days)
        part.reminded = part.late = False  # a fresh clock for finishing
        self._tell("agency_reported", self._actor(input), agency=part.unit, note=input.note)
        return self._view()

    @report.validator
    def _validate_report(self, input: AgencyInput) -> None:
        self._check(LinkageAction.report, input.agency, input.principal)

    @workflow.update
    async def agency_done(self, input: AgencyDoneInput) -> LinkageView:
        part = self._part(input.agency)
        part.status, part.done_at, part.note = AgencyStatus.done, workflow.now(), input.note
        self._tell("agency_done", self._actor(input), agency=part.unit, note=input.note)
        return self._view()

    @agency_done.validator
    def _validate_agency_done(self, input: AgencyDoneInput) -> None:
        self._check(LinkageAction.agency_done, input.agency, input.principal)

    @workflow.update
    async def add_agency(self, input: AddAgencyInput) -> LinkageView:
        """The coordinator blows the whistle for one more agency."""
        self._summon(input.agency)
        self._tell("agency_added", self._actor(input), agency=input.agency, reason=input.reason)
        return self._view()

    @add_agency.validator
    def _validate_add_agency(self, input: AddAgencyInput) -> None:
        self._check(LinkageAction.add_agency, input.agency, input.principal)

    @workflow.update
    async def release_agency(self, input: ReleaseAgencyInput) -> LinkageView:
        part = self._part(input.agency)
        part.status = AgencyStatus.released
        self._tell("agency_released", self._actor(input), agency=part.unit, reason=input.reason)
        return self._view()

    @release_agency.validator
    def _validate_release_agency(self, input: ReleaseAgencyInput) -> None:
        self._check(LinkageAction.release_agency, input.agency, input.principal)

    @workflow.query
    def state(self) -> LinkageView:
        return self._view()

    # ---- clocks --------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Wait for the next change or the next agency alarm: a reminder at the policy's share of
        its limit, then the limit itself (late: escalated to the coordinator)."""
        version = self._version
        alarms: list[tuple[datetime, str, AgencyPart]] = []
        for part in self._parts:
            due = self._due(part)
            if due is None or part.late:
                continue
            started = part.reported_at if part.status is AgencyStatus.reported else None
            started = started or part.summoned_at
            if not part.reminded:
                share = self._input.policy.warn_share
                alarms.append((started + (due - started) * share, "remind", part))
            alarms.append((due, "late", part))
        if not alarms:
            await workflow.wait_condition(lambda: self._version != version)
            return
        at, what, part = min(alarms, key=lambda alarm: alarm[0])
        timeout = at - workflow.now()
        if timeout > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._version != version,
                    timeout=timeout,
                    timeout_summary=f"{part.unit} {self._stage(part)} {what}",
                )
                return
            except TimeoutError:
                pass
        if what == "remind":
            part.reminded = True
            self._tell("agency_reminded", "system", agency=part.unit, stage=self._stage(part))
        else:
            part.late = True
            self._tell(
                "agency_late",
                "system",
                agency=part.unit,
                stage=self._stage(part),
                due_at=at.isoformat(),
            )

    @staticmethod
    def _stage(part: AgencyPart) -> str:
        return "report" if part.status is AgencyStatus.summoned else "done"

    @staticmethod
    def _due(part: AgencyPart) -> datetime | None:
        if part.status is AgencyStatus.summoned:
            return part.report_due
        if part.status is AgencyStatus.reported:
            return part.done_due
        return None

    # ---- telling the case ------------------------------------------------------------------------

    def _tell(self, type: str, actor: str, **data: Any) -> None:
        """Queue a change for the case to record; wakes the loop, which sends it in order."""
        notify = self._notices(type, data)
        self._outbox.append(
            LinkageChange(type=type, actor=actor, data=data, notify=notify, view=self._view())
        )
        self._version += 1

    def _notices(self, type: str, data: dict[str, Any]) -> list[Notice]:
        title = f"{self._input.case_id} {self._input.case_title}"
        if type == "agency_reminded":
            return [
                Notice(
                    seq=0,
                    recipient=data["agency"],
                    kind="reminder",
                    message=f"{title}: 请按时{'报到' if data['stage'] == 'report' else '办结'}",
                )
            ]
        if type == "agency_added":
            return [
                Notice(seq=0, recipient=data["agency"], kind="linkage", message=f"{title}: 请报到")
            ]
        if type == "agency_late" and self._input.coordinator:
            return [
                Notice(
                    seq=0,
                    recipient=self._input.coordinator,
                    kind="escalation",
                    message=f"{title}: {data['agency']} 未按时{data['stage']}",
                )
            ]
        if type == "linkage_closed":
            return [
                Notice(
                    seq=0,
                    recipient=self._input.lead_unit,
                    kind="linkage",
                    message=f"{title}: 联动完成, 请答复",
                )
            ]
        return []

    async def _flush(self) -> None:
        parent = workflow.info().parent
        while self._outbox:
            change = self._outbox.pop(0)
            if parent is not None:
                await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                    LINKAGE_CHANGED, change
                )

    # ---- helpers ---------------------------------------------------------------------------------

    def _summon(self, agency: str) -> None:
        policy, days = self._input.policy, self._input.working_days
        report_due = due_at(workflow.now(), policy.agency_report, days)
        self._parts.append(
            AgencyPart(unit=agency, summoned_at=workflow.now(), report_due=report_due)
        )

    def _part(self, agency: str) -> AgencyPart:
        return next(p for p in self._parts if p.unit == agency)

    @staticmethod
    def _actor(input: ActionInput) -> str:
        assert input.principal is not None  # the validator refused it otherwise
        return input.principal.actor

    def _check(self, action: LinkageAction, agency: str, principal: Principal | None) -> None:
        if principal is None:
            raise ApplicationError(
                "an action needs an authenticated principal (act through the API)",
                {"action": action.value},
                type=FORBIDDEN,
                non_retryable=True,
            )
        if not may(principal, action.value) or (
            principal.role is Role.agency and principal.unit != agency
        ):
            raise ApplicationError(
                f"a {principal.role.value} may not {action.value} for {agency}",
                {"role": principal.role.value, "agency": agency},
                type=FORBIDDEN,
                non_retryable=True,
            )
        allowed = allowed_linkage_actions(self._parts, agency)
        if self._status is not LinkageStatus.open or action not in allowed:
            raise ApplicationError(
                f"cannot {action.value} for {agency} now",
                {"agency": agency, "allowed_actions": [a.value for a in allowed]},
                type=NOT_ALLOWED_NOW,
                non_retryable=True,
            )

    def _view(self) -> LinkageView:
        return LinkageView(
            id=workflow.info().workflow_id,
            status=self._status,
            lead_unit=self._input.lead_unit,
            coordinator=self._input.coordinator,
            reason=self._input.reason,
            agencies=[p.model_copy() for p in self._parts],
        )
