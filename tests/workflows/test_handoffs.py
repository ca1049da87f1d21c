"""Routing disputes and reopening on the time-skipping server: a disputed return waits for the
governance centre's ruling (and climbs the ladder when it is late), hand-offs show on the record
and as a search attribute, and a closed case's workflow ends, so a reopen starts its next run
from the record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db import cases
from domain.case import (
    Action,
    CaseStatus,
    CaseView,
    DisputeInput,
    Grade,
    Outcome,
    RateInput,
    ReopenInput,
    ReplyInput,
    ReturnInput,
    RuleOnReturnInput,
)
from domain.permissions import Principal, Role
from domain.state import CaseState, replay
from tests.workflows.conftest import act, events_of, row_of
from tests.workflows.test_case_workflow import drive_to_replied
from workflows import search_attributes as sa
from workflows.case import CaseWorkflow

DISPATCHER = Principal(subject="zhao", role=Role.dispatcher)
CENTRE = Principal(subject="chen", role=Role.supervisor)


async def handoffs_attribute(handle: WorkflowHandle[Any, Any]) -> int | None:
    return (await handle.describe()).typed_search_attributes.get(sa.CASE_HANDOFFS)


async def test_a_ruled_dispute_binds_the_unit_and_counts_the_handoffs(
    start: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    handle = await start()
    unit = (await handle.query(CaseWorkflow.state)).unit
    assert await handoffs_attribute(handle) == 0
    await act(handle, Action.return_, ReturnInput(reason="不属于网格"))
    view = await act(handle, Action.dispute, DisputeInput(reason="属网格责任区"), DISPATCHER)
    assert (view.status, view.dispute) == (CaseStatus.returned, "pending")
    assert [d.kind for d in view.deadlines if d.met_at is None] == ["ruling"]
    ruling = RuleOnReturnInput(unit=unit, reason="责任区内, 由网格承办")
    view = await act(handle, Action.rule_on_return, ruling, CENTRE)
    assert (view.status, view.unit, view.bound_unit, view.handoffs) == (
        CaseStatus.dispatched,
        unit,
        unit,
        2,
    )
    assert "return" not in view.allowed_actions
    assert await handoffs_attribute(handle) == 2
    row = await row_of(sessions, handle.id)
    assert (row.handoffs, row.dispute, row.bound_unit) == (2, "ruled", unit)
    assert (await events_of(sessions, handle.id))[-3:] == ["return", "dispute", "rule_on_return"]


async def test_a_late_ruling_climbs_the_ladder_while_the_case_waits(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await act(handle, Action.return_, ReturnInput(reason="不属于网格"))
    await act(handle, Action.dispute, DisputeInput(reason="属网格责任区"), DISPATCHER)
    await time_skipping.sleep(timedelta(days=5))  # 2 working days and more
    view = await handle.query(CaseWorkflow.state)
    assert view.dispute == "pending" and view.overdue and view.escalation_level >= 1
    events = await events_of(sessions, handle.id)
    assert "deadline_warning" in events and "deadline_missed" in events


async def ended(handle: WorkflowHandle[CaseWorkflow, Any], env: WorkflowEnvironment) -> CaseView:
    """The latest run's result, without letting the server skip time (to other tests'
    timers)."""
    with env.auto_time_skipping_disabled():
        latest = env.client.get_workflow_handle(handle.id, result_type=CaseView)
        return await latest.result()


async def closed_rated(handle: WorkflowHandle[CaseWorkflow, Any], env: WorkflowEnvironment) -> None:
    await drive_to_replied(handle)
    await act(handle, Action.rate, RateInput(grade=Grade.satisfied, solved=True))
    assert (await ended(handle, env)).outcome is Outcome.rated  # the run has ended


async def next_run(
    handle: WorkflowHandle[CaseWorkflow, Any], sessions: async_sessionmaker[AsyncSession]
) -> CaseState:
    """What the API does to reopen a closed case: its state from the record, a new run."""
    async with sessions() as session:
        state = replay(await cases.events(session, handle.id))
    started = (await handle.fetch_history()).events[0]
    queue = started.workflow_execution_started_event_attributes.task_queue.name
    await handle._client.start_workflow(
        CaseWorkflow.run,
        state,
        id=handle.id,
        task_queue=queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    # The run's first task is done before the reopen arrives: the run must wait for it.
    assert (await handle.query(CaseWorkflow.state)).status is CaseStatus.closed
    return state


async def test_a_reopened_case_runs_again_and_closes_through_the_loop(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await closed_rated(handle, time_skipping)
    resident = Principal(subject="resident", role=Role.resident, case_id=handle.id)
    await time_skipping.sleep(timedelta(days=10))
    await next_run(handle, sessions)
    view = await act(handle, Action.reopen, ReopenInput(reason="又堆满了"), resident)
    assert (view.status, view.outcome, view.reopens) == (CaseStatus.in_progress, None, 1)
    row = await row_of(sessions, handle.id)
    assert (row.status, row.closed_at, row.reopens) == ("in_progress", None, 1)
    await act(handle, Action.reply, ReplyInput(result="再次清理, 加装监控"))
    await act(handle, Action.rate, RateInput(grade=Grade.basically_satisfied))  # by the hotline
    assert (await ended(handle, time_skipping)).outcome is Outcome.rated
    events = await events_of(sessions, handle.id)
    assert events.count("closed") == 2 and events.count("reopen") == 1
    row = await row_of(sessions, handle.id)
    assert (row.status, row.grade, row.reopens) == ("closed", "basically_satisfied", 1)


async def test_past_the_window_the_next_run_ends_and_records_nothing(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await closed_rated(handle, time_skipping)
    before = await events_of(sessions, handle.id)
    await time_skipping.sleep(timedelta(days=31))
    await next_run(handle, sessions)
    assert (await ended(handle, time_skipping)).status is CaseStatus.closed  # ended at once
    with pytest.raises(RPCError):  # nothing left to reopen
        await act(handle, Action.reopen, ReopenInput(reason="又堆满了"))
    assert await events_of(sessions, handle.id) == before
