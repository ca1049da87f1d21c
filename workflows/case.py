"""CaseWorkflow: one resident request or grid event, from receipt to closure.

Reads top to bottom like the loop in DOMAIN.md: receive and route, dispatch, accept (or return and
reassign), contact the resident, reply, rating (and one re-handling), close. Human actions are
Updates; every change is persisted by one idempotent activity and mirrored in search attributes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.cases import CaseActivities
    from domain.calendar import SUBDISTRICT_TZ
    from domain.case import (
        AcceptInput,
        Action,
        CaseCarry,
        CaseEvent,
        CaseIntake,
        CaseRecord,
        CaseStatus,
        CaseView,
        Channel,
        ConfirmInput,
        ContactInput,
        Deadline,
        EscalateInput,
        EventType,
        ExtensionDecisionInput,
        ExtensionRequest,
        ExtensionRequestInput,
        Grade,
        MergedCase,
        MergeInput,
        Outcome,
        ProgressInput,
        RateInput,
        ReassignInput,
        RejectInput,
        ReopenInput,
        ReplyInput,
        ResolveOnSiteInput,
        ResumeInput,
        ReturnInput,
        ReviewCloseInput,
        Routed,
        SuspendInput,
        UrgeInput,
        VerifyInput,
        allowed_actions,
    )
    from domain.common import Notice
    from domain.escalation import (
        big_issue_reason,
        extension_refusal,
        limit_as_timedelta,
        next_step_at,
        warn_point,
    )
    from domain.linkage import (
        LinkageChange,
        LinkageInput,
        LinkageStatus,
        LinkageView,
        OpenLinkageInput,
    )
    from domain.permissions import CaseScope, Principal, permitted
    from domain.sla import DeadlineKind, due_at
    from workflows import search_attributes as sa
    from workflows.linkage import LinkageWorkflow, linkage_id

SYSTEM = "system"
NOT_ALLOWED_NOW = "NotAllowedNow"
FORBIDDEN = "Forbidden"
# Cases started before reminders and the ladder existed replay without them (see run()).
LADDER_PATCH = "escalation-ladder"
# Cases rated unsatisfied twice before the review queue existed closed at once.
REVIEW_PATCH = "supervisor-review"
# Big issues open a multi-agency linkage by themselves only in cases started after it existed.
LINKAGE_PATCH = "multi-agency-linkage"
# A unit whose cases go unrated this often within the window gets the next one reviewed.
UNRATED_REVIEW_PATCH = "unrated-review"
# Grid events replied by their unit are checked on site instead of rated by a resident.
PATROL_PATCH = "patrol-verification"
UNRATED_FOR_REVIEW = 3
UNRATED_WINDOW = timedelta(days=30)

# Past this many history events a case continues as new, carrying its state (well below the
# server's 50k limit and the SDK's suggestion, which also triggers it).
HISTORY_LIMIT = 10_000

_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Persistence must eventually succeed (PostgreSQL may be down for a while); retry without limit.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class CaseWorkflow:
    @workflow.init
    def __init__(self, intake: CaseIntake) -> None:
        self._intake = intake
        self._status = CaseStatus.received
        self._routed: Routed | None = None
        self._unit: str | None = None
        self._rule: str | None = None
        self._deadlines: dict[DeadlineKind, Deadline] = {}
        self._overdue = False
        self._returns = 0
        self._rehandled = False
        self._grade: Grade | None = None
        self._solved: bool | None = None
        self._outcome: Outcome | None = None
        self._received_at = workflow.now()
        self._stamps: dict[str, datetime] = {}
        self._seq = 0
        self._persisted_seq = 0
        self._unsaved: list[CaseEvent] = []
        self._reporter_saved = False
        self._notices: list[Notice] = []
        self._ladder_on = False
        self._level = 0  # escalation ladder steps taken (CaseEscalationLevel)
        self._extension: ExtensionRequest | None = None
        self._extensions = 0
        self._suspended_at: datetime | None = None
        self._suspensions = 0
        self._review: str | None = None  # pending / closed / reopened
        self._linkage_on = False
        self._linkage: LinkageView | None = None
        self._linkage_handle: workflow.ChildWorkflowHandle[Any, Any] | None = None
        self._linkages = 0
        self._result: str | None = None  # the unit's latest reply, sent to every reporter at close
        self._merged: list[str] = []  # duplicates merged into this case
        self._merged_into: str | None = None
        # Bumped by every change, so the deadline watcher re-plans after any action.
        self._version = 0
        # One change at a time: actions and deadline expiries are applied and persisted in order.
        self._lock = asyncio.Lock()
        if intake.carried is not None:
            self._restore(intake.carried)

    # ---- the life of a case ------------------------------------------------------------------

    @workflow.run
    async def run(self, intake: CaseIntake) -> CaseView:
        if intake.carried is None:
            await self._receive(intake)
        else:
            workflow.upsert_search_attributes(self._search_attributes())

        while self._status is not CaseStatus.closed:
            await self._watch_deadlines()
            if self._history_full():
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _receive(self, intake: CaseIntake) -> None:
        """受理 and 派单: record, route, dispatch; a big case links its agencies at once."""
        self._ladder_on = workflow.patched(LADDER_PATCH)
        self._linkage_on = self._ladder_on and workflow.patched(LINKAGE_PATCH)
        async with self._lock:
            self._record(
                EventType.received, SYSTEM, channel=intake.channel.value, photo_url=intake.photo_url
            )
            self._routed = await workflow.execute_activity_method(
                CaseActivities.route_case,
                intake,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_RETRY,
                summary=f"route {intake.category}",
            )
            if self._routed.unit is not None:
                self._dispatch(self._routed.unit, self._routed.rule, SYSTEM, self._routed.reason)
            else:
                # Nobody is in charge by the rules: the dispatcher decides (reassign or reject).
                self._status = CaseStatus.returned
                self._record(EventType.route_failed, SYSTEM, reason=self._routed.reason)
            await self._commit()
        await self._open_linkage_if_big(SYSTEM)

    # ---- a bounded history: continue as new, carrying the state ----------------------------------

    async def _unrated_too_often(self) -> bool:
        if not self._ladder_on or self._unit is None or not workflow.patched(UNRATED_REVIEW_PATCH):
            return False
        count = await workflow.execute_activity_method(
            CaseActivities.count_unrated,
            args=[self._unit, workflow.now() - UNRATED_WINDOW],
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"unrated cases of {self._unit}",
        )
        return count >= UNRATED_FOR_REVIEW

    def _history_full(self) -> bool:
        info = workflow.info()
        limit = self._intake.history_limit or HISTORY_LIMIT
        linked = self._linkage_handle is not None and not self._linkage_handle.done()
        return (
            self._status is not CaseStatus.closed
            and not linked  # a running child stays with this run; wait for it to finish
            and (info.is_continue_as_new_suggested() or info.get_current_history_length() > limit)
        )

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._lock.locked()
        )
        if self._history_full():
            workflow.continue_as_new(self._intake.model_copy(update={"carried": self._carry()}))

    def _carry(self) -> CaseCarry:
        return CaseCarry(
            status=self._status,
            routed=self._routed,
            unit=self._unit,
            rule=self._rule,
            deadlines=list(self._deadlines.values()),
            overdue=self._overdue,
            returns=self._returns,
            rehandled=self._rehandled,
            grade=self._grade,
            solved=self._solved,
            outcome=self._outcome,
            received_at=self._received_at,
            stamps=self._stamps,
            seq=self._seq,
            reporter_saved=self._reporter_saved,
            ladder_on=self._ladder_on,
            linkage_on=self._linkage_on,
            level=self._level,
            extension=self._extension,
            extensions=self._extensions,
            suspended_at=self._suspended_at,
            suspensions=self._suspensions,
            review=self._review,
            linkage=self._linkage,
            linkages=self._linkages,
            result=self._result,
            merged=list(self._merged),
        )

    def _restore(self, carry: CaseCarry) -> None:
        self._status, self._routed = carry.status, carry.routed
        self._unit, self._rule = carry.unit, carry.rule
        self._deadlines = {d.kind: d for d in carry.deadlines}
        self._overdue, self._returns = carry.overdue, carry.returns
        self._rehandled = carry.rehandled
        self._grade, self._solved, self._outcome = carry.grade, carry.solved, carry.outcome
        self._received_at, self._stamps = carry.received_at, dict(carry.stamps)
        self._seq = self._persisted_seq = carry.seq
        self._reporter_saved = carry.reporter_saved
        self._ladder_on, self._linkage_on = carry.ladder_on, carry.linkage_on
        self._level = carry.level
        self._extension, self._extensions = carry.extension, carry.extensions
        self._suspended_at, self._suspensions = carry.suspended_at, carry.suspensions
        self._review, self._linkage, self._linkages = carry.review, carry.linkage, carry.linkages
        self._result, self._merged = carry.result, list(carry.merged)
        self._intake = self._intake.model_copy(update={"carried": None})

    def _dispatch(
        self,
        unit: str,
        rule: str | None,
        actor: str,
        reason: str | None,
        event: str = EventType.dispatched,
    ) -> None:
        """派单: the unit's clock starts now for accepting, contacting and replying."""
        now = workflow.now()
        self._status = CaseStatus.dispatched
        self._unit, self._rule = unit, rule
        self._stamps["dispatched_at"] = now
        for kind in (DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply):
            self._deadlines[kind] = self._new_deadline(kind, now)
        self._record(
            event,
            actor,
            unit=unit,
            rule=rule,
            reason=reason,
            due={k.value: d.due_at.isoformat() for k, d in self._deadlines.items()},
        )

    # ---- human actions: Updates, each validated against the one allowed-actions table ----------

    @workflow.update
    async def routed(self) -> CaseView:
        """The case as soon as it is routed and recorded: what intake answers the caller."""
        await workflow.wait_condition(
            lambda: self._status is not CaseStatus.received and self._persisted_seq == self._seq
        )
        return self._view()

    @workflow.update
    async def accept(self, input: AcceptInput) -> CaseView:
        async with self._change(Action.accept):
            self._meet(DeadlineKind.accept)
            self._status = CaseStatus.in_progress
            self._stamps["accepted_at"] = workflow.now()
            self._record(Action.accept, input.actor, unit=self._unit, note=input.note)
        return self._view()

    @accept.validator
    def _validate_accept(self, input: AcceptInput) -> None:
        self._check(Action.accept, input.principal)

    @workflow.update(name="return")
    async def return_(self, input: ReturnInput) -> CaseView:
        async with self._change(Action.return_):
            # Returning in time counts as acting on the case; the other clocks stop with it.
            self._meet(DeadlineKind.accept)
            self._deadlines.pop(DeadlineKind.contact, None)
            self._deadlines.pop(DeadlineKind.reply, None)
            self._returns += 1
            self._status = CaseStatus.returned
            self._record(Action.return_, input.actor, unit=self._unit, reason=input.reason)
        return self._view()

    @return_.validator
    def _validate_return(self, input: ReturnInput) -> None:
        self._check(Action.return_, input.principal)

    @workflow.update
    async def reassign(self, input: ReassignInput) -> CaseView:
        async with self._change(Action.reassign):
            self._dispatch(input.unit, None, input.actor, input.reason, event=Action.reassign)
        await self._open_linkage_if_big(SYSTEM)  # bounced too often
        return self._view()

    @reassign.validator
    def _validate_reassign(self, input: ReassignInput) -> None:
        self._check(Action.reassign, input.principal)

    @workflow.update
    async def reject(self, input: RejectInput) -> CaseView:
        async with self._change(Action.reject):
            self._record(Action.reject, input.actor, reason=input.reason)
            self._close(Outcome.rejected)
        return self._view()

    @reject.validator
    def _validate_reject(self, input: RejectInput) -> None:
        self._check(Action.reject, input.principal)

    @workflow.update
    async def contact(self, input: ContactInput) -> CaseView:
        async with self._change(Action.contact):
            self._meet(DeadlineKind.contact)
            self._stamps["contacted_at"] = workflow.now()
            self._record(Action.contact, input.actor, note=input.note)
        return self._view()

    @contact.validator
    def _validate_contact(self, input: ContactInput) -> None:
        self._check(Action.contact, input.principal)

    @workflow.update
    async def progress(self, input: ProgressInput) -> CaseView:
        async with self._change(Action.progress):
            self._record(Action.progress, input.actor, note=input.note)
        return self._view()

    @progress.validator
    def _validate_progress(self, input: ProgressInput) -> None:
        self._check(Action.progress, input.principal)

    @workflow.update
    async def reply(self, input: ReplyInput) -> CaseView:
        """谁办理谁答复: the handling unit replies; the resident's rating window opens."""
        async with self._change(Action.reply):
            now = workflow.now()
            self._meet(DeadlineKind.reply)
            self._stamps["replied_at"] = now
            self._result = input.result
            self._record(Action.reply, input.actor, unit=self._unit, result=input.result)
            if self._grid_event() and workflow.patched(PATROL_PATCH):
                # 核查: the grid worker who reported it checks the fix on site.
                self._status = CaseStatus.verifying
                self._deadlines[DeadlineKind.verify] = self._new_deadline(DeadlineKind.verify, now)
                self._notify(self._grid_team(), "verify", f"请现场核查: {input.result}")
            else:
                self._status = CaseStatus.replied
                self._deadlines[DeadlineKind.rating] = self._new_deadline(DeadlineKind.rating, now)
        return self._view()

    @reply.validator
    def _validate_reply(self, input: ReplyInput) -> None:
        self._check(Action.reply, input.principal)

    @workflow.update
    async def rate(self, input: RateInput) -> CaseView:
        async with self._change(Action.rate):
            now = workflow.now()
            self._meet(DeadlineKind.rating)
            self._grade, self._solved = input.grade, input.solved
            self._stamps["rated_at"] = now
            self._record(
                Action.rate,
                input.actor,
                grade=input.grade.value,
                solved=input.solved,
                comment=input.comment,
            )
            if input.grade is Grade.unsatisfied and not self._rehandled:
                # 重办: once, by the same unit, with a fresh reply deadline.
                self._rehandled = True
                self._status = CaseStatus.in_progress
                del self._deadlines[DeadlineKind.rating]
                self._deadlines[DeadlineKind.reply] = self._new_deadline(DeadlineKind.reply, now)
                self._record(EventType.rehandling, SYSTEM, unit=self._unit)
            elif input.grade is Grade.unsatisfied and workflow.patched(REVIEW_PATCH):
                # Unsatisfied after re-handling: a supervisor decides (the review queue).
                self._review = "pending"
                self._record(EventType.review_opened, SYSTEM, unit=self._unit)
                self._notify(self._supervisor(), "review", "二次不满意, 请督办审查")
            else:
                self._close(Outcome.rated)
        return self._view()

    @rate.validator
    def _validate_rate(self, input: RateInput) -> None:
        self._check(Action.rate, input.principal)

    # ---- supervision and time: urge, escalate, extensions, suspension -------------------------

    @workflow.update
    async def urge(self, input: UrgeInput) -> CaseView:
        """催办: a supervisor chases the unit; recorded and sent to the unit."""
        async with self._change(Action.urge):
            self._record(Action.urge, input.actor, unit=self._unit, note=input.note)
            self._notify(self._unit, "urge", f"催办: {input.note}")
        return self._view()

    @urge.validator
    def _validate_urge(self, input: UrgeInput) -> None:
        self._check(Action.urge, input.principal)

    @workflow.update
    async def escalate(self, input: EscalateInput) -> CaseView:
        """A supervisor pushes the case one step up the ladder by hand."""
        async with self._change(Action.escalate):
            self._climb(Action.escalate, input.actor, input.reason)
        await self._open_linkage_if_big(SYSTEM)
        return self._view()

    @escalate.validator
    def _validate_escalate(self, input: EscalateInput) -> None:
        self._check(Action.escalate, input.principal)
        if self._routed is None or self._level >= len(self._routed.ladder):
            self._refuse(Action.escalate, "the case is already at the top of the ladder")

    @workflow.update
    async def request_extension(self, input: ExtensionRequestInput) -> CaseView:
        """延期: the unit asks for a later reply deadline; a supervisor decides."""
        async with self._change(Action.request_extension):
            self._extension = ExtensionRequest(
                requested_by=input.actor, reason=input.reason, due_at=input.due_at
            )
            self._record(
                Action.request_extension,
                input.actor,
                reason=input.reason,
                due_at=input.due_at.isoformat(),
            )
            self._notify(
                self._supervisor(), "extension_requested", f"延期申请 {input.due_at.isoformat()}"
            )
        return self._view()

    @request_extension.validator
    def _validate_request_extension(self, input: ExtensionRequestInput) -> None:
        self._check(Action.request_extension, input.principal)
        reply = self._deadlines.get(DeadlineKind.reply)
        assert self._routed is not None
        refusal = (
            "there is no reply deadline to extend"
            if reply is None or reply.met_at is not None
            else extension_refusal(
                current_due=reply.due_at,
                requested_due=input.due_at,
                now=workflow.now(),
                granted=self._extensions,
                max_extensions=self._routed.max_extensions,
                max_extension=self._routed.max_extension,
                tz=SUBDISTRICT_TZ,
            )
        )
        if refusal:
            self._refuse(Action.request_extension, refusal)

    @workflow.update
    async def approve_extension(self, input: ExtensionDecisionInput) -> CaseView:
        """The reply deadline moves; its running timer is replaced, and the original due time is
        kept for the on-time KPI."""
        async with self._change(Action.approve_extension):
            assert self._extension is not None and self._routed is not None
            reply = self._deadlines[DeadlineKind.reply]
            reply.original_due_at = reply.original_due_at or reply.due_at
            reply.due_at = self._extension.due_at
            reply.warned = False
            reply.warn_at = warn_point(
                reply.started_at or workflow.now(), reply.due_at, self._routed.warn_share
            )
            self._extensions += 1
            self._record(
                Action.approve_extension,
                input.actor,
                due_at=reply.due_at.isoformat(),
                original_due_at=reply.original_due_at.isoformat(),
                note=input.note,
            )
            self._notify(
                self._unit, "extension_approved", f"延期已批准至 {reply.due_at.isoformat()}"
            )
            self._extension = None
        return self._view()

    @approve_extension.validator
    def _validate_approve_extension(self, input: ExtensionDecisionInput) -> None:
        self._check(Action.approve_extension, input.principal)

    @workflow.update
    async def deny_extension(self, input: ExtensionDecisionInput) -> CaseView:
        async with self._change(Action.deny_extension):
            self._record(Action.deny_extension, input.actor, note=input.note)
            self._notify(self._unit, "extension_denied", "延期申请未批准")
            self._extension = None
        return self._view()

    @deny_extension.validator
    def _validate_deny_extension(self, input: ExtensionDecisionInput) -> None:
        self._check(Action.deny_extension, input.principal)

    @workflow.update
    async def suspend(self, input: SuspendInput) -> CaseView:
        """挂起: waiting on the resident or a third party; every clock stops."""
        async with self._change(Action.suspend):
            self._suspended_at = workflow.now()
            self._suspensions += 1
            self._record(Action.suspend, input.actor, reason=input.reason)
        return self._view()

    @suspend.validator
    def _validate_suspend(self, input: SuspendInput) -> None:
        self._check(Action.suspend, input.principal)
        assert self._routed is not None
        if self._suspensions >= self._routed.max_suspensions:
            self._refuse(
                Action.suspend, f"the policy allows {self._routed.max_suspensions} suspension(s)"
            )

    @workflow.update
    async def resume(self, input: ResumeInput) -> CaseView:
        """The clocks restart with the time they had left."""
        async with self._change(Action.resume):
            self._resume(Action.resume, input.actor, input.note)
        return self._view()

    @resume.validator
    def _validate_resume(self, input: ResumeInput) -> None:
        self._check(Action.resume, input.principal)

    @workflow.update
    async def review_close(self, input: ReviewCloseInput) -> CaseView:
        """The supervisor closes a twice-unsatisfied case with a verdict (kept on the record)."""
        async with self._change(Action.review_close):
            self._review = "closed"
            self._record(Action.review_close, input.actor, verdict=input.verdict)
            self._close(Outcome.rated if self._grade else Outcome.unrated)
        return self._view()

    @review_close.validator
    def _validate_review_close(self, input: ReviewCloseInput) -> None:
        self._check(Action.review_close, input.principal)

    @workflow.update
    async def reopen(self, input: ReopenInput) -> CaseView:
        """The supervisor sends it back to the unit with a fresh reply deadline."""
        async with self._change(Action.reopen):
            self._review = "reopened"
            self._status = CaseStatus.in_progress
            self._deadlines.pop(DeadlineKind.rating, None)
            self._deadlines[DeadlineKind.reply] = self._new_deadline(
                DeadlineKind.reply, workflow.now()
            )
            self._record(Action.reopen, input.actor, reason=input.reason, unit=self._unit)
            self._notify(self._unit, "reopened", f"督办重办: {input.reason}")
        return self._view()

    @reopen.validator
    def _validate_reopen(self, input: ReopenInput) -> None:
        self._check(Action.reopen, input.principal)

    # ---- duplicates: one master case answers every reporter ---------------------------------

    @workflow.update
    async def merge(self, input: MergeInput) -> CaseView:
        """The dispatcher folds this case into its master: closed as a duplicate (its own
        description and reporter stay on its record); its reporter gets the master's reply."""
        async with self._change(Action.merge):
            self._merged_into = input.into
            self._record(Action.merge, input.actor, into=input.into, reason=input.reason)
            self._notify(self._reporter(), "merged", f"已并入 {input.into} 一并办理")
            self._close(Outcome.duplicate)
        try:
            await workflow.get_external_workflow_handle(input.into).signal(
                "merged_case",
                MergedCase(
                    case_id=self._intake.case_id, title=self._intake.title, actor=input.actor
                ),
            )
        except Exception as lost:  # the master closed meanwhile: this case's record still says
            workflow.logger.warning("merge into %s not delivered: %s", input.into, lost)
        return self._view()

    @merge.validator
    def _validate_merge(self, input: MergeInput) -> None:
        self._check(Action.merge, input.principal)
        if input.into == self._intake.case_id:
            self._refuse(Action.merge, "a case cannot be merged into itself")

    @workflow.signal
    async def merged_case(self, merged: MergedCase) -> None:
        async with self._lock:
            if self._status is CaseStatus.closed:
                return  # closed meanwhile: the dispatcher sees the merged case's own record
            self._merged.append(merged.case_id)
            self._record(EventType.merged_in, merged.actor, case=merged.case_id, title=merged.title)
            await self._commit()

    def _reporter(self, case_id: str | None = None) -> str:
        """The outbox recipient for a case's reporter; the sender resolves the contact."""
        return f"reporter:{case_id or self._intake.case_id}"

    # ---- grid events: solved on the spot, or checked on site --------------------------------

    @workflow.update
    async def resolve_on_site(self, input: ResolveOnSiteInput) -> CaseView:
        """小事不出网格: the grid worker solves it now, with a photo; the community confirms."""
        async with self._change(Action.resolve_on_site):
            now = workflow.now()
            for kind in (DeadlineKind.accept, DeadlineKind.contact, DeadlineKind.reply):
                self._meet(kind)
            self._status = CaseStatus.resolved_on_site
            self._stamps["replied_at"] = now
            self._deadlines[DeadlineKind.verify] = self._new_deadline(DeadlineKind.verify, now)
            self._record(
                Action.resolve_on_site,
                input.actor,
                evidence_url=str(input.evidence_url),
                note=input.note,
            )
            community = self._community_unit()
            self._notify(community, "confirm", f"网格员就地解决, 请确认: {input.note}")
        return self._view()

    @resolve_on_site.validator
    def _validate_resolve_on_site(self, input: ResolveOnSiteInput) -> None:
        self._check(Action.resolve_on_site, input.principal)

    @workflow.update
    async def confirm(self, input: ConfirmInput) -> CaseView:
        """The community confirms the on-the-spot solution: closed as self-resolved."""
        async with self._change(Action.confirm):
            self._meet(DeadlineKind.verify)
            self._record(Action.confirm, input.actor, note=input.note)
            self._close(Outcome.self_resolved)
        return self._view()

    @confirm.validator
    def _validate_confirm(self, input: ConfirmInput) -> None:
        self._check(Action.confirm, input.principal)

    @workflow.update
    async def verify(self, input: VerifyInput) -> CaseView:
        """核查: fixed closes the event; not fixed sends it back with a fresh reply deadline."""
        async with self._change(Action.verify):
            now = workflow.now()
            self._meet(DeadlineKind.verify)
            self._record(
                Action.verify,
                input.actor,
                fixed=input.fixed,
                note=input.note,
                evidence_url=str(input.evidence_url) if input.evidence_url else None,
            )
            if input.fixed:
                self._close(Outcome.verified)
            else:
                self._status = CaseStatus.in_progress
                del self._deadlines[DeadlineKind.verify]
                self._deadlines[DeadlineKind.reply] = self._new_deadline(DeadlineKind.reply, now)
                self._notify(self._unit, "not_fixed", f"现场核查未整改到位: {input.note or ''}")
        return self._view()

    @verify.validator
    def _validate_verify(self, input: VerifyInput) -> None:
        self._check(Action.verify, input.principal)

    def _grid_event(self) -> bool:
        return self._intake.channel is Channel.grid_patrol

    def _grid_team(self) -> str | None:
        return self._routed.grid_team if self._routed else None

    def _community_unit(self) -> str | None:
        ladder = self._routed.ladder if self._routed else []
        return next((s.unit for s in ladder if s.level == 1), None)

    # ---- multi-agency linkage (吹哨报到) -------------------------------------------------------

    @workflow.update
    async def open_linkage(self, input: OpenLinkageInput) -> CaseView:
        """A dispatcher or supervisor blows the whistle by hand."""
        async with self._lock:
            self._check(Action.open_linkage)
            await self._start_linkage(input.actor, input.reason, input.agencies)
        return self._view()

    @open_linkage.validator
    def _validate_open_linkage(self, input: OpenLinkageInput) -> None:
        self._check(Action.open_linkage, input.principal)

    @workflow.signal
    async def linkage_changed(self, change: LinkageChange) -> None:
        """The linkage reports a step; the case records it (the one writer of the record)."""
        async with self._lock:
            if self._linkage is None or change.view.id != self._linkage.id:
                return
            if self._linkage.status is LinkageStatus.cancelled:
                return  # the case closed first; its linkage's last words change nothing
            self._linkage = change.view
            self._record(change.type, change.actor, **change.data)
            for notice in change.notify:
                self._notices.append(notice.model_copy(update={"seq": self._seq}))
            await self._commit()

    async def _open_linkage_if_big(self, actor: str) -> None:
        """大事一网联动: a major, multi-agency, bounced or subdistrict-escalated case links the
        agencies by itself (once; later ones are opened by hand)."""
        routed = self._routed
        if not self._linkage_on or routed is None or self._linkages > 0:
            return
        if self._unit is None or self._status not in (
            CaseStatus.dispatched,
            CaseStatus.in_progress,
        ):
            return
        reason = big_issue_reason(
            severity=routed.severity.value,
            category_needs_linkage=routed.needs_linkage,
            returns=self._returns,
            returns_for_linkage=routed.returns_for_linkage,
            escalation_level=self._level,
        )
        if reason:
            async with self._lock:
                await self._start_linkage(actor, reason, None)

    async def _start_linkage(self, actor: str, reason: str, agencies: list[str] | None) -> None:
        """Start the child LinkageWorkflow; it reports back through `linkage_changed`."""
        assert self._routed is not None and self._unit is not None
        self._linkages += 1
        members = agencies if agencies is not None else self._routed.linkage_agencies
        members = [a for a in dict.fromkeys(members) if a != self._unit]
        child_id = linkage_id(self._intake.case_id)
        self._linkage = LinkageView(
            id=child_id,
            status=LinkageStatus.open,
            lead_unit=self._unit,
            coordinator=self._supervisor(),
            reason=reason,
            agencies=[],
        )
        self._linkage_handle = await workflow.start_child_workflow(
            LinkageWorkflow.run,
            LinkageInput(
                case_id=self._intake.case_id,
                opened_by=actor,
                case_title=self._intake.title,
                lead_unit=self._unit,
                coordinator=self._supervisor(),
                agencies=members,
                reason=reason,
                agency_report=self._routed.agency_report,
                agency_done=self._routed.agency_done,
                warn_share=self._routed.warn_share,
            ),
            id=child_id,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            cancellation_type=ChildWorkflowCancellationType.TRY_CANCEL,
            static_summary=f"linkage for {self._intake.case_id}: {reason}",
        )

    def _end_linkage(self) -> None:
        """The case closed while agencies were still at work: release them all."""
        if self._linkage is not None and self._linkage.status is LinkageStatus.open:
            self._linkage = self._linkage.model_copy(update={"status": LinkageStatus.cancelled})
            if self._linkage_handle is not None and not self._linkage_handle.done():
                self._linkage_handle.cancel()
            self._record("linkage_cancelled", SYSTEM, linkage=self._linkage.id)

    @workflow.query
    def state(self) -> CaseView:
        return self._view()

    # ---- deadlines: the one place that waits on them and acts when one is missed ---------------

    async def _watch_deadlines(self) -> None:
        """Wait for the next change or the next alarm (a reminder, a deadline, a ladder step,
        the end of the longest allowed suspension), whichever comes first; then act on it."""
        version = self._version
        alarm = self._next_alarm()
        if alarm is None:
            await workflow.wait_condition(lambda: self._version != version)
            return
        at, what, deadline = alarm
        timeout = at - workflow.now()
        if timeout > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._version != version,
                    timeout=timeout,
                    timeout_summary=self._alarm_summary(what, deadline),
                )
                return
            except TimeoutError:
                pass
        async with self._lock:
            if self._version == version:  # no action slipped in while we waited for the lock
                await self._alarm_rang(what, deadline)
        if what in ("due", "escalate"):
            await self._open_linkage_if_big(SYSTEM)  # escalated to the subdistrict

    def _next_alarm(self) -> tuple[datetime, str, Deadline | None] | None:
        if self._status is CaseStatus.closed:
            return None
        if self._suspended_at is not None:
            assert self._routed is not None
            limit = limit_as_timedelta(
                self._routed.max_suspended, SUBDISTRICT_TZ, self._suspended_at
            )
            return (self._suspended_at + limit, "auto_resume", None)
        alarms: list[tuple[datetime, str, Deadline | None]] = []
        for d in self._deadlines.values():
            if d.met_at is not None:
                continue
            climbs = self._ladder_on and d.kind is not DeadlineKind.rating
            if not d.missed:
                if climbs and d.warn_at is not None and not d.warned:
                    alarms.append((d.warn_at, "warn", d))
                alarms.append((d.due_at, "due", d))
            elif climbs and self._routed and self._level < len(self._routed.ladder):
                every = limit_as_timedelta(self._routed.escalate_every, SUBDISTRICT_TZ, d.due_at)
                alarms.append((next_step_at(d.due_at, d.escalations, every), "escalate", d))
        return min(alarms, key=lambda alarm: alarm[0]) if alarms else None

    def _alarm_summary(self, what: str, deadline: Deadline | None) -> str:
        if deadline is None:
            return "suspension limit"
        if what == "warn":
            return f"{deadline.kind.value} reminder {self._unit or ''}".strip()
        if what == "escalate":
            return f"escalate to level {self._level + 1}"
        return f"{deadline.kind.value} deadline {self._unit or ''}".strip()

    async def _alarm_rang(self, what: str, deadline: Deadline | None) -> None:
        if deadline is None:
            self._resume(EventType.auto_resumed, SYSTEM, "suspended longer than the policy allows")
        elif what == "warn":
            deadline.warned = True
            self._record(
                EventType.deadline_warning,
                SYSTEM,
                deadline=deadline.kind.value,
                due_at=deadline.due_at.isoformat(),
                unit=self._unit,
            )
            self._notify(
                self._unit, "reminder", f"{deadline.kind.value} 时限 {deadline.due_at.isoformat()}"
            )
        elif what == "escalate":
            self._climb(
                EventType.escalated, SYSTEM, f"{deadline.kind.value} still not met", deadline
            )
        else:
            await self._deadline_passed(deadline)
            return
        await self._commit()

    async def _deadline_passed(self, deadline: Deadline) -> None:
        if deadline.kind is DeadlineKind.rating:
            if await self._unrated_too_often():
                # Residents of this unit keep not answering: a supervisor looks before it closes.
                deadline.missed = True
                self._review = "pending"
                self._record(
                    EventType.review_opened, SYSTEM, unit=self._unit, reason="unrated too often"
                )
                self._notify(self._supervisor(), "review", "多次未评价, 请督办审查")
            else:
                self._close(Outcome.unrated)
        else:
            deadline.missed = True
            self._overdue = True
            self._record(
                EventType.deadline_missed,
                SYSTEM,
                deadline=deadline.kind.value,
                due_at=deadline.due_at.isoformat(),
                unit=self._unit,
            )
            if self._ladder_on and self._routed and self._level < len(self._routed.ladder):
                self._climb(EventType.escalated, SYSTEM, f"{deadline.kind.value} missed", deadline)
        await self._commit()

    def _climb(self, type: str, actor: str, reason: str, deadline: Deadline | None = None) -> None:
        """One step up the three-level linkage: record it, tell that level, and let it take the
        case over when the ladder says so."""
        assert self._routed is not None
        step = self._routed.ladder[self._level]
        self._level += 1
        if deadline is not None:
            deadline.escalations += 1
        self._record(
            type,
            actor,
            level=step.level,
            to=step.unit,
            name=step.name,
            reason=reason,
            deadline=deadline.kind.value if deadline else None,
        )
        self._notify(step.unit, "escalation", f"升级至{step.name}: {reason}")
        if step.takes_over and step.unit != self._unit:
            self._dispatch(step.unit, None, SYSTEM, f"taken over at level {step.level}", "reassign")

    def _resume(self, type: str, actor: str, note: str | None) -> None:
        assert self._suspended_at is not None
        stopped = workflow.now() - self._suspended_at
        for d in self._deadlines.values():
            if d.met_at is None and not d.missed:
                d.due_at += stopped
                if d.warn_at is not None and not d.warned:
                    d.warn_at += stopped
        self._suspended_at = None
        self._record(type, actor, note=note, suspended_seconds=int(stopped.total_seconds()))

    def _pending(self) -> list[Deadline]:
        if self._status is CaseStatus.closed:
            return []
        waiting = [d for d in self._deadlines.values() if d.met_at is None and not d.missed]
        return sorted(waiting, key=lambda d: d.due_at)

    def _due(self, kind: DeadlineKind, start: datetime) -> datetime:
        assert self._routed is not None
        limit = {
            DeadlineKind.accept: self._routed.accept,
            DeadlineKind.contact: self._routed.contact,
            DeadlineKind.reply: self._routed.reply,
            DeadlineKind.rating: self._routed.rating_window,
            DeadlineKind.verify: self._routed.rating_window,
        }[kind]
        return due_at(start, limit, SUBDISTRICT_TZ)

    def _new_deadline(self, kind: DeadlineKind, start: datetime) -> Deadline:
        due = self._due(kind, start)
        deadline = Deadline(kind=kind, due_at=due)
        if self._ladder_on:
            assert self._routed is not None
            deadline.started_at = start
            deadline.warn_at = warn_point(start, due, self._routed.warn_share)
        return deadline

    def _meet(self, kind: DeadlineKind) -> None:
        deadline = self._deadlines.get(kind)
        if deadline is not None and deadline.met_at is None:
            deadline.met_at = workflow.now()

    # ---- closure -------------------------------------------------------------------------------

    def _close(self, outcome: Outcome) -> None:
        """办结: the record keeps the outcome, every timestamp and whether each deadline was met;
        every reporter (this case's and its merged duplicates') is told the result."""
        self._end_linkage()
        self._status = CaseStatus.closed
        self._outcome = outcome
        self._stamps["closed_at"] = workflow.now()
        self._record(
            EventType.closed,
            SYSTEM,
            outcome=outcome.value,
            grade=self._grade.value if self._grade else None,
            deadlines={
                d.kind.value: {
                    "due_at": d.due_at.isoformat(),
                    "met_at": d.met_at.isoformat() if d.met_at else None,
                    "on_time": d.met_at is not None and d.met_at <= d.due_at,
                    "original_due_at": d.original_due_at.isoformat() if d.original_due_at else None,
                }
                for d in self._deadlines.values()
            },
        )
        if outcome is not Outcome.duplicate:
            answer = self._result or outcome.value
            for case_id in [self._intake.case_id, *self._merged]:
                self._notify(self._reporter(case_id), "reply", f"办结: {answer}")

    # ---- applying and persisting changes -------------------------------------------------------

    def _allowed(self) -> list[Action]:
        return allowed_actions(
            self._status,
            "contacted_at" in self._stamps,
            suspended=self._suspended_at is not None,
            extension_requested=self._extension is not None,
            in_review=self._review == "pending",
            linkage_open=self._linkage is not None and self._linkage.status is LinkageStatus.open,
            grid_event=self._grid_event(),
        )

    def _check(self, action: Action, principal: Principal | None = None) -> None:
        """Allowed now, and (when the caller is known) allowed to this caller: the same
        permission table as the API, for whoever talks to Temporal directly."""
        if principal is not None and not permitted(principal, action.value, self._scope()):
            raise ApplicationError(
                f"a {principal.role.value} may not {action.value} this case",
                {"role": principal.role.value, "action": action.value},
                type=FORBIDDEN,
                non_retryable=True,
            )
        if action not in self._allowed():
            state = "suspended" if self._suspended_at is not None else self._status.value
            self._refuse(action, f"cannot {action.value} a case that is {state}")

    def _refuse(self, action: Action, message: str) -> None:
        raise ApplicationError(
            message,
            {
                "status": self._status.value,
                "allowed_actions": [a.value for a in self._allowed()],
            },
            type=NOT_ALLOWED_NOW,
            non_retryable=True,
        )

    def _notify(self, recipient: str | None, kind: str, message: str) -> None:
        """Queue a notification caused by the last recorded event (outbox, exactly once)."""
        if recipient:
            text = f"{self._intake.case_id} {self._intake.title}: {message}"
            self._notices.append(
                Notice(seq=self._seq, recipient=recipient, kind=kind, message=text)
            )

    def _scope(self) -> CaseScope:
        agencies = tuple(a.unit for a in self._linkage.agencies) if self._linkage else ()
        return CaseScope(
            case_id=self._intake.case_id,
            unit=self._unit,
            grid=self._routed.grid if self._routed else self._intake.location.grid,
            community=self._routed.community if self._routed else None,
            committee=self._community_unit(),
            agencies=agencies,
        )

    def _supervisor(self) -> str | None:
        """Who decides extensions: the governance centre (ladder level 2), else the top rung."""
        ladder = self._routed.ladder if self._routed else []
        return ladder[min(1, len(ladder) - 1)].unit if ladder else None

    @asynccontextmanager
    async def _change(self, action: Action) -> AsyncIterator[None]:
        """Apply one action under the lock and persist it; re-checked because a concurrent
        Update may have changed the state after this one was validated."""
        async with self._lock:
            self._check(action)
            yield
            await self._commit()

    def _record(self, type: str, actor: str, **data: Any) -> None:
        self._seq += 1
        self._unsaved.append(
            CaseEvent(seq=self._seq, type=str(type), at=workflow.now(), actor=actor, data=data)
        )

    async def _commit(self) -> None:
        """Persist the unsaved events with the new state (idempotent by case id + seq), then
        mirror the state into search attributes."""
        events, self._unsaved = self._unsaved, []
        notices, self._notices = self._notices, []
        record = CaseRecord(
            case=self._view(),
            reporter=None if self._reporter_saved else self._intake.reporter,
            events=events,
            notifications=notices,
        )
        await workflow.execute_activity_method(
            CaseActivities.record_case,
            record,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"record {', '.join(e.type for e in events)}",
        )
        self._reporter_saved = True
        self._persisted_seq = events[-1].seq
        self._version += 1
        workflow.upsert_search_attributes(self._search_attributes())
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        """What an operator reads on the workflow's page in the Temporal UI."""
        pending = self._pending()
        # In the subdistrict's time zone, as the UI shows every other time, not in UTC.
        due = (
            f"{pending[0].kind.value} due "
            f"{pending[0].due_at.astimezone(SUBDISTRICT_TZ):%Y-%m-%d %H:%M} (UTC+8)"
            if pending
            else "-"
        )
        lines = [
            f"**{self._status.value}** · unit {self._unit or '-'} · {due}",
            f"escalation level {self._level}" + (" · overdue" if self._overdue else ""),
        ]
        if self._linkage is not None:
            lines.append(f"linkage {self._linkage.status.value}")
        return "\n\n".join(lines)

    def _search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        pending = self._pending()
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.CASE_STATUS.value_set(self._status.value),
            sa.CASE_CATEGORY.value_set(self._intake.category),
            sa.CASE_CHANNEL.value_set(self._intake.channel.value),
            sa.CASE_OVERDUE.value_set(self._overdue),
            sa.CASE_ESCALATION_LEVEL.value_set(self._level),
            sa.CASE_DUE_AT.value_set(pending[0].due_at)
            if pending
            else sa.CASE_DUE_AT.value_unset(),
        ]
        optional = {
            sa.CASE_COMMUNITY: self._routed.community if self._routed else None,
            sa.CASE_GRID: self._routed.grid if self._routed else None,
            sa.CASE_UNIT: self._unit,
            sa.CASE_SEVERITY: self._routed.severity.value if self._routed else None,
            sa.CASE_LINKAGE: self._linkage.status.value if self._linkage else None,
        }
        for key, value in optional.items():
            updates.append(key.value_set(value) if value else key.value_unset())
        return updates

    def _view(self) -> CaseView:
        intake, routed = self._intake, self._routed
        return CaseView(
            id=intake.case_id,
            number=intake.number,
            status=self._status,
            channel=intake.channel,
            external_ref=intake.external_ref,
            category=intake.category,
            severity=routed.severity if routed else intake.severity,
            title=intake.title,
            description=intake.description,
            address=intake.location.address,
            community=routed.community if routed else intake.location.community,
            grid=routed.grid if routed else intake.location.grid,
            unit=self._unit,
            rule=self._rule,
            overdue=self._overdue,
            returns=self._returns,
            rehandled=self._rehandled,
            grade=self._grade,
            solved=self._solved,
            outcome=self._outcome,
            received_at=self._received_at,
            dispatched_at=self._stamps.get("dispatched_at"),
            accepted_at=self._stamps.get("accepted_at"),
            contacted_at=self._stamps.get("contacted_at"),
            replied_at=self._stamps.get("replied_at"),
            rated_at=self._stamps.get("rated_at"),
            closed_at=self._stamps.get("closed_at"),
            deadlines=[d.model_copy() for d in self._deadlines.values()],
            allowed_actions=self._allowed(),
            last_seq=self._seq,
            escalation_level=self._level,
            suspended=self._suspended_at is not None,
            extension=self._extension,
            review=self._review,
            linkage=self._linkage,
            lat=intake.location.lat,
            lon=intake.location.lon,
            photo_url=intake.photo_url,
            possible_duplicate_of=intake.possible_duplicate_of,
            merged_into=self._merged_into,
            merged=list(self._merged),
        )
