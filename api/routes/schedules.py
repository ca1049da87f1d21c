"""/v1/schedules: the recurring governance tasks (民情月历), each a Temporal Schedule, with its
next run; pausing and resuming one is an administrator's action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import allowed
from api.deps import SettingsDep, TemporalDep
from api.errors import UnknownSchedule
from core.config import Settings
from domain.common import Text
from domain.governance import GovernanceConfig
from domain.permissions import Principal
from domain.recurring import RecurringTask, schedule_id

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


class ScheduleOut(BaseModel):
    code: str
    schedule_id: str
    title: str
    category: str
    communities: list[str]
    cron: str
    registered: bool  # a worker has started since the task was added to the configuration
    paused: bool = False
    note: str | None = None
    next_run: datetime | None = None
    last_run: datetime | None = None
    runs: int = 0


class PauseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = None


async def _describe(temporal: Client, task: RecurringTask) -> ScheduleOut:
    out = ScheduleOut(
        code=task.code,
        schedule_id=schedule_id(task.code),
        title=task.title,
        category=task.category,
        communities=task.communities,
        cron=task.cron,
        registered=False,
    )
    try:
        described = await temporal.get_schedule_handle(out.schedule_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return out
        raise
    info, state = described.info, described.schedule.state
    return out.model_copy(
        update={
            "registered": True,
            "paused": state.paused,
            "note": state.note,
            "next_run": None if state.paused else next(iter(info.next_action_times), None),
            "last_run": info.recent_actions[-1].scheduled_at if info.recent_actions else None,
            "runs": info.num_actions,
        }
    )


def _task(settings: Settings, code: str) -> RecurringTask:
    task = GovernanceConfig.load(settings.config_dir).task(code)
    if task is None:
        raise UnknownSchedule("no recurring task has that code", {"code": code})
    return task


@router.get(
    "",
    response_model=list[ScheduleOut],
    dependencies=[Depends(allowed("schedules"))],
)
async def list_schedules(temporal: TemporalDep, settings: SettingsDep) -> list[ScheduleOut]:
    tasks = GovernanceConfig.load(settings.config_dir).recurring_tasks
    return [await _describe(temporal, task) for task in tasks]


@router.post(
    "/{code}/{action}",
    response_model=ScheduleOut,
    responses={404: {"description": "No recurring task has that code"}},
)
async def pause_or_unpause(
    code: str,
    action: Literal["pause", "unpause"],
    body: PauseInput,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(allowed("pause_schedule"))],
) -> ScheduleOut:
    """Pause a recurring task (no run until it is unpaused) or let it run again; the note says
    who did it and why."""
    task = _task(settings, code)
    handle = temporal.get_schedule_handle(schedule_id(code))
    note = f"{action}d by {principal.actor}" + (f": {body.note}" if body.note else "")
    await (handle.pause(note=note) if action == "pause" else handle.unpause(note=note))
    return await _describe(temporal, task)
