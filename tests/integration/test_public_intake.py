"""The public intake (a residents' app with a resident token, Open311 clients with an api_key)
is rate-limited per client: 429 with Retry-After, in the right error shape; oversized bodies
are refused before they are read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.main import build_worker

LIMIT = 3


@pytest.fixture
async def strict_api(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    queue = unique_queue()
    configured = app_settings(settings, dev_server, queue).model_copy(
        update={"intake_rate_per_minute": LIMIT, "open311_api_keys": ["k1", "k2"]}
    )
    app = create_app(configured)
    async with (
        build_worker(dev_server.client, sessions, queue),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_a_residents_app_is_limited_per_client(strict_api: httpx.AsyncClient) -> None:
    app_one, app_two = bearer("resident"), bearer("dispatcher")
    answers = [
        (await strict_api.post("/v1/cases", json=new_case(), headers=app_one)).status_code
        for _ in range(LIMIT + 1)
    ]
    assert answers == [201] * LIMIT + [429]
    limited = await strict_api.post("/v1/cases", json=new_case(), headers=app_one)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # Staff are not limited, and the case was not half-made.
    assert (await strict_api.post("/v1/cases", json=new_case(), headers=app_two)).status_code == 201


async def test_open311_clients_are_limited_per_api_key(strict_api: httpx.AsyncClient) -> None:
    form: dict[str, Any] = {
        "service_code": "utilities.water_outage",
        "address_string": "怡顺路 1 号",
        "phone": "13900000031",
        "description": "停水",
    }
    codes = [
        await strict_api.post(
            "/open311/v2/requests.json", data={**form, "api_key": "k1", "description": f"停水 {i}"}
        )
        for i in range(LIMIT + 1)
    ]
    assert [c.status_code for c in codes] == [201] * LIMIT + [429]
    assert codes[-1].json()[0]["code"] == 429  # the spec's error shape
    assert int(codes[-1].headers["Retry-After"]) > 0
    other = await strict_api.post("/open311/v2/requests.json", data={**form, "api_key": "k2"})
    assert other.status_code == 201


async def test_an_oversized_body_is_refused(strict_api: httpx.AsyncClient) -> None:
    huge = new_case(description="x" * 1_100_000)
    response = await strict_api.post("/v1/cases", json=huge, headers=bearer())
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
