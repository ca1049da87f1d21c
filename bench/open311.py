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
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

from rich.console import Console
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.routes.open311.mapping import updates_in
from bench.history import Query, against_baseline, generated_history, measure, timed
from db.models import Case
from domain.calendar import SUBDISTRICT_TZ


async def main(cases_wanted: int, repeat: int) -> None:
    console = Console()
    async with generated_history(cases_wanted, 12, console) as history:
        made, sessions = history.made, history.sessions
        # A day in the middle of the year, and the week that ends with it.
        day = datetime.combine(made.start + timedelta(days=180), clock(), tzinfo=SUBDISTRICT_TZ)
        channels = history.settings.open311_public_channels

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

        title = (
            f"{made.cases:,} cases, {history.events:,} events generated in "
            f"{history.seconds:.0f} s; {day:%Y-%m-%d} has {day_updates} public updates"
        )
        console.print(against_baseline(title, results, "baseline count(*) of a day's cases"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
