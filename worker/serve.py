"""Running gridcase's long-lived processes (a worker, the API, or both for `gridcase up`): they
wait for Temporal instead of exiting when it is down, and SIGTERM or SIGINT stops them
gracefully within a bounded time.

A stop signal cancels the main task, so every `finally` on the way out runs: uvicorn finishes
its open requests, the Temporal worker stops polling and lets its running activities finish
(then hands back what is left: the server retries it elsewhere), the outbox sender stops between
two rows, and `gridcase up` then stops the servers it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any

import uvicorn
from temporalio.worker import Worker

from api.main import create_app
from core.config import Settings, StartupError
from core.temporal import connect_with_backoff, metrics_runtime
from db.session import make_engine, make_sessionmaker
from domain.governance import GovernanceConfig
from worker.gateways import gateway_from
from worker.main import build_worker
from worker.outbox import Retries, run_outbox
from worker.schedules import register_schedules

log = logging.getLogger("gridcase")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long running activities may take to finish after a stop signal, and how long the whole
# stop may take (docker-compose's stop_grace_period is set above it).
WORKER_GRACE = timedelta(seconds=10)
STOP_WITHIN_SECONDS = 20.0


def run(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run(main)`, with SIGTERM and SIGINT cancelling it: the process stops as it would
    on Ctrl-C in a terminal, whoever sends the signal (systemd, docker, a shell's `kill`)."""

    async def until_stopped() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await main

    asyncio.run(until_stopped())


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as taken:
            if taken.errno != errno.EADDRINUSE:
                raise StartupError(f"cannot listen on {host}:{port} for {what}: {taken}") from None
            raise StartupError(
                f"port {port} on {host} ({what}) is taken: is another gridcase running? "
                f"Stop it, or choose another port with {setting}"
            ) from None


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the stop signal cancels the main task,
    which stops this server among the rest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: Settings,
    *,
    worker: bool,
    api: bool,
    banner: str = "",
    also: list[uvicorn.Config] | None = None,
) -> None:
    """Run a worker (and its outbox sender), the API, or both, and the servers `also` names
    (`gridcase up`: the read-only Temporal UI), until a stop signal."""
    if api:
        ensure_port_free(settings.api_host, settings.api_port, "the API", "GRIDCASE_API_PORT")
    gateway = gateway_from(settings) if worker else None
    engine = make_engine(settings)
    tasks: list[asyncio.Task[Any]] = []
    server: _Server | None = None
    temporal_worker: Worker | None = None
    servers = [_Server(config) for config in also or []]
    try:
        for extra in servers:
            tasks.append(asyncio.create_task(extra.serve(), name="server"))
        if api:
            config = uvicorn.Config(
                create_app(settings),
                host=settings.api_host,
                port=settings.api_port,
                log_level="info",
                lifespan="on",
                log_config=None,  # through gridcase's handler (core/logs.py): plain or JSON
                timeout_graceful_shutdown=int(WORKER_GRACE.total_seconds()),
            )
            server = _Server(config)
            servers.append(server)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        if gateway is not None:
            sessions = make_sessionmaker(engine)
            tasks.append(
                asyncio.create_task(
                    run_outbox(
                        sessions,
                        gateway,
                        settings.outbox_interval,
                        Retries(
                            first_backoff=settings.outbox_interval,
                            backoff_cap=settings.outbox_backoff_cap,
                            max_attempts=settings.outbox_max_attempts,
                        ),
                    ),
                    name="outbox",
                )
            )
            runtime = (
                metrics_runtime(settings.worker_metrics_address)
                if settings.worker_metrics_address
                else None
            )
            client = await connect_with_backoff(settings, runtime=runtime)
            recurring = GovernanceConfig.load(settings.config_dir).recurring_tasks
            await register_schedules(client, recurring, settings.task_queue)
            temporal_worker = build_worker(
                client,
                sessions,
                settings.task_queue,
                governance=True,
                settings=settings,
                graceful_shutdown=WORKER_GRACE,
            )
            tasks.append(asyncio.create_task(temporal_worker.run(), name="worker"))
        while not all(s.started for s in servers) and not any(t.done() for t in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if banner and all(s.started for s in servers):
            print(banner, flush=True)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a part that failed takes the process down with its error
            raise RuntimeError(f"{task.get_name()} stopped by itself")
    finally:
        await _stop(servers, temporal_worker, tasks)
        await engine.dispose()
        if gateway is not None:
            await gateway.aclose()


async def _stop(
    servers: list[_Server], worker: Worker | None, tasks: list[asyncio.Task[Any]]
) -> None:
    log.info("stopping")
    for server in servers:
        server.should_exit = True
    for task in tasks:
        if task.get_name() == "outbox":
            task.cancel()  # between rows or mid-row: an unsent row stays for the next sender
    try:
        async with asyncio.timeout(STOP_WITHIN_SECONDS):
            if worker is not None and worker.is_running:
                await worker.shutdown()
            await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        log.warning("parts still running after %.0fs, cancelled", STOP_WITHIN_SECONDS)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
