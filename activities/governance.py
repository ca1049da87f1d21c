"""Activities of governance before the complaint: the hot spot's rule and record, the grids of a
recurring task, and opening a proactive case. Each is idempotent.

A proactive case is filed through the API's intake service, the one way a case comes in
(reference checks, intake key, workflow start), so this module is the one activity module that
imports from api/."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from api.intake import file_case
from api.schemas import CaseCreate
from core.config import Settings
from db import hotspots
from db.models import Grid
from domain.case import Channel
from domain.governance import GovernanceConfig
from domain.hotspot import HotspotRecord, HotspotRule, Raised
from domain.permissions import Principal, Role
from domain.policy_change import POLICY_CHANGED, PolicyFollowed, open_cases_query
from domain.recurring import RecurringTask, task_case_ref

# Who files proactive cases at the intake: the governance centre, which dispatches every case.
GOVERNANCE_CENTRE = Principal(subject="governance-centre", role=Role.dispatcher)


# How many open cases are signalled at once when a policy changes (a bounded rate on the server).
TELL_AT_ONCE = 20


def _delivered(task: asyncio.Future[None]) -> bool:
    """A case that closed since the query ran is not an error: it no longer needs telling."""
    error = task.exception()
    if isinstance(error, RPCError) and error.status is RPCStatusCode.NOT_FOUND:
        return False
    if error is not None:
        raise error
    return True


class GovernanceActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def _config(self) -> GovernanceConfig:
        return GovernanceConfig.load(Path(self._settings.config_dir))

    async def _file(self, ref: str, category: str, grid: str, title: str, text: str) -> str:
        """File a proactive case for `grid`; `ref` (its external reference) makes a retry find
        the case the first attempt filed."""
        body = CaseCreate.model_validate(
            {
                "channel": Channel.proactive.value,
                "external_ref": ref,
                "category": category,
                "title": title,
                "description": text,
                "location": {"address": f"{grid} 网格", "grid": grid},
                "reporter": self._config().reporter.model_dump(),
            }
        )
        settings = self._settings.model_copy(update={"task_queue": activity.info().task_queue})
        client = activity.client()
        filed = await file_case(self._sessions, client, settings, body, GOVERNANCE_CENTRE)
        return filed.case.id

    # ---- hot spots ---------------------------------------------------------------------------

    @activity.defn
    async def hotspot_rule(self, category: str) -> HotspotRule:
        return self._config().hotspots.rule_for(category)

    @activity.defn
    async def open_governance_case(self, raised: Raised) -> str:
        """主动治理: the case that takes on what the requests behind the hot spot keep asking."""
        return await self._file(
            raised.key,
            raised.category,
            raised.grid,
            f"主动治理: {raised.grid} 网格 {len(raised.cases)} 件同类诉求",
            f"{raised.rule.window_days} 天内 {raised.grid} 网格收到 {len(raised.cases)} 件 "
            f"{raised.category} 诉求: {', '.join(raised.cases)}。请牵头根治。",
        )

    @activity.defn
    async def record_hotspot(self, record: HotspotRecord) -> None:
        async with self._sessions.begin() as session:
            await hotspots.record(session, record)

    # ---- recurring tasks ---------------------------------------------------------------------

    @activity.defn
    async def task_grids(self, task: RecurringTask) -> list[str]:
        """The grids a task's run opens a case in (its communities', or every grid)."""
        query = select(Grid.code).order_by(Grid.code)
        if task.communities:
            query = query.where(Grid.community.in_(task.communities))
        async with self._sessions() as session:
            return list(await session.scalars(query))

    # ---- a policy change reaching open cases -------------------------------------------------

    @activity.defn
    async def tell_open_cases(self, followed: PolicyFollowed) -> int:
        """Signal every running case the policy may cover, at most TELL_AT_ONCE at a time
        (heartbeating the count, so a retry resumes the pace, not the work: telling a case twice
        changes nothing). Returns how many were told."""
        client, told, pending = activity.client(), 0, set()
        async for execution in client.list_workflows(open_cases_query(followed.policy)):
            handle = client.get_workflow_handle(execution.id)
            pending.add(asyncio.ensure_future(handle.signal(POLICY_CHANGED, followed)))
            if len(pending) >= TELL_AT_ONCE:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                told += sum(1 for task in done if _delivered(task))
                activity.heartbeat(told)
        if pending:
            done, _ = await asyncio.wait(pending)
            told += sum(1 for task in done if _delivered(task))
        return told

    @activity.defn
    async def open_task_case(self, task: RecurringTask, day: date, grid: str) -> str:
        return await self._file(
            task_case_ref(task.code, day, grid),
            task.category,
            grid,
            f"{task.title} ({grid})",
            f"民情月历 {day.isoformat()}: {task.description}",
        )
