"""Benchmark: Open311's servicerequestupdates (FixMyStreet polls it) over a year of history.

    python -m bench.open311 [--cases 200000] [--repeat 20]

Generates the history (db.generate) into a fresh database (on DATABASE_URL's server, else an
embedded PostgreSQL in a temporary folder), then measures p50/p99 of the updates of one day and
of one week (the query the route runs, `mapping.updates_in`), with the index on case_events.at
and, in a transaction rolled back afterwards, without it; against a baseline
`SELECT count(*) FROM cases WHERE received_at in that day` in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.routes.open311.mapping import updates_in
from bench.stats import percentile
from core.config import Settings
from db import reference
from db.generate import generate
from db.migrate import upgrade
from db.models import Case
from db.session import make_engine, make_sessionmaker
from domain.calendar import SUBDISTRICT_TZ
from worker.stack import create_database, start_postgres

Query = Callable[[AsyncSession], Awaitable[Any]]


async def timed(session: AsyncSession, query: Query, repeat: int) -> list[float]:
    for _ in range(2):  # warm the cache
        await query(session)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await query(session)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(sessions: async_sessionmaker[AsyncSession], query: Query, repeat: int) -> Any:
    async with sessions() as session:
        return await timed(session, query, repeat)


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
        async with sessions.begin() as session:
            made = await generate(session, cases=cases_wanted, months=12, seed=42)
        generated = time.perf_counter() - started
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE cases"))
            await autocommit.execute(text("VACUUM ANALYZE case_events"))
        async with sessions() as session:
            events = await session.scalar(text("SELECT count(*) FROM case_events"))

        # A day in the middle of the year, and the week that ends with it.
        day = datetime.combine(made.start + timedelta(days=180), clock(), tzinfo=SUBDISTRICT_TZ)
        channels = settings.open311_public_channels

        async def baseline(session: AsyncSession) -> Any:
            return await session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.received_at >= day, Case.received_at < day + timedelta(days=1))
            )

        def updates(days: int) -> Query:
            async def query(session: AsyncSession) -> Any:
                window = updates_in(channels, day + timedelta(days=1 - days), day + timedelta(1))
                return (await session.scalars(window)).all()

            return query

        async with sessions() as session:
            day_updates = len(await updates(1)(session))
        results = {
            "baseline count(*) of a day's cases": await measure(sessions, baseline, repeat),
            "updates of one day": await measure(sessions, updates(1), repeat),
            "updates of one week": await measure(sessions, updates(7), repeat),
        }
        async with sessions() as session:  # the same without the index, rolled back after
            await session.execute(text("DROP INDEX ix_case_events_at"))
            slow = max(5, repeat // 4)
            results["one day, no index on case_events.at"] = await timed(session, updates(1), slow)
            results["one week, no index"] = await timed(session, updates(7), slow)
            await session.rollback()

        base50 = statistics.median(results["baseline count(*) of a day's cases"])
        base99 = percentile(results["baseline count(*) of a day's cases"], 0.99)
        table = Table(
            title=f"{made.cases:,} cases, {events:,} events generated in {generated:.0f} s; "
            f"{day:%Y-%m-%d} has {day_updates} public updates"
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
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
