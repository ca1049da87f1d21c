"""Real servers for the suite: embedded PostgreSQL (or DATABASE_URL), the time-skipping test
server for workflow tests, and the Temporal dev server where a test needs the real thing."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.auth import issue
from core.config import Settings
from core.temporal import data_converter
from db import reference
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from domain.permissions import Principal, Role
from worker.stack import (
    create_database,
    register_search_attributes,
    start_postgres,
    start_temporal,
    temporal_test_server,
)

# One payload key and one token secret for the whole suite, servers and subprocesses alike.
os.environ.setdefault(
    "GRIDCASE_CODEC_KEYS", '{"test-1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}'
)
os.environ.setdefault("GRIDCASE_JWT_SECRET", "test-secret-test-secret-test-secret-0123")


def pytest_configure(config: pytest.Config) -> None:
    # Several suites run at once on one machine (CI, developers' worktrees): in pytest's shared
    # numbered folders (/tmp/pytest-of-<user>) one run's clean-up can remove another's
    # PostgreSQL. One fresh folder per run, unless --basetemp says otherwise.
    if config.option.basetemp is None:
        folder = tempfile.mkdtemp(prefix="gridcase-tests-")
        config.option.basetemp = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_addoption(parser: pytest.Parser) -> None:
    fuzz = parser.getgroup(
        "fuzz", "schemathesis over the HTTP API (tests/integration/test_schema.py)"
    )
    fuzz.addoption("--fuzz-examples", type=int, default=15, help="examples per operation")
    fuzz.addoption(
        "--fuzz-stateful", action="store_true", help="also run sequences of linked operations"
    )


def bearer(role: str = "admin", **scope: Any) -> dict[str, str]:
    """An Authorization header for a principal of `role` (admin may take every action)."""
    principal = Principal(subject=f"test-{role}", role=Role(role), **scope)
    return {"Authorization": f"Bearer {issue(Settings(), principal, timedelta(hours=1))}"}


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh, migrated, seeded database on DATABASE_URL's server or an embedded one."""
    admin = os.environ.get("DATABASE_URL") or start_postgres(
        tmp_path_factory.mktemp("pg"), database="postgres"
    )
    url = create_database(admin, f"gridcase_test_{os.getpid()}")
    settings = Settings(database_url=url)
    upgrade(settings.sqlalchemy_url)
    return url


@pytest.fixture(scope="session")
def settings(postgres_url: str) -> Settings:
    return Settings(database_url=postgres_url, task_queue="cases-test")


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings)
    async with make_sessionmaker(engine).begin() as session:
        await reference.seed(session, settings.config_dir)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=data_converter(Settings()),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    if os.environ.get("TEMPORAL_ADDRESS"):
        client = await Client.connect(
            os.environ["TEMPORAL_ADDRESS"], data_converter=data_converter(Settings())
        )
        env = WorkflowEnvironment.from_client(client)
        await register_search_attributes(client)
    else:
        env = await start_temporal(data_converter=data_converter(Settings()))
    yield env
    await env.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unique_queue() -> str:
    return f"cases-{uuid.uuid4().hex[:8]}"


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


async def eventually(check, within: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async check until it returns something truthy (or fail with its last value)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)
