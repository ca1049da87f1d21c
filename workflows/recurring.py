"""RecurringTaskWorkflow: one run of a recurring governance task (民情月历), started by its
Temporal Schedule: a proactive case in each of the task's grids, all of the same day."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.governance import GovernanceActivities
    from domain.calendar import SUBDISTRICT_TZ
    from domain.recurring import RecurringTask

_ACTIVITY_TIMEOUT = timedelta(seconds=60)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class RecurringTaskWorkflow:
    @workflow.run
    async def run(self, task: RecurringTask) -> list[str]:
        # The run's local day names its cases: a repeated run the same day files nothing twice.
        day = workflow.now().astimezone(SUBDISTRICT_TZ).date()
        grids = await workflow.execute_activity_method(
            GovernanceActivities.task_grids,
            task,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"grids of {task.code}",
        )
        opened = []
        for grid in grids:
            opened.append(
                await workflow.execute_activity_method(
                    GovernanceActivities.open_task_case,
                    args=[task, day, grid],
                    start_to_close_timeout=_ACTIVITY_TIMEOUT,
                    retry_policy=_RETRY,
                    summary=f"open {task.code} case in {grid}",
                )
            )
        return opened
