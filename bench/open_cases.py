"""Benchmark: many open cases waiting on their timers, and a worker restarted under them.

    python -m bench.open_cases [--cases 5000] [--batch 100] [--lead 3] [--caches 1000,6000]

Against TEMPORAL_ADDRESS's server (else an embedded dev server on an SQLite file, what
`make run` uses) and DATABASE_URL's PostgreSQL (else an embedded one), with `gridcase worker`
as a separate process:
  1. files `--cases` cases (through the intake, 20 at a time) that then wait on their accept
     deadline, hours away;
  2. shortens one other category's accept limit to `--lead` minutes and files `--batch` cases of
     it, whose reminder and deadline fall a few minutes after the restart below;
  3. for each cache size in `--caches`: stops the worker (SIGTERM, as a deploy does), starts a
     new one with that `GRIDCASE_WORKER_MAX_CACHED_WORKFLOWS`, and queries every case (20 at a
     time) until each has answered: the cold pass (each case replayed from its history, unless
     the cache already holds it), then the same again, the warm pass (the baseline: a cached
     case answers without replaying); the worker's memory (RSS) idle and after each pass;
  4. waits for the batch's deadlines and reads from PostgreSQL when each reminder
     (deadline_warning) and missed deadline (deadline_missed, the ladder's first rung in the
     same step) was recorded, against when it was due.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

from activities.governance import GOVERNANCE_CENTRE
from api.intake import file_case
from api.schemas import CaseCreate
from bench.lifecycle import bounded, percentile
from bench.processes import Gridcase, Servers, load_average, rss_mib, servers, start
from core.temporal import build_client
from db import policies, reference
from db.models import CaseEventRow
from db.session import make_engine, make_sessionmaker
from domain.case import CaseView
from domain.sla import DeadlineKind
from workflows.case import CaseWorkflow

WAITING = "consultation.policy"  # accept 2h: nothing fires during the run
TIMED = "urban.illegal_construction"  # its accept limit is shortened to --lead minutes
CONCURRENCY = 20


def case_body(category: str, i: int, grids: list[str]) -> CaseCreate:
    """Case `i`: its own resident and address, in the grids in turn (one resident filing
    thousands would make each case a repeat of all the others)."""
    grid = grids[i % len(grids)]
    return CaseCreate.model_validate(
        {
            "channel": "hotline",
            "category": category,
            "title": "咨询",
            "description": f"第 {i} 件",
            "location": {"address": f"{grid} {i} 号", "grid": grid},
            "reporter": {"name": "居民", "phone": f"138{i:08d}"},
        }
    )


@dataclass
class Pass:
    """Querying every open case once through a newly started (or warm) worker."""

    seconds: float
    latencies: list[float]
    retries: int
    rss_after: float


@dataclass
class Restart:
    cache: int
    rss_idle: float
    cold: Pass
    warm: Pass


async def query_all(client: Client, ids: list[str], worker: Gridcase) -> tuple[Pass, list[Any]]:
    """Every case's `state` query until it answers (an RPC error, e.g. the query timing out on
    a worker still replaying, is retried and counted)."""
    latencies: list[float] = []
    views: list[CaseView] = []
    retries = 0

    async def one(i: int) -> None:
        nonlocal retries
        handle = client.get_workflow_handle(ids[i])
        started = time.perf_counter()
        while True:
            try:
                views.append(await handle.query(CaseWorkflow.state))
                break
            except RPCError:
                retries += 1
        latencies.append(time.perf_counter() - started)

    seconds = await bounded(CONCURRENCY, len(ids), one)
    return Pass(seconds, latencies, retries, rss_mib(worker.watched)), views


async def main(count: int, batch: int, lead: int, caches: list[int]) -> None:
    console = Console(width=150)
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    async with servers(workdir) as shared:
        await measure(console, shared, count, batch, lead, caches)


async def measure(
    console: Console, shared: Servers, count: int, batch: int, lead: int, caches: list[int]
) -> None:
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    settings = shared.settings.model_copy(update={"task_queue": queue})
    client = await build_client(settings)
    engine = make_engine(settings, pool_size=CONCURRENCY)
    sessions = make_sessionmaker(engine)
    worker = start(shared, "worker", "worker", queue)
    try:
        ids: list[str] = []
        grids = [
            g["code"] for g in yaml.safe_load((settings.config_dir / "grids.yaml").read_text())
        ]

        def filer(category: str, first: int) -> Any:
            async def one(i: int) -> None:
                body = case_body(category, first + i, grids)
                filed = await file_case(sessions, client, settings, body, GOVERNANCE_CENTRE)
                ids.append(filed.case.id)
                if len(ids) % 1000 == 0:
                    print(f"  {len(ids):,} filed", flush=True)

            return one

        filing = await bounded(CONCURRENCY, count, filer(WAITING, 0))
        console.print(f"filed {count:,} waiting cases in {filing:.0f} s ({count / filing:.1f}/s)")
        async with sessions.begin() as session:
            [policy] = [
                p for p in await reference.policies_for(session, TIMED, "normal") if p.category
            ]
            await policies.change(session, policy.code, {"accept": f"{lead}m"})
        waiting = len(ids)
        await bounded(CONCURRENCY, batch, filer(TIMED, count))
        timed = ids[waiting:]
        rss_filing = rss_mib(worker.watched)

        restarts: list[Restart] = []
        deadlines: dict[str, tuple[datetime, datetime]] = {}  # case -> (warn_at, due_at)
        for cache in caches:
            worker.stop()
            worker = start(shared, "worker", "worker", queue, worker_max_cached_workflows=cache)
            await asyncio.sleep(3)  # connected and polling (an idle worker's memory)
            rss_idle = rss_mib(worker.watched)
            cold, views = await query_all(client, ids, worker)
            warm, _ = await query_all(client, ids, worker)
            restarts.append(Restart(cache, rss_idle, cold, warm))
            console.print(
                f"cache {cache}: cold pass {cold.seconds:.0f} s, warm {warm.seconds:.0f} s"
            )
            for view in views:
                accept = next((d for d in view.deadlines if d.kind is DeadlineKind.accept), None)
                if view.id in timed and accept is not None and accept.warn_at is not None:
                    deadlines.setdefault(view.id, (accept.warn_at, accept.due_at))

        last_due = max(due for _, due in deadlines.values())
        while datetime.now(UTC) < last_due:  # noqa: ASYNC110 (the batch's deadlines to pass)
            await asyncio.sleep(5)
        warned, missed = await lateness(sessions, deadlines, within=120)
        rss_end = rss_mib(worker.watched)
    finally:
        worker.stop()
        await engine.dispose()
    report(console, count, batch, lead, filing, rss_filing, restarts, warned, missed, rss_end)


async def lateness(
    sessions: Any, deadlines: dict[str, tuple[datetime, datetime]], within: float
) -> tuple[list[float], list[float]]:
    """Seconds each batch case's reminder and missed deadline were recorded after they were due;
    waits up to `within` seconds for the last of them."""
    deadline = time.monotonic() + within
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(CaseEventRow.case_id, CaseEventRow.type, CaseEventRow.at).where(
                        CaseEventRow.case_id.in_(list(deadlines)),
                        CaseEventRow.type.in_(("deadline_warning", "deadline_missed")),
                    )
                )
            ).all()
        if len(rows) >= 2 * len(deadlines) or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    warned = [
        (at - deadlines[case][0]).total_seconds()
        for case, kind, at in rows
        if kind == "deadline_warning"
    ]
    missed = [
        (at - deadlines[case][1]).total_seconds()
        for case, kind, at in rows
        if kind == "deadline_missed"
    ]
    return warned, missed


def report(
    console: Console,
    count: int,
    batch: int,
    lead: int,
    filing: float,
    rss_filing: float,
    restarts: list[Restart],
    warned: list[float],
    missed: list[float],
    rss_end: float,
) -> None:
    total = count + batch
    table = Table(
        title=f"{total:,} open cases ({count / filing:.1f} filed/s; worker RSS after filing "
        f"{rss_filing:.0f} MiB); load average {load_average()}"
    )
    for column in (
        "worker cache",
        "RSS idle",
        "pass",
        "seconds",
        "cases/s",
        "query p50, p99",
        "retries",
        "RSS after",
        "/ warm",
    ):
        table.add_column(column, justify="right")
    for r in restarts:
        for name, one in (("cold (after restart)", r.cold), ("warm (baseline)", r.warm)):
            p50, p99 = (percentile(one.latencies, s) * 1000 for s in (0.5, 0.99))
            table.add_row(
                f"{r.cache:,}",
                f"{r.rss_idle:.0f} MiB",
                name,
                f"{one.seconds:.1f}",
                f"{total / one.seconds:.0f}",
                f"{p50:.0f} ms, {p99:.0f} ms",
                str(one.retries),
                f"{one.rss_after:.0f} MiB",
                f"{one.seconds / r.warm.seconds:.2f}",
            )
    console.print(table)
    timers = Table(title=f"{batch} cases whose accept limit is {lead} min: seconds late")
    for column in ("", "recorded", "p50", "p99", "max"):
        timers.add_column(column, justify="right")
    for name, late in (("reminder", warned), ("missed deadline, first rung", missed)):
        if late:
            timers.add_row(
                name,
                f"{len(late)}/{batch}",
                f"{percentile(late, 0.5):.1f}",
                f"{percentile(late, 0.99):.1f}",
                f"{max(late):.1f}",
            )
        else:
            timers.add_row(name, f"0/{batch}", "-", "-", "-")
    console.print(timers)
    console.print(f"worker RSS at the end: {rss_end:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lead", type=int, default=3, help="the batch's accept limit, minutes")
    parser.add_argument("--caches", default="1000,6000", help="worker cache sizes to restart with")
    args = parser.parse_args()
    caches = [int(c) for c in args.caches.split(",")]
    asyncio.run(main(args.cases, args.batch, args.lead, caches))
