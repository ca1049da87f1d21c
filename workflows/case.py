"""CaseWorkflow: one resident request or grid event, from receipt to closure.

A thin shell around the case's life in `domain.lifecycle`: each human action is an Update of the
same name (validated by the model before anything reaches history, then applied by it), one
timer waits for the alarm the model names, one local activity records what each step returned,
and continue-as-new carries the state object itself.

History is the server's work and the case's replay cost for as long as it lives: routing and
each step's record run as local activities inside the workflow task that takes the step (a
marker each, no activity task and no second workflow task), intake's `routed` Update arrives
with the start (Update-with-Start), the alarm's timer keeps running while the alarm it waits for
stays the same and is left pending, not cancelled, when the case ends, and search attributes
are upserted only when they change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.cases import CaseActivities
    from domain import alarms, lifecycle
    from domain.allowed import allowed_actions, check, parse
    from domain.calendar import SUBDISTRICT_TZ
    from domain.case import Action, CaseEvent, CaseIntake, CaseRecord, CaseView, MergedCase
    from domain.change import Alarm, Step
    from domain.common import Notice
    from domain.linkage import LinkageChange, linkage_id
    from domain.policy_change import PolicyFollowed, follow
    from domain.repeat import REPEATED, Repeat, mark
    from domain.split import CHILD_CLOSED, ChildClosed
    from domain.state import CaseState
    from domain.view import view
    from workflows import search_attributes as sa
    from workflows.fence import fence
    from workflows.linkage import LinkageWorkflow
    from workflows.refusal import INVALID_REFERENCE, decided


# Past this many history events a case continues as new, carrying its state (well below the
# server's 50k limit and the SDK's suggestion, which also triggers it).
HISTORY_LIMIT = 10_000

_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Persistence must eventually succeed (PostgreSQL may be down for a while); retry without limit.
# A data error (a value PostgreSQL refuses) is non-retryable in the activity itself.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseIntake | CaseState) -> None:
        """A case starts from its intake, or continues (as new) from its state."""
        self._events: list[CaseEvent] = []  # recorded by the model, not yet persisted
        self._notices: list[Notice] = []
        if isinstance(start, CaseIntake):
            first = lifecycle.start(start, workflow.now())
            self._state, self._persisted = first.state, 0
            self._events, self._notices = first.events, first.notices
        else:
            self._state, self._persisted = start, start.seq
        self._intake = self._state.intake
        self._linkage: workflow.ChildWorkflowHandle[Any, Any] | None = None
        # Bumped by every recorded change, so the alarm watcher re-plans after any action.
        self._version = 0
        # One change at a time: actions, signals and alarms are applied and recorded in order.
        self._lock = asyncio.Lock()
        self._begun = False  # routed (or carried over): signals may change the case from now
        # The running alarm timer and the alarm it waits for (kept while the alarm stays).
        self._timer: tuple[Alarm, asyncio.Task[None]] | None = None
        # What the search attributes hold now, by name, so only a change is upserted.
        self._indexed: dict[str, Any] = {}
        for action in Action:
            self._register(action)

    # ---- the life of a case ------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CaseIntake | CaseState) -> CaseView:
        if isinstance(start, CaseIntake):
            async with self._lock:  # 受理 and 派单
                routed = await workflow.execute_local_activity_method(
                    CaseActivities.route_case,
                    start,
                    start_to_close_timeout=_ACTIVITY_TIMEOUT,
                    retry_policy=_RETRY,
                    summary=f"route {start.category}",
                )
                await self._take(lifecycle.route(self._state, routed, workflow.now()))
            self._begun = True
        else:
            self._begun = True
            self._index()
            await self._wait_for_reopen()
        while True:
            # A closed case whose appeal waits for its ruling stays until the ruling
            # (domain/appeal).
            while self._state.outcome is None or self._state.appeal_pending:
                await self._wait_for_alarm()
                if self._history_full():
                    await self._continue_as_new()
            # A closed case's linkage was asked to cancel: the case ends after it has, so the
            # child's end reaches an open parent (the record and the Temporal UI both see it).
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() and not self._linked()
            )
            if self._state.outcome is not None and not self._state.appeal_pending:
                # no reopen (nor appeal) slipped in before the end
                return self._view()

    async def _wait_for_reopen(self) -> None:
        """A closed case's next run, started to reopen it (see the README): it waits for the
        `reopen` Update that follows the start, at most until the reopen window closes."""
        until = self._state.reopen_until()
        if self._state.outcome is None or until is None or until <= workflow.now():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                lambda: self._state.outcome is None,
                timeout=until - workflow.now(),
                timeout_summary="reopen window",
            )

    @workflow.update
    async def routed(self) -> CaseView:
        """The case as soon as it is routed and recorded: what intake answers the caller."""
        await workflow.wait_condition(
            lambda: self._state.routed is not None and self._persisted == self._state.seq
        )
        return self._view()

    @workflow.query
    def state(self) -> CaseView:
        return self._view()

    # ---- human actions: one Update per Action, named as the domain names it -------------------

    def _register(self, action: Action) -> None:
        async def apply(payload: dict[str, Any]) -> CaseView:
            input = parse(action, payload)
            async with self._lock:  # checked again: another Update may have moved the state
                await self._take(
                    decided(lambda: lifecycle.act(self._state, action, input, workflow.now()))
                )
            return self._view()

        def validate(payload: dict[str, Any]) -> None:
            decided(lambda: check(self._state, action, parse(action, payload), workflow.now()))

        workflow.set_update_handler(action.value, apply, validator=validate)

    # ---- signals: a merged duplicate, the linkage's steps ---------------------------------------

    @workflow.signal
    async def merged_case(self, merged: MergedCase) -> None:
        async with self._turn():
            await self._take(lifecycle.merged_in(self._state, merged, workflow.now()))

    @workflow.signal
    async def linkage_changed(self, change: LinkageChange) -> None:
        async with self._turn():
            await self._take(lifecycle.linkage_changed(self._state, change, workflow.now()))

    @workflow.signal
    async def policy_changed(self, changed: PolicyFollowed) -> None:
        """An administrator changed the policy and open cases follow (domain.policy_change)."""
        async with self._turn():
            await self._take(follow(self._state, changed.policy, workflow.now(), changed.actor))

    @workflow.signal(name=CHILD_CLOSED)
    async def child_closed(self, closed: ChildClosed) -> None:
        """A case this one was split into closed (domain.split)."""
        async with self._turn():
            await self._take(lifecycle.child_closed(self._state, closed, workflow.now()))

    @workflow.signal(name=REPEATED)
    async def repeated(self, repeat: Repeat) -> None:
        """The same resident or address asked again (domain.repeat)."""
        async with self._turn():
            await self._take(mark(self._state, repeat, workflow.now()))

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """A signal's change, after routing. A retried first workflow task may hold a signal
        that arrived after the failed attempt; the SDK applies signals before it starts the run,
        so without this the signal would take the lock ahead of routing and shift every sequence
        number the first attempt's local activities already recorded (a step recorded twice)."""
        await workflow.wait_condition(lambda: self._begun)
        async with self._lock:
            yield

    # ---- time: one timer for the next alarm the model names ------------------------------------

    async def _wait_for_alarm(self) -> None:
        version = self._version
        alarm = alarms.next_alarm(self._state)
        timer = self._plan(alarm)
        if alarm is None:
            await workflow.wait_condition(lambda: self._version != version)
            return
        if timer is not None:
            await workflow.wait_condition(lambda: self._version != version or timer.done())
            if not timer.done():
                return  # the state moved: plan again (the timer stays if the alarm did)
            self._timer = None
        async with self._lock:
            if self._version == version:  # no action slipped in while we waited for the lock
                unrated = await self._unrated_recently(alarm)
                await self._take(alarms.ring(self._state, alarm, workflow.now(), unrated))

    def _plan(self, alarm: Alarm | None) -> asyncio.Task[None] | None:
        """The timer for `alarm`: the running one while the alarm is the same, else a new one
        (cancelling the old); None when there is no alarm or it is already due."""
        if self._timer is not None and self._timer[0] != alarm:
            self._timer[1].cancel()
            self._timer = None
        if alarm is None or alarm.at <= workflow.now():
            return None
        if self._timer is None:
            sleep = workflow.sleep(alarm.at - workflow.now(), summary=alarm.summary)
            self._timer = (alarm, asyncio.create_task(sleep))
        return self._timer[1]

    async def _unrated_recently(self, alarm: Alarm) -> int:
        if not alarms.counts_unrated(self._state, alarm) or self._state.unit is None:
            return 0
        return await workflow.execute_activity_method(
            CaseActivities.count_unrated,
            args=[self._state.unit, workflow.now() - alarms.UNRATED_WINDOW],
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"unrated cases of {self._state.unit}",
        )

    # ---- applying a step: record it, then do what it asks ----------------------------------------

    async def _take(self, step: Step) -> None:
        """Keep the step's state, persist its events and notifications in one idempotent local
        activity (a retry after a lost workflow task writes nothing twice), mirror the state for
        operators, then start or stop what it names."""
        before, self._state = self._state, step.state
        self._events += step.events
        self._notices += step.notices
        if not self._events:
            return
        if step.cancel_linkage and self._linkage is not None and self._linked():
            self._linkage.cancel()
        events, self._events = self._events, []
        notices, self._notices = self._notices, []
        try:
            children = await self._file_children(step)
            await workflow.execute_local_activity_method(
                CaseActivities.record_case,
                CaseRecord(case=self._view(), events=events, notifications=notices, fence=fence()),
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_RETRY,
                summary=f"record {', '.join(e.type for e in events)}",
            )
        except ActivityError as failed:
            # PostgreSQL refused it (a data error), or a split named what the reference data
            # does not know: the action fails and the case stays as the record has it, so the
            # next action still works.
            self._state = before
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.type == INVALID_REFERENCE:
                raise cause from None  # the caller's mistake (422), not the system's
            raise
        self._persisted = events[-1].seq
        self._version += 1
        self._index()
        workflow.set_current_details(self._details())
        if step.start_linkage is not None:
            self._linkage = await workflow.start_child_workflow(
                LinkageWorkflow.run,
                step.start_linkage,
                id=linkage_id(self._intake.case_id),
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                static_summary=f"linkage for {self._intake.case_id}: {step.start_linkage.reason}",
            )
        for child in children:  # each a case of its own: it outlives this run and tells us
            await workflow.start_child_workflow(
                CaseWorkflow.run,
                child,
                id=child.case_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=f"{child.case_id} · {child.category} · split from {child.parent}",
            )
        if step.tell_parent is not None:
            await self._tell(self._intake.parent, CHILD_CLOSED, step.tell_parent)
        if step.merge_into is not None:
            merged = MergedCase(
                case_id=self._intake.case_id, title=self._intake.title, actor=step.events[0].actor
            )
            await self._tell(step.merge_into, "merged_case", merged)

    async def _file_children(self, step: Step) -> list[CaseIntake]:
        """A split's children filed in PostgreSQL (before the split is recorded, so a reference
        the data does not know refuses the split and nothing is half-written)."""
        if step.open_children is None:
            return []
        return await workflow.execute_activity_method(
            CaseActivities.open_children,
            step.open_children,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"file {len(step.open_children.children)} child cases",
        )

    async def _tell(self, case_id: str | None, signal: str, message: BaseModel) -> None:
        """Signal another case; one that closed meanwhile is no error (this case's record says)."""
        if case_id is None:
            return
        try:
            await workflow.get_external_workflow_handle(case_id).signal(signal, message)
        except Exception as lost:
            workflow.logger.warning("%s to %s not delivered: %s", signal, case_id, lost)

    # ---- a bounded history: continue as new, carrying the state ----------------------------------

    def _history_full(self) -> bool:
        info = workflow.info()
        limit = self._intake.history_limit or HISTORY_LIMIT
        linked = self._linked()
        return (
            self._state.outcome is None
            and not linked  # a running child stays with this run; wait for it to finish
            and (info.is_continue_as_new_suggested() or info.get_current_history_length() > limit)
        )

    def _linked(self) -> bool:
        """The case's linkage runs (or is still cancelling)."""
        return self._linkage is not None and not self._linkage.done()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._lock.locked()
        )
        if self._history_full():
            workflow.continue_as_new(self._state)

    # ---- what operators and callers see ----------------------------------------------------------

    def _view(self) -> CaseView:
        return view(self._state, allowed_actions(self._state))

    def _details(self) -> str:
        """What an operator reads on the workflow's page in the Temporal UI (local time)."""
        state = self._state
        pending = state.pending()
        due = (
            f"{pending[0].kind.value} due "
            f"{pending[0].due_at.astimezone(SUBDISTRICT_TZ):%Y-%m-%d %H:%M} (UTC+8)"
            if pending
            else "-"
        )
        lines = [
            f"**{state.status.value}** · unit {state.unit or '-'} · {due}",
            f"escalation level {state.escalation_level}" + (" · overdue" if state.overdue else ""),
        ]
        if state.linkage is not None:
            lines.append(f"linkage {state.linkage.status.value}")
        return "\n\n".join(lines)

    def _index(self) -> None:
        """Upsert the search attributes that changed since the last upsert (if any did)."""
        changed = [
            update
            for update in self._search_attributes()
            if update.key.name not in self._indexed
            or self._indexed[update.key.name] != update.value
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._indexed.update((update.key.name, update.value) for update in changed)

    def _search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        state, routed = self._state, self._state.routed
        pending = state.pending()
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.CASE_STATUS.value_set(state.status.value),
            sa.CASE_CATEGORY.value_set(self._intake.category),
            sa.CASE_CHANNEL.value_set(self._intake.channel.value),
            sa.CASE_OVERDUE.value_set(state.overdue),
            sa.CASE_ESCALATION_LEVEL.value_set(state.escalation_level),
            sa.CASE_HANDOFFS.value_set(state.handoffs),
            sa.CASE_DUE_AT.value_set(pending[0].due_at)
            if pending
            else sa.CASE_DUE_AT.value_unset(),
        ]
        optional = {
            sa.CASE_COMMUNITY: routed.community if routed else None,
            sa.CASE_GRID: routed.grid if routed else None,
            sa.CASE_UNIT: state.unit,
            sa.CASE_SEVERITY: routed.severity.value if routed else None,
            sa.CASE_LINKAGE: state.linkage.status.value if state.linkage else None,
        }
        for key, value in optional.items():
            updates.append(key.value_set(value) if value else key.value_unset())
        return updates
