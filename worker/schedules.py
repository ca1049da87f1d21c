"""Recurring tasks as Temporal Schedules, registered whenever a worker starts: a new task is
created, a changed one updated (a pause an administrator set is kept), so starting any number
of workers any number of times leaves one schedule per task."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.calendar import SUBDISTRICT_TZ
from domain.recurring import RecurringTask, schedule_id
from workflows.recurring import RecurringTaskWorkflow


def task_schedule(task: RecurringTask, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RecurringTaskWorkflow.run,
            task,
            id=schedule_id(task.code),  # the server appends each run's time
            task_queue=task_queue,
            static_summary=f"民情月历 · {task.title}",
        ),
        spec=ScheduleSpec(cron_expressions=[task.cron], time_zone_name=SUBDISTRICT_TZ.key),
        # A run still opening its cases when the next is due: skip the next, not pile up.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def register_schedules(
    client: Client, tasks: Sequence[RecurringTask], task_queue: str
) -> None:
    for task in tasks:
        schedule = task_schedule(task, task_queue)
        try:
            await client.create_schedule(schedule_id(task.code), schedule)
        except ScheduleAlreadyRunningError:

            def keep_state(update: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                new.state = update.description.schedule.state
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id(task.code)).update(keep_state)
