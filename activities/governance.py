"""Activities of the hot spot workflow: its rule, opening a proactive governance case, and the
hot spot record. Each is idempotent.

A governance case is filed through the API's intake service, the one way a case comes in
(reference checks, intake key, workflow start), so this module is the one activity module that
imports from api/."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from api.routes.cases import file_case
from api.schemas import CaseCreate
from core.config import Settings
from db import hotspots
from domain.case import Channel
from domain.hotspot import HotspotRecord, HotspotRule, HotspotRules, Raised


class GovernanceActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    def _rules(self) -> HotspotRules:
        return HotspotRules.load(Path(self._settings.config_dir))

    @activity.defn
    async def hotspot_rule(self, category: str) -> HotspotRule:
        return self._rules().rule_for(category)

    @activity.defn
    async def open_governance_case(self, raised: Raised) -> str:
        """File the proactive case (主动治理) through the intake service; its external reference
        is the hot spot's key, so a retry finds the case the first attempt filed."""
        window = raised.rule.window_days
        body = CaseCreate.model_validate(
            {
                "channel": Channel.proactive.value,
                "external_ref": raised.key,
                "category": raised.category,
                "title": f"主动治理: {raised.grid} 网格 {len(raised.cases)} 件同类诉求",
                "description": (
                    f"{window} 天内 {raised.grid} 网格收到 {len(raised.cases)} 件 "
                    f"{raised.category} 诉求: {', '.join(raised.cases)}。请牵头根治。"
                ),
                "location": {"address": f"{raised.grid} 网格", "grid": raised.grid},
                "reporter": self._rules().reporter.model_dump(),
            }
        )
        settings = self._settings.model_copy(update={"task_queue": activity.info().task_queue})
        case, _ = await file_case(self._sessions, activity.client(), settings, body)
        return case.id

    @activity.defn
    async def record_hotspot(self, record: HotspotRecord) -> None:
        async with self._sessions.begin() as session:
            await hotspots.record(session, record)
