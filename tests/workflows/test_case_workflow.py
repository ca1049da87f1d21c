"""CaseWorkflow on the time-skipping server, with the real activities on real PostgreSQL:
a seven-day deadline takes milliseconds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db import cases
from db.models import Case, CaseEventRow
from domain.case import (
    AcceptInput,
    CaseIntake,
    CaseStatus,
    ContactInput,
    Grade,
    Outcome,
    RateInput,
    ReassignInput,
    ReplyInput,
    ReturnInput,
)
from domain.sla import DeadlineKind
from tests.conftest import unique_queue
from tests.replay import HISTORIES
from worker.main import build_worker
from workflows.case import NOT_ALLOWED_NOW, CaseWorkflow


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
                    "description": "垃圾堆积多日",
                    "location": {"address": "怡顺社区 3 号楼", "grid": "C01-G01"},
                    "reporter": {"name": "王女士", "phone": "13800000001"},
                    **overrides,
                }
            )
            handle = await time_skipping.client.start_workflow(
                CaseWorkflow.run, intake, id=intake.case_id, task_queue=queue
            )
            started.append(handle)
            await handle.execute_update(CaseWorkflow.routed)
            return handle

        yield file_case
        if os.environ.get("GRIDCASE_RECORD_HISTORIES"):  # new replay fixtures: see tests/replay
            for n, handle in enumerate(started):
                history = await handle.fetch_history()
                name = f"case-{request.node.name.removeprefix('test_')}-{n}.json"
                (HISTORIES / name).write_text(history.to_json(), encoding="utf-8")
        # A case left open would keep firing timers at a queue nobody polls any more, and the
        # test server stops skipping time while a workflow task is outstanding.
        for handle in started:
            with contextlib.suppress(RPCError):  # already closed
                await handle.terminate("test over")


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


async def drive_to_replied(handle: WorkflowHandle[CaseWorkflow, Any]) -> None:
    await handle.execute_update(CaseWorkflow.accept, AcceptInput(actor="GT-C01-G01"))
    await handle.execute_update(CaseWorkflow.contact, ContactInput(note="电话联系王女士"))
    await handle.execute_update(CaseWorkflow.reply, ReplyInput(result="已组织清理"))


async def test_happy_path_routes_by_grid_and_closes_rated_on_time(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    state = await handle.query(CaseWorkflow.state)
    assert (state.status, state.unit, state.community) == (
        CaseStatus.dispatched,
        "GT-C01-G01",
        "C01",
    )
    assert {d.kind for d in state.deadlines} == {
        DeadlineKind.accept,
        DeadlineKind.contact,
        DeadlineKind.reply,
    }

    await drive_to_replied(handle)
    view = await handle.execute_update(
        CaseWorkflow.rate, RateInput(grade=Grade.satisfied, solved=True, actor="resident")
    )
    assert view.status is CaseStatus.closed and view.outcome is Outcome.rated
    result = await handle.result()
    assert result.closed_at is not None and not result.overdue

    assert await events_of(sessions, handle.id) == [
        "received",
        "dispatched",
        "accept",
        "contact",
        "reply",
        "rate",
        "closed",
    ]
    row = await row_of(sessions, handle.id)
    assert (row.status, row.outcome, row.grade, row.rule) == (
        "closed",
        "rated",
        "satisfied",
        row.rule,
    )
    assert row.rule is not None and row.reporter_phone == "13800000001"
    assert all(d["met_at"] is not None for d in row.deadlines)


async def test_returned_case_is_reassigned_and_its_clock_restarts(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    first = await handle.query(CaseWorkflow.state)
    view = await handle.execute_update(
        CaseWorkflow.return_, ReturnInput(reason="不属于本网格", actor="GT-C01-G01")
    )
    assert view.status is CaseStatus.returned and view.returns == 1

    await time_skipping.sleep(timedelta(hours=1))  # the dispatcher takes an hour to decide
    view = await handle.execute_update(
        CaseWorkflow.reassign, ReassignInput(unit="SD-URBAN", reason="城管负责")
    )
    assert (view.status, view.unit) == (CaseStatus.dispatched, "SD-URBAN")
    accept_due = {d.kind: d.due_at for d in view.deadlines}[DeadlineKind.accept]
    assert accept_due > {d.kind: d.due_at for d in first.deadlines}[DeadlineKind.accept]
    assert (await events_of(sessions, handle.id))[-2:] == ["return", "reassign"]


async def test_missed_accept_deadline_marks_the_case_overdue(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await time_skipping.sleep(timedelta(hours=3))  # sign-for limit is 2 h for a normal case
    state = await handle.query(CaseWorkflow.state)
    assert state.overdue and state.status is CaseStatus.dispatched
    accept = next(d for d in state.deadlines if d.kind is DeadlineKind.accept)
    assert accept.missed and accept.met_at is None
    assert "deadline_missed" in await events_of(sessions, handle.id)
    assert (await row_of(sessions, handle.id)).overdue

    # Late is still allowed: the unit accepts and the case goes on, overdue on the record.
    view = await handle.execute_update(CaseWorkflow.accept, AcceptInput())
    assert view.status is CaseStatus.in_progress and view.overdue


async def test_no_rating_within_the_window_closes_unrated(start: Any, sessions: Any) -> None:
    handle = await start()
    await drive_to_replied(handle)
    result = await handle.result()  # the test server skips the three working days
    assert (result.status, result.outcome, result.grade) == (
        CaseStatus.closed,
        Outcome.unrated,
        None,
    )
    assert (await row_of(sessions, handle.id)).outcome == "unrated"


async def test_unsatisfied_rating_means_one_rehandling_then_closure(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    await drive_to_replied(handle)
    view = await handle.execute_update(CaseWorkflow.rate, RateInput(grade=Grade.unsatisfied))
    assert view.status is CaseStatus.in_progress and view.rehandled
    reply_due = next(d for d in view.deadlines if d.kind is DeadlineKind.reply)
    assert reply_due.met_at is None

    await handle.execute_update(CaseWorkflow.reply, ReplyInput(result="二次清理并加装监控"))
    view = await handle.execute_update(CaseWorkflow.rate, RateInput(grade=Grade.unsatisfied))
    assert (view.status, view.outcome, view.grade) == (
        CaseStatus.closed,
        Outcome.rated,
        Grade.unsatisfied,
    )
    assert (await events_of(sessions, handle.id)).count("rehandling") == 1


async def test_an_action_in_the_wrong_state_is_rejected_before_history(start: Any) -> None:
    handle = await start()
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(CaseWorkflow.reply, ReplyInput(result="too early"))
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW
    assert cause.details[0]["allowed_actions"] == ["accept", "return", "reassign", "reject"]
    state = await handle.query(CaseWorkflow.state)
    assert state.status is CaseStatus.dispatched and state.last_seq == 2


async def test_unknown_place_goes_back_to_the_dispatcher(start: Any, sessions: Any) -> None:
    handle = await start(location={"address": "辖区外某处"})  # a grid-team rule needs a grid
    state = await handle.query(CaseWorkflow.state)
    assert state.status is CaseStatus.returned and state.unit is None
    assert await events_of(sessions, handle.id) == ["received", "route_failed"]
