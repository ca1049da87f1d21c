"""The fault test: the whole system as separate processes, killed -9 while it works.

    python -m faults.run [--cases 500] [--concurrency 16] [--seed N]

PostgreSQL (embedded), the Temporal dev server on a SQLite file, one API and two workers run as
processes of their own, each on the same data across restarts. Clients drive every case through
its whole life over HTTP (file, accept, contact, reply, rate) and retry honestly: the same
external_ref and, for each action, the same Idempotency-Key. Meanwhile each kind of process is
killed -9 at least once, at random moments, and started again.

Then PostgreSQL and Temporal are asked: every accepted intake exists once and is closed; no event
applied twice, no intake key, workflow or notification twice; the rollups equal the rows; and no
5xx other than 503 was ever answered. One line sums it up; the exit status says whether it held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from activities.cases import LOGGED
from core.auth import issue
from core.config import Settings
from domain.permissions import Principal, Role
from faults.checks import Verdict, verify
from worker.stack import EmbeddedPostgres, temporal_cli
from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("worker", "api", "temporal", "postgres")
CASE = {
    "channel": "hotline",
    "category": "sanitation.dead_corner",
    "title": "楼后卫生死角",
    "description": "垃圾堆积三天",
    "location": {"address": "怡顺社区 3 号楼", "grid": "C01-G02"},
    "reporter": {"name": "故障测试", "phone": "13900000009"},
}
LIFECYCLE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("accept", {}),
    ("contact", {"note": "已联系"}),
    ("reply", {"result": "已清理"}),
    ("rate", {"grade": "satisfied", "solved": True}),
)
# An action answered 404 or 409 right after a fault (the case not routed yet) is tried again
# for this long before the client gives up on it.
ACTION_PATIENCE_SECONDS = 300.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """One server process the test may kill -9 and start again on the same data."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # external_ref -> case id
    given_up: list[str] = field(default_factory=list)


class Stack:
    def __init__(self, workdir: Path, settings_env: dict[str, str]) -> None:
        self.workdir = workdir
        self.postgres = EmbeddedPostgres(workdir / "pg")
        self.temporal_port = free_port()
        self.api_port = free_port()
        self.env = settings_env
        logs = workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        python = [sys.executable, "-m", "worker.cli"]
        attributes = [
            arg for key in sa.ALL for arg in ("--search-attribute", f"{key.name}={_sa_type(key)}")
        ]
        self.temporal = Process(
            "temporal",
            [
                temporal_cli(),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--db-filename",
                str(workdir / "temporal.db"),
                "--log-level",
                "error",
                *attributes,
            ],
            dict(os.environ),
            logs / "temporal.log",
        )
        self.api = Process("api", [*python, "api"], self.env, logs / "api.log")
        self.workers = [
            Process(f"worker-{i}", [*python, "worker"], self.env, logs / f"worker-{i}.log")
            for i in (1, 2)
        ]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def kill_and_restart(self, kind: str, rng: random.Random) -> str:
        """kill -9 one process of `kind`, then start it again on the same data."""
        if kind == "postgres":
            pid = self.postgres.pid
            assert pid is not None, "PostgreSQL is not running"
            os.kill(pid, signal.SIGKILL)
            time.sleep(rng.uniform(0.5, 2.0))
            _retry(self.postgres.start, attempts=20)
            return f"postgres (pid {pid})"
        process = {"api": self.api, "temporal": self.temporal}.get(kind) or rng.choice(self.workers)
        pid = process.popen.pid if process.popen else None
        process.kill()
        time.sleep(rng.uniform(0.5, 2.0))
        process.start()
        return f"{process.name} (pid {pid})"

    def stop(self) -> None:
        for process in (self.api, *self.workers, self.temporal):
            process.stop()
        self.postgres.stop()


def _sa_type(key: Any) -> str:
    return {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}[
        key.indexed_value_type.name
    ]


def _retry(action: Any, attempts: int) -> None:
    for attempt in range(attempts):
        try:
            action()
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(1)


async def request(
    http: httpx.AsyncClient, tally: Tally, path: str, body: dict[str, Any], key: str
) -> httpx.Response | None:
    """One POST, as a client sees it: a response (counted by status), or None for a dropped
    connection (the API was killed mid-request)."""
    try:
        response = await http.post(path, json=body, headers={"Idempotency-Key": key})
    except httpx.TransportError:
        tally.transport_errors += 1
        return None
    tally.statuses[response.status_code] += 1
    return response


async def one_case(http: httpx.AsyncClient, tally: Tally, run: str, i: int) -> None:
    ref = f"faults-{run}-{i:05d}"
    body = {**CASE, "external_ref": ref}
    deadline = time.monotonic() + ACTION_PATIENCE_SECONDS
    case_id = None
    while case_id is None:
        response = await request(http, tally, "/v1/cases", body, f"{ref}-intake")
        if response is not None and response.status_code in (200, 201, 202):
            case_id = response.json()["id"]
            tally.accepted[ref] = case_id
        elif response is not None and response.status_code < 500:
            tally.given_up.append(f"{ref}: intake answered {response.status_code}")
            return
        elif time.monotonic() > deadline:
            tally.given_up.append(f"{ref}: intake never accepted")
            return
        else:
            await asyncio.sleep(1)
    for action, action_body in LIFECYCLE:
        key = f"{ref}-{action}"  # the same key on every retry of this action
        while True:
            response = await request(http, tally, f"/v1/cases/{case_id}/{action}", action_body, key)
            if response is not None and response.status_code == 200:
                break
            if response is not None and response.status_code not in (404, 409, 503):
                tally.given_up.append(f"{case_id} {action}: {response.status_code}")
                return
            if time.monotonic() > deadline:
                tally.given_up.append(f"{case_id} {action}: still refused")
                return
            await asyncio.sleep(1)
        deadline = time.monotonic() + ACTION_PATIENCE_SECONDS


async def drive(stack: Stack, token: str, cases: int, concurrency: int, run: str) -> Tally:
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with gate:
            await one_case(http, tally, run, i)

    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        await asyncio.gather(*(bounded(i) for i in range(cases)))
    return tally


async def inject(stack: Stack, rng: random.Random, done: asyncio.Event) -> Counter[str]:
    """Kill each kind at least once, in a random order at random moments, while cases run;
    then keep killing at random until the clients are done."""
    faults: Counter[str] = Counter()
    order = list(KINDS)
    rng.shuffle(order)
    while not done.is_set():
        # Each kind once, soon; then now and then, so the cases also get to run.
        pause = rng.uniform(5, 12) if order else rng.uniform(15, 30)
        try:
            await asyncio.wait_for(done.wait(), timeout=pause)
            break
        except TimeoutError:
            pass
        kind = order.pop() if order else rng.choice(KINDS)
        what = await asyncio.to_thread(stack.kill_and_restart, kind, rng)
        faults[kind] += 1
        print(f"  fault {sum(faults.values())}: kill -9 {what}, started again", flush=True)
    return faults


async def wait_until_ready(url: str, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=3) as http:
        while True:
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready after {within:.0f}s")
            await asyncio.sleep(0.5)


async def main(cases: int, concurrency: int, seed: int, keep: bool) -> int:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    workdir = Path(tempfile.mkdtemp(prefix="gridcase-faults-"))
    started = time.monotonic()
    settings_env = {
        **os.environ,
        "GRIDCASE_DATA_DIR": str(workdir / "data"),
        "GRIDCASE_TEMPORAL_RPC_TIMEOUT": "5",
        "GRIDCASE_OUTBOX_INTERVAL": "0.5",
    }
    settings_env.setdefault(
        "GRIDCASE_CODEC_KEYS", '{"faults-1": "ZmF1bHRzLWtleS1mYXVsdHMta2V5LWZhdWx0cy1rZXk="}'
    )
    settings_env.setdefault("GRIDCASE_JWT_SECRET", "faults-secret-" + uuid.uuid4().hex)
    stack = Stack(workdir, settings_env)
    try:
        stack.postgres.start()
        database_url = stack.postgres.url("gridcase")
        stack.env.update(
            DATABASE_URL=database_url,
            TEMPORAL_ADDRESS=f"127.0.0.1:{stack.temporal_port}",
            GRIDCASE_API_PORT=str(stack.api_port),
        )
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "worker.cli", "seed"],
            env=stack.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        stack.temporal.start()
        stack.api.start()
        for worker in stack.workers:
            worker.start()
        await wait_until_ready(stack.api_url, within=120)
        settings = Settings(
            database_url=database_url,
            temporal_address=stack.env["TEMPORAL_ADDRESS"],
            jwt_secret=stack.env["GRIDCASE_JWT_SECRET"],
            codec_keys=json.loads(stack.env["GRIDCASE_CODEC_KEYS"]),
        )
        token = issue(settings, Principal(subject="faults", role=Role.admin), timedelta(hours=2))
        print(
            f"faults: {cases} cases, {concurrency} at a time; API {stack.api_url}, "
            f"Temporal {stack.env['TEMPORAL_ADDRESS']}, data {workdir}",
            flush=True,
        )
        done = asyncio.Event()
        injecting = asyncio.create_task(inject(stack, rng, done))
        try:
            tally = await drive(stack, token, cases, concurrency, run)
        finally:
            done.set()
            faults = await injecting
        verdict: Verdict = await verify(settings, tally.accepted, run)
    finally:
        stack.stop()
    seconds = time.monotonic() - started
    # Steps a lost workflow task had recorded, replaced by its retry, and stale tasks' records
    # that gave way (db.cases.record).
    logs = [log.read_text(errors="replace") for log in (workdir / "logs").glob("worker-*.log")]
    replaced, stale = (sum(log.count(LOGGED[k]) for log in logs) for k in ("replaced", "stale"))
    five_hundreds = sum(n for code, n in tally.statuses.items() if code >= 500 and code != 503)
    missing_kinds = [k for k in KINDS if not faults[k]]
    held = (
        verdict.held
        and five_hundreds == 0
        and not tally.given_up
        and not missing_kinds
        and len(tally.accepted) == cases
    )
    print(
        f"faults {'HELD' if held else 'FAILED'}: cases {cases}, accepted {len(tally.accepted)}, "
        f"closed {verdict.closed}, lost {verdict.lost}, duplicated {verdict.duplicated}, "
        f"5xx {five_hundreds}, 503 {tally.statuses[503]}, dropped connections "
        f"{tally.transport_errors}, lost tasks' records replaced {replaced}, "
        f"stale ones refused {stale}, faults "
        + " ".join(f"{k}={faults[k]}" for k in KINDS)
        + f", {seconds:.0f} s",
        flush=True,
    )
    for problem in [*verdict.problems, *tally.given_up[:20]]:
        print(f"  {problem}")
    if five_hundreds:
        for answered in internal_errors((workdir / "logs" / "api.log").read_text(errors="replace")):
            print(f"  {answered}")
    if missing_kinds:
        print(f"  never killed (the run ended first): {', '.join(missing_kinds)}")
    if held and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    elif not held:
        print(f"  logs kept in {workdir / 'logs'}")
    return 0 if held else 1


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d ")
_INTERNAL = ("answered 500", "Exception in ASGI application")


def internal_errors(api_log: str) -> list[str]:
    """Each 500 the API logged, as one line: the request, then the exception that ended its
    traceback (so a CI run's output says what failed; the logs stay on the machine)."""
    lines = api_log.splitlines()
    found = []
    for at, line in enumerate(lines):
        if not any(mark in line for mark in _INTERNAL):
            continue
        traceback = []
        for following in lines[at + 1 :]:
            if _LOG_LINE.match(following):
                break
            traceback.append(following)
        raised = next((t for t in reversed(traceback) if t.strip()), "no traceback")
        found.append(f"{line.split(': ', 1)[-1]}: {raised}")
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    args = parser.parse_args()
    print(f"faults: seed {args.seed}", flush=True)
    sys.exit(asyncio.run(main(args.cases, args.concurrency, args.seed, args.keep)))
