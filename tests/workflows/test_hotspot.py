"""Hot spots on the time-skipping server with the real activities on PostgreSQL: three flyers
requests in one grid open one proactive governance case through the intake service, a fourth is
linked to it instead of opening another, its closure frees the hot spot, and a long-lived hot
spot continues as new with its count intact."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from db import cases
from db.models import Case, HotspotRow
from domain.case import Action, CaseIntake, CaseReceived, CaseStatus, RejectInput, Reporter
from domain.hotspot import Hotspot, HotspotInput, Sighting, hotspot_workflow_id
from tests.conftest import eventually, unique_queue
from tests.replay import keep_history
from tests.workflows.conftest import act
from worker.main import build_worker
from workflows.case import CaseWorkflow
from workflows.hotspot import HotspotWorkflow

GRID, CATEGORY = "C07-G01", "public_order.flyers"


@pytest.fixture
async def worker(
    time_skipping: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, list[str]]]:
    """A worker that feeds hot spots; every workflow it ran is terminated afterwards (an open
    one would stall the time-skipping server for the next test)."""
    queue = unique_queue()
    started: list[str] = []
    async with build_worker(
        time_skipping.client, sessions, queue, governance=True, settings=settings
    ):
        yield queue, started
        hotspots = [w for w in started if w.startswith("hotspot-")]
        for n, workflow_id in enumerate(hotspots):
            history = await time_skipping.client.get_workflow_handle(workflow_id).fetch_history()
            keep_history("hotspot", request.node.name, n, history)
    for workflow_id in started:
        with contextlib.suppress(RPCError):
            await time_skipping.client.get_workflow_handle(workflow_id).terminate("test over")


async def file_request(
    env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], queue: str
) -> WorkflowHandle[CaseWorkflow, Any]:
    async with sessions.begin() as session:
        number = await cases.allocate_number(session)
    intake = CaseIntake.model_validate(
        {
            "case_id": f"WT-2026-{number:06d}",
            "number": number,
            "channel": "hotline",
            "category": CATEGORY,
            "title": "楼道小广告",
            "location": {"address": "七号楼", "grid": GRID},
        }
    )
    received = CaseReceived(
        description="清了又贴",
        reporter=Reporter(name="王女士", phone="13800000001"),
        at=datetime.now(UTC),
    )
    async with sessions.begin() as session:  # as intake does, before the workflow starts
        await cases.open_case(session, intake, received)
    handle = await env.client.start_workflow(
        CaseWorkflow.run, intake, id=intake.case_id, task_queue=queue
    )
    await handle.execute_update(CaseWorkflow.routed)
    return handle


async def state_of(env: WorkflowEnvironment, workflow_id: str) -> Hotspot | None:
    """The hot spot's state, or None while its (latest) run has not answered yet."""
    try:
        return await env.client.get_workflow_handle(workflow_id).query(
            HotspotWorkflow.state, rpc_timeout=timedelta(seconds=2)
        )
    except RPCError:
        return None


async def hotspot_row(sessions: async_sessionmaker[AsyncSession], key: str) -> HotspotRow | None:
    async with sessions() as session:
        return await session.get(HotspotRow, key)


async def test_three_requests_in_a_grid_open_one_governance_case(
    time_skipping: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    worker: tuple[str, list[str]],
) -> None:
    queue, started = worker
    hotspot = time_skipping.client.get_workflow_handle_for(
        HotspotWorkflow.run, hotspot_workflow_id(GRID, CATEGORY)
    )
    started.append(hotspot.id)
    requests = [await file_request(time_skipping, sessions, queue) for _ in range(3)]
    started.extend(r.id for r in requests)

    async def governance_case() -> str | None:
        state = await state_of(time_skipping, hotspot.id)
        return state.governance_case if state else None

    case_id = await eventually(governance_case, within=30)
    assert case_id is not None
    started.append(case_id)
    key = f"hotspot:{GRID}:{CATEGORY}:{requests[0].id}"
    async with sessions() as session:
        governance = await session.get(Case, case_id)
        assert governance is not None
        assert (governance.channel, governance.external_ref, governance.grid) == (
            "proactive",
            key,
            GRID,
        )
        assert governance.status == "dispatched" and governance.reporter_name == "仓口街道综治中心"
        assert all(r.id in governance.description for r in requests)

    # The hot spot records its row right after it learns the case id: wait for it.
    async def recorded() -> HotspotRow | None:
        return await hotspot_row(sessions, key)

    row = await eventually(recorded, within=30)
    assert row is not None and row.status == "open"
    assert row.cases == [r.id for r in requests] and row.governance_case == case_id

    fourth = await file_request(time_skipping, sessions, queue)
    started.append(fourth.id)

    async def linked() -> bool:
        found = await hotspot_row(sessions, key)
        return found is not None and fourth.id in found.cases

    assert await eventually(linked, within=30)
    async with sessions() as session:
        proactive = await session.scalars(
            select(Case.id).where(Case.channel == "proactive", Case.grid == GRID)
        )
        assert list(proactive) == [case_id]  # no second governance case

    closing = time_skipping.client.get_workflow_handle_for(CaseWorkflow.run, case_id)
    view = await act(closing, Action.reject, RejectInput(reason="已根治"))
    assert view.status is CaseStatus.closed

    async def freed() -> bool:
        found = await hotspot_row(sessions, key)
        return found is not None and found.status == "closed"

    assert await eventually(freed, within=30)
    state = await state_of(time_skipping, hotspot.id)
    assert state is not None
    assert (state.key, state.governance_case, state.raised) == (None, None, 1)


async def test_a_long_lived_hot_spot_continues_as_new_with_its_count(
    time_skipping: WorkflowEnvironment, worker: tuple[str, list[str]]
) -> None:
    queue, started = worker
    workflow_id = hotspot_workflow_id("C08-G01", "environment.noise")  # 3 within 7 days
    handle = await time_skipping.client.start_workflow(
        HotspotWorkflow.run,
        HotspotInput(grid="C08-G01", category="environment.noise", history_limit=20),
        id=workflow_id,
        task_queue=queue,
    )
    started.append(workflow_id)
    first_run = handle.result_run_id
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    for n in range(12):  # ten days apart: never three inside the window
        when = t0 + timedelta(days=10 * n)
        await handle.signal(HotspotWorkflow.seen, Sighting(case_id=f"N{n}", received_at=when))
    await handle.signal(
        HotspotWorkflow.seen, Sighting(case_id="N11b", received_at=t0 + timedelta(days=111))
    )

    async def latest_run() -> Hotspot | None:
        description = await time_skipping.client.get_workflow_handle(workflow_id).describe()
        if description.run_id == first_run:
            return None
        state = await state_of(time_skipping, workflow_id)
        # The new run reads its rule first (an activity): wait for that too.
        return state if state and len(state.recent) == 2 and state.rule else None

    state = await eventually(latest_run, within=30)
    assert state, "the hot spot did not continue as new with its requests"
    assert [s.case_id for s in state.recent] == ["N11", "N11b"] and state.raised == 0
    assert state.rule is not None and state.rule.window_days == 7  # read again by the new run
