"""Clean starts and stops, as an operator's tools see them: `gridcase up` stopped by SIGTERM
leaves no process and no port behind; the API waits for a Temporal that is not there yet; a
taken port or an invalid setting is one line, not a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from core.config import Settings
from core.temporal import data_converter
from tests.conftest import free_port, repo_root
from worker.stack import start_temporal


def gridcase(*args: str, env: dict[str, str | None]) -> subprocess.Popen[str]:
    """The command in its own process; a None in `env` unsets that variable."""
    merged = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=repo_root(),
        env={k: v for k, v in merged.items() if v is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def listening_on(ports: set[int]) -> list[tuple[int, str]]:
    """Who still listens on any of `ports` (a port another program took for an outgoing
    connection meanwhile is not listening, so it does not count)."""
    held = []
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port in ports:
            owner = psutil.Process(connection.pid).name() if connection.pid else "?"
            held.append((connection.laddr.port, owner))
    return held


def processes_using(folder: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(folder) in cmdline:
            found.append(cmdline[:120])
    return found


async def ready(url: str, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3) as http:
        while True:
            try:
                response = await http.get(url)
                if response.status_code == 200 or time.monotonic() > deadline:
                    return response
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


async def test_sigterm_to_gridcase_up_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    up = gridcase(
        "up",
        env={
            "GRIDCASE_DATA_DIR": str(data),
            "GRIDCASE_API_PORT": str(ports["api"]),
            "GRIDCASE_TEMPORAL_PORT": str(ports["temporal"]),
            "GRIDCASE_TEMPORAL_UI_PORT": str(ports["ui"]),
            "DATABASE_URL": None,
            "TEMPORAL_ADDRESS": None,
        },
    )
    try:
        response = await ready(f"http://127.0.0.1:{ports['api']}/readyz", within=120)
        assert response.json()["checks"] == {"postgres": "ok", "temporal": "ok"}
        assert processes_using(data), "the embedded servers run from the data folder"
        started = psutil.Process(up.pid).children(recursive=True)
        postgres = (data / "pg" / "postmaster.pid").read_text().split()[0]
        started.append(psutil.Process(int(postgres)))  # a daemon: not up's child

        up.send_signal(signal.SIGTERM)  # what systemd, docker and `kill` send: not the group
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, output
    assert "stopping" in output
    assert [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
    assert processes_using(data) == []
    assert listening_on(set(ports.values())) == []


async def test_the_api_waits_for_temporal_and_readyz_says_what_is_missing(
    settings: Settings, tmp_path: Path
) -> None:
    api_port, temporal_port = free_port(), free_port()
    api = gridcase(
        "api",
        env={
            "DATABASE_URL": settings.database_url or "",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "GRIDCASE_API_PORT": str(api_port),
        },
    )
    env = None
    try:
        waiting = await ready(f"http://127.0.0.1:{api_port}/readyz", within=30)
        assert waiting.status_code == 503
        assert waiting.json()["checks"]["postgres"] == "ok"
        assert waiting.json()["checks"]["temporal"].startswith("not connected")
        # Temporal comes up after the API: the API connects by itself, no restart.
        env = await start_temporal(port=temporal_port, data_converter=data_converter(settings))
        connected = await ready(f"http://127.0.0.1:{api_port}/readyz", within=30)
        assert connected.status_code == 200, connected.text

        api.send_signal(signal.SIGINT)  # to the process alone, not its group
        output, _ = api.communicate(timeout=30)
    finally:
        if api.poll() is None:
            api.kill()
        if env is not None:
            await env.shutdown()
    assert api.returncode == 0, output
    assert "does not answer" in output  # the backoff said what it was waiting for
    assert listening_on({api_port}) == []


def test_a_taken_port_is_one_line_without_a_banner(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = gridcase(
            "api", env={"DATABASE_URL": settings.database_url or "", "GRIDCASE_API_PORT": str(port)}
        )
        output, _ = api.communicate(timeout=60)
    assert api.returncode != 0
    assert output.strip().splitlines() == [
        f"gridcase: port {port} on 127.0.0.1 (the API) is taken: is another gridcase running? "
        "Stop it, or choose another port with GRIDCASE_API_PORT"
    ]


def test_an_invalid_setting_is_one_line() -> None:
    worker = gridcase("worker", env={"DATABASE_URL": "mysql://somewhere/gridcase"})
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode != 0
    assert output.strip().splitlines() == [
        "gridcase: invalid setting: DATABASE_URL: Value error, "
        "must be a PostgreSQL URL, got mysql://…"
    ]
