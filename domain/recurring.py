"""Recurring governance tasks (民情月历): work the subdistrict does on a calendar, not on a
complaint, e.g. clearing the drains before the flood season or checking the heating of elderly
residents living alone each November. Each runs as a Temporal Schedule that opens one proactive
case per grid."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class RecurringTask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    title: str
    description: str
    category: str
    communities: list[str] = []  # one case per grid of these; none: every grid
    cron: str  # minute hour day month weekday, Asia/Shanghai


SCHEDULE_PREFIX = "task-"


def schedule_id(code: str) -> str:
    return f"{SCHEDULE_PREFIX}{code}"


def task_case_ref(code: str, day: date, grid: str) -> str:
    """The external reference of one run's case in one grid: a retried or repeated run of the
    same day finds the case it filed instead of filing a second."""
    return f"task:{code}:{day.isoformat()}:{grid}"
