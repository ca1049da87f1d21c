"""Earlier requests a new one repeats: by the same resident's phone or at the same address.
Read-only; never commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case
from domain.repeat import Repeat, RepeatRule


async def repeated(session: AsyncSession, case_id: str, rule: RepeatRule) -> Repeat | None:
    """The earlier requests (within the rule's window) that make this one their `count`-th, by
    phone first, then by address; None when it is not a repeat. Proactive cases never count."""
    case = await session.get(Case, case_id)
    if case is None or case.channel == "proactive":
        return None
    since = case.received_at - timedelta(days=rule.window_days)
    bases: tuple[tuple[Literal["reporter", "address"], Any, str | None], ...] = (
        ("reporter", Case.reporter_phone, case.reporter_phone),
        ("address", Case.address, case.address),
    )
    for basis, column, value in bases:
        if not value:
            continue
        earlier = list(
            await session.scalars(
                select(Case.id)
                .where(
                    column == value,
                    Case.id != case_id,
                    Case.channel != "proactive",
                    Case.received_at >= since,
                    Case.received_at <= case.received_at,
                )
                .order_by(Case.received_at, Case.number)
            )
        )
        if len(earlier) + 1 >= rule.count:
            return Repeat(earlier=earlier, basis=basis)
    return None
