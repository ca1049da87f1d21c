"""Unsatisfied again after the re-handling: the case waits in the supervisor review queue, and
the supervisor closes it with a verdict or re-opens it."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle

from domain.case import (
    CaseStatus,
    Grade,
    Outcome,
    RateInput,
    ReopenInput,
    ReplyInput,
    ReviewCloseInput,
)
from tests.workflows.conftest import events_of, row_of
from tests.workflows.test_case_workflow import drive_to_replied
from workflows.case import CaseWorkflow


async def unsatisfied_twice(handle: WorkflowHandle[CaseWorkflow, Any]) -> Any:
    await drive_to_replied(handle)
    await handle.execute_update(CaseWorkflow.rate, RateInput(grade=Grade.unsatisfied))
    await handle.execute_update(CaseWorkflow.reply, ReplyInput(result="二次处理"))
    return await handle.execute_update(CaseWorkflow.rate, RateInput(grade=Grade.unsatisfied))


async def test_a_supervisor_closes_a_reviewed_case_with_a_verdict(
    start: Any, sessions: Any
) -> None:
    handle = await start()
    view = await unsatisfied_twice(handle)
    assert (view.status, view.review) == (CaseStatus.replied, "pending")
    assert view.allowed_actions == ["review_close", "reopen"]
    assert (await row_of(sessions, handle.id)).review == "pending"

    closed = await handle.execute_update(
        CaseWorkflow.review_close, ReviewCloseInput(verdict="已按政策处理, 诉求超出范围")
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
    view = await handle.execute_update(CaseWorkflow.reopen, ReopenInput(reason="现场核实未解决"))
    assert (view.status, view.review) == (CaseStatus.in_progress, "reopened")
    reply = next(d for d in view.deadlines if d.kind.value == "reply")
    old = next(d for d in before.deadlines if d.kind.value == "reply")
    assert reply.met_at is None and reply.due_at > old.due_at
    await handle.execute_update(CaseWorkflow.reply, ReplyInput(result="第三次处理, 已解决"))
    done = await handle.execute_update(
        CaseWorkflow.rate, RateInput(grade=Grade.satisfied, solved=True)
    )
    assert done.status is CaseStatus.closed
