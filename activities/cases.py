"""Activities of the case workflow: routing look-ups and persistence. Each is one transaction and
idempotent, so a retry or a worker crash never duplicates a row."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hotspots import feed_hotspots
from activities.repeats import flag_repeats
from db import cases, reference
from db.models import Category, Community, Grid
from db.session import sqlstate_of
from domain.calendar import SUBDISTRICT_TZ
from domain.case import CaseIntake, CaseRecord, Channel, Routed, Severity
from domain.common import InvalidReference
from domain.governance import GovernanceConfig
from domain.places import GridLocator, community_in_address
from domain.routing import NoRoutingRule, route, with_committee
from domain.sla import select_policy
from domain.split import Children

# Logged when a record replaced what a lost workflow task had recorded, or gave way as a stale
# task's (db.cases.record; make faults counts both).
LOGGED = {
    "replaced": "what a lost workflow task recorded was replaced",
    "stale": "a stale workflow task's record gave way to what later tasks recorded",
}
# The grid polygons are read again after this long, so a re-imported map is picked up.
LOCATOR_TTL_SECONDS = 60.0


class CaseActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dispatch_centre: str = "SD-CENTER",
        governance: GovernanceConfig | None = None,
    ) -> None:
        self._sessions = sessions
        # Given: each request feeds its grid's hot spot and is checked for repeats.
        self._governance = governance
        self._dispatch_centre = dispatch_centre  # who places a case found outside every grid
        self._locator: GridLocator | None = None
        self._locator_at = 0.0

    async def _grid_at(self, session: AsyncSession, lat: float, lon: float) -> str | None:
        if self._locator is None or time.monotonic() - self._locator_at > LOCATOR_TTL_SECONDS:
            self._locator = GridLocator(await reference.grid_boundaries(session))
            self._locator_at = time.monotonic()
        return self._locator.locate(lat, lon)

    @activity.defn
    async def route_case(self, intake: CaseIntake) -> Routed:
        """Place the case (grid -> community), pick the responsible unit and the SLA policy."""
        async with self._sessions() as session:
            category = await session.get(Category, intake.category)
            if category is None:
                raise ApplicationError(f"unknown category {intake.category}", non_retryable=True)
            location = intake.location
            grid_code, community, placed = location.grid, location.community, ""
            if not grid_code and location.lat is not None and location.lon is not None:
                grid_code = await self._grid_at(session, location.lat, location.lon)
                placed = f"located in {grid_code}; " if grid_code else ""
                outside = grid_code is None
            else:
                outside = False
            if not grid_code and not community and not outside:
                names = await session.execute(select(Community.code, Community.name))
                community = community_in_address(location.address, [(c, n) for c, n in names])
                placed = f"address names {community}; " if community else ""
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
            committee = place_units.get(community or "")
            ladder = await reference.ladder(session, committee)
            working_days = await reference.working_days(
                session, activity.info().scheduled_time.astimezone(SUBDISTRICT_TZ).date()
            )
            unit: str | None
            if outside:
                # Off the map: the subdistrict's dispatcher places it (reassign) by hand.
                unit, rule = self._dispatch_centre, None
                reason = "outside every micro-grid: sent to the subdistrict dispatcher"
            else:
                try:
                    decision = route(
                        await reference.rules_for(session, category.code),
                        category.code,
                        grid_code,
                        community,
                        place_units,
                    )
                    unit, rule, reason = decision.unit, decision.rule, placed + decision.reason
                except NoRoutingRule as no_rule:
                    unit, rule, reason = None, None, placed + str(no_rule)
        return Routed(
            unit=unit,
            rule=rule,
            reason=reason,
            community=community,
            grid=grid_code,
            severity=severity,
            policy=policy,
            working_days=working_days,
            ladder=ladder,
            grid_team=place_units.get(grid_code or ""),
            committee=committee,
            needs_linkage=category.linkage,
            linkage_agencies=[
                member
                for agency in category.linkage_agencies
                if (member := with_committee(agency, committee))
            ],
        )

    @activity.defn
    async def count_unrated(self, unit: str, since: datetime) -> int:
        """How many of the unit's cases closed unrated since `since` (read-only)."""
        async with self._sessions() as session:
            return await cases.count_unrated(session, unit, since)

    @activity.defn
    async def open_children(self, split: Children) -> list[CaseIntake]:
        """拆分: file a split's child cases in one transaction, before the parent records the
        split: each with the parent's reporter and words (read here: they never pass through
        Temporal). A child already filed (a retry) is returned as it was filed; a reference the
        data does not know refuses the whole split."""
        async with self._sessions.begin() as session:
            parent = await cases.get(session, split.parent)
            if parent is None:
                raise ApplicationError(f"no case row {split.parent}", non_retryable=True)
            for n, child in enumerate(split.children):
                unknown = await reference.unknown_reference(session, child.category, child.location)
                if unknown:
                    message, details = unknown
                    field = f"children[{n}].{details['field']}"
                    raise ApplicationError(
                        message,
                        {**details, "field": field},
                        type=InvalidReference.__name__,
                        non_retryable=True,
                    )
            intakes = []
            for child in split.children:
                filed = await cases.get(session, child.case_id)
                if filed is None:
                    intake = CaseIntake(
                        case_id=child.case_id,
                        number=await cases.allocate_number(session),
                        channel=Channel(parent.channel),
                        category=child.category,
                        severity=child.severity,
                        title=child.title,
                        location=child.location.in_wgs84(),
                        parent=split.parent,
                    )
                    received = cases.received_of(parent, given=child.location)
                    await cases.open_case(session, intake, received)
                else:
                    intake = cases.intake_of(filed).model_copy(update={"parent": split.parent})
                intakes.append(intake)
        return intakes

    @activity.defn
    async def record_case(self, record: CaseRecord) -> None:
        """One transaction: the case row, its new events, their notifications. A value
        PostgreSQL refuses (a data error) fails at once instead of retrying forever."""
        try:
            async with self._sessions.begin() as session:
                recorded = await cases.record(session, record)
            if recorded in ("replaced", "stale"):  # an operator may count these (make faults does)
                activity.logger.warning("%s: %s", record.case.id, LOGGED[recorded])
        except cases.MissingCase as missing:
            raise ApplicationError(
                f"no case row {missing}: intake writes it before it starts the workflow",
                type="MissingCase",
                non_retryable=True,
            ) from None
        except DBAPIError as error:
            if _is_data_error(error):
                # No statement or parameters in the message: they may hold personal data.
                raise ApplicationError(
                    f"PostgreSQL refused the record of {record.case.id}: "
                    f"{type(error.orig).__name__}",
                    type="DataError",
                    non_retryable=True,
                ) from None
            raise
        if self._governance is not None:
            client = activity.client()
            await feed_hotspots(client, record, activity.info().task_queue)
            await flag_repeats(client, self._sessions, record, self._governance.repeats)


def _is_data_error(error: DBAPIError) -> bool:
    """SQLSTATE class 22 (data exception: a NUL byte, a value out of range, bad encoding)."""
    return sqlstate_of(error).startswith("22")
