"""Benchmark: flow analytics and the what-if over a month of demo history.

    python -m bench.governance [--cases 10000] [--repeat 5]

Generates `--cases` cases over one month (db.generate; the demo history of `gridcase generate
--cases 100000 --months 12` has about 8,000 a month) into a fresh database (DATABASE_URL's
server, else an embedded PostgreSQL in a temporary folder), then measures GET /v1/flow's query
and replay (db.flow.case_flow) for that month against a baseline in the same run: the KPI
counts replayed from the same event log (db.stats.case_stats_from_events), which reads the same
rows and folds each case once. Then the what-if (POST /v1/policies/whatif: reading the month's
SLA-NORMAL cases and playing each again under a changed policy) against reading the same cases
and replaying their recorded events through the same model (domain.state.replay), and the
what-if as it was before each decision forked the state instead of deep-copying it (the
copy made per decision, measured in the same run). The what-if with no change is checked to give
back the recorded figures exactly before anything is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as clock
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bench.history import generated_history, interleaved
from db import flow, policies, stats
from domain.calendar import SUBDISTRICT_TZ
from domain.state import CaseState, replay
from domain.whatif import PolicyChange, compare, totals


@contextmanager
def deep_copying() -> Iterator[None]:
    """Decisions as they were before `CaseState.fork`: a deep copy of the state each."""
    fork = CaseState.fork
    CaseState.fork = lambda state: state.model_copy(deep=True)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        CaseState.fork = fork  # type: ignore[method-assign]


async def main(cases_wanted: int, repeat: int) -> None:
    console = Console()
    async with generated_history(cases_wanted, 1, console) as history:
        made, sessions, events = history.made, history.sessions, history.events
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
            return compare(cases, "SLA-NORMAL", change, until)

        async def what_if_before(session: AsyncSession) -> Any:
            with deep_copying():
                return await what_if(session)

        async with sessions() as session:
            cases = await policies.recorded_cases(session, code="SLA-NORMAL", start=start, end=end)
            until = await policies.recorded_until(session) or end
        covered = len(cases)
        as_recorded, proposed, diverged = totals(
            compare(cases, "SLA-NORMAL", PolicyChange(), until)
        )
        if (as_recorded, diverged) != (proposed, 0):
            raise SystemExit(f"the unchanged policy does not give back the record: {proposed}")
        results = {
            **await interleaved(
                sessions,
                {
                    "baseline: KPI counts replayed from the event log": baseline,
                    "GET /v1/flow (query and replay)": month_flow,
                },
                repeat,
            ),
            **await interleaved(
                sessions,
                {
                    f"baseline: read and replay the {covered:,} SLA-NORMAL cases": recorded,
                    "POST /v1/policies/whatif (read and play again)": what_if,
                    "before: the same, a deep copy of the state per decision": what_if_before,
                },
                repeat,
            ),
        }
        bases = list(results.values())
        table = Table(
            title=f"{made.cases:,} cases, {events:,} events in {made.start:%Y-%m}, "
            f"generated in {history.seconds:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )
        for column in ("query", "runs", "p50 s", "max s", "p50 / baseline"):
            table.add_column(column, justify="left" if column == "query" else "right")
        for n, (name, times) in enumerate(results.items()):
            # Each measurement is compared with its baseline (the KPI replay for the flow, the
            # recorded replay for both what-ifs).
            p50, base = statistics.median(times), statistics.median(bases[0 if n < 2 else 2])
            table.add_row(
                name,
                str(len(times)),
                f"{p50 / 1000:.2f}",
                f"{max(times) / 1000:.2f}",
                f"{p50 / base:.2f}",
            )
        console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.repeat))
