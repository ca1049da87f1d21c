"""Hot spots: written by the hot spot workflow's activity, read by /v1/hotspots. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, HotspotRow
from domain.hotspot import HotspotRecord
from domain.permissions import Visibility


async def record(session: AsyncSession, hotspot: HotspotRecord) -> None:
    """Upsert by key; a closed hot spot stays closed (a stale retry never reopens it)."""
    stmt = insert(HotspotRow).values(**hotspot.model_dump())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[HotspotRow.key],
            set_={c: stmt.excluded[c] for c in ("status", "governance_case", "cases", "closed_at")},
            where=HotspotRow.status != "closed",
        )
    )
    await session.flush()


async def open_and_recent(
    session: AsyncSession, *, since: datetime, seen: Visibility
) -> list[tuple[HotspotRow, list[Case]]]:
    """Open hot spots and those raised since `since`, newest first, each with its requests;
    only those in the places `seen` names (a hot spot is a place's, not a unit's)."""
    query = select(HotspotRow).where(
        or_(HotspotRow.status == "open", HotspotRow.raised_at >= since)
    )
    if not seen.everything:
        query = query.where(
            or_(HotspotRow.community.in_(seen.communities), HotspotRow.grid.in_(seen.grids))
        )
    rows = list(await session.scalars(query.order_by(HotspotRow.raised_at.desc())))
    ids = {case_id for row in rows for case_id in row.cases}
    found = {c.id: c for c in await session.scalars(select(Case).where(Case.id.in_(ids)))}
    return [(row, [found[c] for c in row.cases if c in found]) for row in rows]
