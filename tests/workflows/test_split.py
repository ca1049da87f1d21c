"""拆分 on the time-skipping server: the parent files its children in PostgreSQL (with its
reporter, which never enters Temporal) and starts their workflows; each child is routed and
handled like any case and tells the parent when it closes; the last one closes the parent, whose
reply gathers theirs. Filing the children again finds the ones filed."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.cases import CaseActivities
from db.models import Case, Notification
from domain.case import (
    Action,
    CaseStatus,
    CaseView,
    Grade,
    Outcome,
    RateInput,
    RejectInput,
    ReturnInput,
)
from domain.permissions import Principal, Role
from domain.split import Children, SplitInput
from tests.workflows.conftest import act, counts_by_unit_three_ways, events_of, row_of
from tests.workflows.test_case_workflow import drive_to_replied
from workflows.case import CaseWorkflow
from workflows.refusal import FORBIDDEN, INVALID_REFERENCE

DISPATCHER = Principal(subject="zhao", role=Role.dispatcher)
UNIT = Principal(subject="wang", role=Role.unit_handler, unit="GT-C01-G01")
MATTERS = [
    {
        "category": "sanitation.dead_corner",
        "title": "楼后垃圾",
        "location": {"address": "怡顺社区 3 号楼", "grid": "C01-G01"},
    },
    {
        "category": "urban.road_damage",
        "title": "路面塌陷",
        "location": {"address": "怡顺社区 5 号楼前", "grid": "C01-G01"},
    },
]


async def test_a_split_case_closes_with_its_last_child_and_gathers_their_replies(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()
    await act(handle, Action.return_, ReturnInput(reason="一单两事"))
    # Straight against the workflow: a unit may not split, and an unknown category refuses the
    # whole split before anything is recorded or filed.
    with pytest.raises(WorkflowUpdateFailedError) as forbidden:
        await act(handle, Action.split_, SplitInput.model_validate({"children": MATTERS}), UNIT)
    assert isinstance(forbidden.value.cause, ApplicationError)
    assert forbidden.value.cause.type == FORBIDDEN
    unknown = [MATTERS[0], {**MATTERS[1], "category": "no.such_category"}]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, Action.split_, SplitInput.model_validate({"children": unknown}))
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == INVALID_REFERENCE
    assert (await handle.query(CaseWorkflow.state)).status is CaseStatus.returned
    async with sessions() as session:
        assert await session.get(Case, f"{handle.id}-1") is None
    split = SplitInput.model_validate({"children": MATTERS, "reason": "一单两事"})
    view = await act(handle, Action.split_, split, DISPATCHER)
    ids = [f"{handle.id}-1", f"{handle.id}-2"]
    assert view.status is CaseStatus.split_ and [c.id for c in view.children] == ids
    children = [time_skipping.client.get_workflow_handle(i) for i in ids]
    try:
        # Each routed by its own category: the grid team, and the subdistrict's urban office.
        for child, unit in zip(children, ("GT-C01-G01", "SD-URBAN"), strict=True):
            routed = await child.execute_update(CaseWorkflow.routed, result_type=CaseView)
            assert (routed.parent, routed.status, routed.unit) == (
                handle.id,
                CaseStatus.dispatched,
                unit,
            )
            row = await row_of(sessions, child.id)
            # The reporter and the resident's words were copied in PostgreSQL, not through
            # Temporal: the child's history has neither.
            assert (row.reporter_name, row.description, row.parent) == (
                "王女士",
                "垃圾堆积多日",
                handle.id,
            )
            history = (await child.fetch_history()).to_json()
            assert "王女士" not in history and "13800000001" not in history

        # A retried filing finds the children filed: the same numbers, no second row.
        named = [{**m, "case_id": i} for m, i in zip(MATTERS, ids, strict=True)]
        filed = Children.model_validate({"parent": handle.id, "children": named})
        again = await CaseActivities(sessions).open_children(filed)
        assert [c.number for c in again] == [(await row_of(sessions, i)).number for i in ids]

        await act(children[0], Action.reject, RejectInput(reason="已由物业处理"), DISPATCHER)
        await drive_to_replied(children[1])
        await act(children[1], Action.rate, RateInput(grade=Grade.satisfied, solved=True))
        closed = await handle.result()
    finally:
        for child in children:
            with contextlib.suppress(RPCError):
                await child.terminate("test over")

    assert (closed.status, closed.outcome) == (CaseStatus.closed, Outcome.split_)
    assert [(c.id, c.outcome) for c in closed.children] == [
        (ids[0], Outcome.rejected),
        (ids[1], Outcome.rated),
    ]
    assert (await events_of(sessions, handle.id))[-4:] == [
        "split",
        "child_closed",
        "child_closed",
        "closed",
    ]
    async with sessions() as session:
        replies = (
            await session.execute(
                select(Notification.case_id, Notification.params).where(
                    Notification.kind == "reply", Notification.case_id.in_([handle.id, *ids])
                )
            )
        ).all()
    # One reply to the resident, from the parent, naming how each child closed; each child's
    # reply stays on the parent's record.
    assert [case_id for case_id, _ in replies] == [handle.id]
    assert replies[0][1]["children"] == f"{ids[0]}:rejected,{ids[1]}:rated"
    row = await row_of(sessions, handle.id)
    assert row.outcome == "split" and [(c["outcome"], c["result"]) for c in row.children] == [
        ("rejected", None),
        ("rated", "已组织清理"),
    ]

    # The record, the rollups and the event-log replay count the parent and its children alike.
    counted = await counts_by_unit_three_ways(sessions, row.received_at)
    assert counted[0] == counted[1] == counted[2]
    assert counted[0][("SD-URBAN",)].rated >= 1
    assert counted[0][("GT-C01-G01",)].split >= 1  # the parent, with the unit it was returned by
