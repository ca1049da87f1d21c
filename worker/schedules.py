"""Recurring tasks as Temporal Schedules, synced whenever a worker starts: a new task is
created, a changed one updated (a pause an administrator set is kept) and one the configuration
no longer has is deleted, so starting any number of workers any number of times leaves one
schedule per configured task."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleListActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.calendar import SUBDISTRICT_TZ
from domain.recurring import SCHEDULE_PREFIX, RecurringTask, schedule_id
from workflows.recurring import RecurringTaskWorkflow

log = logging.getLogger(__name__)


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
    await _delete_removed(client, {schedule_id(t.code) for t in tasks}, task_queue)


async def _delete_removed(client: Client, configured: set[str], task_queue: str) -> None:
    """Delete the schedules of recurring tasks dropped from the configuration: those this task
    queue's workers registered (another deployment's on the same server are left alone). The
    listing is eventually consistent: one created a moment ago may be missing, never a stale
    one kept forever, since every worker start looks again."""
    async for listed in await client.list_schedules():
        action = listed.schedule.action if listed.schedule else None
        if (
            not listed.id.startswith(SCHEDULE_PREFIX)
            or listed.id in configured
            or not isinstance(action, ScheduleListActionStartWorkflow)
            or action.workflow != RecurringTaskWorkflow.__name__
        ):
            continue
        handle = client.get_schedule_handle(listed.id)
        started = (await handle.describe()).schedule.action
        if isinstance(started, ScheduleActionStartWorkflow) and started.task_queue == task_queue:
            await handle.delete()
            log.info("deleted schedule %s: its task is no longer configured", listed.id)
