"""LinkageWorkflow: one multi-agency linkage, a child of its case's workflow, and a thin shell
around its model (`domain.linkage`): one Update per action, validated and applied by the model;
one timer for the next alarm the model names; every change told to the case, which records it
(the case is the one writer of its record, so the linkage signals instead of writing)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import linkage as model
    from domain.linkage import (
        LinkageAction,
        LinkageChange,
        LinkageInput,
        LinkageStatus,
        LinkageStep,
        LinkageView,
        linkage_id,
    )
    from workflows.refusal import decided

__all__ = ["LinkageWorkflow", "linkage_id"]

# The case workflow's signal (named, not imported: the case imports this module).
LINKAGE_CHANGED = "linkage_changed"


@workflow.defn
class LinkageWorkflow:
    @workflow.init
    def __init__(self, input: LinkageInput) -> None:
        self._state = model.start(input)
        self._outbox: list[LinkageChange] = []  # told by the model, not yet sent to the case
        # Bumped by every change, so the alarm wait re-plans after any action.
        self._version = 0
        for action in LinkageAction:
            self._register(action)

    @workflow.run
    async def run(self, input: LinkageInput) -> LinkageView:
        try:
            while True:
                await self._tell_case()
                # Checked after sending: a part may have finished while a signal was on its way.
                if self._state.complete:
                    break
                await self._wait_for_alarm()
        except BaseException:
            self._state.status = LinkageStatus.cancelled  # the case closed first
            raise
        self._take(model.finish(self._state, workflow.now()))
        await self._tell_case()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state.view()

    @workflow.query
    def state(self) -> LinkageView:
        return self._state.view()

    # ---- the parts' actions: one Update per LinkageAction ----------------------------------------

    def _register(self, action: LinkageAction) -> None:
        async def apply(payload: dict[str, Any]) -> LinkageView:
            input = model.parse_input(action, payload)
            self._take(decided(lambda: model.act(self._state, action, input, workflow.now())))
            return self._state.view()

        def validate(payload: dict[str, Any]) -> None:
            input = model.parse_input(action, payload)
            decided(lambda: model.check(self._state, action, input))

        workflow.set_update_handler(action.value, apply, validator=validate)

    # ---- time: one timer for the next alarm ------------------------------------------------------

    async def _wait_for_alarm(self) -> None:
        version = self._version
        alarm = model.next_alarm(self._state)
        if alarm is None:
            await workflow.wait_condition(lambda: self._version != version)
            return
        timeout = alarm.at - workflow.now()
        if timeout.total_seconds() > 0:
            try:
                await workflow.wait_condition(
                    lambda: self._version != version,
                    timeout=timeout,
                    timeout_summary=alarm.summary,
                )
                return  # a change came first: plan again
            except TimeoutError:
                pass
        self._take(model.ring(self._state, alarm, workflow.now()))

    # ---- telling the case ------------------------------------------------------------------------

    def _take(self, step: LinkageStep) -> None:
        """Keep the step's state and queue its changes; the loop sends them in order."""
        self._state = step.state
        self._outbox += step.changes
        self._version += 1

    async def _tell_case(self) -> None:
        parent = workflow.info().parent
        while self._outbox:
            change = self._outbox.pop(0)
            if parent is not None:
                await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                    LINKAGE_CHANGED, change
                )
