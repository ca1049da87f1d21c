"""Benchmark: N cases through the whole lifecycle over the HTTP API, against a bare workflow of
the same shape on the same Temporal server in the same run.

    python -m bench.lifecycle [--cases 200] [--concurrency 20]

Uses DATABASE_URL / TEMPORAL_ADDRESS when set; otherwise starts embedded PostgreSQL and an
in-memory Temporal dev server. Prints cases/s for both, their ratio, intake->dispatched p50/p99
and history events per case. The API runs in-process over ASGI (no sockets), with one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
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
from core.temporal import data_converter
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
ACTIONS = (
    ("accept", {}),
    ("contact", {"note": "已联系"}),
    ("reply", {"result": "已清理"}),
    ("rate", {"grade": "satisfied", "solved": True}),
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def bounded(concurrency: int, count: int, one: Any) -> float:
    """Run `one(i)` for i < count with at most `concurrency` at a time; return seconds taken."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(count)))
    return time.perf_counter() - started


async def bare_run(client: Client, count: int, concurrency: int) -> float:
    queue = f"bench-bare-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            BareCaseWorkflow.run, id=f"bare-{queue}-{i}", task_queue=queue
        )
        await handle.execute_update(BareCaseWorkflow.routed)
        for name in STEPS:
            await handle.execute_update(BareCaseWorkflow.step, name)
        await handle.result()

    async with Worker(
        client, task_queue=queue, workflows=[BareCaseWorkflow], activities=[bare_step]
    ):
        return await bounded(concurrency, count, one)


async def gridcase_run(
    settings: Settings, client: Client, count: int, concurrency: int
) -> tuple[float, list[float], list[str]]:
    engine = make_engine(settings, pool_size=concurrency)
    sessions = make_sessionmaker(engine)
    app = create_app(settings)
    intake_seconds: list[float] = []
    ids: list[str] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        created = await api.post("/v1/cases", json=CASE)
        intake_seconds.append(time.perf_counter() - started)
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        ids.append(case_id)
        for action, body in ACTIONS:
            response = await api.post(f"/v1/cases/{case_id}/{action}", json=body)
            assert response.status_code == 200, response.text
        await client.get_workflow_handle(case_id).result()

    try:
        async with (
            build_worker(client, sessions, settings.task_queue),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                timeout=120,
                headers={"Authorization": f"Bearer {admin_token(settings)}"},
            ) as api,
        ):
            seconds = await bounded(concurrency, count, one)
    finally:
        await engine.dispose()
    return seconds, intake_seconds, ids


def admin_token(settings: Settings) -> str:
    principal = Principal(subject="bench", role=Role.admin)
    return issue(settings, principal, timedelta(hours=2))


async def history_length(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def main(count: int, concurrency: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    admin = os.environ.get("DATABASE_URL") or start_postgres(workdir, database="postgres")
    database_url = create_database(admin, f"gridcase_bench_{os.getpid()}")
    env = None
    if not os.environ.get("TEMPORAL_ADDRESS"):
        env = await start_temporal(data_converter=data_converter(Settings()))
    # Without the embedded server, TEMPORAL_ADDRESS (and Temporal's TLS/API-key settings) apply.
    started = {"temporal_address": env.client.service_client.config.target_host} if env else {}
    settings = Settings(
        database_url=database_url, task_queue=f"bench-{uuid.uuid4().hex[:6]}", **started
    )
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)  # alembic runs its own loop
    engine = make_engine(settings, pool_size=1)
    async with make_sessionmaker(engine).begin() as session:
        await reference.seed(session, settings.config_dir)
    await engine.dispose()

    from core.temporal import build_client

    client = await build_client(settings)
    await register_search_attributes(client)  # a persistent or remote server may lack them
    try:
        # Warm both paths up, then measure baseline and gridcase back to back.
        await bare_run(client, min(10, count), concurrency)
        await gridcase_run(settings, client, min(10, count), concurrency)
        bare_seconds = await bare_run(client, count, concurrency)
        case_seconds, intake, ids = await gridcase_run(settings, client, count, concurrency)
        events = [await history_length(client, i) for i in ids[:20]]
        bare_events = await history_length(client, await _a_bare_id(client))
    finally:
        if env is not None:
            await env.shutdown()

    bare_rate, case_rate = count / bare_seconds, count / case_seconds
    print(
        f"cases: {count}, concurrency: {concurrency}, server: "
        f"{'dev server (in-memory)' if env else settings.temporal_target}"
    )
    print(f"bare workflow, same shape : {bare_rate:7.1f} cases/s")
    print(f"gridcase via the API      : {case_rate:7.1f} cases/s")
    print(f"ratio gridcase / bare     : {case_rate / bare_rate:7.2f}")
    print(
        f"intake -> dispatched      : p50 {percentile(intake, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(intake, 0.99) * 1000:.0f} ms"
    )
    print(
        f"history events per case   : {statistics.median(events):.0f} "
        f"(bare workflow: {bare_events})"
    )


async def _a_bare_id(client: Client) -> str:
    async for execution in client.list_workflows("WorkflowType='BareCaseWorkflow'", limit=1):
        return execution.id
    raise RuntimeError("no bare workflow found")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.concurrency))
