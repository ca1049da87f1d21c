"""Benchmark: KPI statistics over a million cases.

    python -m bench.stats [--cases 1000000] [--repeat 20]

Generates the history (db.generate) into a fresh database (on DATABASE_URL's server, else an
embedded PostgreSQL in a temporary folder), then measures p50/p99 of
  (a) one month grouped by community, (b) a year grouped by month and category,
  (c) a case-list page (community C03, closed, 50 per page, db.cases.page),
against a baseline `SELECT count(*) FROM cases WHERE received_at in that month` in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from db import cases, reference, stats
from db.generate import generate
from db.migrate import upgrade
from db.models import Case
from db.session import make_engine, make_sessionmaker
from domain.calendar import SUBDISTRICT_TZ
from worker.stack import create_database, start_postgres


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(
    sessions: async_sessionmaker[AsyncSession],
    query: Callable[[AsyncSession], Awaitable[Any]],
    repeat: int,
) -> list[float]:
    for _ in range(2):  # warm the cache and the connection
        async with sessions() as session:
            await query(session)
    times = []
    for _ in range(repeat):
        async with sessions() as session:
            started = time.perf_counter()
            await query(session)
            times.append((time.perf_counter() - started) * 1000)
    return times


async def main(cases_wanted: int, repeat: int) -> None:
    console = Console()
    admin = os.environ.get("DATABASE_URL") or start_postgres(
        Path(tempfile.mkdtemp(prefix="gridcase-bench-")), database="postgres"
    )
    url = create_database(admin, f"gridcase_bench_{os.getpid()}")
    settings = Settings(database_url=url)
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
    engine = make_engine(settings, pool_size=2)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions.begin() as session:
            await reference.seed(session, settings.config_dir)
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task("generating cases", total=cases_wanted)
            async with sessions.begin() as session:
                made = await generate(
                    session,
                    cases=cases_wanted,
                    months=12,
                    seed=42,
                    progress=lambda n: progress.advance(task, n),
                )
        generated = time.perf_counter() - started
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE cases"))
            await autocommit.execute(text("VACUUM ANALYZE case_events"))
        async with sessions() as session:
            events = await session.scalar(text("SELECT count(*) FROM case_events"))

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
        }
        base50 = statistics.median(results["baseline count(*) one month"])
        base99 = percentile(results["baseline count(*) one month"], 0.99)
        table = Table(
            title=f"{made.cases:,} cases, {events:,} events generated in {generated:.0f} s; "
            f"month {first:%Y-%m} has {month_cases:,} cases"
        )
        for column in ("query", "runs", "p50 ms", "p99 ms", "p50 / baseline", "p99 / baseline"):
            table.add_column(column, justify="left" if column == "query" else "right")
        for name, times in results.items():
            p50, p99 = statistics.median(times), percentile(times, 0.99)
            table.add_row(
                name,
                str(len(times)),
                f"{p50:.1f}",
                f"{p99:.1f}",
                f"{p50 / base50:.1f}",
                f"{p99 / base99:.1f}",
            )
        console.print(table)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
