"""Activities of the case workflow: routing look-ups and persistence. Each is one transaction and
idempotent, so a retry or a worker crash never duplicates a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import cases, reference
from db.models import Category, Grid
from domain.case import CaseIntake, CaseRecord, Routed, Severity
from domain.routing import NoRoutingRule, route
from domain.sla import select_policy


class CaseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def route_case(self, intake: CaseIntake) -> Routed:
        """Place the case (grid -> community), pick the responsible unit and the SLA policy."""
        async with self._sessions() as session:
            category = await session.get(Category, intake.category)
            if category is None:
                raise ApplicationError(f"unknown category {intake.category}", non_retryable=True)
            grid_code = intake.location.grid
            community = intake.location.community
            if grid_code:
                grid = await session.get(Grid, grid_code)
                community = grid.community if grid else community
            severity = intake.severity or Severity(category.default_severity)
            policy = select_policy(
                await reference.policies_for(session, category.code, severity.value),
                category.code,
                severity.value,
            )
            place_units = await reference.place_units(session, grid_code, community)
            community_unit = place_units.get(community or "")
            ladder = await reference.ladder(session, community_unit)
            try:
                decision = route(
                    await reference.rules_for(session, category.code),
                    category.code,
                    grid_code,
                    community,
                    place_units,
                )
                unit, rule, reason = decision.unit, decision.rule, decision.reason
            except NoRoutingRule as no_rule:
                unit, rule, reason = None, None, str(no_rule)
        return Routed(
            unit=unit,
            rule=rule,
            reason=reason,
            community=community,
            grid=grid_code,
            severity=severity,
            accept=policy.accept,
            contact=policy.contact,
            reply=policy.reply,
            rating_window=policy.rating_window,
            warn_share=policy.warn_share,
            escalate_every=policy.escalate_every,
            max_extensions=policy.max_extensions,
            max_extension=policy.max_extension,
            max_suspensions=policy.max_suspensions,
            max_suspended=policy.max_suspended,
            ladder=ladder,
            grid_team=place_units.get(grid_code or ""),
            needs_linkage=category.linkage,
            linkage_agencies=[
                community_unit if agency == "@community" else agency
                for agency in category.linkage_agencies
                if agency != "@community" or community_unit
            ],
            returns_for_linkage=policy.returns_for_linkage,
            agency_report=policy.agency_report,
            agency_done=policy.agency_done,
        )

    @activity.defn
    async def count_unrated(self, unit: str, since: datetime) -> int:
        """How many of the unit's cases closed unrated since `since` (read-only)."""
        async with self._sessions() as session:
            return await cases.count_unrated(session, unit, since)

    @activity.defn
    async def record_case(self, record: CaseRecord) -> None:
        async with self._sessions.begin() as session:
            await cases.record(session, record)
