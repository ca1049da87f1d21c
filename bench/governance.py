"""Benchmark: flow analytics and the what-if over a month of demo history.

    python -m bench.governance [--cases 10000] [--repeat 5]

Generates `--cases` cases over one month (db.generate; the demo history of `gridcase generate
--cases 100000 --months 12` has about 8,000 a month) into a fresh database (DATABASE_URL's
server, else an embedded PostgreSQL in a temporary folder), then measures GET /v1/flow's query
and replay (db.flow.case_flow) for that month against a baseline in the same run: the KPI
counts replayed from the same event log (db.stats.case_stats_from_events), which reads the same
rows and folds each case once. Then the what-if (POST /v1/policies/whatif: reading the month's
SLA-NORMAL cases and playing each again under a changed policy) against reading the same cases
and replaying their recorded events through the same model (domain.state.replay).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.stats import measure
from core.config import Settings
from db import flow, policies, reference, stats
from db.generate import generate
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from domain.calendar import SUBDISTRICT_TZ
from domain.state import replay
from domain.whatif import PolicyChange, compare
from worker.stack import create_database, start_postgres


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
            made = await generate(session, cases=cases_wanted, months=1, seed=42)
        generated = time.perf_counter() - started
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE cases"))
            await autocommit.execute(text("VACUUM ANALYZE case_events"))
        async with sessions() as session:
            events = await session.scalar(text("SELECT count(*) FROM case_events"))
        start = datetime.combine(made.start, clock(), tzinfo=SUBDISTRICT_TZ)
        end = datetime.combine(made.end, clock(), tzinfo=SUBDISTRICT_TZ)

        async def baseline(session: AsyncSession) -> Any:
            return await stats.case_stats_from_events(session, start=start, end=end, group_by=[])

        async def month_flow(session: AsyncSession) -> Any:
            return await flow.case_flow(session, start=start, end=end, as_of=datetime.now(UTC))

        change = PolicyChange(accept="1h", reply="5wd", warn_share=0.5, escalate_every="2h")

        async def recorded(session: AsyncSession) -> Any:
            cases = await policies.recorded_cases(session, code="SLA-NORMAL", start=start, end=end)
            return [replay(events) for events in cases]

        async def what_if(session: AsyncSession) -> Any:
            cases = await policies.recorded_cases(session, code="SLA-NORMAL", start=start, end=end)
            return compare(cases, "SLA-NORMAL", change, datetime.now(UTC))

        async with sessions() as session:
            covered = len(
                await policies.recorded_cases(session, code="SLA-NORMAL", start=start, end=end)
            )
        results = {
            "baseline: KPI counts replayed from the event log": await measure(
                sessions, baseline, repeat
            ),
            "GET /v1/flow (query and replay)": await measure(sessions, month_flow, repeat),
            f"baseline: read and replay the {covered:,} SLA-NORMAL cases": await measure(
                sessions, recorded, repeat
            ),
            "POST /v1/policies/whatif (read and play again)": await measure(
                sessions, what_if, repeat
            ),
        }
        bases = list(results.values())
        table = Table(
            title=f"{made.cases:,} cases, {events:,} events in {made.start:%Y-%m}, "
            f"generated in {generated:.0f} s"
        )
        for column in ("query", "runs", "p50 s", "max s", "p50 / baseline"):
            table.add_column(column, justify="left" if column == "query" else "right")
        for n, (name, times) in enumerate(results.items()):
            # Each measurement is compared with the baseline just before it.
            p50, base = statistics.median(times), statistics.median(bases[n - n % 2])
            table.add_row(
                name,
                str(len(times)),
                f"{p50 / 1000:.2f}",
                f"{max(times) / 1000:.2f}",
                f"{p50 / base:.2f}",
            )
        console.print(table)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
