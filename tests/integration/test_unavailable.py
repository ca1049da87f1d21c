"""A database that cannot serve is an answer, not an accident: 503 with Retry-After (the
client's retry is safe, intake being idempotent), never a 500."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api import intake
from api.main import create_app
from core.config import Settings
from core.temporal import data_converter
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.stack import create_database, start_temporal


@asynccontextmanager
async def _served_without_worker(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan and all) over ASGI, and nobody polling its task queue."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=bearer()
        ) as api,
    ):
        yield api


async def test_a_database_that_refuses_connections_is_a_503_with_retry_after(
    settings: Settings,
    dev_server: WorkflowEnvironment,
    postgres_url: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    name = f"gridcase_closed_{os.getpid()}"
    url = create_database(postgres_url, name)
    # What a server starting up or shutting down answers at connect time, for real.
    async with sessions.begin() as session:
        await session.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    configured = app_settings(settings, dev_server, unique_queue()).model_copy(
        update={"database_url": url}
    )
    app = create_app(configured)
    async with _served_without_worker(app) as api:
        for response in (
            await api.get("/v1/cases"),
            await api.post("/v1/cases", json=new_case()),
            await api.get("/v1/cases/LC-2026-000001"),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "unavailable"
            assert int(response.headers["Retry-After"]) > 0


async def test_with_no_worker_a_case_is_recorded_and_answered_as_received(
    settings: Settings,
    dev_server: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],  # the database, with its reference data
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nobody polls the queue: intake records the case and answers 202 with the model's view of
    a received case (routed as soon as a worker comes)."""
    monkeypatch.setattr(intake, "ROUTING_WAIT_SECONDS", 0.5)
    app = create_app(app_settings(settings, dev_server, unique_queue()))
    async with _served_without_worker(app) as api:
        body = new_case(location={"address": "怡顺社区 3 号楼", "lat": 36.2, "lon": 120.4})
        filed = await api.post("/v1/cases", json=body)
        assert filed.status_code == 202, filed.text
        case = filed.json()
        assert (case["status"], case["unit"], case["last_seq"]) == ("received", None, 0)
        assert (case["description"], case["lat"], case["lon"]) == (body["description"], 36.2, 120.4)
        assert case["allowed_actions"] == [] and case["deadlines"] == []


async def test_a_connection_postgresql_dropped_costs_one_503_then_the_pool_is_fresh(
    settings: Settings,
    dev_server: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """No ping before each checkout (db/session.py): a connection PostgreSQL dropped (a restart,
    an idle timeout) fails the one request that meets it, as a 503 the client retries; the pool
    then replaces its connections and the retry is served."""
    app = create_app(app_settings(settings, dev_server, unique_queue()))
    async with _served_without_worker(app) as api:
        assert (await api.get("/v1/cases")).status_code == 200
        async with app.state.engine.connect() as connection:  # the API's pooled connection
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        async with sessions.begin() as session:
            assert await session.scalar(text(f"SELECT pg_terminate_backend({int(pid)})"))

        dropped = await api.get("/v1/cases")
        assert dropped.status_code == 503, dropped.text
        assert int(dropped.headers["Retry-After"]) > 0
        assert (await api.get("/v1/cases")).status_code == 200


async def test_an_intake_cut_off_before_the_start_answered_leaves_no_unretrieved_error(
    settings: Settings,
    dev_server: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Intake's wait can end before the server answered the start (a loaded server): the SDK
    keeps that failure for a start handle nobody asks for, which asyncio logged as "Future
    exception was never retrieved" with a traceback per request. The case is still started."""
    monkeypatch.setattr(intake, "ROUTING_WAIT_SECONDS", 0.000_001)
    app = create_app(app_settings(settings, dev_server, unique_queue()))
    async with _served_without_worker(app) as api:
        for _ in range(3):
            filed = await api.post("/v1/cases", json=new_case())
            assert filed.status_code == 202, filed.text
            started = await dev_server.client.get_workflow_handle(filed.json()["id"]).describe()
            assert started.status is not None
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_an_action_waiting_when_temporal_dies_is_a_503_never_a_500(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An Update that has waited longer than the Temporal client's own retry budget (10 s: no
    worker took it yet) when the server dies ends in UNKNOWN "transport error", not UNAVAILABLE.
    It is the same outage: 503 with Retry-After (what `make faults` met as a 500 in CI). So is
    an intake while the server is gone, leaving no unretrieved start failure behind."""
    monkeypatch.setattr(intake, "ROUTING_WAIT_SECONDS", 0.5)
    doomed = await start_temporal(data_converter=data_converter(settings))  # this test's own
    configured = app_settings(settings, doomed, unique_queue()).model_copy(
        update={"temporal_rpc_timeout": 60.0}
    )
    app = create_app(configured)
    async with _served_without_worker(app) as api:
        filed = await api.post("/v1/cases", json=new_case())
        assert filed.status_code == 202, filed.text
        path = f"/v1/cases/{filed.json()['id']}/accept"
        accept = asyncio.create_task(api.post(path, json={}, headers={"Idempotency-Key": "k1"}))
        await asyncio.sleep(12)
        assert not accept.done()
        await doomed.shutdown()  # SIGKILL: the server goes away under the waiting call
        answers = [await asyncio.wait_for(accept, 30)]
        # Intake's wait outlasting the client's retries (both 10 s by default: either may end
        # first): the start's failure is answered, and taken from the operation.
        monkeypatch.setattr(intake, "ROUTING_WAIT_SECONDS", 30)
        answers.append(await api.post("/v1/cases", json=new_case()))
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
