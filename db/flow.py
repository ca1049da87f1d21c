"""Flow analytics over the event log: the cases received in a period, each with its events.
Read-only; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, CaseEventRow
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
    rows = await session.execute(
        select(
            CaseEventRow.case_id,
            CaseEventRow.type,
            CaseEventRow.at,
            CaseEventRow.data,
            Case.category,
            Case.grid,
            Case.community,
        )
        .join(Case, Case.id == CaseEventRow.case_id)
        .where(CaseEventRow.case_id.in_(received.scalar_subquery()))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    histories = []
    for case_id, events in groupby(rows, key=lambda r: r.case_id):
        case_events = list(events)
        first = case_events[0]
        histories.append(
            CaseHistory(
                case_id=case_id,
                category=first.category,
                grid=first.grid,
                community=first.community,
                events=case_events,
            )
        )
    return flow_report(histories, as_of)
