"""A database that cannot serve is an answer, not an accident: 503 with Retry-After (the
client's retry is safe, intake being idempotent), never a 500."""

from __future__ import annotations

import os

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

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
