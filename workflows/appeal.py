"""AppealWorkflow: a unit's appeal on a closed case (申诉), id `<case id>-appeal-<n>`.

Built the way CaseWorkflow is: the closed case's state as its record tells it comes in, `appeal`
and `rule_on_appeal` are Updates checked and applied by the case's model (domain.lifecycle), one
timer waits for the ruling's alarm the model names (a reminder, the deadline, then the ladder),
and the record activity writes each step into the case's event log. It ends with the ruling.
(An appeal on an open case is an Update of the case's own workflow instead.)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.cases import CaseActivities
    from domain import alarms, lifecycle
    from domain.allowed import allowed_actions, check, parse
    from domain.case import Action, CaseRecord, CaseView
    from domain.change import Step
    from domain.state import CaseState
    from domain.view import view
    from workflows.fence import fence
    from workflows.refusal import decided

_ACTIVITY_TIMEOUT = timedelta(seconds=30)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# The API starts the workflow and sends the appeal at once; a start whose appeal never came (the
# caller went away in between) ends after this.
_APPEAL_ARRIVES_WITHIN = timedelta(minutes=10)
APPEAL_ACTIONS = (Action.appeal, Action.rule_on_appeal)


@workflow.defn
class AppealWorkflow:
    @workflow.init
    def __init__(self, state: CaseState) -> None:
        self._state = state
        self._filed = state.appeals  # appeals before this one
        self._version = 0  # bumped by every recorded step, so the alarm is planned again
        self._lock = asyncio.Lock()
        for action in APPEAL_ACTIONS:
            self._register(action)

    @workflow.run
    async def run(self, state: CaseState) -> CaseView:
        try:
            await workflow.wait_condition(
                lambda: self._state.appeals > self._filed,
                timeout=_APPEAL_ARRIVES_WITHIN,
                timeout_summary="appeal arrives",
            )
        except TimeoutError:
            return self._view()
        while self._pending():
            await self._wait_for_alarm()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    @workflow.query
    def state(self) -> CaseView:
        return self._view()

    def _pending(self) -> bool:
        return self._state.appeal is not None and self._state.appeal.pending

    def _register(self, action: Action) -> None:
        async def apply(payload: dict[str, Any]) -> CaseView:
            input = parse(action, payload)
            async with self._lock:
                await self._take(
                    decided(lambda: lifecycle.act(self._state, action, input, workflow.now()))
                )
            return self._view()

        def validate(payload: dict[str, Any]) -> None:
            decided(lambda: check(self._state, action, parse(action, payload), workflow.now()))

        workflow.set_update_handler(action.value, apply, validator=validate)

    async def _wait_for_alarm(self) -> None:
        """The ruling's next alarm, or the ruling itself, whichever comes first."""
        version = self._version
        alarm = alarms.next_alarm(self._state)
        if alarm is None:
            await workflow.wait_condition(lambda: self._version != version)
            return
        delay = alarm.at - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._version != version, timeout=delay, timeout_summary=alarm.summary
                )
                return
            except TimeoutError:
                pass
        async with self._lock:
            if self._version == version:
                await self._take(alarms.ring(self._state, alarm, workflow.now()))

    async def _take(self, step: Step) -> None:
        """Keep the step's state and write its events and notices into the case's record."""
        if not step.events:
            return
        await workflow.execute_activity_method(
            CaseActivities.record_case,
            CaseRecord(
                case=view(step.state, allowed_actions(step.state)),
                events=step.events,
                notifications=step.notices,
                fence=fence(),
            ),
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"record {', '.join(e.type for e in step.events)}",
        )
        self._state = step.state
        self._version += 1

    def _view(self) -> CaseView:
        return view(self._state, allowed_actions(self._state))
