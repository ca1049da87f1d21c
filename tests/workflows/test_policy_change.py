"""A running case told of a policy change on the time-skipping server: it records
policy_changed, and its timer is re-planned to the new limit (a case told of another policy
keeps its own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db import reference
from domain.policy_change import PolicyFollowed
from domain.sla import DeadlineKind
from tests.workflows.conftest import events_of
from workflows.case import CaseWorkflow


async def normal_policy(sessions: async_sessionmaker[AsyncSession]) -> Any:
    async with sessions() as session:
        [policy] = [
            p
            for p in await reference.policies_for(session, "sanitation.dead_corner", "normal")
            if p.category is None
        ]
    return policy


async def test_a_shorter_accept_limit_reaches_the_running_timer(
    start: Any, sessions: async_sessionmaker[AsyncSession], time_skipping: WorkflowEnvironment
) -> None:
    handle = await start()  # accept within 2 h, by SLA-NORMAL
    policy = await normal_policy(sessions)
    other = await start()
    await other.signal(
        CaseWorkflow.policy_changed,
        PolicyFollowed(
            policy=policy.model_copy(update={"code": "SLA-X", "accept": "30m"}), actor="a"
        ),
    )
    await handle.signal(
        CaseWorkflow.policy_changed,
        PolicyFollowed(policy=policy.model_copy(update={"accept": "30m"}), actor="admin"),
    )
    await time_skipping.sleep(timedelta(minutes=45))
    state = await handle.query(CaseWorkflow.state)
    accept = next(d for d in state.deadlines if d.kind is DeadlineKind.accept)
    assert accept.missed and state.overdue  # missed at 30 minutes, not at 2 hours
    assert accept.original_due_at is not None and accept.due_at < accept.original_due_at
    events = await events_of(sessions, handle.id)
    assert events.index("policy_changed") < events.index("deadline_missed")
    untouched = await other.query(CaseWorkflow.state)
    assert not untouched.overdue and "policy_changed" not in await events_of(sessions, other.id)
