"""Benchmark: scale-out. Whole lifecycles over HTTP with 1 API process and 1 worker, then with
more of each, against the same Temporal server and PostgreSQL in the same run.

    python -m bench.scale [--cases 300] [--concurrency 20] [--layouts 1x1,2x2]

Each layout `AxW` starts A `gridcase api` and W `gridcase worker` processes (on their own task
queue) against TEMPORAL_ADDRESS's server (else an embedded dev server on an SQLite file, what
`make run` uses) and DATABASE_URL's PostgreSQL (else an embedded one), runs a few lifecycles to
warm up, then `--cases` lifecycles (intake, accept, contact, reply, rate -> closed), at most
`--concurrency` at a time, each request to the next API in turn (as a round-robin load
balancer would). Prints lifecycles/s, the ratio to the first layout, intake -> dispatched
p50/p99 (intake's 201: routed and recorded), and the CPU each process used during the
measured span as a share of one core (servers on another machine are not seen), beside the
machine's total: the process near a whole core, or a machine near all of its cores, is the
bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from bench.lifecycle import CASE, STANDARD, act, admin_token, bounded, percentile
from bench.processes import (
    CpuWindow,
    Gridcase,
    Servers,
    cores,
    load_average,
    rss_mib,
    servers,
    start,
)
from core.temporal import build_client
from faults.run import wait_until_ready
from worker.temporal_ui import free_port

WARM_UP = 10


@dataclass
class Layout:
    apis: int
    workers: int
    rate: float
    dispatched: list[float]
    still_routing: int  # intakes that answered 202: routing outlasted intake's wait
    cpu: dict[str, float]  # share of one core, by process (and `others`, `machine`)
    rss: dict[str, float]  # MiB, by gridcase process, at the end

    @property
    def name(self) -> str:
        return f"{self.apis} API + {self.workers} worker" + ("s" if self.workers > 1 else "")


async def file(api: httpx.AsyncClient) -> tuple[str, bool]:
    """File a case; once intake answers 202 (still routing when it stopped waiting), read the
    case until it is dispatched. Returns its id and whether intake answered 202."""
    created = await api.post("/v1/cases", json=CASE)
    assert created.status_code in (201, 202), created.text
    case_id = str(created.json()["id"])
    if created.status_code == 202:
        while (await api.get(f"/v1/cases/{case_id}")).json()["dispatched_at"] is None:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.1)
    return case_id, created.status_code == 202


async def lifecycles(
    client: Client, apis: list[httpx.AsyncClient], count: int, concurrency: int
) -> tuple[float, list[float], int]:
    """`count` standard lifecycles; each request goes to the next API in turn. Returns
    lifecycles/s, intake -> dispatched times and how many intakes answered 202."""
    turn = itertools.count()
    dispatched: list[float] = []
    still_routing = 0

    def next_api() -> httpx.AsyncClient:
        return apis[next(turn) % len(apis)]

    async def one(i: int) -> None:
        nonlocal still_routing
        started = time.perf_counter()
        case_id, routing = await file(next_api())
        dispatched.append(time.perf_counter() - started)
        still_routing += routing
        for action, body in STANDARD:
            await act(next_api(), case_id, action, body)
        await client.get_workflow_handle(case_id).result()

    seconds = await bounded(concurrency, count, one)
    return count / seconds, dispatched, still_routing


async def run_layout(
    shared: Servers, apis: int, workers: int, count: int, concurrency: int
) -> Layout:
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    settings = shared.settings.model_copy(update={"task_queue": queue})
    client = await build_client(settings)
    started: list[Gridcase] = [
        start(shared, "worker", f"worker-{k + 1}", queue) for k in range(workers)
    ]
    try:
        for k in range(apis):
            api = start(shared, "api", f"api-{k + 1}", queue, api_port=free_port())
            started.append(api)
            await wait_until_ready(api.url or "", within=60)
        headers = {"Authorization": f"Bearer {admin_token(settings)}"}
        http = [
            httpx.AsyncClient(base_url=p.url or "", headers=headers, timeout=120)
            for p in started
            if p.url
        ]
        try:
            await lifecycles(client, http, WARM_UP, concurrency)
            watched = {
                **shared.watched,
                **{p.name: p.watched for p in started},
                "bench client": psutil.Process(),
            }
            window = CpuWindow(watched)
            rate, dispatched, still_routing = await lifecycles(client, http, count, concurrency)
            cpu = window.shares()
            rss = {p.name: rss_mib(p.watched) for p in started}
        finally:
            for one in http:
                await one.aclose()
    finally:
        for process in started:
            process.stop()
    return Layout(apis, workers, rate, dispatched, still_routing, cpu, rss)


async def main(count: int, concurrency: int, layouts: list[tuple[int, int]]) -> None:
    console = Console(width=150)
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    async with servers(workdir) as shared:
        measured = [await run_layout(shared, a, w, count, concurrency) for a, w in layouts]
    report(console, count, concurrency, measured)


def report(console: Console, count: int, concurrency: int, measured: list[Layout]) -> None:
    first = measured[0]
    table = Table(
        title=f"{count} lifecycles, {concurrency} at a time, on {cores()} cores "
        f"(load average at the end {load_average()})"
    )
    columns = ("layout", "lifecycles/s", "/ first", "intake -> dispatched p50, p99", "202s")
    for column in columns:
        table.add_column(column, justify="right")
    for layout in measured:
        p50, p99 = (percentile(layout.dispatched, s) * 1000 for s in (0.5, 0.99))
        table.add_row(
            layout.name,
            f"{layout.rate:.1f}",
            f"{layout.rate / first.rate:.2f}",
            f"{p50:.0f} ms, {p99:.0f} ms",
            str(layout.still_routing),
        )
    console.print(table)
    cpu = Table(title="CPU during the measured span, % of one core (RSS at the end)")
    cpu.add_column("process")
    for layout in measured:
        cpu.add_column(layout.name, justify="right")
    # Servers, APIs, workers, then the bench's own client and the rest of the machine.
    order = ("postgres", "temporal", "api", "worker", "bench", "others", "machine")
    every = {name for layout in measured for name in layout.cpu}
    names = sorted(
        every, key=lambda n: (next(i for i, o in enumerate(order) if n.startswith(o)), n)
    )
    for name in names:
        cells = []
        for layout in measured:
            share = layout.cpu.get(name)
            rss = layout.rss.get(name)
            cells.append(
                "-"
                if share is None
                else f"{share:.0%}" + (f" ({rss:.0f} MiB)" if rss is not None else "")
            )
        cpu.add_row(name, *cells)
    console.print(cpu)


def layouts_of(text: str) -> list[tuple[int, int]]:
    pairs = []
    for one in text.split(","):
        apis, _, workers = one.partition("x")
        pairs.append((int(apis), int(workers)))
    return pairs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--layouts",
        default="1x1,2x2,1x1",
        help="APIs x workers, comma-separated (the first "
        "again at the end shows how much the machine drifted during the run)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.concurrency, layouts_of(args.layouts)))
