"""HotspotWorkflow: one per (micro-grid, category), long-lived, fed by signal-with-start from the
case record activity each time a request of that category is received in that grid.

When the rule's count of requests falls inside its window, it opens one proactive governance
case for the grid through the intake service and links the requests to it; while that case is
open, new requests are linked to it and no second case is opened; its closure (signalled by the
same record activity) starts the count afresh. It holds no timer, so an idle hot spot costs
nothing, and it continues as new to keep its history bounded.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.governance import GovernanceActivities
    from domain.hotspot import (
        CLOSED_SIGNAL,
        HOTSPOT_WORKFLOW,
        SEEN_SIGNAL,
        Hotspot,
        HotspotInput,
        HotspotRecord,
        Sighting,
    )

_ACTIVITY_TIMEOUT = timedelta(seconds=60)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Each request is a signal and a few events: continue as new long before the server would ask.
HISTORY_LIMIT = 2_000


@workflow.defn(name=HOTSPOT_WORKFLOW)
class HotspotWorkflow:
    @workflow.init
    def __init__(self, input: HotspotInput) -> None:
        self._input = input
        self._hotspot = input.carried or Hotspot(
            grid=input.grid, category=input.category, community=input.community
        )
        self._seen: list[Sighting] = []
        self._closed: list[str] = []

    @workflow.run
    async def run(self, input: HotspotInput) -> None:
        hotspot = self._hotspot
        if hotspot.rule is None:
            hotspot.rule = await workflow.execute_activity_method(
                GovernanceActivities.hotspot_rule,
                input.category,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_RETRY,
                summary=f"hot spot rule for {input.category}",
            )
        while True:
            await workflow.wait_condition(lambda: bool(self._seen or self._closed))
            while self._closed:
                case_id = self._closed.pop(0)
                if case_id == hotspot.governance_case:
                    await self._record("closed")
                    hotspot.closed(case_id)
            while self._seen:
                linked = len(hotspot.cases)
                raised = hotspot.see(self._seen.pop(0))
                if raised is None:
                    if hotspot.governance_case is not None and len(hotspot.cases) > linked:
                        await self._record("open")  # one more request behind the open case
                    continue
                case_id = await workflow.execute_activity_method(
                    GovernanceActivities.open_governance_case,
                    raised,
                    start_to_close_timeout=_ACTIVITY_TIMEOUT,
                    retry_policy=_RETRY,
                    summary=f"open governance case for {raised.grid}",
                )
                hotspot.opened(case_id)
                await self._record("open")
            if self._history_full():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not (self._seen or self._closed):
                    # The rule is read again by the next run: a reload reaches live hot spots.
                    carried = hotspot.model_copy(update={"rule": None})
                    workflow.continue_as_new(self._input.model_copy(update={"carried": carried}))

    @workflow.signal(name=SEEN_SIGNAL)
    def seen(self, sighting: Sighting) -> None:
        """A request of this category was received in this grid."""
        self._seen.append(sighting)

    @workflow.signal(name=CLOSED_SIGNAL)
    def governance_closed(self, case_id: str) -> None:
        self._closed.append(case_id)

    @workflow.query
    def state(self) -> Hotspot:
        return self._hotspot

    async def _record(self, status: str) -> None:
        """Write the open hot spot as it stands (its raised_at is kept from the first write)."""
        hotspot = self._hotspot
        assert hotspot.key is not None
        await workflow.execute_activity_method(
            GovernanceActivities.record_hotspot,
            HotspotRecord(
                key=hotspot.key,
                grid=hotspot.grid,
                community=hotspot.community,
                category=hotspot.category,
                status=status,
                governance_case=hotspot.governance_case,
                cases=list(hotspot.cases),
                raised_at=workflow.now(),
                closed_at=workflow.now() if status == "closed" else None,
            ),
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"record hot spot {status}",
        )

    def _history_full(self) -> bool:
        info = workflow.info()
        limit = self._input.history_limit or HISTORY_LIMIT
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit
