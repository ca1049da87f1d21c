"""The references: a bare Temporal workflow of the case's shape (the same number of activities and
Updates, no routing, no database), and the floor (the same start and Updates with no activity at
all, which is what the server's interaction alone costs), so the benchmark can say what gridcase
adds to Temporal."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

# route + record(received, dispatched) + one record per accept, contact, reply, rate
ACTIVITIES_AT_START = 2
STEPS = ("accept", "contact", "reply", "rate")


@activity.defn
async def bare_step(step: str) -> str:
    return step


@workflow.defn
class BareCaseWorkflow:
    @workflow.init
    def __init__(self, with_activities: bool = True) -> None:
        self._with_activities = with_activities  # False: the floor
        self._done: list[str] = []
        self._started = False

    @workflow.run
    async def run(self, with_activities: bool = True) -> list[str]:
        for _ in range(ACTIVITIES_AT_START):
            await self._activity("start")
        self._started = True
        await workflow.wait_condition(lambda: len(self._done) == len(STEPS))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._done

    @workflow.update
    async def routed(self) -> bool:
        await workflow.wait_condition(lambda: self._started)
        return True

    @workflow.update
    async def step(self, name: str) -> int:
        await self._activity(name)
        self._done.append(name)
        return len(self._done)

    async def _activity(self, name: str) -> None:
        if self._with_activities:
            await workflow.execute_activity(
                bare_step, name, start_to_close_timeout=timedelta(seconds=30)
            )
