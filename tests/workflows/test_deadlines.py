"""Deadlines that bite, on the time-skipping server: reminders, the escalation ladder, urging,
extensions and suspension. The demo policy for a normal case: accept 2h, contact 24h, reply 7wd;
reminder at 80 %; one ladder step per 4h after a miss (C01's committee, the governance centre,
district supervision)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.models import Notification
from domain.case import (
    AcceptInput,
    Action,
    CaseView,
    ContactInput,
    EscalateInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    ResumeInput,
    SuspendInput,
    UrgeInput,
)
from domain.sla import DeadlineKind
from tests.workflows.conftest import act, events_of, row_of
from workflows.case import CaseWorkflow


async def notices(
    sessions: async_sessionmaker[AsyncSession], case_id: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Notification.recipient, Notification.kind)
            .where(Notification.case_id == case_id)
            .order_by(Notification.seq)
        )
        return [(r, k) for r, k in rows]


def deadline(view: CaseView, kind: DeadlineKind) -> Any:
    return next(d for d in view.deadlines if d.kind is kind)


async def test_a_reminder_then_one_ladder_step_per_period_up_to_the_district(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await time_skipping.sleep(timedelta(minutes=100))  # past 80 % of the 2 h sign-for limit
    state = await handle.query(CaseWorkflow.state)
    assert deadline(state, DeadlineKind.accept).warned and not state.overdue
    assert await notices(sessions, handle.id) == [
        ("GT-C01-G01", "dispatched"),
        ("GT-C01-G01", "reminder"),
    ]

    levels = []
    for _ in range(4):  # missed at 2 h, then 6 h, 10 h: three steps, and none above the top
        await time_skipping.sleep(timedelta(hours=4))
        levels.append((await handle.query(CaseWorkflow.state)).escalation_level)
    assert levels == [1, 2, 3, 3]

    events = await events_of(sessions, handle.id)
    assert events.count("escalated") == 3 and "deadline_missed" in events
    assert await notices(sessions, handle.id) == [
        ("GT-C01-G01", "dispatched"),
        ("GT-C01-G01", "reminder"),
        ("CO-C01", "escalation"),
        ("SD-CENTER", "escalation"),
        ("DI-SUPERVISION", "escalation"),
    ]
    row = await row_of(sessions, handle.id)
    assert row.escalation_level == 3 and row.overdue

    # Accepting late stops the climb: the case stays at level 3 on the record.
    view = await act(handle, Action.accept, AcceptInput())
    assert view.escalation_level == 3


async def test_a_supervisor_urges_and_escalates_by_hand(start: Any, sessions: Any) -> None:
    handle = await start()
    await act(handle, Action.urge, UrgeInput(note="请今天签收"))
    view = await act(handle, Action.escalate, EscalateInput(reason="居民多次来电"))
    assert view.escalation_level == 1
    assert (await events_of(sessions, handle.id))[-2:] == ["urge", "escalate"]
    assert await notices(sessions, handle.id) == [
        ("GT-C01-G01", "dispatched"),
        ("GT-C01-G01", "urge"),
        ("CO-C01", "escalation"),
    ]


async def accepted(handle: WorkflowHandle[CaseWorkflow, Any]) -> CaseView:
    await act(handle, Action.accept, AcceptInput())
    return await act(handle, Action.contact, ContactInput(note="已联系"))


async def test_an_approved_extension_moves_the_reply_deadline_and_keeps_the_original(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    before = deadline(await accepted(handle), DeadlineKind.reply)
    later = before.due_at + timedelta(days=3)
    asked = await act(
        handle,
        Action.request_extension,
        ExtensionRequestInput(reason="需等待物业维修配件", due_at=later),
    )
    assert asked.extension is not None and "approve_extension" in asked.allowed_actions
    view = await act(handle, Action.approve_extension, ExtensionDecisionInput())
    reply = deadline(view, DeadlineKind.reply)
    assert (reply.due_at, reply.original_due_at) == (later, before.due_at)

    # Past the original due time: nothing is missed, the old timer is gone.
    await time_skipping.sleep(before.due_at - view.received_at + timedelta(hours=1))
    state = await handle.query(CaseWorkflow.state)
    assert not state.overdue and "deadline_missed" not in await events_of(sessions, handle.id)
    assert ("SD-CENTER", "extension_requested") in await notices(sessions, handle.id)
    # The policy allows one extension.
    with pytest.raises(WorkflowUpdateFailedError):
        await act(
            handle,
            Action.request_extension,
            ExtensionRequestInput(reason="again", due_at=later + timedelta(days=1)),
        )


async def test_a_denied_extension_leaves_the_deadline_where_it_was(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    before = deadline(await accepted(handle), DeadlineKind.reply)
    await act(
        handle,
        Action.request_extension,
        ExtensionRequestInput(reason="人手不足", due_at=before.due_at + timedelta(days=2)),
    )
    view = await act(handle, Action.deny_extension, ExtensionDecisionInput(note="按时办结"))
    assert deadline(view, DeadlineKind.reply).due_at == before.due_at and view.extension is None
    await time_skipping.sleep(before.due_at - view.received_at + timedelta(hours=1))
    assert (await handle.query(CaseWorkflow.state)).overdue


async def test_suspension_stops_every_clock_and_resume_keeps_the_time_left(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await act(handle, Action.accept, AcceptInput())
    suspended = await act(handle, Action.suspend, SuspendInput(reason="等待居民提供材料"))
    assert suspended.allowed_actions == ["progress", "resume", "add_info", "chase"]
    await time_skipping.sleep(timedelta(days=3))  # far past the 24 h contact limit
    resumed = await act(handle, Action.resume, ResumeInput())
    moved = (
        deadline(resumed, DeadlineKind.contact).due_at
        - deadline(suspended, DeadlineKind.contact).due_at
    )
    assert moved >= timedelta(days=3)
    assert not resumed.overdue and "deadline_missed" not in await events_of(sessions, handle.id)
    # And the clock runs again after the resume.
    await time_skipping.sleep(timedelta(hours=25))
    assert (await handle.query(CaseWorkflow.state)).overdue


async def test_a_suspension_past_the_policy_limit_resumes_by_itself(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.suspend, SuspendInput(reason="等待第三方鉴定"))
    await time_skipping.sleep(timedelta(days=15, hours=1))  # the demo policy allows 15 days
    state = await handle.query(CaseWorkflow.state)
    assert not state.suspended and "resume" not in state.allowed_actions
    assert (await events_of(sessions, handle.id))[-1] == "auto_resumed"
