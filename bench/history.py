"""What the database benchmarks share: a fresh database holding a generated history (on
DATABASE_URL's server, else an embedded PostgreSQL in a temporary folder), timing a query over
and over, and a table of p50/p99 against the run's own baseline."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from db import reference
from db.generate import Generated, generate
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from worker.stack import create_database, start_postgres

Query = Callable[[AsyncSession], Awaitable[Any]]


@dataclass
class History:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    made: Generated
    events: int
    seconds: float  # how long generating took


@asynccontextmanager
async def generated_history(cases: int, months: int, console: Console) -> AsyncIterator[History]:
    """A migrated, seeded database with `cases` generated cases over `months`, vacuumed."""
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
            task = progress.add_task("generating cases", total=cases)
            async with sessions.begin() as session:
                made = await generate(
                    session,
                    cases=cases,
                    months=months,
                    seed=42,
                    progress=lambda n: progress.advance(task, n),
                )
        seconds = time.perf_counter() - started
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE cases"))
            await autocommit.execute(text("VACUUM ANALYZE case_events"))
        async with sessions() as session:
            events = int(await session.scalar(text("SELECT count(*) FROM case_events")) or 0)
        yield History(settings, engine, sessions, made, events, seconds)
    finally:
        await engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed(session: AsyncSession, query: Query, repeat: int) -> list[float]:
    """Milliseconds per run of `query` in one session, after two runs that warm the cache."""
    for _ in range(2):
        await query(session)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await query(session)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(
    sessions: async_sessionmaker[AsyncSession], query: Query, repeat: int
) -> list[float]:
    """Milliseconds per run of `query`, each in a session of its own (as a request would be),
    after two runs that warm the cache and the connection."""
    for _ in range(2):
        async with sessions() as session:
            await query(session)
    times = []
    for _ in range(repeat):
        async with sessions() as session:
            started = time.perf_counter()
            await query(session)
            times.append((time.perf_counter() - started) * 1000)
    return times


async def interleaved(
    sessions: async_sessionmaker[AsyncSession], queries: dict[str, Query], repeat: int
) -> dict[str, list[float]]:
    """Milliseconds per run of each query, taken in turn (one run of each, `repeat` times, after
    one warm-up each), so a change in the machine's load falls on every query alike."""
    for query in queries.values():
        async with sessions() as session:
            await query(session)
    times: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(repeat):
        for name, query in queries.items():
            async with sessions() as session:
                started = time.perf_counter()
                await query(session)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def against_baseline(title: str, results: dict[str, list[float]], baseline: str) -> Table:
    """One row per query: runs, p50 and p99 in ms, and both against the baseline's."""
    base50 = statistics.median(results[baseline])
    base99 = percentile(results[baseline], 0.99)
    table = Table(title=title)
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
    return table
