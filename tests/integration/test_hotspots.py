"""Hot spots end to end: three flyers requests filed over HTTP in one grid raise a hot spot whose
proactive governance case and requests GET /v1/hotspots lists (scoped like the statistics);
the dispatcher closing that case closes the hot spot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from domain.hotspot import hotspot_workflow_id
from tests.conftest import bearer, eventually, unique_queue
from tests.integration.conftest import app_settings, new_case
from worker.main import build_worker

GRID, COMMUNITY, CATEGORY = "C10-G01", "C10", "public_order.flyers"


@pytest.fixture
async def api(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with a worker that feeds hot spots, as `gridcase worker` runs it."""
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
    with contextlib.suppress(RPCError):
        await dev_server.client.get_workflow_handle(hotspot_workflow_id(GRID, CATEGORY)).terminate(
            "test over"
        )


async def test_repeated_requests_in_a_grid_raise_a_hot_spot_listed_with_its_cases(
    api: httpx.AsyncClient,
) -> None:
    filed = []
    for n in range(3):
        body = new_case(location={"address": f"十号网格 {n + 1} 号楼", "grid": GRID})
        created = await api.post("/v1/cases", json=body)
        assert created.status_code == 201, created.text
        filed.append(created.json()["id"])

    async def open_hotspot() -> dict[str, Any] | None:
        listed = (await api.get("/v1/hotspots")).json()
        return next((h for h in listed if h["grid"] == GRID and h["status"] == "open"), None)

    hotspot = await eventually(open_hotspot, within=30)
    assert hotspot is not None, "no hot spot raised"
    assert (hotspot["community"], hotspot["category"]) == (COMMUNITY, CATEGORY)
    assert [c["id"] for c in hotspot["cases"]] == filed
    assert all(c["status"] == "dispatched" for c in hotspot["cases"])
    governance = (await api.get(f"/v1/cases/{hotspot['governance_case']}")).json()
    assert governance["channel"] == "proactive" and governance["grid"] == GRID
    assert governance["external_ref"] == hotspot["key"]

    mine = await api.get("/v1/hotspots", headers=bearer("supervisor", community=COMMUNITY))
    assert [h["key"] for h in mine.json()] == [hotspot["key"]]
    other = await api.get("/v1/hotspots", headers=bearer("supervisor", community="C01"))
    assert all(h["community"] == "C01" for h in other.json())
    handler = await api.get("/v1/hotspots", headers=bearer("unit_handler", unit="GT-C10-G01"))
    assert handler.status_code == 403

    rejected = await api.post(
        f"/v1/cases/{hotspot['governance_case']}/reject",
        json={"reason": "已联合物业集中清理并加装宣传栏"},
        headers=bearer("dispatcher"),
    )
    assert rejected.status_code == 200, rejected.text

    async def closed() -> dict[str, Any] | None:
        listed = (await api.get("/v1/hotspots")).json()
        return next((h for h in listed if h["key"] == hotspot["key"] and h["closed_at"]), None)

    done = await eventually(closed, within=30)
    assert done is not None and done["status"] == "closed"
