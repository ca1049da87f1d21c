"""Benchmark: N cases through the whole lifecycle over the HTTP API, beside two references on the
same Temporal server in the same run: a bare workflow of the same shape (plain activities) and
the floor (the same start and Updates, no activity). Then the history events of each other path
a case can take.

    python -m bench.lifecycle [--cases 200] [--concurrency 20]

Without TEMPORAL_ADDRESS it measures both kinds of dev server one after the other, in memory and
on an SQLite file (what `make run` uses); with it, that server only. DATABASE_URL: a PostgreSQL
to make its own database in (else an embedded one). Prints cases/s, the ratios, start ->
dispatched p50/p99 (intake's answer for gridcase) and history events per case. The API runs
in-process over ASGI (no sockets), with one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from bench.bare import STEPS, BareCaseWorkflow, bare_step
from core.auth import issue
from core.config import Settings
from core.temporal import build_client, data_converter
from db import reference
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from domain.permissions import Principal, Role
from worker.main import build_worker
from worker.stack import (
    create_database,
    register_search_attributes,
    start_postgres,
    start_temporal,
)

CASE = {
    "channel": "hotline",
    "category": "sanitation.dead_corner",
    "title": "卫生死角",
    "description": "楼后垃圾堆积",
    "location": {"address": "怡顺社区 5 号楼", "grid": "C01-G03"},
    "reporter": {"name": "赵女士", "phone": "13700000003"},
}
Step = tuple[str, dict[str, Any]]  # an action's path under the case, and its body
ACCEPT: Step = ("accept", {})
CONTACT: Step = ("contact", {"note": "已联系"})
REPLY: Step = ("reply", {"result": "已清理"})
RATE: Step = ("rate", {"grade": "satisfied", "solved": True})
STANDARD = (ACCEPT, CONTACT, REPLY, RATE)
AGENCIES = ("DA-POLICE", "DA-JUSTICE", "SD-CIVIL")  # petition.collective's linkage agencies
# The paths a case can take: a name, what it changes of CASE, its steps.
PATHS: tuple[tuple[str, dict[str, Any], tuple[Step, ...]], ...] = (
    ("standard: intake, accept, contact, reply, rate", {}, STANDARD),
    (
        "returned and reassigned, then the standard steps",
        {},
        (("return", {"reason": "不属于本单位"}), ("reassign", {"unit": "CO-C01"}), *STANDARD),
    ),
    (
        "re-handling: unsatisfied, replied again, rated",
        {},
        (
            ACCEPT,
            CONTACT,
            REPLY,
            ("rate", {"grade": "unsatisfied"}),
            ("reply", {"result": "二次处理"}),
            RATE,
        ),
    ),
    (
        "a linkage with three agencies (the case's history)",
        {"category": "petition.collective", "location": {"address": "沧口", "grid": "C01-G01"}},
        (
            ACCEPT,
            CONTACT,
            *(("linkage/report", {"agency": a}) for a in AGENCIES),
            *(("linkage/agency_done", {"agency": a, "note": "已办结"}) for a in AGENCIES),
            REPLY,
            RATE,
        ),
    ),
    (
        "a grid event closed on the spot",
        {
            "channel": "grid_patrol",
            "category": "public_order.flyers",
            "photo_url": "https://example.org/found.jpg",
        },
        (
            (
                "resolve_on_site",
                {"evidence_url": "https://example.org/after.jpg", "note": "已清理"},
            ),
            ("confirm", {}),
        ),
    ),
)


# How a client waits out a 503, and how often it reads a case still routing (for at most 2 min).
RETRY_AFTER = 0.5
RETRIES = 240


@dataclass
class Run:
    """One measured run: its cases/s, start -> dispatched times and events per case."""

    name: str
    rate: float
    dispatched: list[float]
    events: float
    late: int = 0  # intakes answered 202: routing outlasted intake's wait


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def bounded(concurrency: int, count: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `one(i)` for i < count with at most `concurrency` at a time; return seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(count)))
    return time.perf_counter() - started


async def reference_run(client: Client, count: int, concurrency: int, with_activities: bool) -> Run:
    """The bare workflow (with activities) or the floor (without), as people usually call it:
    start, then an Update for the routed answer and one per step."""
    queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
    dispatched: list[float] = []
    ids: list[str] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        handle = await client.start_workflow(
            BareCaseWorkflow.run, with_activities, id=f"{queue}-{i}", task_queue=queue
        )
        await handle.execute_update(BareCaseWorkflow.routed)
        dispatched.append(time.perf_counter() - started)
        ids.append(handle.id)
        for name in STEPS:
            await handle.execute_update(BareCaseWorkflow.step, name)
        await handle.result()

    async with Worker(
        client, task_queue=queue, workflows=[BareCaseWorkflow], activities=[bare_step]
    ):
        seconds = await bounded(concurrency, count, one)
    name = "bare workflow, same shape" if with_activities else "floor: start + Updates only"
    return Run(name, count / seconds, dispatched, await events_per_case(client, ids))


async def gridcase_run(
    settings: Settings, client: Client, api: httpx.AsyncClient, count: int, concurrency: int
) -> Run:
    dispatched: list[float] = []
    ids: list[str] = []
    late: list[str] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        case_id = await file(api, late)
        dispatched.append(time.perf_counter() - started)
        ids.append(case_id)
        for action, body in STANDARD:
            await act(api, case_id, action, body)
        await client.get_workflow_handle(case_id).result()

    seconds = await bounded(concurrency, count, one)
    events = await events_per_case(client, ids)
    return Run("gridcase via the API", count / seconds, dispatched, events, len(late))


async def file(api: httpx.AsyncClient, late: list[str] | None = None, **overrides: Any) -> str:
    """File a case and return once it is dispatched: intake answers 201 routed, or (when routing
    outlasts its wait, as under load) 202 recorded and started, and the case is then read until
    its record says dispatched (its id goes to `late`). Either is an honest answer; a 503 is
    retried, as clients do."""
    for _ in range(RETRIES):
        created = await api.post("/v1/cases", json={**CASE, **overrides})
        if created.status_code != 503:
            break
        await asyncio.sleep(RETRY_AFTER)
    assert created.status_code in (201, 202), created.text
    case_id = str(created.json()["id"])
    if created.status_code == 202:
        if late is not None:
            late.append(case_id)
        for _ in range(RETRIES * 5):
            case = await api.get(f"/v1/cases/{case_id}")
            if case.status_code == 200 and case.json()["dispatched_at"] is not None:
                break
            await asyncio.sleep(RETRY_AFTER / 5)
        else:
            raise AssertionError(f"{case_id} was never dispatched")
    return case_id


async def act(api: httpx.AsyncClient, case_id: str, action: str, body: dict[str, Any]) -> None:
    """Take a step as a careful client does: a 503 is retried with the same Idempotency-Key (it
    runs once); a 409 is retried too, for a step the linkage allows only once it has told the
    case."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    for _ in range(RETRIES):
        response = await api.post(f"/v1/cases/{case_id}/{action}", json=body, headers=key)
        if response.status_code not in (409, 503):
            break
        await asyncio.sleep(0.05 if response.status_code == 409 else RETRY_AFTER)
    assert response.status_code == 200, f"{action}: {response.text}"


async def path_events(client: Client, api: httpx.AsyncClient) -> list[tuple[str, int]]:
    """History events of one case down each path (the same on every server)."""
    counted = []
    for name, overrides, steps in PATHS:
        case_id = await file(api, **overrides)
        for action, body in steps:
            await act(api, case_id, action, body)
        await client.get_workflow_handle(case_id).result()
        counted.append((name, await history_length(client, case_id)))
    return counted


async def events_per_case(client: Client, ids: list[str]) -> float:
    return statistics.median([await history_length(client, i) for i in ids[:20]])


async def history_length(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


def admin_token(settings: Settings) -> str:
    principal = Principal(subject="bench", role=Role.admin)
    return issue(settings, principal, timedelta(hours=2))


async def measure(
    settings: Settings, count: int, concurrency: int, paths: bool
) -> tuple[list[Run], list[tuple[str, int]]]:
    """Warm every path up, then the floor, the bare workflow and gridcase back to back."""
    client = await build_client(settings)
    await register_search_attributes(client)  # a persistent or remote server may lack them
    engine = make_engine(settings, pool_size=concurrency)
    app = create_app(settings)
    try:
        async with (
            build_worker(client, make_sessionmaker(engine), settings.task_queue),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                timeout=120,
                headers={"Authorization": f"Bearer {admin_token(settings)}"},
            ) as api,
        ):
            warm = min(10, count)
            for with_activities in (False, True):
                await reference_run(client, warm, concurrency, with_activities)
            await gridcase_run(settings, client, api, warm, concurrency)
            runs = [
                await reference_run(client, count, concurrency, with_activities=False),
                await reference_run(client, count, concurrency, with_activities=True),
                await gridcase_run(settings, client, api, count, concurrency),
            ]
            return runs, await path_events(client, api) if paths else []
    finally:
        await engine.dispose()


def report(server: str, count: int, concurrency: int, runs: list[Run]) -> None:
    floor, bare, _ = runs
    print(f"\n{server}: {count} cases, {concurrency} at a time")
    print(
        f"  {'':28} {'cases/s':>8} {'/ bare':>7} {'/ floor':>8} "
        f"{'start -> dispatched p50, p99':>29} {'events/case':>12}"
    )
    for run in runs:
        p50, p99 = (percentile(run.dispatched, s) * 1000 for s in (0.5, 0.99))
        print(
            f"  {run.name:28} {run.rate:8.1f} {run.rate / bare.rate:7.2f} "
            f"{run.rate / floor.rate:8.2f} {f'{p50:.0f} ms, {p99:.0f} ms':>29} {run.events:12.0f}"
        )
        if run.late:
            print(
                f"  ({run.late} of {count} intakes answered 202, routing outlasting intake's wait;"
                " their start -> dispatched runs until the record says dispatched)"
            )


async def main(count: int, concurrency: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    admin = os.environ.get("DATABASE_URL") or start_postgres(workdir, database="postgres")
    settings = Settings(
        database_url=create_database(admin, f"gridcase_bench_{os.getpid()}"),
        task_queue=f"bench-{uuid.uuid4().hex[:6]}",
    )
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)  # alembic runs its own loop
    engine = make_engine(settings, pool_size=1)
    async with make_sessionmaker(engine).begin() as session:
        await reference.seed(session, settings.config_dir)
    await engine.dispose()

    # Without TEMPORAL_ADDRESS, both dev servers; with it, that server (its TLS/API-key settings
    # apply).
    servers: list[tuple[str, Path | None]] = (
        [(settings.temporal_target, None)]
        if os.environ.get("TEMPORAL_ADDRESS")
        else [("dev server, in memory", None), ("dev server, SQLite file", workdir / "t.db")]
    )
    paths: list[tuple[str, int]] = []
    for n, (server, database_file) in enumerate(servers):
        env = None
        if not os.environ.get("TEMPORAL_ADDRESS"):
            env = await start_temporal(
                data_converter=data_converter(settings), database_file=database_file
            )
        target = env.client.service_client.config.target_host if env else None
        at = settings.model_copy(update={"temporal_address": target}) if target else settings
        try:
            runs, counted = await measure(at, count, concurrency, paths=n == 0)
        finally:
            if env is not None:
                await env.shutdown()
        paths = paths or counted
        report(server, count, concurrency, runs)
    print("\nhistory events per case, by path:")
    for name, events in paths:
        print(f"  {name:52} {events:4}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.concurrency))
