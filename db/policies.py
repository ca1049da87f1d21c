"""SLA policies and the recorded cases that ran under one: what the what-if replays. Read-only;
never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, CaseEventRow, SlaPolicyRow
from domain.sla import SlaPolicy


async def exists(session: AsyncSession, code: str) -> bool:
    return await session.get(SlaPolicyRow, code) is not None


async def change(session: AsyncSession, code: str, limits: dict[str, object]) -> SlaPolicy | None:
    """Apply changed limits to policy `code` (validated as a policy first); None if unknown.
    Cases routed from now on read the new row."""
    row = await session.get(SlaPolicyRow, code, with_for_update=True)
    if row is None:
        return None
    policy = SlaPolicy.model_validate({**_fields(row), **limits})
    for name, value in limits.items():
        setattr(row, name, value)
    await session.flush()
    return policy


async def every_policy(session: AsyncSession) -> dict[str, SlaPolicy]:
    return {
        row.code: SlaPolicy.model_validate(_fields(row))
        for row in await session.scalars(select(SlaPolicyRow))
    }


def _fields(row: SlaPolicyRow) -> dict[str, object]:
    return {f: getattr(row, f) for f in SlaPolicy.model_fields}


async def recorded_cases(
    session: AsyncSession,
    *,
    code: str,
    start: datetime,
    end: datetime,
    scope: Sequence[ColumnElement[bool]] = (),
) -> list[list[Row[tuple[str, int, str, datetime, str, dict[str, object]]]]]:
    """The events (in seq order) of each case received in [start, end) that matches `scope` and
    was dispatched under policy `code` (the policy its routing recorded)."""
    routed_policy = CaseEventRow.data["routed"]["policy"]["code"].astext
    under_policy = (
        select(CaseEventRow.case_id)
        .join(Case, Case.id == CaseEventRow.case_id)
        .where(
            Case.received_at >= start,
            Case.received_at < end,
            CaseEventRow.type == "dispatched",
            routed_policy == code,
            *scope,
        )
    )
    rows = await session.execute(
        select(
            CaseEventRow.case_id,
            CaseEventRow.seq,
            CaseEventRow.type,
            CaseEventRow.at,
            CaseEventRow.actor,
            CaseEventRow.data,
        )
        .where(CaseEventRow.case_id.in_(under_policy.scalar_subquery()))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    return [list(events) for _, events in groupby(rows, key=lambda r: r.case_id)]


async def recorded_until(session: AsyncSession) -> datetime | None:
    """The latest recorded event: the present of the record (now, on a live system; the end of a
    generated history). A what-if plays the proposal up to it, so both sides cover the same time."""
    return await session.scalar(select(func.max(CaseEventRow.at)))
