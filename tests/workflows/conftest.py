"""Shared by the workflow tests: a worker on the time-skipping server with the real activities
on real PostgreSQL, and a function that files a case."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db import cases, stats
from db.models import Case, CaseEventRow
from domain.calendar import SUBDISTRICT_TZ
from domain.case import Action, CaseIntake, CaseReceived, CaseView, Reporter
from domain.common import ActionInput
from domain.kpi import Counts
from domain.permissions import Principal, Role
from tests.conftest import unique_queue
from tests.replay import HISTORIES, VERSION
from worker.main import build_worker
from workflows.case import CaseWorkflow
from workflows.linkage import linkage_id

# Who acts in these stories unless a test says otherwise: the scope rules have their own tests.
ADMIN = Principal(subject="admin", role=Role.admin)

InputT = TypeVar("InputT", bound=ActionInput)


def signed(input: InputT, principal: Principal = ADMIN) -> InputT:
    """The input as the API sends it: with the authenticated caller."""
    return input.model_copy(update={"principal": principal})


async def act(
    handle: WorkflowHandle[Any, Any],
    action: Action,
    input: ActionInput,
    principal: Principal = ADMIN,
) -> CaseView:
    """Send `action` to the case as the Update of that name, as `principal`."""
    return await handle.execute_update(action.value, signed(input, principal), result_type=CaseView)


@pytest.fixture
async def start(
    time_skipping: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Any]:
    """Run a worker for the test and hand it a function that files a case."""
    queue = unique_queue()
    started: list[WorkflowHandle[CaseWorkflow, Any]] = []
    async with build_worker(time_skipping.client, sessions, queue):

        async def file_case(**overrides: Any) -> WorkflowHandle[CaseWorkflow, Any]:
            async with sessions.begin() as session:
                number = await cases.allocate_number(session)
            intake = CaseIntake.model_validate(
                {
                    "case_id": f"WT-2026-{number:06d}",
                    "number": number,
                    "channel": "hotline",
                    "category": "sanitation.dead_corner",
                    "title": "楼后卫生死角",
                    "location": {"address": "怡顺社区 3 号楼", "grid": "C01-G01"},
                    **overrides,
                }
            )
            received = CaseReceived(
                description="垃圾堆积多日",
                reporter=Reporter(name="王女士", phone="13800000001"),
                at=datetime.now(UTC),
            )
            async with sessions.begin() as session:  # as intake does, before the workflow
                await cases.open_case(session, intake, received)
            # As intake does: Update-with-Start, the routed answer with the start.
            operation = WithStartWorkflowOperation(
                CaseWorkflow.run,
                intake,
                id=intake.case_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await time_skipping.client.execute_update_with_start_workflow(
                CaseWorkflow.routed, start_workflow_operation=operation
            )
            # The environment lets the server skip time while a test awaits `result()` only on
            # the handles its start_workflow returns: ask for the running case that way.
            handle = await time_skipping.client.start_workflow(
                CaseWorkflow.run,
                intake,
                id=intake.case_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            started.append(handle)
            return handle

        yield file_case
        if os.environ.get("GRIDCASE_RECORD_HISTORIES"):  # new replay fixtures: see tests/replay
            test = request.node.name.removeprefix("test_")
            for n, handle in enumerate(started):
                linkage = time_skipping.client.get_workflow_handle(linkage_id(handle.id))
                for kind, recorded in (("case", handle), ("linkage", linkage)):
                    try:
                        history = await recorded.fetch_history()
                    except RPCError:  # this case never linked agencies
                        continue
                    path = HISTORIES / f"{kind}-{VERSION}-{test}-{n}.json"
                    path.write_text(history.to_json(), encoding="utf-8")
        # A case left open would keep firing timers at a queue nobody polls any more, and the
        # test server stops skipping time while a workflow task is outstanding.
        # Children first: a parent's close would ask them to cancel on a queue nobody polls.
        for handle in started:
            for workflow_id in (linkage_id(handle.id), handle.id):
                latest = time_skipping.client.get_workflow_handle(workflow_id)
                with contextlib.suppress(RPCError):  # already closed, or never started
                    await latest.terminate("test over")


async def events_of(sessions: async_sessionmaker[AsyncSession], case_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(CaseEventRow.type)
            .where(CaseEventRow.case_id == case_id)
            .order_by(CaseEventRow.seq)
        )
        return list(rows)


async def row_of(sessions: async_sessionmaker[AsyncSession], case_id: str) -> Case:
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def counts_by_unit_three_ways(
    sessions: async_sessionmaker[AsyncSession], received_at: datetime
) -> list[dict[tuple[Any, ...], Counts]]:
    """The KPI counts by unit of the local day `received_at` falls on, as the case rows, the
    rollups and the event-log replay each give them (one life: they must agree)."""
    begin = datetime.combine(
        received_at.astimezone(SUBDISTRICT_TZ).date(), time(), tzinfo=SUBDISTRICT_TZ
    )
    end = begin + timedelta(days=1)
    unit = ["unit"]
    async with sessions() as session:
        return [
            {tuple(r.group.values()): r.counts for r in rows}
            for rows in (
                await stats.case_stats_direct(session, start=begin, end=end, group_by=unit),
                await stats.case_stats_from_rollup(session, start=begin, end=end, group_by=unit),
                await stats.case_stats_from_events(session, start=begin, end=end, group_by=unit),
            )
        ]
