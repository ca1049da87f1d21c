"""One life everywhere: real cases through the real workflow, then their `case_events` folded by
the lifecycle model give the same case row, the same deadline states and the same KPI counts,
and the rollups the triggers keep hold what the rows count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from temporalio.testing import WorkflowEnvironment

from db import cases
from db.models import Case, CaseRollup, CaseRollupMonth
from db.stats import count_columns
from domain.allowed import allowed_actions
from domain.case import (
    AcceptInput,
    Action,
    CaseStatus,
    CaseView,
    ConfirmInput,
    ContactInput,
    Grade,
    RateInput,
    ReassignInput,
    RejectInput,
    ReplyInput,
    ResolveOnSiteInput,
    ReturnInput,
    SuspendInput,
)
from domain.kpi import COUNTERS, Counts, facts_from_events
from domain.state import replay
from domain.timeline import deadline_states, standing
from domain.view import view
from tests.conftest import eventually
from tests.workflows.conftest import act
from workflows.case import CaseWorkflow

PATROL = {
    "channel": "grid_patrol",
    "photo_url": "https://example.org/found.jpg",
    "category": "public_order.flyers",
}


async def test_the_event_log_replayed_by_the_model_is_the_record_the_workflow_wrote(
    start: Any, sessions: Any, time_skipping: WorkflowEnvironment
) -> None:
    standard = await start()
    await act(standard, Action.accept, AcceptInput())
    await act(standard, Action.contact, ContactInput(note="电话联系"))
    await act(standard, Action.reply, ReplyInput(result="已清理"))
    await act(standard, Action.rate, RateInput(grade=Grade.basically_satisfied, solved=True))

    bounced = await start()
    await act(bounced, Action.return_, ReturnInput(reason="不属于本单位"))
    await act(bounced, Action.reassign, ReassignInput(unit="CO-C01"))

    late = await start()
    await time_skipping.sleep(timedelta(hours=3))  # the accept deadline passes: one rung up
    await act(late, Action.accept, AcceptInput())
    await act(late, Action.suspend, SuspendInput(reason="等待鉴定"))

    patrol = await start(**PATROL)
    done = ResolveOnSiteInput(evidence_url="https://example.org/after.jpg", note="已清理")
    await act(patrol, Action.resolve_on_site, done)
    await act(patrol, Action.confirm, ConfirmInput())

    linked = await start(category="petition.collective")  # a linkage opens by itself
    await act(linked, Action.reject, RejectInput(reason="已由法院受理"))

    for handle in (standard, bounced, late, patrol, linked):
        live: CaseView = await handle.query(CaseWorkflow.state)

        async def recorded(case_id: str = handle.id, seq: int = live.last_seq) -> bool:
            async with sessions() as session:
                row = await session.get(Case, case_id)
                return row is not None and row.last_seq == seq

        assert await eventually(recorded)
        async with sessions() as session:
            row = await session.get(Case, handle.id)
            events = list(await cases.events(session, handle.id))
            counters = [c.label(k) for k, c in count_columns().items()]
            sql = (await session.execute(select(*counters).where(Case.id == handle.id))).one()
        assert row is not None
        # Each step carries the fence of the task that recorded it (workflows/fence.py), rising
        # with the history each task had seen: a stale task's record gives way to later ones.
        fences = [e.fence for e in events]
        assert fences[0] > 0 and fences == sorted(fences), handle.id
        state = replay(events)
        # The same row: every column the case's life keeps.
        replayed = cases.row_of(view(state, allowed_actions(state)))
        assert replayed == {column: getattr(row, column) for column in replayed}, handle.id
        # The same deadline states as the live workflow's.
        closed = live.status is CaseStatus.closed
        assert deadline_states(events)[-1] == {
            d.kind.value: standing(d, closed) for d in live.deadlines
        }
        assert [a.value for a in allowed_actions(state)] == live.allowed_actions
        # The same KPI counts as the counters over the row.
        assert facts_from_events(events).counts() == Counts(**sql._mapping), handle.id

    # The rollups (what /v1/stats reads) count what the rows count, read in one snapshot.
    async with sessions() as session, session.begin():
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        counters = [c.label(k) for k, c in count_columns().items()]
        rows = (await session.execute(select(*counters).select_from(Case))).one()._mapping
        assert rows["received"] >= 5 and rows["linked"] >= 1 and rows["closed"] >= 3
        for table in (CaseRollup, CaseRollupMonth):
            sums = [func.sum(getattr(table, k)).label(k) for k in COUNTERS]
            rolled = (await session.execute(select(*sums))).one()._mapping
            assert {k: rolled[k] for k in COUNTERS} == {k: rows[k] for k in COUNTERS}, table
