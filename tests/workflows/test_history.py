"""A case that lives long continues as new with its whole state: the API's view, the record and
the clocks do not notice."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.testing import WorkflowEnvironment

from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    ContactInput,
    Grade,
    ProgressInput,
    RateInput,
    ReplyInput,
)
from domain.sla import DeadlineKind
from tests.workflows.conftest import act, events_of
from workflows.case import CaseWorkflow


async def test_a_long_case_continues_as_new_and_loses_nothing(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start(history_limit=60)
    first = await handle.query(CaseWorkflow.state)
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="已联系"))
    for n in range(12):  # each note adds six history events
        await act(handle, Action.progress, ProgressInput(note=f"进展 {n}"))

    latest = time_skipping.client.get_workflow_handle(handle.id)
    history = await latest.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert history.events[0].event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert started.continued_execution_run_id, "the case did not continue as new"

    state = await latest.query(CaseWorkflow.state)
    assert (state.status, state.last_seq) == (CaseStatus.in_progress, 4 + 12)
    reply = next(d for d in state.deadlines if d.kind is DeadlineKind.reply)
    assert reply.due_at == next(d for d in first.deadlines if d.kind is DeadlineKind.reply).due_at

    await act(latest, Action.reply, ReplyInput(result="已处理"))
    closed = await act(latest, Action.rate, RateInput(grade=Grade.satisfied))
    assert closed.status is CaseStatus.closed and closed.received_at == first.received_at
    events = await events_of(sessions, handle.id)
    assert len(events) == closed.last_seq  # one row per step, none lost or doubled
    assert events[:4] == ["received", "dispatched", "accept", "contact"]
    assert events[-2:] == ["rate", "closed"]


async def test_a_note_that_moves_no_alarm_keeps_the_timer_and_the_search_attributes(
    start: Any, time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="已联系"))
    before = len((await handle.fetch_history()).events)
    await act(handle, Action.progress, ProgressInput(note="进展"))

    added = [e.event_type for e in (await handle.fetch_history()).events[before:]]
    for unchanged in (
        HistoryEventType.EVENT_TYPE_TIMER_CANCELED,
        HistoryEventType.EVENT_TYPE_TIMER_STARTED,
        HistoryEventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    ):
        assert unchanged not in added
    await act(handle, Action.reply, ReplyInput(result="已处理"))
    closed = await act(handle, Action.rate, RateInput(grade=Grade.satisfied))
    assert closed.status is CaseStatus.closed
    history = await handle.fetch_history()
    # The case ends with its rating timer pending: nothing to cancel once it is closed.
    assert history.events[-2].event_type != HistoryEventType.EVENT_TYPE_TIMER_CANCELED


async def test_the_standard_case_records_each_step_in_the_workflow_task_that_takes_it(
    start: Any,
) -> None:
    handle = await start()
    await act(handle, Action.accept, AcceptInput())
    await act(handle, Action.contact, ContactInput(note="已联系"))
    await act(handle, Action.reply, ReplyInput(result="已处理"))
    await act(handle, Action.rate, RateInput(grade=Grade.satisfied, solved=True))
    await handle.result()

    types = [e.event_type for e in (await handle.fetch_history()).events]
    # Intake (Update-with-Start) and four actions: five workflow tasks, no activity task, no
    # task of its own for the routed answer; each step's record is a local activity's marker.
    assert types.count(HistoryEventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 5
    assert HistoryEventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in types
    # The route, then one record per step.
    assert types.count(HistoryEventType.EVENT_TYPE_MARKER_RECORDED) == 1 + 5
    assert len(types) <= 45  # was 81 with an activity task per record and a start task apart
