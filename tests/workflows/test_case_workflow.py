"""CaseWorkflow on the time-skipping server, with the real activities on real PostgreSQL:
a seven-day deadline takes milliseconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.case import (
    AcceptInput,
    Action,
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
from tests.workflows.conftest import act, events_of, row_of
from workflows.case import CaseWorkflow
from workflows.refusal import NOT_ALLOWED_NOW


async def drive_to_replied(handle: WorkflowHandle[CaseWorkflow, Any]) -> None:
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="电话联系王女士"))
    await act(handle, Action.reply, ReplyInput(result="已组织清理"))


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
    view = await act(handle, Action.rate, RateInput(grade=Grade.satisfied, solved=True))
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
    view = await act(handle, Action.return_, ReturnInput(reason="不属于本网格"))
    assert view.status is CaseStatus.returned and view.returns == 1

    await time_skipping.sleep(timedelta(hours=1))  # the dispatcher takes an hour to decide
    view = await act(handle, Action.reassign, ReassignInput(unit="SD-URBAN", reason="城管负责"))
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
    view = await act(handle, Action.accept, AcceptInput())
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


async def test_unsatisfied_rating_means_one_rehandling_then_a_supervisor_review(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    await drive_to_replied(handle)
    view = await act(handle, Action.rate, RateInput(grade=Grade.unsatisfied))
    assert view.status is CaseStatus.in_progress and view.rehandled
    reply_due = next(d for d in view.deadlines if d.kind is DeadlineKind.reply)
    assert reply_due.met_at is None

    await act(handle, Action.reply, ReplyInput(result="二次清理并加装监控"))
    view = await act(handle, Action.rate, RateInput(grade=Grade.unsatisfied))
    # Not a second re-handling: the supervisor decides (tests/workflows/test_review.py).
    assert (view.status, view.review, view.grade) == (
        CaseStatus.replied,
        "pending",
        Grade.unsatisfied,
    )
    assert (await events_of(sessions, handle.id)).count("rehandling") == 1


async def test_an_action_in_the_wrong_state_is_rejected_before_history(start: Any) -> None:
    handle = await start()
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await act(handle, Action.reply, ReplyInput(result="too early"))
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW
    assert cause.details[0]["allowed_actions"] == [
        "accept",
        "return",
        "reassign",
        "reject",
        "urge",
        "escalate",
        "open_linkage",
        "merge",
        "split",
        "add_info",
        "chase",
    ]
    state = await handle.query(CaseWorkflow.state)
    assert state.status is CaseStatus.dispatched and state.last_seq == 2


async def test_unknown_place_goes_back_to_the_dispatcher(start: Any, sessions: Any) -> None:
    handle = await start(location={"address": "辖区外某处"})  # a grid-team rule needs a grid
    state = await handle.query(CaseWorkflow.state)
    assert state.status is CaseStatus.returned and state.unit is None
    assert await events_of(sessions, handle.id) == ["received", "route_failed"]
