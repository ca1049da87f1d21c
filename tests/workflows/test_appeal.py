"""申诉 on the time-skipping server: on an open case the case's own workflow takes the appeal and
stays for the ruling, whose late arrival climbs the ladder; on a closed case an appeal workflow
of its own (`<case id>-appeal-<n>`) writes into the case's record; either way the record says
why an exempted case left the unit's score."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from db import cases
from domain.appeal import AppealInput, RuleOnAppealInput, Ruling, appeal_id
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    CaseView,
    ContactInput,
    Grade,
    RateInput,
    ReplyInput,
)
from domain.permissions import Principal, Role
from domain.state import replay
from tests.replay import keep_history
from tests.workflows.conftest import act, events_of, row_of, signed
from workflows.appeal import AppealWorkflow
from workflows.refusal import NOT_ALLOWED_NOW

UNIT = Principal(subject="wang", role=Role.unit_handler, unit="GT-C01-G01")
SUPERVISOR = Principal(subject="chen", role=Role.supervisor)
EVIDENCE = ["https://photos.example/contract.jpg"]


def appeal(against: str = "unsatisfied", **fields: Any) -> AppealInput:
    return AppealInput.model_validate(
        {"against": against, "reason": "诉求超出职责", "evidence": EVIDENCE, **fields}
    )


async def handled(handle: Any) -> None:
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="已联系"))
    await act(handle, Action.reply, ReplyInput(result="已清理"))


async def test_an_open_cases_appeal_waits_for_its_ruling_and_a_late_one_climbs(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await handled(handle)
    await act(handle, Action.rate, RateInput(grade=Grade.unsatisfied))  # 重办
    view = await act(handle, Action.appeal, appeal(), UNIT)
    assert view.appeal is not None and view.appeal.workflow_id == handle.id
    assert view.allowed_actions[-1] is Action.rule_on_appeal
    await time_skipping.sleep(timedelta(days=6))  # past the 3 working-day ruling limit
    async with sessions() as session:
        late = [
            (e.type, e.data.get("to"))
            for e in await cases.events(session, handle.id)
            if e.data.get("deadline") == "appeal" and e.type != "deadline_warning"
        ]
    assert late[:2] == [("deadline_missed", None), ("escalated", "CO-C01")]
    view = await act(
        handle,
        Action.rule_on_appeal,
        RuleOnAppealInput(ruling=Ruling.exempted, reason="超出职责, 核减"),
        SUPERVISOR,
    )
    assert view.exemption == "超出职责, 核减" and view.grade is Grade.unsatisfied
    row = await row_of(sessions, handle.id)
    assert row.exemption == "超出职责, 核减" and row.appeal == view.appeal.model_dump()
    assert row.overdue is False  # the late ruling was the supervisor's


async def test_a_closed_cases_appeal_is_a_workflow_of_its_own_writing_the_cases_record(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await time_skipping.sleep(timedelta(hours=3))  # the 2 h accept deadline is missed
    await handled(handle)
    closed = await act(handle, Action.rate, RateInput(grade=Grade.satisfied))
    assert closed.status is CaseStatus.closed
    assert closed.allowed_actions == [Action.reopen, Action.appeal]
    # As the API does: the state the record tells, then the appeal.
    async with sessions() as session:
        state = replay(await cases.events(session, handle.id))
    workflow_id = appeal_id(handle.id, 1)
    first = (await handle.fetch_history()).events[0]
    queue = first.workflow_execution_started_event_attributes.task_queue.name
    appeal_run = await time_skipping.client.start_workflow(
        AppealWorkflow.run,
        state,
        id=workflow_id,
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # nothing unsatisfied to appeal
        await appeal_run.execute_update("appeal", signed(appeal(), UNIT), result_type=CaseView)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW
    view = await appeal_run.execute_update(
        "appeal", signed(appeal("deadline", deadline="accept"), UNIT), result_type=CaseView
    )
    assert view.appeal is not None and view.appeal.workflow_id == workflow_id
    view = await appeal_run.execute_update(
        "rule_on_appeal",
        signed(RuleOnAppealInput(ruling=Ruling.upheld, reason="确系超时"), SUPERVISOR),
        result_type=CaseView,
    )
    ended = await appeal_run.result()
    assert ended.appeal is not None and ended.appeal.status == "upheld"
    assert ended.exemption is None and ended.outcome == closed.outcome
    recorded = await events_of(sessions, handle.id)
    assert recorded[-2:] == ["appeal", "rule_on_appeal"]
    row = await row_of(sessions, handle.id)
    assert row.last_seq == closed.last_seq + 2 and row.appealed == ["deadline:accept"]
    async with sessions() as session:
        assert replay(await cases.events(session, handle.id)).appeal == ended.appeal
    keep_history(
        "appeal",
        "a_closed_cases_appeal_is_a_workflow_of_its_own",
        0,
        await appeal_run.fetch_history(),
    )
