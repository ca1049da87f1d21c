"""Repeats end to end: the same resident filing a third time (in other grids and categories, so
no hot spot) is marked `repeated` on the third case's timeline and the community's secretary
(the ladder's first rung) is told; the phone number never leaves PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.models import Notification
from tests.conftest import bearer, eventually, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.main import build_worker

PLACES = [
    ("C11-G01", "urban.road_damage"),
    ("C11-G02", "environment.noise"),
    ("C11-G03", "housing.elevator_fault"),
]


@pytest.fixture
async def api(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    queue = unique_queue()
    configured = app_settings(settings, dev_server, queue)
    app = create_app(configured)
    async with (
        build_worker(dev_server.client, sessions, queue, governance=True, settings=configured),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer()
        ) as client,
    ):
        yield client


async def test_the_third_request_of_a_resident_is_marked_and_the_secretary_told(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    phone = f"137{random.randrange(10**8):08d}"  # nobody else's, in this database
    filed = []
    for n, (grid, category) in enumerate(PLACES):
        body = new_case(
            category=category,
            location={"address": f"十一社区 {n + 1} 号楼", "grid": grid},
            reporter={"name": "赵先生", "phone": phone},
        )
        created = await api.post("/v1/cases", json=body)
        assert created.status_code == 201, created.text
        filed.append(created.json())
    third = filed[2]["id"]

    async def marked() -> Any:
        events = (await api.get(f"/v1/cases/{third}/events")).json()
        return next((e for e in events if e["type"] == "repeated"), None)

    event = await eventually(marked, within=30)
    assert event is not None, "the third request was not marked"
    assert event["data"]["earlier"] == [filed[0]["id"], filed[1]["id"]]
    assert (event["data"]["basis"], event["data"]["times"]) == ("reporter", 3)
    for earlier in filed[:2]:
        events = (await api.get(f"/v1/cases/{earlier['id']}/events")).json()
        assert "repeated" not in [e["type"] for e in events]
    async with sessions() as session:
        told = list(
            await session.scalars(
                select(Notification.recipient).where(
                    Notification.case_id == third, Notification.kind == "repeat"
                )
            )
        )
    assert told == ["CO-C11"]
    assert phone not in str(event)
