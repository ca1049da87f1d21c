"""docker-compose.yml's gridcase services, run here as their containers would run them (no Docker
engine): each service's own command and environment, with only the servers' addresses and the
ports pointed at this machine's (an empty database and a Temporal server of their own). The
migrate job builds the schema and loads the reference data; the worker and the API start, pass
their own health checks, and stop on SIGTERM within their stop_grace_period, logging JSON."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from core.config import Settings
from core.temporal import data_converter
from db.models import Unit
from db.session import make_engine, make_sessionmaker
from tests.conftest import free_port, repo_root
from worker.stack import create_database, start_temporal

COMPOSE: dict[str, Any] = yaml.safe_load((repo_root() / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def environment(service: str, **here: str) -> dict[str, str]:
    """The service's environment as compose gives it (names without a value pass the host's
    through, so they are left out), then this machine's addresses in `here`."""
    declared = {k: str(v) for k, v in SERVICES[service]["environment"].items() if v is not None}
    venv = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv}:{os.environ['PATH']}",  # where the image has `gridcase` and `python`
        "HOME": os.environ.get("HOME", "/tmp"),
        **declared,
        **here,
    }


def grace(service: str) -> float:
    amount, unit = re.fullmatch(r"(\d+)(s|m)", SERVICES[service]["stop_grace_period"]).groups()  # type: ignore[union-attr]
    return float(amount) * (60 if unit == "m" else 1)


def healthy(service: str, env: dict[str, str], ports: dict[int, int]) -> bool:
    """The service's health check, its container port replaced by the one taken here."""
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD"
    command = list(test[1:])
    for inside, outside in ports.items():
        command = [part.replace(f":{inside}/", f":{outside}/") for part in command]
    return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode == 0


async def until_healthy(
    service: str, process: subprocess.Popen[str], env: dict[str, str], ports: dict[int, int]
) -> None:
    deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
    while not healthy(service, env, ports):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{service} never became healthy"
        await asyncio.sleep(0.5)


async def test_the_compose_services_commands_migrate_start_pass_their_health_checks_and_stop(
    settings: Settings,
) -> None:
    empty = create_database(settings.database_url or "", f"gridcase_compose_{os.getpid()}")
    temporal = await start_temporal(port=free_port(), data_converter=data_converter(settings))
    servers = {
        "DATABASE_URL": empty,
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "GRIDCASE_CONFIG_DIR": str(repo_root() / "config"),  # the image's /app/config
    }
    try:
        await migrated_and_served(servers)
    finally:
        await temporal.shutdown()


def run(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(SERVICES[service]["command"], env=env, capture_output=True, text=True)


def start(service: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        SERVICES[service]["command"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def migrated_and_served(servers: dict[str, str]) -> None:
    done = run("migrate", environment("migrate", **servers))
    assert done.returncode == 0, done.stdout + done.stderr
    engine = make_engine(Settings(database_url=servers["DATABASE_URL"]))
    async with make_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Unit)) == 144
    await engine.dispose()

    metrics, api_port = free_port(), free_port()
    worker_env = environment(
        "worker", **servers, GRIDCASE_WORKER_METRICS_ADDRESS=f"127.0.0.1:{metrics}"
    )
    api_env = environment("api", **servers, GRIDCASE_API_PORT=str(api_port))
    assert worker_env["GRIDCASE_LOG_FORMAT"] == "json"  # the shared anchor came along
    started = [
        ("worker", start("worker", worker_env), worker_env, {9464: metrics}),
        ("api", start("api", api_env), api_env, {8000: api_port}),
    ]
    try:
        for service, process, env, ports in started:
            await until_healthy(service, process, env, ports)
        async with httpx.AsyncClient() as http:  # and the API reached what compose named
            ready = await http.get(f"http://127.0.0.1:{api_port}/readyz")
        assert ready.json()["checks"] == {"postgres": "ok", "temporal": "ok"}, ready.text
        for service, process, _, _ in started:
            process.send_signal(signal.SIGTERM)  # what `docker stop` sends
            began = time.monotonic()
            output, _ = process.communicate(timeout=grace(service))
            assert process.returncode == 0, output
            assert time.monotonic() - began < grace(service)
            assert '"message": "stopping"' in output  # JSON lines, as the compose env asks
    finally:
        for _, process, _, _ in started:
            if process.poll() is None:
                process.kill()
