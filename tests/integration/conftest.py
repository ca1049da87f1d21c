"""Shared by the integration tests: the real app over ASGI with an in-process worker on the
Temporal dev server, and a valid case body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, free_port, unique_queue
from worker.main import build_worker


def new_case(**overrides: Any) -> dict[str, Any]:
    return {
        "channel": "hotline",
        "category": "public_order.flyers",
        "title": "楼道小广告反复出现",
        "description": "3 号楼楼道里小广告清了又贴",
        "location": {"address": "怡顺社区 3 号楼 2 单元", "grid": "C01-G02"},
        "reporter": {"name": "李先生", "phone": "13900000002"},
        **overrides,
    }


def app_settings(settings: Settings, env: WorkflowEnvironment, queue: str) -> Settings:
    return settings.model_copy(
        update={
            "temporal_address": env.client.service_client.config.target_host,
            "task_queue": queue,
        }
    )


@pytest.fixture
async def api(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan and all) over ASGI, with an in-process worker on its queue."""
    queue = unique_queue()
    app = create_app(app_settings(settings, dev_server, queue))
    async with (
        build_worker(dev_server.client, sessions, queue),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer()
        ) as client,
    ):
        yield client


@asynccontextmanager
async def served(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """An ASGI app on a real socket (for clients that speak plain HTTP); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
