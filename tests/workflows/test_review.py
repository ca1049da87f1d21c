"""Unsatisfied again after the re-handling: the case waits in the supervisor review queue, and
the supervisor closes it with a verdict or re-opens it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.case import (
    Action,
    CaseStatus,
    Grade,
    Outcome,
    RateInput,
    ReopenInput,
    ReplyInput,
    ReviewCloseInput,
)
from tests.workflows.conftest import act, events_of, row_of
from tests.workflows.test_case_workflow import drive_to_replied
from workflows.case import CaseWorkflow


async def unsatisfied_twice(handle: WorkflowHandle[CaseWorkflow, Any]) -> Any:
    await drive_to_replied(handle)
    await act(handle, Action.rate, RateInput(grade=Grade.unsatisfied))
    await act(handle, Action.reply, ReplyInput(result="二次处理"))
    return await act(handle, Action.rate, RateInput(grade=Grade.unsatisfied))


async def test_a_supervisor_closes_a_reviewed_case_with_a_verdict(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    view = await unsatisfied_twice(handle)
    assert (view.status, view.review) == (CaseStatus.replied, "pending")
    # The supervisor decides; beside the review, the unit may appeal the rating (申诉).
    assert view.allowed_actions == ["review_close", "reopen", "appeal"]
    assert (await row_of(sessions, handle.id)).review == "pending"

    closed = await act(
        handle, Action.review_close, ReviewCloseInput(verdict="已按政策处理, 诉求超出范围")
    )
    assert (closed.status, closed.outcome, closed.grade) == (
        CaseStatus.closed,
        Outcome.rated,
        Grade.unsatisfied,
    )
    assert (await events_of(sessions, handle.id))[-3:] == [
        "review_opened",
        "review_close",
        "closed",
    ]


async def test_a_reopened_case_goes_back_to_the_unit_with_a_fresh_reply_deadline(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    before = await unsatisfied_twice(handle)
    view = await act(handle, Action.reopen, ReopenInput(reason="现场核实未解决"))
    assert (view.status, view.review) == (CaseStatus.in_progress, "reopened")
    reply = next(d for d in view.deadlines if d.kind.value == "reply")
    old = next(d for d in before.deadlines if d.kind.value == "reply")
    assert reply.met_at is None and reply.due_at > old.due_at
    await act(handle, Action.reply, ReplyInput(result="第三次处理, 已解决"))
    done = await act(handle, Action.rate, RateInput(grade=Grade.satisfied, solved=True))
    assert done.status is CaseStatus.closed


async def test_a_unit_whose_cases_go_unrated_too_often_gets_the_next_one_reviewed(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    place = {"location": {"address": "沧口某小区", "grid": "C02-G01"}}  # unit GT-C02-G01

    async def unrated_case() -> Any:
        handle = await start(**place)
        await drive_to_replied(handle)
        return handle

    for _ in range(3):
        handle = await unrated_case()
        # Sleep, not result(): the test server jumps years ahead once nothing else is running.
        await time_skipping.sleep(timedelta(days=7))  # past the three-working-day window
        assert (await handle.query(CaseWorkflow.state)).outcome is Outcome.unrated

    fourth = await unrated_case()
    await time_skipping.sleep(timedelta(days=7))  # past its rating window too
    state = await fourth.query(CaseWorkflow.state)
    assert state.status is CaseStatus.replied and state.allowed_actions == [
        "review_close",
        "reopen",
    ]
    closed = await act(
        fourth, Action.review_close, ReviewCloseInput(verdict="回访电话无人接听, 已上门确认")
    )
    assert (closed.status, closed.outcome) == (CaseStatus.closed, Outcome.unrated)
    assert "review_opened" in await events_of(sessions, fourth.id)
