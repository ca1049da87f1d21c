"""Benchmark: KPI statistics over a million cases.

    python -m bench.stats [--cases 1000000] [--repeat 20]

Generates the history (db.generate) into a fresh database (on DATABASE_URL's server, else an
embedded PostgreSQL in a temporary folder), then measures p50/p99 of
  (a) one month grouped by community, (b) a year grouped by month and category,
  (c) a case-list page (community C03, closed, 50 per page, db.cases.page),
  (d) one month's scores by unit (what GET /v1/scores reads: the daily rollup by unit, and the
      month's cases exempted on appeal),
against a baseline `SELECT count(*) FROM cases WHERE received_at in that month` in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from datetime import time as clock
from typing import Any

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.history import against_baseline, generated_history, measure
from db import cases, stats
from db.models import Case
from domain.calendar import SUBDISTRICT_TZ


async def main(cases_wanted: int, repeat: int) -> None:
    console = Console()
    async with generated_history(cases_wanted, 12, console) as history:
        made, sessions = history.made, history.sessions

        year_start = datetime.combine(made.start, clock(), tzinfo=SUBDISTRICT_TZ)
        year_end = datetime.combine(made.end, clock(), tzinfo=SUBDISTRICT_TZ)
        # A summer month: among the busiest of the year.
        month = next(m for m in range(12) if (made.start.month + m - 1) % 12 + 1 == 7)
        shifted = made.start.month + month - 1
        first = made.start.replace(year=made.start.year + shifted // 12, month=shifted % 12 + 1)
        month_start = datetime.combine(first, clock(), tzinfo=SUBDISTRICT_TZ)
        following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
        month_end = datetime.combine(following, clock(), tzinfo=SUBDISTRICT_TZ)

        async def baseline(session: AsyncSession) -> Any:
            return await session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.received_at >= month_start, Case.received_at < month_end)
            )

        async def month_by_community(session: AsyncSession) -> Any:
            return await stats.case_stats(
                session, start=month_start, end=month_end, group_by=["community"]
            )

        async def month_by_community_direct(session: AsyncSession) -> Any:
            return await stats.case_stats_direct(
                session, start=month_start, end=month_end, group_by=["community"]
            )

        async def year_by_month_category(session: AsyncSession) -> Any:
            return await stats.case_stats(
                session, start=year_start, end=year_end, group_by=["month", "category"]
            )

        async def list_page(session: AsyncSession) -> Any:
            return await cases.page(
                session,
                filters={"community": "C03", "status": "closed"},
                overdue=None,
                before=None,
                limit=51,
            )

        async def month_scores_by_unit(session: AsyncSession) -> Any:
            return (
                await stats.case_stats(
                    session, start=month_start, end=month_end, group_by=["unit"]
                ),
                await stats.exempted_stats(
                    session, start=month_start, end=month_end, group_by=["unit"]
                ),
            )

        async with sessions() as session:
            month_cases = await baseline(session)
        results = {
            "baseline count(*) one month": await measure(sessions, baseline, repeat),
            "(a) month by community": await measure(sessions, month_by_community, repeat),
            "(a') the same from the cases, no rollup": await measure(
                sessions, month_by_community_direct, max(5, repeat // 4)
            ),
            "(b) year by month, category": await measure(
                sessions, year_by_month_category, max(5, repeat // 4)
            ),
            "(c) list page C03 closed": await measure(sessions, list_page, repeat),
            "(d) month's scores by unit": await measure(sessions, month_scores_by_unit, repeat),
        }
        title = (
            f"{made.cases:,} cases, {history.events:,} events generated in "
            f"{history.seconds:.0f} s; month {first:%Y-%m} has {month_cases:,} cases"
        )
        console.print(against_baseline(title, results, "baseline count(*) one month"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
