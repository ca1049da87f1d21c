"""Benchmark: how long a policy change takes to reach the open cases.

    python -m bench.policy_change [--cases 1000]

Files `--cases` cases of one category (through the intake; routed and dispatched by a worker) on the
Temporal dev server (TEMPORAL_ADDRESS's, else an embedded one) and PostgreSQL (DATABASE_URL's,
else embedded), then measures, in the same run:
  baseline: telling them all a policy change that changes nothing (the visibility query and one
            signal per case at the same bounded rate; no case records anything),
  measured: telling them a shorter reply limit: every case records policy_changed (one
            persistence activity each) and re-plans its timers;
until the last case has recorded it (counted in case_events).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from activities.governance import GOVERNANCE_CENTRE
from api.intake import file_case
from bench.lifecycle import bounded
from bench.open_cases import case_body
from core.config import Settings
from core.temporal import build_client, data_converter
from db import reference
from db.migrate import upgrade
from db.models import Case, CaseEventRow
from db.session import make_engine, make_sessionmaker
from domain.policy_change import PolicyFollowed, open_cases_query
from worker.main import build_worker
from worker.stack import create_database, register_search_attributes, start_postgres, start_temporal
from workflows.policy import PolicyChangeWorkflow

CATEGORY = "consultation.policy"  # policy SLA-NORMAL-CONSULTATION-POLICY, reply 3wd


async def main(count: int) -> None:
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
    admin = os.environ.get("DATABASE_URL") or start_postgres(workdir, database="postgres")
    database_url = create_database(admin, f"gridcase_bench_{os.getpid()}")
    env = None
    if not os.environ.get("TEMPORAL_ADDRESS"):
        env = await start_temporal(data_converter=data_converter(Settings()))
    started = {"temporal_address": env.client.service_client.config.target_host} if env else {}
    settings = Settings(
        database_url=database_url, task_queue=f"bench-{uuid.uuid4().hex[:6]}", **started
    )
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
    engine = make_engine(settings, pool_size=10)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        await reference.seed(session, settings.config_dir)
        [policy] = [
            p for p in await reference.policies_for(session, CATEGORY, "normal") if p.category
        ]
    client = await build_client(settings)
    await register_search_attributes(client)

    async def one(i: int) -> None:
        body = case_body(CATEGORY, i, ["C01-G01"])  # its own resident: not a repeat of all
        await file_case(sessions, client, settings, body, GOVERNANCE_CENTRE)

    async def count_recorded() -> int:
        async with sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(CaseEventRow)
                .where(CaseEventRow.type == "policy_changed")
            )
            return int(found or 0)

    async def tell(changed: PolicyFollowed, until_recorded: int) -> tuple[float, int]:
        begun = time.perf_counter()
        told = await client.execute_workflow(
            PolicyChangeWorkflow.run,
            changed,
            id=f"policy-bench-{uuid.uuid4().hex[:6]}",
            task_queue=settings.task_queue,
        )
        while await count_recorded() < until_recorded:  # noqa: ASYNC110 (polls PostgreSQL)
            await asyncio.sleep(0.2)
        return time.perf_counter() - begun, told

    try:
        async with build_worker(client, sessions, settings.task_queue, settings=settings):
            start_seconds = await bounded(20, count, one)
            async with sessions() as session:
                running = await session.scalar(select(func.count()).select_from(Case))
            # Visibility is eventually consistent: wait until the query the telling runs sees
            # every case, or the baseline would tell fewer.
            while (await client.count_workflows(open_cases_query(policy))).count < count:  # noqa: ASYNC110
                await asyncio.sleep(1)
            same = PolicyFollowed(policy=policy, actor="bench")
            base_seconds, base_told = await tell(same, 0)
            shorter = PolicyFollowed(policy=policy.model_copy(update={"reply": "2wd"}), actor="b")
            seconds, told = await tell(shorter, count)
    finally:
        await engine.dispose()
        if env is not None:
            await env.shutdown()
    table = Table(title=f"{running:,} open cases (started in {start_seconds:.0f} s)")
    for column in ("", "cases told", "seconds", "cases / s", "ratio"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "baseline: told, nothing to record",
        str(base_told),
        f"{base_seconds:.1f}",
        f"{base_told / base_seconds:.0f}",
        "1.00",
    )
    table.add_row(
        "policy change reaches every case",
        str(told),
        f"{seconds:.1f}",
        f"{told / seconds:.0f}",
        f"{seconds / base_seconds:.2f}",
    )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    asyncio.run(main(parser.parse_args().cases))
