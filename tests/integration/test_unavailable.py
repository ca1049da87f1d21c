"""A database that cannot serve is an answer, not an accident: 503 with Retry-After (the
client's retry is safe, intake being idempotent), never a 500."""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api import intake
from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.stack import create_database


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
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=bearer()
        ) as api,
    ):
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
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=bearer()
        ) as api,
    ):
        body = new_case(location={"address": "怡顺社区 3 号楼", "lat": 36.2, "lon": 120.4})
        filed = await api.post("/v1/cases", json=body)
        assert filed.status_code == 202, filed.text
        case = filed.json()
        assert (case["status"], case["unit"], case["last_seq"]) == ("received", None, 0)
        assert (case["description"], case["lat"], case["lon"]) == (body["description"], 36.2, 120.4)
        assert case["allowed_actions"] == [] and case["deadlines"] == []
