"""The case list: its filters as SQL conditions, its two orders and their cursors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from api.edge import INT64_MAX, instant
from api.errors import InvalidQuery
from api.schemas import CaseCount, CasePage
from api.scope import scope_conditions
from db import cases
from db.models import Case
from domain.case import CaseStatus
from domain.permissions import Principal


class CaseQuery:
    """The list's query parameters (a dependency class: FastAPI reads them from `__init__`)."""

    def __init__(
        self,
        status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
        community: str | None = None,
        grid: str | None = None,
        unit: str | None = None,
        category: str | None = None,
        overdue: bool | None = None,
        at_risk: Annotated[
            bool | None,
            Query(description="Past the warning point of its next deadline, not yet due"),
        ] = None,
        due_before: datetime | None = None,
        escalated: bool | None = None,
        linkage: Annotated[str | None, Query(pattern="^(open|completed|cancelled)$")] = None,
        q: Annotated[
            str | None,
            Query(
                min_length=1, max_length=100, description="Text in title, description or address"
            ),
        ] = None,
        sort: Annotated[str, Query(pattern="^(newest|due)$")] = "newest",
        before: Annotated[
            int | None, Query(ge=1, le=INT64_MAX, description="sort=newest: the next_before")
        ] = None,
        cursor: Annotated[
            str | None, Query(max_length=200, description="sort=due: the next_cursor")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> None:
        self.filters = {
            "status": status_.value if status_ else None,
            "community": community,
            "grid": grid,
            "unit": unit,
            "category": category,
        }
        self.overdue, self.at_risk = overdue, at_risk
        self.due_before = instant(due_before, "due_before") if due_before else None
        self.escalated, self.linkage, self.q = escalated, linkage, q
        self.by_due, self.before, self.cursor, self.limit = sort == "due", before, cursor, limit

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.at_risk is not None:
            risky = at_risk(now)
            conditions.append(risky if self.at_risk else ~risky | Case.warn_at.is_(None))
        if self.due_before is not None:
            conditions.append(Case.due_at < self.due_before)
        if self.escalated is not None:
            conditions.append((Case.escalation_level > 0) == self.escalated)
        if self.linkage is not None:
            conditions.append(Case.linkage == self.linkage)
        if self.q is not None:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            conditions.append(
                Case.title.ilike(pattern)
                | Case.description.ilike(pattern)
                | Case.address.ilike(pattern)
            )
        return conditions


async def case_page(session: AsyncSession, principal: Principal, query: CaseQuery) -> CasePage:
    """One page of the cases `principal` may see that match `query`."""
    rows = await cases.page(
        session,
        filters=query.filters,
        overdue=query.overdue,
        before=query.before,
        limit=query.limit + 1,
        conditions=[*scope_conditions(principal), *query.conditions(datetime.now(UTC))],
        by_due=query.by_due,
        after=decode_cursor(query.cursor) if query.cursor else None,
    )
    page = CasePage.of(rows, query.limit)
    if query.by_due:
        page.next_before = None
        last = page.items[-1] if len(rows) > query.limit else None
        if last is not None and last.due_at is not None:
            page.next_cursor = encode_cursor(last.due_at, last.number)
    return page


def at_risk(now: datetime) -> ColumnElement[bool]:
    """Past the warning point of its next deadline, not yet due."""
    return (Case.warn_at <= now) & (Case.due_at > now)


async def case_count(session: AsyncSession, principal: Principal, query: CaseQuery) -> CaseCount:
    """How many of the cases `principal` may see match `query` (every page of it)."""
    now = datetime.now(UTC)
    conditions = [*scope_conditions(principal), *query.conditions(now)]
    if query.by_due:  # the order lists only the cases with a deadline running
        conditions.append(Case.due_at.is_not(None))
    total, overdue, risky = await cases.count(
        session,
        filters=query.filters,
        overdue=query.overdue,
        conditions=conditions,
        at_risk=at_risk(now),
    )
    return CaseCount(count=total, overdue=overdue, at_risk=risky)


def encode_cursor(due_at: datetime, number: int) -> str:
    raw = f"{due_at.isoformat()}|{number}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (due_at, number) a cursor names; one not made by `encode_cursor` is refused."""
    try:
        due, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        due_at, after = datetime.fromisoformat(due), int(number)
        if due_at.tzinfo is None or not 0 < after <= INT64_MAX:
            raise ValueError(cursor)
        return instant(due_at, "cursor"), after
    except (ValueError, InvalidQuery):
        raise InvalidQuery("not a cursor from this list", {"field": "cursor"}) from None
