"""Recurring tasks as Temporal Schedules on the dev server (the time-skipping server has none):
registered idempotently (a pause survives a worker restart), listed with their next run over
HTTP, paused and unpaused by an administrator only, and a run opens one proactive case per grid
of its community, once per day however often it runs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from db.models import Case, Grid
from domain.calendar import SUBDISTRICT_TZ
from domain.governance import GovernanceConfig
from domain.recurring import RecurringTask, schedule_id
from tests.conftest import bearer, unique_queue
from tests.integration.conftest import app_settings
from tests.replay import keep_history
from worker.main import build_worker
from worker.schedules import register_schedules

TASKS = GovernanceConfig.load(Settings().config_dir).recurring_tasks


@pytest.fixture
async def stack(
    settings: Settings, dev_server: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    queue = unique_queue()
    configured = app_settings(settings, dev_server, queue)
    app = create_app(configured)
    async with (
        build_worker(dev_server.client, sessions, queue, settings=configured),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer()
        ) as client,
    ):
        yield client, queue
    for task in TASKS:
        with contextlib.suppress(RPCError):  # not registered by this test
            await dev_server.client.get_schedule_handle(schedule_id(task.code)).delete()


async def test_schedules_are_listed_with_their_next_run_and_paused_by_an_admin(
    stack: tuple[httpx.AsyncClient, str], dev_server: WorkflowEnvironment
) -> None:
    api, queue = stack
    await register_schedules(dev_server.client, TASKS, queue)
    listed = (await api.get("/v1/schedules", headers=bearer("operator"))).json()
    assert [s["code"] for s in listed] == [t.code for t in TASKS]
    monthly = next(s for s in listed if s["code"] == "monthly-hard-problem")
    assert monthly["registered"] and not monthly["paused"]
    next_run = datetime.fromisoformat(monthly["next_run"])
    assert next_run > datetime.now(UTC)
    local = next_run.astimezone(SUBDISTRICT_TZ)  # "0 9 1 * *" in Qingdao's time
    assert (local.day, local.hour, local.minute) == (1, 9, 0)

    refused = await api.post(
        "/v1/schedules/monthly-hard-problem/pause", json={}, headers=bearer("dispatcher")
    )
    assert refused.status_code == 403
    unknown = await api.post("/v1/schedules/no-such-task/pause", json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_schedule"

    paused = await api.post(
        "/v1/schedules/monthly-hard-problem/pause", json={"note": "本月改为专项整治"}
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] and paused.json()["next_run"] is None
    assert "本月改为专项整治" in paused.json()["note"]
    # A worker starting again registers every task again: the pause stays.
    await register_schedules(dev_server.client, TASKS, queue)
    again = (await api.get("/v1/schedules")).json()
    assert next(s for s in again if s["code"] == "monthly-hard-problem")["paused"]
    unpaused = await api.post("/v1/schedules/monthly-hard-problem/unpause", json={})
    assert not unpaused.json()["paused"] and unpaused.json()["next_run"] is not None


async def test_a_run_opens_one_proactive_case_per_grid_once_a_day(
    stack: tuple[httpx.AsyncClient, str],
    dev_server: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, queue = stack
    task = RecurringTask(
        code=f"test-drains-{uuid.uuid4().hex[:6]}",
        title="汛期前清掏雨水井",
        description="清掏雨水井",
        category="sanitation.dead_corner",
        communities=["C03"],
        cron="0 9 15 5 *",
    )
    await register_schedules(dev_server.client, [task], queue)
    handle = dev_server.client.get_schedule_handle(schedule_id(task.code))
    try:
        results: list[Any] = []
        for _ in range(2):  # the same day twice: the second run finds the first run's cases
            await handle.trigger()
            results.append(await _next_run_result(dev_server, handle, len(results) + 1))
    finally:
        await handle.delete()
    async with sessions() as session:
        grids = list(await session.scalars(select(Grid.code).where(Grid.community == "C03")))
        filed = await session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.channel == "proactive", Case.external_ref.like(f"task:{task.code}:%"))
        )
    assert len(results[0]) == len(grids) >= 2
    assert results[1] == results[0] and filed == len(grids)


async def test_a_task_dropped_from_the_configuration_loses_its_schedule(
    stack: tuple[httpx.AsyncClient, str], dev_server: WorkflowEnvironment
) -> None:
    """At the next sync (a worker starting), a task the file no longer has is deleted; the kept
    one and another deployment's (another task queue) stay."""
    _, queue = stack
    suffix = uuid.uuid4().hex[:6]
    kept, dropped, theirs = (
        RecurringTask(
            code=f"test-{name}-{suffix}",
            title="汛期前清掏雨水井",
            description="清掏雨水井",
            category="sanitation.dead_corner",
            communities=["C03"],
            cron="0 9 15 5 *",
        )
        for name in ("kept", "dropped", "theirs")
    )
    client = dev_server.client
    other_queue = unique_queue()
    await register_schedules(client, [kept, dropped], queue)
    await register_schedules(client, [theirs], other_queue)
    ids = [schedule_id(t.code) for t in (kept, dropped, theirs)]
    try:
        await _until_listed(client, ids)
        await register_schedules(client, [kept], queue)  # the file without `dropped`
        with pytest.raises(RPCError) as gone:
            await client.get_schedule_handle(schedule_id(dropped.code)).describe()
        assert gone.value.status is RPCStatusCode.NOT_FOUND
        for stays in (kept, theirs):
            await client.get_schedule_handle(schedule_id(stays.code)).describe()
    finally:
        for schedule in ids:
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule).delete()


async def _until_listed(client: Client, ids: list[str]) -> None:
    """Schedule listing is eventually consistent: wait until it shows `ids`."""
    for _ in range(100):
        if set(ids) <= {listed.id async for listed in await client.list_schedules()}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the schedules were never listed")


async def _next_run_result(env: WorkflowEnvironment, handle: Any, runs: int) -> Any:
    for _ in range(200):
        described = await handle.describe()
        if len(described.info.recent_actions) >= runs:
            action = described.info.recent_actions[runs - 1].action
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            run = env.client.get_workflow_handle(action.workflow_id)
            result = await run.result()
            keep_history("recurring", "a_run_opens_cases", runs, await run.fetch_history())
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule did not run")
