"""Flow analytics over the event log: the cases received in a period, each with its events.
Read-only; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import reference
from db.models import Case, CaseEventRow
from domain.calendar import SUBDISTRICT_TZ
from domain.flow import CaseHistory, FlowReport, flow_report


async def case_flow(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    scope: Sequence[ColumnElement[bool]] = (),
) -> FlowReport:
    """The flow of the cases received in [start, end) that match `scope` (the caller's)."""
    received = select(Case.id).where(Case.received_at >= start, Case.received_at < end, *scope)
    data = CaseEventRow.data
    rows = await session.execute(
        select(
            CaseEventRow.case_id,
            CaseEventRow.type,
            CaseEventRow.at,
            # Only what the flow reads of an event's data, not the whole document.
            data["unit"].astext,
            data["channel"].astext,
            data["fixed"].astext,
            data["due"]["verify"].astext,  # a reply with a site check due: verifying
            Case.category,
            Case.grid,
            Case.community,
        )
        .join(Case, Case.id == CaseEventRow.case_id)
        .where(CaseEventRow.case_id.in_(received.scalar_subquery()))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    histories = []
    for case_id, events in groupby(rows, key=lambda r: r[0]):
        case_events = list(events)
        *_, category, grid, community = case_events[0]
        histories.append(
            CaseHistory(
                case_id=case_id,
                category=category,
                grid=grid,
                community=community,
                events=[
                    FlowEvent(type, at, _data(unit, channel, fixed, verify))
                    for _, type, at, unit, channel, fixed, verify, *_ in case_events
                ],
            )
        )
    start_day = start.astimezone(SUBDISTRICT_TZ).date()
    calendar = await reference.working_days(
        session, start_day, until=max(as_of, end).astimezone(SUBDISTRICT_TZ).date()
    )
    return flow_report(histories, as_of, calendar)


@dataclass(slots=True)
class FlowEvent:
    type: str
    at: datetime
    data: dict[str, Any]


def _data(unit: str | None, channel: str | None, fixed: str | None, verify: str | None) -> Any:
    """The part of an event's data the flow reads (domain.state.status_after, the unit)."""
    data: dict[str, Any] = {"unit": unit, "channel": channel}
    if fixed is not None:
        data["fixed"] = fixed == "true"
    if verify is not None:
        data["due"] = {"verify": verify}
    return data
